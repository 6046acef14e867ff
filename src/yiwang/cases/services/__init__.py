"""Every state change of case handling: applications, submission, and the actions of the transition table.

Each public function is one transaction. Case actions go through
:func:`perform`, which consults :mod:`yiwang.cases.workflow` and
:mod:`yiwang.cases.policy`, locks the case row, checks the caller's version
(optimistic concurrency), records a :class:`CaseEvent` and an audit record,
and publishes outbox events that the worker turns into notifications.

One module per concern; this package re-exports the public face that other
apps use (``from yiwang.cases import services``):

- ``errors``: the refusals (``CaseError`` and its kinds);
- ``applications``: who applies, drafts, answers and files before submission;
- ``submission``: ``submit_application``, one case per item;
- ``prefill``: 免填, a new draft's fields from the profile and earlier applications;
- ``lookup``: the throttle of the public lookup (办件查询);
- ``personal_data``: the applicant's full data for the staff holding the case;
- ``actions``: ``perform``, the one door, with its handlers in ``acceptance``,
  ``review`` and ``handling``.

``_shared`` (labels, the case event) and ``_stages`` (process stages and the
clock) hold the steps several of them use and are not imported from outside.
"""

from yiwang.cases.services._shared import SYSTEM_ACTOR_LABEL
from yiwang.cases.services.acceptance import DEFAULT_CORRECTION_DAYS, MAX_CORRECTION_DAYS
from yiwang.cases.services.actions import get_case_for_update, perform
from yiwang.cases.services.applications import (
    Applicant,
    abandon_application,
    applicant_for,
    application_definition,
    application_problems,
    attach_file,
    remove_file,
    save_draft,
    start_application,
)
from yiwang.cases.services.errors import CaseActionRefused, CaseError, CaseNotFound, CaseThrottled
from yiwang.cases.services.handling import MAX_EXTENSION_DAYS
from yiwang.cases.services.lookup import LOOKUP_FAILURE_LIMIT, check_lookup_allowed, record_failed_lookup
from yiwang.cases.services.personal_data import (
    CASE_REVEAL_PURPOSES,
    applicant_name_for_document,
    reveal_applicant,
)
from yiwang.cases.services.prefill import kept_prefills
from yiwang.cases.services.submission import SUBMISSION_KEY_MAX, submit_application

__all__ = [
    "CASE_REVEAL_PURPOSES",
    "DEFAULT_CORRECTION_DAYS",
    "LOOKUP_FAILURE_LIMIT",
    "MAX_CORRECTION_DAYS",
    "MAX_EXTENSION_DAYS",
    "SUBMISSION_KEY_MAX",
    "SYSTEM_ACTOR_LABEL",
    "Applicant",
    "CaseActionRefused",
    "CaseError",
    "CaseNotFound",
    "CaseThrottled",
    "abandon_application",
    "applicant_for",
    "applicant_name_for_document",
    "application_definition",
    "application_problems",
    "attach_file",
    "check_lookup_allowed",
    "get_case_for_update",
    "kept_prefills",
    "perform",
    "record_failed_lookup",
    "remove_file",
    "reveal_applicant",
    "save_draft",
    "start_application",
    "submit_application",
]
