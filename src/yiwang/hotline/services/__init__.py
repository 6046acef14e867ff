"""Every change to 12345 work orders: intake, dispatch, handling, reply, callback, supervision.

The transition table in :mod:`yiwang.hotline.workflow` decides which action
is legal from which state and for whom; :func:`perform` is the one door
that changes an order's state, so an illegal move is refused the same way
from the operator desk, the department desk, the API and background jobs.
Each action writes a timeline event, an audit record and an outbox event
(notifications) in the same transaction.

One module per concern; this package re-exports the public face that other
apps use (``from yiwang.hotline import services``):

- ``errors``: the refusals (``HotlineError`` and its kinds);
- ``rules``: field lengths, time limits, ``clean_text``;
- ``attachments``: checking and storing photos and documents;
- ``intake``: ``register`` and the classifier's ``suggest``;
- ``personal_data``: the caller's full number for the staff holding the order;
- ``rectification``: ``open_rectification`` for a bad rating (差评整改);
- ``actions``: ``perform``, the one door, with its handlers in ``dispatch``,
  ``handling`` and ``closing``;
- ``deadlines``: escalation of late orders;
- ``grid``: loading the grid and grid reports (网格上报).

``_shared`` holds the steps several of them use and is not imported from outside.
"""

from yiwang.hotline.services.actions import get_order, perform
from yiwang.hotline.services.attachments import (
    ATTACHMENT_ACTIONS,
    ATTACHMENT_TYPES,
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS,
    PHOTO_TYPES,
    CheckedAttachment,
    check_attachments,
)
from yiwang.hotline.services.deadlines import escalate_if_late, escalate_overdue
from yiwang.hotline.services.errors import ActionRefused, HotlineError, NotAllowed, WorkOrderNotFound
from yiwang.hotline.services.grid import GridLoadReport, grid_locator, load_grid, report_grid_problem
from yiwang.hotline.services.intake import CallerDetails, Suggestion, department_for_category, register, suggest
from yiwang.hotline.services.personal_data import ORDER_REVEAL_PURPOSES, reveal_caller_phone
from yiwang.hotline.services.rectification import open_rectification
from yiwang.hotline.services.rules import (
    AUTO_DISPATCH_CONFIDENCE,
    CONTENT_MAX,
    DEFAULT_LIMITS,
    MAX_EXTENSION_DAYS,
    MAX_REOPENS,
    REASON_MAX,
    SYSTEM_ACTOR_LABEL,
    TITLE_MAX,
    Limits,
    clean_text,
    limits_for,
)

__all__ = [
    "ATTACHMENT_ACTIONS",
    "ATTACHMENT_TYPES",
    "AUTO_DISPATCH_CONFIDENCE",
    "CONTENT_MAX",
    "DEFAULT_LIMITS",
    "MAX_ATTACHMENTS",
    "MAX_ATTACHMENT_BYTES",
    "MAX_EXTENSION_DAYS",
    "MAX_REOPENS",
    "ORDER_REVEAL_PURPOSES",
    "PHOTO_TYPES",
    "REASON_MAX",
    "SYSTEM_ACTOR_LABEL",
    "TITLE_MAX",
    "ActionRefused",
    "CallerDetails",
    "CheckedAttachment",
    "GridLoadReport",
    "HotlineError",
    "Limits",
    "NotAllowed",
    "Suggestion",
    "WorkOrderNotFound",
    "check_attachments",
    "clean_text",
    "department_for_category",
    "escalate_if_late",
    "escalate_overdue",
    "get_order",
    "grid_locator",
    "limits_for",
    "load_grid",
    "open_rectification",
    "perform",
    "register",
    "report_grid_problem",
    "reveal_caller_phone",
    "suggest",
]
