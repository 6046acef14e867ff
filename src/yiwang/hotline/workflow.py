"""The one transition table of work orders: which action may move an order from which state, and who may take it.

Every door (operator desk, department desk, API, jobs) goes through
:func:`yiwang.hotline.services.perform`, which looks the action up here
first; nothing else changes ``WorkOrder.state``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.translation import pgettext, pgettext_lazy

from yiwang.hotline.constants import WorkOrderState

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

S = WorkOrderState


class Actor:
    """Who may take an action. Department staff act only on orders assigned to their department."""

    OPERATOR = "operator"  # 12345 hotline operators: intake, dispatch, review replies, callbacks
    DEPARTMENT = "department"  # staff of an assigned department, or the grid worker of the order's cell
    SUPERVISOR = "supervisor"  # 督办, extensions, escalations
    CALLER = "caller"  # the person who filed the order (or rated, for a rectification)
    SYSTEM = "system"  # the platform: automatic dispatch, deadline jobs


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[str]
    # None: the service decides (it stays where it is, or depends on the outcome).
    target: str | None
    actors: frozenset[str]
    needs_reason: bool = False
    label: StrOrPromise = ""


_OPEN = frozenset({S.DISPATCHED, S.HANDLING})
_DESK = frozenset({Actor.OPERATOR, Actor.SYSTEM})

TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition(
            "dispatch",
            frozenset({S.REGISTERED}),
            S.DISPATCHED,
            _DESK | {Actor.SUPERVISOR},
            label=pgettext_lazy("work order", "派单"),
        ),
        Transition(
            "answer",
            frozenset({S.REGISTERED}),
            S.CLOSED,
            frozenset({Actor.OPERATOR}),
            label=pgettext_lazy("work order", "直接答复"),
        ),
        Transition(
            "merge",
            frozenset({S.REGISTERED}),
            S.MERGED,
            frozenset({Actor.OPERATOR}),
            label=pgettext_lazy("work order", "合并重复件"),
        ),
        Transition(
            "acknowledge",
            frozenset({S.DISPATCHED, S.HANDLING}),
            S.HANDLING,
            frozenset({Actor.DEPARTMENT}),
            label=pgettext_lazy("work order", "签收"),
        ),
        Transition(
            "send_back",
            _OPEN,
            None,
            frozenset({Actor.DEPARTMENT}),
            needs_reason=True,
            label=pgettext_lazy("work order", "退回"),
        ),
        Transition(
            "transfer",
            _OPEN,
            S.DISPATCHED,
            frozenset({Actor.OPERATOR, Actor.SUPERVISOR}),
            needs_reason=True,
            label=pgettext_lazy("work order", "转办"),
        ),
        Transition(
            "contribute",
            _OPEN,
            None,
            frozenset({Actor.DEPARTMENT}),
            label=pgettext_lazy("work order", "协办意见"),
        ),
        Transition(
            "request_extension",
            frozenset({S.HANDLING}),
            S.HANDLING,
            frozenset({Actor.DEPARTMENT}),
            needs_reason=True,
            label=pgettext_lazy("work order", "申请延期"),
        ),
        Transition(
            "decide_extension",
            frozenset({S.HANDLING}),
            S.HANDLING,
            frozenset({Actor.SUPERVISOR}),
            label=pgettext_lazy("work order", "审批延期"),
        ),
        Transition(
            "record_callback",
            frozenset({S.HANDLING, S.CLOSED}),
            None,
            frozenset({Actor.OPERATOR, Actor.DEPARTMENT}),
            label=pgettext_lazy("work order", "回访"),
        ),
        Transition(
            "reply",
            frozenset({S.HANDLING}),
            None,
            frozenset({Actor.DEPARTMENT}),
            label=pgettext_lazy("work order", "答复"),
        ),
        Transition(
            "return_reply",
            frozenset({S.REPLIED}),
            S.HANDLING,
            frozenset({Actor.OPERATOR}),
            needs_reason=True,
            label=pgettext_lazy("work order", "答复退回重办"),
        ),
        Transition(
            "close",
            frozenset({S.REPLIED}),
            S.CLOSED,
            frozenset({Actor.OPERATOR}),
            label=pgettext_lazy("work order", "办结"),
        ),
        Transition(
            "confirm",
            frozenset({S.CLOSED, S.CALLED_BACK}),
            None,
            frozenset({Actor.CALLER}),
            label=pgettext_lazy("work order", "确认办理结果"),
        ),
        Transition(
            "supervise",
            frozenset({S.REGISTERED, S.DISPATCHED, S.HANDLING, S.REPLIED}),
            None,
            frozenset({Actor.SUPERVISOR}),
            needs_reason=True,
            label=pgettext_lazy("work order", "督办"),
        ),
        Transition(
            "escalate",
            frozenset({S.REGISTERED, S.DISPATCHED, S.HANDLING, S.REPLIED}),
            None,
            frozenset({Actor.SYSTEM}),
            label=pgettext_lazy("work order", "超期升级"),
        ),
    )
}


def transition(action: str) -> Transition | None:
    return TRANSITIONS.get(action)


def actions_from(state: str) -> list[Transition]:
    return [t for t in TRANSITIONS.values() if state in t.sources]


def action_label(action: str) -> str:
    found = TRANSITIONS.get(action)
    if found is not None:
        return str(found.label)
    labels = {
        "register": pgettext("work order", "登记"),
        "reopen": pgettext("work order", "重新办理"),
        "link": pgettext("work order", "关联重复件"),
        # The classifier's note on intake (no confident guess); it was shown as the bare word "suggest".
        "suggest": pgettext("work order", "智能分类建议"),
    }
    return str(labels.get(action, action))
