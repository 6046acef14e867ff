"""The one door for case actions: :func:`perform`.

It consults :mod:`yiwang.cases.workflow` and :mod:`yiwang.cases.policy`,
locks the case row, checks the caller's version (optimistic concurrency),
runs the action's handler (in :mod:`~yiwang.cases.services.acceptance`,
:mod:`~yiwang.cases.services.review` or :mod:`~yiwang.cases.services.handling`)
and records the case event, audit record and outbox event.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from yiwang.cases import policy
from yiwang.cases.constants import CaseState
from yiwang.cases.models import Case
from yiwang.cases.services import acceptance, handling, review
from yiwang.cases.services._shared import add_event
from yiwang.cases.services.errors import CaseActionRefused, CaseError, CaseNotFound
from yiwang.cases.workflow import TRANSITIONS, transition
from yiwang.core.audit import record_event

_HANDLERS = {**acceptance.HANDLERS, **review.HANDLERS, **handling.HANDLERS}


# Every action of the transition table has exactly one handler here.
if set(_HANDLERS) != set(TRANSITIONS):
    raise ImproperlyConfigured(f"case actions without a handler: {sorted(set(TRANSITIONS) ^ set(_HANDLERS))}")


def get_case_for_update(number: str) -> Case:
    try:
        return Case.objects.select_for_update().select_related("item", "department").get(number=number)
    except Case.DoesNotExist:
        raise CaseNotFound("not_found", _("办件不存在")) from None


def perform(
    case: Case | str,
    action: str,
    *,
    actor: Any,
    expected_version: int | None = None,
    reason: str = "",
    **params: Any,
) -> Case:
    """Take one action of the transition table on a case; ``actor=None`` is the platform itself.

    Refused, with nothing written, when the action does not exist, is not
    allowed from the case's state, the actor may not take it, the case changed
    since the caller read it (``expected_version``), or its parameters are bad.
    """
    try:
        step = transition(action)
    except KeyError:
        raise CaseActionRefused("unknown_action", _("未知的办理动作")) from None
    number = case if isinstance(case, str) else case.number
    reason = " ".join((reason or "").split()) if action not in {"reject", "refuse"} else (reason or "").strip()
    with transaction.atomic():
        locked = get_case_for_update(number)
        if not policy.can_perform(actor, locked, step):
            record_event(
                "permission.denied", actor=actor, target=f"cases.Case:{locked.number}", detail={"action": action}
            )
            if actor is not None and not policy.can_view_case(actor, locked):
                raise CaseNotFound("not_found", _("办件不存在"))
            raise CaseActionRefused("forbidden", _("您没有权限对该办件执行“%(action)s”") % {"action": step.label})
        if expected_version is not None and expected_version != locked.version:
            raise CaseActionRefused("stale_version", _("该办件已被他人处理，请刷新后查看最新状态再操作"))
        if locked.state not in step.sources:
            raise CaseActionRefused(
                "illegal_transition",
                _("办件当前状态为“%(state)s”，不能执行“%(action)s”")
                % {"state": CaseState(locked.state).label, "action": step.label},
            )
        if step.needs_reason and len(reason) < 2:
            raise CaseError("reason_required", _("“%(action)s”须填写理由") % {"action": step.label})
        handler = _HANDLERS[action]
        from_state = locked.state
        detail = handler(locked, step, actor=actor, reason=reason, **params) or {}
        locked.version = F("version") + 1
        locked.save()
        locked.refresh_from_db()
        add_event(
            locked,
            action,
            actor=actor,
            from_state=from_state,
            to_state=locked.state,
            reason=reason,
            detail=detail,
            attachments=detail.pop("attachments", []) if isinstance(detail, dict) else [],
            public=action not in {"request_extension", "decide_extension", "complete_task"},
        )
    return locked
