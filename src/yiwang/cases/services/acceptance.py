"""Acceptance: accept, reject (不予受理), the one-time correction notice (一次性告知) and the resubmission.

Handlers for :func:`yiwang.cases.services.actions.perform`, which has checked state, actor and reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.cases import definitions
from yiwang.cases.constants import CaseOutcome, CaseState, PauseReason
from yiwang.cases.models import Application, Case, CorrectionNotice
from yiwang.cases.services._shared import Handler, no_params, stored_text
from yiwang.cases.services._stages import advance, cancel_tasks, finish_tasks, pause_clock, resume_clock, start_clock
from yiwang.cases.services.errors import CaseActionRefused, CaseError
from yiwang.cases.workflow import Transition
from yiwang.core import calendar

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


# Working days the applicant has to correct an application (补正期限) unless the official sets another.
DEFAULT_CORRECTION_DAYS = 10

MAX_CORRECTION_DAYS = 60


def _accept(case: Case, step: Transition, *, actor: Any, reason: str, **params: Any) -> dict[str, Any]:
    no_params(params)
    today = calendar.today_local()
    case.accepted_at = timezone.now()
    start_clock(case, today)
    case.state = CaseState.IN_REVIEW
    advance(case, actor=actor, opinion=reason)
    return {"statutory_due": str(case.statutory_due or ""), "promised_due": str(case.promised_due or "")}


def _reject(
    case: Case, step: Transition, *, actor: Any, reason: str, legal_basis: str = "", **params: Any
) -> dict[str, Any]:
    no_params(params)
    legal_basis = legal_basis.strip()
    if len(legal_basis) < 2:
        raise CaseError("legal_basis_required", _("不予受理须写明法律依据"))
    finish_tasks(case, case.current_stage, actor=actor, opinion=reason)
    cancel_tasks(case)
    case.state = CaseState.REJECTED
    case.outcome = CaseOutcome.REJECTED
    case.closed_at = timezone.now()
    return {"legal_basis": legal_basis[:500]}


def _request_correction(
    case: Case,
    step: Transition,
    *,
    actor: Any,
    reason: str,
    items: list[Mapping[str, str]] | None = None,
    days: int = DEFAULT_CORRECTION_DAYS,
    **params: Any,
) -> dict[str, Any]:
    no_params(params)
    definition = definitions.for_item(case.item)
    # Only what applies under the applicant's answers: a material of a branch they did not take was never asked.
    application = case.application
    applies = definitions.applicable(definition, {**application.form_data, **application.situation_answers})
    known: dict[tuple[str, str], StrOrPromise] = {("material", m.key): m.name for m in applies.materials}
    known.update({("field", f.key): f.label for f in applies.fields})
    listed = []
    for entry in items or []:
        kind, key, problem = (
            entry.get("kind", ""),
            entry.get("key", ""),
            " ".join(str(entry.get("problem", "")).split()),
        )
        label = known.get((kind, key))
        if label is None:
            raise CaseError(
                "unknown_correction_item", _("补正内容“%(key)s”不是该申请须提交的材料或填写的字段") % {"key": key}
            )
        if len(problem) < 2:
            raise CaseError("problem_required", _("请写明“%(label)s”需要怎样补正") % {"label": label})
        listed.append({"kind": kind, "key": key, "label": stored_text(label), "problem": problem[:300]})
    if not listed:
        raise CaseError("correction_items_required", _("一次性告知须列出全部需要补正的材料或字段"))
    if len({(e["kind"], e["key"]) for e in listed}) != len(listed):
        raise CaseError("duplicate_correction_item", _("补正内容有重复"))
    if not 1 <= int(days) <= MAX_CORRECTION_DAYS:
        raise CaseError("bad_days", _("补正期限须为1至%(max)s个工作日") % {"max": MAX_CORRECTION_DAYS})
    due = calendar.add_working_days(calendar.today_local(), int(days)).date
    CorrectionNotice.objects.create(case=case, items=listed, due=due, created_by=actor)
    case.return_state = case.state
    case.state = CaseState.CORRECTION_REQUESTED
    case.correction_due = due
    pause_clock(case, PauseReason.CORRECTION)
    return {"items": listed, "correction_due": str(due)}


def _resubmit(
    case: Case, step: Transition, *, actor: Any, reason: str, form_data: Mapping[str, Any] | None = None, **params: Any
) -> dict[str, Any]:
    no_params(params)
    notice = case.corrections.filter(resolved_at__isnull=True).order_by("-id").first()
    if notice is None:
        raise CaseActionRefused("no_correction", _("该办件没有待补正的内容"))
    application = Application.objects.select_for_update().get(pk=case.application_id)
    fields = {f.key: f for f in definitions.for_item(case.item).fields}
    changed_fields = _correct_fields(application, notice, fields, form_data) if form_data else []
    new_files = _corrected_materials(application, notice, changed_fields)
    _supersede_old_files(application, notice)
    notice.resolved_at = timezone.now()
    notice.save(update_fields=["resolved_at"])
    case.state = case.return_state or CaseState.SUBMITTED
    case.return_state = ""
    case.correction_due = None
    paused = resume_clock(case)
    return {"fields": changed_fields, "attachments": new_files, "paused_working_days": paused}


def _correct_fields(
    application: Application,
    notice: CorrectionNotice,
    fields: Mapping[str, definitions.FormField],
    form_data: Mapping[str, Any],
) -> list[str]:
    """Save the corrected answers, only for fields the notice lists; returns their keys."""
    asked = {e["key"] for e in notice.items if e["kind"] == "field"}
    if set(form_data) - asked:
        raise CaseError("field_not_listed", _("只能修改补正告知中列出的字段"))
    data = dict(application.form_data)
    changed_fields = []
    for key, raw in form_data.items():
        value, error = definitions.clean_value(fields[key], raw)
        if error:
            raise CaseError("invalid_field", error, problems=[definitions.Problem(key, error)])
        data[key] = value
        changed_fields.append(key)
    application.form_data = data
    application.save(update_fields=["form_data", "updated_at"])
    return changed_fields


def _corrected_materials(application: Application, notice: CorrectionNotice, changed_fields: list[str]) -> list[int]:
    """The files uploaded since the notice; refused while anything it lists is still uncorrected."""
    missing = []
    new_files: list[int] = []
    for entry in notice.items:
        if entry["kind"] == "material":
            uploaded = list(
                application.files.filter(
                    material_key=entry["key"], uploaded_at__gt=notice.created_at, superseded_at__isnull=True
                ).values_list("pk", flat=True)
            )
            if not uploaded:
                missing.append(entry["label"])
            new_files.extend(uploaded)
        elif entry["key"] not in changed_fields:
            missing.append(entry["label"])
    if missing:
        raise CaseError("correction_incomplete", _("还有未补正的内容：%(items)s") % {"items": _("、").join(missing)})
    return new_files


def _supersede_old_files(application: Application, notice: CorrectionNotice) -> None:
    """Older files for the corrected materials are superseded by the new ones."""
    for entry in notice.items:
        if entry["kind"] == "material":
            application.files.filter(
                material_key=entry["key"], uploaded_at__lte=notice.created_at, superseded_at__isnull=True
            ).update(superseded_at=timezone.now())


HANDLERS: dict[str, Handler] = {
    "accept": _accept,
    "reject": _reject,
    "request_correction": _request_correction,
    "resubmit": _resubmit,
}
