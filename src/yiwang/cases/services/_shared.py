"""Steps several case services share (internal): the actor's label, stored text, the case event.

Nothing outside :mod:`yiwang.cases.services` imports this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from yiwang.cases.models import Case, CaseEvent
from yiwang.cases.services.errors import CaseError
from yiwang.cases.workflow import TRANSITIONS, Actor
from yiwang.core import outbox
from yiwang.core.audit import record_event

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


# What :func:`~yiwang.cases.services.actions.perform` calls for an action; returns the event's detail.
Handler = Callable[..., dict[str, Any]]


# Stored as the actor of the platform's own steps, in the source language; pages translate it when they show it.
SYSTEM_ACTOR_LABEL = gettext_noop("系统")


def stored_text(text: StrOrPromise) -> str:
    """Text kept in a record, in the source language whoever acted, like the catalogue data beside it."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(text)


def actor_label(user: Any) -> str:
    if user is None:
        return SYSTEM_ACTOR_LABEL
    return str(getattr(user, "display_name", "") or user.get_username())


def _applicant_side_action(action: str) -> bool:
    """Whether ``action`` is the applicant's: only those are taken on their behalf.

    A counter clerk who filled an application in for a person at the window
    stays the case's agent, but when the same clerk later accepts, issues or
    closes the case that is their own official act, not the applicant's.
    """
    if action not in TRANSITIONS:
        return True  # submission, the one step outside the table, belongs to the applicant
    return Actor.APPLICANT in TRANSITIONS[action].actors


def add_event(
    case: Case,
    action: str,
    *,
    actor: Any,
    from_state: str,
    to_state: str,
    reason: str = "",
    detail: Mapping[str, Any] | None = None,
    attachments: Iterable[int] = (),
    public: bool = True,
    audit: bool = True,
) -> CaseEvent:
    on_behalf = ""
    if (
        actor is not None
        and case.agent_id == getattr(actor, "pk", None)
        and case.assisted_basis
        and _applicant_side_action(action)
    ):
        on_behalf = case.applicant_name
    event = CaseEvent.objects.create(
        case=case,
        action=action,
        from_state=from_state,
        to_state=to_state,
        actor=actor,
        actor_label=actor_label(actor),
        on_behalf_of=on_behalf,
        reason=reason,
        detail=dict(detail or {}),
        attachments=list(attachments),
        public=public,
    )
    if audit:
        record_event(
            f"case.{action}",
            actor=actor,
            on_behalf_of_person_id=case.applicant_person_id if on_behalf else None,
            target=f"cases.Case:{case.number}",
            detail={"from": from_state, "to": to_state, **({"reason": reason[:200]} if reason else {})},
        )
    outbox.publish(
        "case.event",
        {"case_id": case.pk, "event_id": event.pk, "action": action, "from": from_state, "to": to_state},
    )
    return event


def no_params(params: Mapping[str, Any]) -> None:
    if params:
        raise CaseError("bad_parameter", _("不支持的参数：%(names)s") % {"names": _("、").join(sorted(params))})
