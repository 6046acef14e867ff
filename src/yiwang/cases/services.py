"""Every state change of case handling: applications, submission, and the actions of the transition table.

Each public function is one transaction. Case actions go through
:func:`perform`, which consults :mod:`yiwang.cases.workflow` and
:mod:`yiwang.cases.policy`, locks the case row, checks the caller's version
(optimistic concurrency), records a :class:`CaseEvent` and an audit record,
and publishes outbox events that the worker turns into notifications.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from yiwang.accounts import selectors as accounts_selectors
from yiwang.accounts import services as accounts_services
from yiwang.accounts.services import ActingFor
from yiwang.cases import definitions, policy
from yiwang.cases.constants import (
    ApplicationState,
    CaseOutcome,
    CaseState,
    Channel,
    ExtensionStatus,
    PauseReason,
    StepKind,
    TaskStatus,
)
from yiwang.cases.models import (
    Application,
    ApplicationFile,
    Case,
    CaseEvent,
    CaseNumberSequence,
    CaseTask,
    ClockPause,
    CorrectionNotice,
    Extension,
)
from yiwang.cases.workflow import TRANSITIONS, Transition, transition
from yiwang.catalog import selectors as catalog_selectors
from yiwang.catalog.constants import OnlineDepth
from yiwang.core import calendar, numbering, outbox, uploads
from yiwang.core.audit import record_event
from yiwang.core.problems import ServiceError
from yiwang.directory import selectors as directory_selectors

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

    from yiwang.catalog.models import ServiceItem
    from yiwang.directory.models import Department

# Working days the applicant has to correct an application (补正期限) unless the official sets another.
DEFAULT_CORRECTION_DAYS = 10
MAX_CORRECTION_DAYS = 60
MAX_EXTENSION_DAYS = 60
SUBMISSION_KEY_MAX = 64


class CaseError(ServiceError):
    """A refused request, with a stable code and a message for the person who made it.

    An incomplete application carries ``problems`` (a list of ``definitions.Problem``) in ``extra``.
    """


class CaseActionRefused(CaseError):
    """An action the transition table, the policy or the case's version does not allow."""

    status = 409


class CaseNotFound(CaseError):
    status = 404


class CaseThrottled(CaseError):
    status = 429


# Stored as the actor of the platform's own steps, in the source language; pages translate it when they show it.
SYSTEM_ACTOR_LABEL = gettext_noop("系统")


def _stored(text: StrOrPromise) -> str:
    """Text kept in a record, in the source language whoever acted, like the catalogue data beside it."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(text)


def _label(user: Any) -> str:
    if user is None:
        return SYSTEM_ACTOR_LABEL
    return str(getattr(user, "display_name", "") or user.get_username())


# --- applications ---------------------------------------------------------------


@dataclass(frozen=True)
class Applicant:
    """Who an application is for, and who fills it in (see :func:`applicant_for`)."""

    person_id: int
    organisation_id: int | None
    agent_id: int | None
    basis: str
    label: str


def applicant_for(user: Any, *, acting: ActingFor | None = None, organisation_id: int | None = None) -> Applicant:
    """Who an account applies for: itself, an organisation it represents, or a person it acts for."""
    if acting is not None:
        return Applicant(acting.person_id, None, user.pk, acting.basis, acting.person_label)
    if user.person_id is None:
        raise CaseError("identity_required", _("请先完成实名认证再申请"))
    if organisation_id is not None:
        organisation = accounts_selectors.get_represented_organisation(user, organisation_id)
        return Applicant(user.person_id, organisation.pk, None, "", organisation.name)
    return Applicant(user.person_id, None, None, "", user.person.name)


def _definition_and_items(application: Application) -> tuple[definitions.ApplicationDefinition, list[ServiceItem]]:
    """The application's definition and the published items it may apply for, fetched once."""
    if application.bundle_code:
        return definitions.for_bundle(application.bundle_code)
    item = catalog_selectors.published_item(application.item_code)
    return _item_definition(item), [item]


# Definitions of published item versions, built once per version (they never change, ADR 0003).
_item_definitions: dict[tuple[int, str], definitions.ApplicationDefinition] = {}
_ITEM_DEFINITIONS_KEPT = 1024


def _item_definition(item: ServiceItem) -> definitions.ApplicationDefinition:
    key = (item.pk, item.updated_at.isoformat())
    definition = _item_definitions.get(key)
    if definition is None:
        if len(_item_definitions) >= _ITEM_DEFINITIONS_KEPT:
            _item_definitions.clear()
        definition = _item_definitions[key] = definitions.for_item(item)
    return definition


def _definition(application: Application) -> definitions.ApplicationDefinition:
    return _definition_and_items(application)[0]


def start_application(
    *,
    actor: Any,
    applicant: Applicant,
    item_code: str = "",
    bundle_code: str = "",
    channel: str = Channel.ONLINE,
) -> Application:
    """Open a draft application for one published item or one bundle."""
    if bool(item_code) == bool(bundle_code):
        raise CaseError("item_required", _("请选择一个事项或一件事"))
    if channel not in Channel.values:
        raise CaseError("bad_channel", _("未知的办理渠道"))
    # Counter applications are made by a clerk for a person whose identity the clerk checked.
    if channel == Channel.COUNTER and not applicant.basis.startswith("counter:"):
        raise CaseError("counter_identity_required", _("窗口办理须由窗口人员核验办事人身份后代为申请"))
    if item_code:
        item = catalog_selectors.get_item(item_code)
        if channel in {Channel.ONLINE, Channel.MOBILE} and item.online_depth < OnlineDepth.ONLINE_APPLICATION:
            raise CaseError("counter_only", _("该事项暂不支持网上申请，请到办事窗口办理"))
        # An imported item whose guide lacks materials, fees or time limits cannot say what to submit.
        if channel in {Channel.ONLINE, Channel.MOBILE} and not item.guide_complete:
            raise CaseError(
                "guide_incomplete", _("该事项办事指南信息待完善，暂不接受网上申请，请咨询办理部门或到窗口办理")
            )
        if not policy.meets_assurance(applicant.person_id, item):
            raise CaseError("assurance_too_low", _("该事项要求更高的实名认证等级，请先提升认证等级或到窗口办理"))
    else:
        catalog_selectors.get_bundle(bundle_code)
    with transaction.atomic():
        application = Application.objects.create(
            created_by=actor,
            applicant_person_id=applicant.person_id,
            applicant_organisation_id=applicant.organisation_id,
            agent_id=applicant.agent_id,
            assisted_basis=applicant.basis,
            channel=channel,
            item_code=item_code,
            bundle_code=bundle_code,
        )
        record_event(
            "application.started",
            actor=actor,
            on_behalf_of_person_id=applicant.person_id if applicant.agent_id else None,
            target=f"cases.Application:{application.pk}",
            detail={"item": item_code, "bundle": bundle_code, "channel": channel},
        )
    return application


def _editable(application: Application, actor: Any) -> Application:
    if not policy.can_edit_application(actor, application):
        raise CaseNotFound("not_found", _("申请不存在"))
    if application.state != ApplicationState.DRAFT:
        raise CaseError("not_a_draft", _("申请已提交，不能再修改；如需补正请按补正告知办理"))
    return application


def save_draft(
    application: Application,
    *,
    actor: Any,
    answers: Mapping[str, Any] | None = None,
    form_data: Mapping[str, Any] | None = None,
) -> list[definitions.Problem]:
    """Save what the applicant has filled in so far; return what is still missing or wrong.

    A draft keeps whatever was typed, valid or not, so nothing is lost between
    channels; unknown questions and fields are dropped.
    """
    with transaction.atomic():
        application = Application.objects.select_for_update().get(pk=application.pk)
        _editable(application, actor)
        definition = _definition(application)
        if answers is not None:
            known = {q.key for q in definition.questions}
            application.situation_answers = {k: str(v) for k, v in answers.items() if k in known}
        if form_data is not None:
            keys = {f.key for f in definition.fields}
            merged = dict(application.form_data)
            merged.update({k: str(v)[:5000] for k, v in form_data.items() if k in keys})
            application.form_data = merged
        application.save(update_fields=["situation_answers", "form_data", "updated_at"])
    return application_problems(application, definition)


def application_problems(
    application: Application, definition: definitions.ApplicationDefinition | None = None
) -> list[definitions.Problem]:
    """Everything that stops the application from being submitted, each addressed to its question, field or material."""
    definition = definition or _definition(application)
    problems = definitions.check_answers(definition, application.situation_answers)
    if problems:
        return problems
    problems = definitions.check_form(definition, application.situation_answers, application.form_data)
    applies = definitions.applicable(definition, application.situation_answers)
    if definition.members and not applies.item_codes:
        problems.append(definitions.Problem("items", _("按您的选择没有需要办理的事项"), "question"))
    present = set(application.files.filter(superseded_at__isnull=True).values_list("material_key", flat=True))
    for spec in applies.materials:
        if spec.required and not spec.from_source and spec.key not in present:
            problems.append(definitions.Problem(spec.key, _("请上传：%(name)s") % {"name": spec.name}, "material"))
    return problems


def attach_file(
    application: Application, *, actor: Any, material_key: str, name: str, stream: IO[bytes]
) -> ApplicationFile:
    """Check and store one material file (type, size, content, virus scan) and attach it to the application.

    Drafts take files at any time; a case waiting for correction takes files
    for the materials its correction notice lists.
    """
    if not policy.can_edit_application(actor, application):
        raise CaseNotFound("not_found", _("申请不存在"))
    definition = _definition(application)
    spec = next((m for m in definition.materials if m.key == material_key), None)
    if spec is None:
        raise CaseError("unknown_material", _("该事项没有这项材料"))
    if application.state != ApplicationState.DRAFT and material_key not in _correctable_materials(application):
        raise CaseError("not_a_draft", _("申请已提交，只能上传补正告知中列出的材料"))
    try:
        checked = uploads.check_upload(name, stream)
    except uploads.UploadRejected as refused:
        record_event(
            "application.file_refused",
            actor=actor,
            target=f"cases.Application:{application.pk}",
            detail={"code": refused.code, "material": material_key},
        )
        raise CaseError(refused.code, refused.message) from refused
    stream.seek(0)
    with transaction.atomic():
        storage_name = uploads.store_in_transaction(checked, stream)
        stored = ApplicationFile.objects.create(
            application=application,
            material_key=material_key,
            original_name=checked.safe_name,
            storage_name=storage_name,
            content_type=checked.content_type,
            size=checked.size,
            sha256=checked.sha256,
            scan_status=checked.scan_status,
            uploaded_by=actor,
        )
        record_event(
            "application.file_attached",
            actor=actor,
            target=f"cases.Application:{application.pk}",
            detail={"material": material_key, "sha256": checked.sha256, "size": checked.size},
        )
    return stored


def remove_file(application: Application, *, actor: Any, file_id: int) -> None:
    """Take a file off a draft (kept, marked superseded, for the record)."""
    _editable(application, actor)
    updated = ApplicationFile.objects.filter(pk=file_id, application=application, superseded_at__isnull=True).update(
        superseded_at=timezone.now()
    )
    if not updated:
        raise CaseNotFound("not_found", _("文件不存在"))


def _correctable_materials(application: Application) -> set[str]:
    keys: set[str] = set()
    for notice in CorrectionNotice.objects.filter(case__application=application, resolved_at__isnull=True):
        keys.update(entry["key"] for entry in notice.items if entry.get("kind") == "material")
    return keys


def abandon_application(application: Application, *, actor: Any) -> None:
    """Discard a draft the applicant no longer wants."""
    with transaction.atomic():
        application = Application.objects.select_for_update().get(pk=application.pk)
        _editable(application, actor)
        application.state = ApplicationState.ABANDONED
        application.save(update_fields=["state", "updated_at"])


def _case_number(department: Department, day: dt.date) -> str:
    """``<department code>-<YYYYMMDD>-<6-digit serial>``: the serial restarts each day per department."""
    # The counter row stays locked to the end of the submission, so serials are never given twice.
    serial = numbering.next_value(CaseNumberSequence, {"department": department, "day": day})
    return f"{department.code.upper()}-{day:%Y%m%d}-{serial:06d}"


def submit_application(application: Application, *, actor: Any, submission_key: str = "") -> list[Case]:
    """Submit an application: one case per item it applies for (a bundle fans out).

    Idempotent: submitting an application that was already submitted — a
    retried request, a double click, the same key again — returns the cases
    it made and makes no more.
    """
    submission_key = submission_key.strip()[:SUBMISSION_KEY_MAX]
    if submission_key:
        existing = Application.objects.filter(submission_key=submission_key).first()
        if existing is not None:
            if existing.pk != application.pk or not policy.can_edit_application(actor, existing):
                raise CaseError("submission_key_reused", _("提交编号已被其他申请使用"))
            return list(existing.cases.order_by("id"))
    try:
        with transaction.atomic():
            return _submit(application, actor=actor, submission_key=submission_key)
    except IntegrityError:
        # Two identical requests raced past the check above; the winner's cases stand.
        existing = Application.objects.filter(pk=application.pk, state=ApplicationState.SUBMITTED).first()
        if existing is None:
            raise
        return list(existing.cases.order_by("id"))


def _submit(application: Application, *, actor: Any, submission_key: str) -> list[Case]:
    application = Application.objects.select_for_update().get(pk=application.pk)
    if not policy.can_edit_application(actor, application):
        raise CaseNotFound("not_found", _("申请不存在"))
    if application.state == ApplicationState.SUBMITTED:
        return list(application.cases.order_by("id"))
    if application.state != ApplicationState.DRAFT:
        raise CaseError("not_a_draft", _("该申请已放弃，不能提交"))
    definition, published = _definition_and_items(application)
    problems = application_problems(application, definition)
    if problems:
        raise CaseError("application_incomplete", _("申请尚未填写完整"), problems=problems)
    if application.bundle_code:
        codes = definitions.applicable(definition, application.situation_answers).item_codes
    else:
        codes = [application.item_code]
    by_code = {item.code: item for item in published}
    items = [by_code[code] for code in codes]
    now = timezone.now()
    today = calendar.today_local()
    person = accounts_selectors.get_person(application.applicant_person_id)
    organisation_name = ""
    if application.applicant_organisation_id:
        organisation_name = accounts_selectors.get_organisation(application.applicant_organisation_id).name
    cases = []
    for item in items:
        case = Case.objects.create(
            number=_case_number(item.department, today),
            application=application,
            item=item,
            item_code=item.code,
            item_name=item.name,
            department=item.department,
            channel=application.channel,
            applicant_person_id=application.applicant_person_id,
            applicant_organisation_id=application.applicant_organisation_id,
            applicant_name=organisation_name or person.name,
            agent_id=application.agent_id,
            assisted_basis=application.assisted_basis,
            verification_code=numbering.verification_code(),
            requires_payment=item.charges_fee and item.fees.exists(),
            submitted_at=now,
            current_stage=str(StepKind.ACCEPTANCE),
        )
        _open_stage(case, _stages(case)[0], start=today)
        # The audit record of the submission below names every case it made: one chain entry, not one per case.
        _event(
            case,
            "submit",
            actor=actor,
            from_state="",
            to_state=case.state,
            detail={"channel": case.channel},
            audit=False,
        )
        cases.append(case)
    application.state = ApplicationState.SUBMITTED
    application.submitted_at = now
    application.submission_key = submission_key or None
    application.save(update_fields=["state", "submitted_at", "submission_key", "updated_at"])
    record_event(
        "application.submitted",
        actor=actor,
        on_behalf_of_person_id=application.applicant_person_id if application.agent_id else None,
        target=f"cases.Application:{application.pk}",
        detail={"cases": [c.number for c in cases]},
    )
    return cases


# --- public lookup (办件查询) --------------------------------------------------------

# Wrong number/code pairs an address may try before it is locked out for a while.
LOOKUP_FAILURE_LIMIT = 20


def check_lookup_allowed(ip: str) -> None:
    """Refuse lookups from an address that guessed wrong too often (the code is short enough to guess)."""
    if accounts_services.throttle_locked_until(f"case-lookup:{ip}") is not None:
        raise CaseThrottled("too_many_attempts", _("查询失败次数过多，请稍后再试"))


def record_failed_lookup(ip: str) -> None:
    accounts_services.throttle_failure(f"case-lookup:{ip}", limit=LOOKUP_FAILURE_LIMIT)


# --- process stages ---------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _stages_of(item_id: int, updated_at: str, process_definition: str) -> tuple[definitions.Stage, ...]:
    # A published item version never changes (ADR 0003), so its stages can be kept per process;
    # its last change and definition text are part of the key all the same.
    return definitions.process_for(catalog_selectors.item_version(item_id))


def _stages(case: Case) -> tuple[definitions.Stage, ...]:
    item = case.item
    return _stages_of(item.pk, item.updated_at.isoformat(), json.dumps(item.process_definition, sort_keys=True))


def _stage(case: Case, key: str) -> definitions.Stage:
    return next(s for s in _stages(case) if s.key == key)


def _next_stage(case: Case, key: str) -> definitions.Stage | None:
    stages = _stages(case)
    index = next(i for i, s in enumerate(stages) if s.key == key)
    return stages[index + 1] if index + 1 < len(stages) else None


def _open_stage(case: Case, stage: definitions.Stage, *, start: dt.date) -> list[CaseTask]:
    """Open one task per department of the stage (several departments: parallel branches)."""
    if stage.departments:
        found = directory_selectors.departments_by_code(stage.departments)
        missing = [code for code in stage.departments if code not in found]
        if missing:
            raise CaseError(
                "bad_process", _("办理流程引用了不存在的部门：%(codes)s") % {"codes": _("、").join(missing)}
            )
        departments = [found[code] for code in stage.departments]
    else:
        departments = [case.department]
    due = calendar.add_working_days(start, stage.days).date if stage.days is not None else None
    case.current_stage = stage.key
    return [
        CaseTask.objects.create(
            case=case,
            stage=stage.key,
            kind=stage.kind,
            name=stage.name,
            department=department,
            role=stage.role,
            due=due,
        )
        for department in departments
    ]


def _finish_tasks(case: Case, stage_key: str, *, actor: Any, opinion: str = "") -> None:
    CaseTask.objects.filter(case=case, stage=stage_key, status=TaskStatus.OPEN).update(
        status=TaskStatus.DONE, completed_at=timezone.now(), completed_by=actor, opinion=opinion
    )


def _cancel_tasks(case: Case) -> None:
    CaseTask.objects.filter(case=case, status=TaskStatus.OPEN).update(
        status=TaskStatus.CANCELLED, completed_at=timezone.now()
    )


def _advance(case: Case, *, actor: Any, opinion: str = "") -> definitions.Stage | None:
    """Finish the current stage and open the next one; returns the new stage."""
    _finish_tasks(case, case.current_stage, actor=actor, opinion=opinion)
    stage = _next_stage(case, case.current_stage)
    if stage is not None:
        _open_stage(case, stage, start=calendar.today_local())
    return stage


# --- the clock -------------------------------------------------------------------


def _pause(case: Case, reason: str) -> None:
    if case.accepted_at is None or case.paused_since is not None:
        return
    now = timezone.now()
    case.paused_since = now
    ClockPause.objects.create(case=case, reason=reason, started_at=now)


def _resume_clock(case: Case) -> int:
    """Restart the clock; every deadline moves by the working days it stood still."""
    if case.paused_since is None:
        return 0
    now = timezone.now()
    start = timezone.localdate(case.paused_since)
    days = calendar.working_days_between(start, timezone.localdate(now))
    ClockPause.objects.filter(case=case, ended_at__isnull=True).update(ended_at=now, working_days=days)
    case.paused_since = None
    if days:
        _move_deadlines(case, days)
    return days


def _move_deadlines(case: Case, days: int) -> None:
    provisional = False
    if case.statutory_due:
        moved = calendar.add_working_days(case.statutory_due, days)
        case.statutory_due, provisional = moved.date, moved.provisional
    if case.promised_due:
        moved = calendar.add_working_days(case.promised_due, days)
        case.promised_due, provisional = moved.date, provisional or moved.provisional
    case.due_provisional = provisional
    for task in CaseTask.objects.filter(case=case, status=TaskStatus.OPEN, due__isnull=False):
        task.due = calendar.add_working_days(task.due, days).date if task.due else None
        task.save(update_fields=["due"])


def _start_clock(case: Case, today: dt.date) -> None:
    item = case.item
    provisional = False
    if item.statutory_days is not None:
        due = calendar.add_working_days(today, item.statutory_days)
        case.statutory_due, provisional = due.date, due.provisional
    promised_days = item.promised_days if item.promised_days is not None else item.statutory_days
    if promised_days is not None:
        due = calendar.add_working_days(today, promised_days)
        case.promised_due, provisional = due.date, provisional or due.provisional
    case.due_provisional = provisional


# --- actions -----------------------------------------------------------------------


def _event(
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
    if actor is not None and case.agent_id == getattr(actor, "pk", None) and case.assisted_basis:
        on_behalf = case.applicant_name
    event = CaseEvent.objects.create(
        case=case,
        action=action,
        from_state=from_state,
        to_state=to_state,
        actor=actor,
        actor_label=_label(actor),
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
        _event(
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


def _no_params(params: Mapping[str, Any]) -> None:
    if params:
        raise CaseError("bad_parameter", _("不支持的参数：%(names)s") % {"names": _("、").join(sorted(params))})


def _accept(case: Case, step: Transition, *, actor: Any, reason: str, **params: Any) -> dict[str, Any]:
    _no_params(params)
    today = calendar.today_local()
    case.accepted_at = timezone.now()
    _start_clock(case, today)
    case.state = CaseState.IN_REVIEW
    _advance(case, actor=actor, opinion=reason)
    return {"statutory_due": str(case.statutory_due or ""), "promised_due": str(case.promised_due or "")}


def _reject(
    case: Case, step: Transition, *, actor: Any, reason: str, legal_basis: str = "", **params: Any
) -> dict[str, Any]:
    _no_params(params)
    legal_basis = legal_basis.strip()
    if len(legal_basis) < 2:
        raise CaseError("legal_basis_required", _("不予受理须写明法律依据"))
    _finish_tasks(case, case.current_stage, actor=actor, opinion=reason)
    _cancel_tasks(case)
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
    _no_params(params)
    definition = definitions.for_item(case.item)
    known: dict[tuple[str, str], StrOrPromise] = {("material", m.key): m.name for m in definition.materials}
    known.update({("field", f.key): f.label for f in definition.fields})
    listed = []
    for entry in items or []:
        kind, key, problem = (
            entry.get("kind", ""),
            entry.get("key", ""),
            " ".join(str(entry.get("problem", "")).split()),
        )
        label = known.get((kind, key))
        if label is None:
            raise CaseError("unknown_correction_item", _("补正内容“%(key)s”不是该事项的材料或字段") % {"key": key})
        if len(problem) < 2:
            raise CaseError("problem_required", _("请写明“%(label)s”需要怎样补正") % {"label": label})
        listed.append({"kind": kind, "key": key, "label": _stored(label), "problem": problem[:300]})
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
    _pause(case, PauseReason.CORRECTION)
    return {"items": listed, "correction_due": str(due)}


def _resubmit(
    case: Case, step: Transition, *, actor: Any, reason: str, form_data: Mapping[str, Any] | None = None, **params: Any
) -> dict[str, Any]:
    _no_params(params)
    notice = case.corrections.filter(resolved_at__isnull=True).order_by("-id").first()
    if notice is None:
        raise CaseActionRefused("no_correction", _("该办件没有待补正的内容"))
    application = Application.objects.select_for_update().get(pk=case.application_id)
    definition = definitions.for_item(case.item)
    fields = {f.key: f for f in definition.fields}
    changed_fields = []
    if form_data:
        asked = {e["key"] for e in notice.items if e["kind"] == "field"}
        unexpected = set(form_data) - asked
        if unexpected:
            raise CaseError("field_not_listed", _("只能修改补正告知中列出的字段"))
        data = dict(application.form_data)
        for key, raw in form_data.items():
            value, error = definitions.clean_value(fields[key], raw)
            if error:
                raise CaseError("invalid_field", error, problems=[definitions.Problem(key, error)])
            data[key] = value
            changed_fields.append(key)
        application.form_data = data
        application.save(update_fields=["form_data", "updated_at"])
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
    # Older files for the corrected materials are superseded by the new ones.
    for entry in notice.items:
        if entry["kind"] == "material":
            application.files.filter(
                material_key=entry["key"], uploaded_at__lte=notice.created_at, superseded_at__isnull=True
            ).update(superseded_at=timezone.now())
    notice.resolved_at = timezone.now()
    notice.save(update_fields=["resolved_at"])
    case.state = case.return_state or CaseState.SUBMITTED
    case.return_state = ""
    case.correction_due = None
    paused = _resume_clock(case)
    return {"fields": changed_fields, "attachments": new_files, "paused_working_days": paused}


def _open_task_for(case: Case, actor: Any, task_id: int | None) -> CaseTask:
    tasks = CaseTask.objects.select_for_update().filter(case=case, stage=case.current_stage, status=TaskStatus.OPEN)
    if task_id is not None:
        tasks = tasks.filter(pk=task_id)
    for task in tasks.select_related("department"):
        if policy.can_work_task(actor, task):
            return task
    raise CaseActionRefused("no_task", _("当前环节没有您可以办理的任务"))


def _complete_task(
    case: Case, step: Transition, *, actor: Any, reason: str, task_id: int | None = None, **params: Any
) -> dict[str, Any]:
    _no_params(params)
    stage = _stage(case, case.current_stage)
    if stage.kind != StepKind.REVIEW:
        raise CaseActionRefused("not_review_stage", _("当前环节不是审查环节"))
    task = _open_task_for(case, actor, task_id)
    task.status = TaskStatus.DONE
    task.completed_at = timezone.now()
    task.completed_by = actor
    task.opinion = reason
    task.save(update_fields=["status", "completed_at", "completed_by", "opinion"])
    detail: dict[str, Any] = {"task": task.pk, "department": task.department.code}
    # Parallel branches join: the next stage opens when the last branch is done.
    if not CaseTask.objects.filter(case=case, stage=case.current_stage, status=TaskStatus.OPEN).exists():
        next_stage = _advance(case, actor=actor)
        detail["next_stage"] = next_stage.key if next_stage else ""
    return detail


def _decision_stage_check(case: Case) -> None:
    if _stage(case, case.current_stage).kind != StepKind.DECISION:
        raise CaseActionRefused("not_decision_stage", _("审查尚未完成，不能作出决定"))


def _approve(case: Case, step: Transition, *, actor: Any, reason: str, **params: Any) -> dict[str, Any]:
    _no_params(params)
    _decision_stage_check(case)
    _open_task_for(case, actor, None)
    case.decided_at = timezone.now()
    case.outcome = CaseOutcome.APPROVED
    _finish_tasks(case, case.current_stage, actor=actor, opinion=reason)
    if case.requires_payment:
        from yiwang.cases import payments

        order = payments.create_order(case)
        case.state = CaseState.AWAITING_PAYMENT
        return {"payment_order": order.order_number, "amount": str(order.amount)}
    _enter_certificate(case, actor)
    return {}


def _enter_certificate(case: Case, actor: Any) -> None:
    case.state = CaseState.ISSUING
    stage = _next_stage(case, case.current_stage)
    if stage is not None:
        _open_stage(case, stage, start=calendar.today_local())


def _refuse(
    case: Case, step: Transition, *, actor: Any, reason: str, legal_basis: str = "", **params: Any
) -> dict[str, Any]:
    _no_params(params)
    _decision_stage_check(case)
    _open_task_for(case, actor, None)
    if len(legal_basis.strip()) < 2:
        raise CaseError("legal_basis_required", _("不予许可须写明法律依据"))
    _finish_tasks(case, case.current_stage, actor=actor, opinion=reason)
    _cancel_tasks(case)
    case.state = CaseState.REFUSED
    case.outcome = CaseOutcome.REFUSED
    case.decided_at = case.closed_at = timezone.now()
    return {"legal_basis": legal_basis.strip()[:500]}


def _suspend(case: Case, step: Transition, *, actor: Any, reason: str, **params: Any) -> dict[str, Any]:
    _no_params(params)
    case.return_state = case.state
    case.state = CaseState.SUSPENDED
    _pause(case, PauseReason.SUSPENDED)
    return {}


def _resume(case: Case, step: Transition, *, actor: Any, reason: str, **params: Any) -> dict[str, Any]:
    _no_params(params)
    case.state = case.return_state or CaseState.IN_REVIEW
    case.return_state = ""
    return {"paused_working_days": _resume_clock(case)}


def _request_extension(
    case: Case, step: Transition, *, actor: Any, reason: str, days: int = 0, **params: Any
) -> dict[str, Any]:
    _no_params(params)
    if not 1 <= int(days) <= MAX_EXTENSION_DAYS:
        raise CaseError("bad_days", _("延期须为1至%(max)s个工作日") % {"max": MAX_EXTENSION_DAYS})
    if case.extensions.filter(status=ExtensionStatus.REQUESTED).exists():
        raise CaseActionRefused("extension_pending", _("已有待审批的延期申请"))
    extension = Extension.objects.create(case=case, days=int(days), reason=reason, requested_by=actor)
    return {"extension": extension.pk, "days": extension.days}


def _decide_extension(
    case: Case, step: Transition, *, actor: Any, reason: str, approve: bool | None = None, **params: Any
) -> dict[str, Any]:
    _no_params(params)
    if approve is None:
        raise CaseError("decision_required", _("请选择批准或不批准"))
    extension = case.extensions.select_for_update().filter(status=ExtensionStatus.REQUESTED).first()
    if extension is None:
        raise CaseActionRefused("no_extension", _("没有待审批的延期申请"))
    if extension.requested_by_id == getattr(actor, "pk", None):
        raise CaseActionRefused("four_eyes", _("延期申请须由申请人以外的审批人员审批"))
    extension.status = ExtensionStatus.APPROVED if approve else ExtensionStatus.REFUSED
    extension.decided_by = actor
    extension.decided_at = timezone.now()
    extension.decision_reason = reason
    extension.save()
    if approve:
        _move_deadlines(case, extension.days)
    return {"extension": extension.pk, "approved": bool(approve), "days": extension.days}


def _transfer(
    case: Case, step: Transition, *, actor: Any, reason: str, department: str = "", **params: Any
) -> dict[str, Any]:
    _no_params(params)
    target = directory_selectors.department_by_code(department)
    if target is None:
        raise CaseError("unknown_department", _("接收部门不存在"))
    if target.pk == case.department_id:
        raise CaseError("same_department", _("不能移交给本部门"))
    previous = case.department.code
    CaseTask.objects.filter(case=case, status=TaskStatus.OPEN, department=case.department).update(department=target)
    case.department = target
    return {"from_department": previous, "to_department": target.code}


def _withdraw(case: Case, step: Transition, *, actor: Any, reason: str, **params: Any) -> dict[str, Any]:
    _no_params(params)
    _cancel_tasks(case)
    _resume_clock(case)
    CorrectionNotice.objects.filter(case=case, resolved_at__isnull=True).update(resolved_at=timezone.now())
    if case.state == CaseState.AWAITING_PAYMENT:
        from yiwang.cases import payments

        payments.cancel_orders(case)
    case.state = CaseState.WITHDRAWN
    case.outcome = CaseOutcome.WITHDRAWN
    case.closed_at = timezone.now()
    return {}


def _confirm_payment(
    case: Case, step: Transition, *, actor: Any, reason: str, order_number: str = "", **params: Any
) -> dict[str, Any]:
    _no_params(params)
    if not case.payments.filter(order_number=order_number, status="paid").exists():
        raise CaseActionRefused("payment_not_confirmed", _("未收到该办件的缴费确认"))
    _enter_certificate(case, actor)
    return {"payment_order": order_number}


def _issue_certificate(case: Case, step: Transition, *, actor: Any, reason: str, **params: Any) -> dict[str, Any]:
    _no_params(params)
    _open_task_for(case, actor, None)
    case.state = CaseState.READY_FOR_COLLECTION
    _advance(case, actor=actor, opinion=reason)
    return {"result": case.item.result_name}


def _close(case: Case, step: Transition, *, actor: Any, reason: str, **params: Any) -> dict[str, Any]:
    _no_params(params)
    _finish_tasks(case, case.current_stage, actor=actor, opinion=reason)
    case.state = CaseState.CLOSED
    case.closed_at = timezone.now()
    return {}


_HANDLERS = {
    "accept": _accept,
    "reject": _reject,
    "request_correction": _request_correction,
    "resubmit": _resubmit,
    "complete_task": _complete_task,
    "approve": _approve,
    "refuse": _refuse,
    "suspend": _suspend,
    "resume": _resume,
    "request_extension": _request_extension,
    "decide_extension": _decide_extension,
    "transfer": _transfer,
    "withdraw": _withdraw,
    "confirm_payment": _confirm_payment,
    "issue_certificate": _issue_certificate,
    "close": _close,
}
# Every action of the transition table has exactly one handler here.
if set(_HANDLERS) != set(TRANSITIONS):
    raise ImproperlyConfigured(f"case actions without a handler: {sorted(set(TRANSITIONS) ^ set(_HANDLERS))}")
