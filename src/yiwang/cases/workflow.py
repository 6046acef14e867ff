"""The one transition table of case handling: which action may move a case from which state, and who may take it.

Every door (API, pages, admin, background jobs) goes through
:func:`yiwang.cases.services.perform`, which looks the action up here first;
nothing else changes ``Case.state``. See docs/adr/0007-case-engine.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.translation import pgettext, pgettext_lazy

from yiwang.accounts.constants import Role
from yiwang.cases.constants import CaseState

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

S = CaseState


class Actor:
    """Who, besides department staff, may take an action."""

    APPLICANT = "applicant"  # the case's owner (or someone acting for them)
    SYSTEM = "system"  # the platform itself: payment callbacks, jobs


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[str]
    # None: the service computes the target (the stored return state, the next stage).
    target: str | None
    # Staff roles that may take the action, within the case's department (counter clerks anywhere: 无差别受理).
    roles: frozenset[str] = frozenset()
    actors: frozenset[str] = frozenset()
    needs_reason: bool = False
    # Translated when shown; the context keeps action names apart from the state names they share words with.
    label: StrOrPromise = ""


_CLERK_OR_REVIEWER = frozenset({Role.COUNTER_CLERK, Role.REVIEWER})
_REVIEW_STATES = frozenset({S.IN_REVIEW})

TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition(
            "accept", frozenset({S.SUBMITTED}), S.IN_REVIEW, _CLERK_OR_REVIEWER, label=pgettext_lazy("action", "受理")
        ),
        Transition(
            "reject",
            frozenset({S.SUBMITTED}),
            S.REJECTED,
            _CLERK_OR_REVIEWER,
            needs_reason=True,
            label=pgettext_lazy("action", "不予受理"),
        ),
        Transition(
            "request_correction",
            frozenset({S.SUBMITTED, S.IN_REVIEW}),
            S.CORRECTION_REQUESTED,
            _CLERK_OR_REVIEWER,
            label=pgettext_lazy("action", "一次性告知补正"),
        ),
        Transition(
            "resubmit",
            frozenset({S.CORRECTION_REQUESTED}),
            None,
            actors=frozenset({Actor.APPLICANT}),
            label=pgettext_lazy("action", "补正后重新提交"),
        ),
        Transition(
            "complete_task",
            _REVIEW_STATES,
            S.IN_REVIEW,
            frozenset({Role.REVIEWER}),
            label=pgettext_lazy("action", "审查通过"),
        ),
        Transition(
            "approve", _REVIEW_STATES, None, frozenset({Role.APPROVER}), label=pgettext_lazy("action", "准予许可")
        ),
        Transition(
            "refuse",
            _REVIEW_STATES,
            S.REFUSED,
            frozenset({Role.APPROVER}),
            needs_reason=True,
            label=pgettext_lazy("action", "不予许可"),
        ),
        Transition(
            "suspend",
            _REVIEW_STATES,
            S.SUSPENDED,
            frozenset({Role.APPROVER}),
            needs_reason=True,
            label=pgettext_lazy("action", "中止办理"),
        ),
        Transition(
            "resume",
            frozenset({S.SUSPENDED}),
            None,
            frozenset({Role.APPROVER}),
            needs_reason=True,
            label=pgettext_lazy("action", "恢复办理"),
        ),
        Transition(
            "request_extension",
            _REVIEW_STATES,
            S.IN_REVIEW,
            frozenset({Role.REVIEWER, Role.APPROVER}),
            needs_reason=True,
            label=pgettext_lazy("action", "申请延期"),
        ),
        Transition(
            "decide_extension",
            _REVIEW_STATES,
            S.IN_REVIEW,
            frozenset({Role.APPROVER}),
            label=pgettext_lazy("action", "审批延期"),
        ),
        Transition(
            "transfer",
            frozenset({S.SUBMITTED, S.IN_REVIEW}),
            None,
            frozenset({Role.REVIEWER, Role.APPROVER}),
            needs_reason=True,
            label=pgettext_lazy("action", "移交其他部门"),
        ),
        Transition(
            "withdraw",
            frozenset({S.SUBMITTED, S.CORRECTION_REQUESTED, S.IN_REVIEW, S.SUSPENDED, S.AWAITING_PAYMENT}),
            S.WITHDRAWN,
            actors=frozenset({Actor.APPLICANT}),
            needs_reason=True,
            label=pgettext_lazy("action", "申请人撤回"),
        ),
        Transition(
            "confirm_payment",
            frozenset({S.AWAITING_PAYMENT}),
            S.ISSUING,
            actors=frozenset({Actor.SYSTEM}),
            label=pgettext_lazy("action", "缴费确认"),
        ),
        Transition(
            "issue_certificate",
            frozenset({S.ISSUING}),
            S.READY_FOR_COLLECTION,
            _CLERK_OR_REVIEWER,
            label=pgettext_lazy("action", "制证"),
        ),
        Transition(
            "close",
            frozenset({S.READY_FOR_COLLECTION}),
            S.CLOSED,
            _CLERK_OR_REVIEWER,
            label=pgettext_lazy("action", "送达办结"),
        ),
    )
}

# Actions the applicant sees on the timeline under their own names; staff-only entries are kept internal.
APPLICANT_VISIBLE_ACTIONS = frozenset(TRANSITIONS) - {"request_extension"}


def transition(action: str) -> Transition:
    """The transition for ``action``; KeyError for an action that does not exist."""
    return TRANSITIONS[action]


def actions_from(state: str) -> list[Transition]:
    """The actions the table allows from ``state``, in table order."""
    return [t for t in TRANSITIONS.values() if state in t.sources]


def action_label(action: str) -> str:
    """An action's name for timelines, in the active language ("submit" is not a transition: it creates the case)."""
    if action == "submit":
        return pgettext("action", "提交申请")
    found = TRANSITIONS.get(action)
    return str(found.label) if found else action
