"""Submitting an application: one case per item it applies for, numbered, with its first stage open."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.accounts import selectors as accounts_selectors
from yiwang.cases import definitions, policy
from yiwang.cases.constants import ApplicationState, StepKind
from yiwang.cases.models import Application, BundleNumberSequence, BundleSubmission, Case, CaseNumberSequence
from yiwang.cases.services import prefill
from yiwang.cases.services._shared import add_event
from yiwang.cases.services._stages import open_stage, process_stages
from yiwang.cases.services.applications import application_problems, definition_and_items, item_definition
from yiwang.cases.services.errors import CaseError, CaseNotFound
from yiwang.core import calendar, numbering
from yiwang.core.audit import record_event

if TYPE_CHECKING:
    from yiwang.directory.models import Department


SUBMISSION_KEY_MAX = 64


def _case_number(department: Department, day: dt.date) -> str:
    """``<department code>-<YYYYMMDD>-<6-digit serial>``: the serial restarts each day per department."""
    # The counter row stays locked to the end of the submission, so serials are never given twice.
    serial = numbering.next_value(CaseNumberSequence, {"department": department, "day": day})
    return f"{department.code.upper()}-{day:%Y%m%d}-{serial:06d}"


BUNDLE_NUMBER_PREFIX = "YJS"


def _bundle_number(day: dt.date) -> str:
    """``YJS-<YYYYMMDD>-<6-digit serial>`` (一件事): one series for every bundle, restarting each day."""
    serial = numbering.next_value(BundleNumberSequence, {"day": day})
    return f"{BUNDLE_NUMBER_PREFIX}-{day:%Y%m%d}-{serial:06d}"


def _record_bundle(application: Application, title: str, now: dt.datetime) -> str:
    """The applicant's one number and code for all the cases of a bundle application."""
    return BundleSubmission.objects.create(
        number=_bundle_number(calendar.today_local()),
        verification_code=numbering.verification_code(),
        application=application,
        bundle_code=application.bundle_code,
        bundle_name=title,
        applicant_person_id=application.applicant_person_id,
        applicant_organisation_id=application.applicant_organisation_id,
        submitted_at=now,
    ).number


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
    definition, published = definition_and_items(application)
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
        open_stage(case, process_stages(case)[0], start=today)
        # The audit record of the submission below names every case it made: one chain entry, not one per case.
        add_event(
            case,
            "submit",
            actor=actor,
            from_state="",
            to_state=case.state,
            detail={"channel": case.channel},
            audit=False,
        )
        cases.append(case)
    bundle_number = _record_bundle(application, definition.title, now) if application.bundle_code else ""
    # 六减 (减填): the fields each case's applicant did not type, prefilled and kept (ADR 0032).
    fields_saved = prefill.record_field_savings(
        application, cases, {item.code: item_definition(item) for item in items}
    )
    application.state = ApplicationState.SUBMITTED
    application.submitted_at = now
    application.submission_key = submission_key or None
    application.save(update_fields=["state", "submitted_at", "submission_key", "updated_at"])
    record_event(
        "application.submitted",
        actor=actor,
        on_behalf_of_person_id=application.applicant_person_id if application.agent_id else None,
        target=f"cases.Application:{application.pk}",
        detail={"cases": [c.number for c in cases], "bundle": bundle_number, "fields_saved": fields_saved},
    )
    return cases
