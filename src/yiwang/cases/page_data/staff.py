"""The staff side of a case: who may open it, the workbench, the case page for staff and its actions."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.http import Http404
from django.utils.translation import gettext

from yiwang.accounts import policy as accounts_policy
from yiwang.accounts.constants import CASE_ROLES, PLATFORM_WIDE_ROLES, Role
from yiwang.cases import definitions, policy, selectors
from yiwang.cases.constants import CaseState, ExtensionStatus, StepKind
from yiwang.cases.models import ApplicationFile, Case, CaseTask, CorrectionNotice, Extension, PaymentOrder
from yiwang.cases.page_data.applicant_case import EventRow, event_rows, open_tasks, state_label, warning_of
from yiwang.cases.page_data.applications import holds
from yiwang.cases.page_data.desks import other_desks
from yiwang.cases.page_data.documents import PrintableDocument, available_documents, masked_applicant
from yiwang.cases.wording import decision_wording
from yiwang.cases.workflow import Transition, actions_from
from yiwang.catalog import selectors as catalog_selectors
from yiwang.core import crypto
from yiwang.core.audit import record_event

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


# Form fields that carry personal data: masked on staff screens.
_NAME_FIELDS = frozenset({"applicant_name", "contact_name", "legal_representative"})


def can_open_as_staff(user: Any, case: Case) -> bool:
    """Case staff of the case's departments (counter clerks anywhere) and supervisors; not the applicant side."""
    return policy.is_case_staff(user, case) or accounts_policy.has_any_role(user, PLATFORM_WIDE_ROLES)


def get_staff_case(user: Any, number: str) -> Case:
    """A case the user may open on the workbench; 404 for a missing one and a forbidden one alike."""
    case = Case.objects.select_related("item", "department", "application").filter(number=number).first()
    if case is None or not can_open_as_staff(user, case):
        if case is not None:
            record_event("permission.denied", actor=user, target=f"cases.Case:{case.number}", detail={"page": "staff"})
        raise Http404(gettext("办件不存在"))
    return case


def has_case_queue(user: Any) -> bool:
    """Case staff and supervisors have tasks (or can see cases) on the workbench."""
    return accounts_policy.has_any_role(user, CASE_ROLES | PLATFORM_WIDE_ROLES)


def may_use_workbench(user: Any) -> bool:
    """Case staff and supervisors have a workbench, and so do staff with another desk (hotline, 好差评).

    For the latter the workbench is where they find their desks; their case queue is empty, since
    the tasks it lists are scoped by case roles.
    """
    return has_case_queue(user) or bool(other_desks(user))


def may_use_counter(user: Any) -> bool:
    """Counter intake is for counter clerks (of any department: 无差别受理)."""
    return accounts_policy.has_any_role(user, {Role.COUNTER_CLERK})


def openable_case_number(user: Any, number: str) -> str:
    """The case number typed into the workbench search, when the user may open that case (to offer a link)."""
    number = number.strip().upper()
    if not number:
        return ""
    case = Case.objects.select_related("department").filter(number=number).first()
    if case is None or not can_open_as_staff(user, case):
        return ""
    return case.number


def pending_extension(case: Case) -> Extension | None:
    """The extension request waiting for an approver's decision, if any."""
    return case.extensions.select_related("requested_by").filter(status=ExtensionStatus.REQUESTED).first()


def available_actions(user: Any, case: Case) -> list[Transition]:
    """The staff actions of the transition table this user may take on the case now.

    The table and the policy decide; on top of that, actions that need a task
    of the current stage are offered only to someone who can work that task,
    so the page does not offer what the service would refuse.
    """
    current = [t for t in open_tasks(case) if t.stage == case.current_stage]
    workable = [t for t in current if policy.can_work_task(user, t)]
    extension = pending_extension(case) if case.state == CaseState.IN_REVIEW else None
    offered = []
    for step in actions_from(case.state):
        if not step.roles or not policy.can_perform(user, case, step):
            continue
        if step.action == "complete_task" and not any(t.kind == StepKind.REVIEW for t in workable):
            continue
        if step.action in {"approve", "refuse"} and not any(t.kind == StepKind.DECISION for t in workable):
            continue
        if step.action == "issue_certificate" and not workable:
            continue
        if step.action == "request_extension" and extension is not None:
            continue
        if step.action == "decide_extension" and (extension is None or extension.requested_by_id == user.pk):
            continue
        offered.append(_worded(step, case))
    return offered


def _worded(step: Transition, case: Case) -> Transition:
    """The approver's buttons say what the decision is for this kind of item (准予许可 only for 行政许可)."""
    if step.action not in {"approve", "refuse"}:
        return step
    wording = decision_wording(case.item.kind)
    return replace(step, label=wording.approve_label if step.action == "approve" else wording.refuse_label)


@dataclass
class DataRow:
    label: StrOrPromise
    value: StrOrPromise


@dataclass
class StaffCaseView:
    case: Case
    applicant: str
    state_label: str
    warning: str
    warning_label: str
    answers: list[DataRow]
    form_data: list[DataRow]
    files: list[tuple[str, ApplicationFile]]
    waived: list[str]
    tasks: list[CaseTask]
    timeline: list[EventRow]
    actions: list[Transition]
    extension: Extension | None
    correction_materials: list[definitions.MaterialSpec]
    correction_fields: list[definitions.FormField]
    departments: list[tuple[str, str]]
    documents: list[PrintableDocument]
    open_correction: CorrectionNotice | None
    may_reveal: bool = False
    fee: FeeRow | None = None
    # The situations the approver chooses the fee line from, when the applicant's answers do not pick one.
    fee_situations: tuple[str, ...] = ()
    # 六减: fields prefilled and kept, materials supplied by a licence or data service.
    savings: selectors.CaseSavings | None = None


@dataclass(frozen=True)
class FeeRow:
    """应缴费用 on the staff case page: what is (or will be) charged and whether it has been paid."""

    amount: Decimal | None
    description: str
    state: str
    order_number: str = ""


def fee_row(case: Case) -> FeeRow | None:
    """The case's fee: its latest payment order, or before the decision what the applicant's situation charges."""
    if not case.requires_payment:
        return None
    order = PaymentOrder.objects.filter(case=case).order_by("-id").first()
    if order is not None:
        return FeeRow(order.amount, order.description, order.get_status_display(), order.order_number)
    situation = definitions.fee_situation(case.item, case.application.situation_answers)
    try:
        fees = catalog_selectors.fees_charged(case.item, situation)
    except catalog_selectors.FeeSituationUnknown:
        return FeeRow(None, "", gettext("收费情形待审批人确定"))
    amount = sum((fee.amount for fee in fees), Decimal("0"))
    return FeeRow(amount, "、".join(fee.name for fee in fees), gettext("准予后生成缴款单"))


def _shown_value(form_field: definitions.FormField, value: str) -> str:
    if not value:
        return ""
    if form_field.type == "id_number":
        return crypto.mask_id_number(value)
    if form_field.type == "phone":
        return crypto.mask_mobile(value)
    if form_field.key in _NAME_FIELDS:
        return crypto.mask_name(value)
    if form_field.type == "choice":
        return str(dict(form_field.choices).get(value, value))
    return value


def staff_case_view(user: Any, case: Case) -> StaffCaseView:
    """Everything the staff case page shows, personal data masked, with the actions this user may take."""
    definition = definitions.for_item(case.item)
    application = case.application
    answers = {str(k): str(v) for k, v in application.situation_answers.items()}
    data = {str(k): str(v) for k, v in application.form_data.items()}
    context = {**data, **answers}
    names = {m.key: m.name for m in definition.materials}
    answer_rows = []
    # A bundle application asks more questions than this item: show the ones this item asks.
    for question in definition.questions:
        if question.key in answers:
            answer_rows.append(
                DataRow(question.text, dict(question.options).get(answers[question.key], answers[question.key]))
            )
    # 一次性告知 lists only what this applicant was asked for under their answers.
    applies = definitions.applicable(definition, context)
    warning, warning_label = warning_of(case)
    departments = [(d.code, d.name) for d in catalog_selectors.departments() if d.pk != case.department_id]
    return StaffCaseView(
        case=case,
        applicant=masked_applicant(case),
        state_label=state_label(case.state),
        warning=warning,
        warning_label=warning_label,
        answers=answer_rows,
        form_data=[
            DataRow(f.label, _shown_value(f, data.get(f.key, "")))
            for f in definition.fields
            if holds(f.show_if, context)
        ],
        files=[
            (names.get(f.material_key, f.material_key), f) for f in selectors.files_of(case) if f.material_key in names
        ],
        waived=[m.name for m in definition.materials if m.from_source and holds(m.show_if, context)],
        tasks=selectors.case_tasks(case),
        timeline=event_rows(selectors.timeline(case, for_staff=True), case.item.kind),
        actions=available_actions(user, case),
        extension=pending_extension(case),
        correction_materials=applies.materials,
        correction_fields=applies.fields,
        departments=departments,
        documents=available_documents(case),
        open_correction=selectors.open_correction(case),
        may_reveal=policy.may_reveal_applicant(user, case),
        fee=fee_row(case),
        fee_situations=_approver_fee_choices(case),
        savings=selectors.case_savings(case),
    )


def _approver_fee_choices(case: Case) -> tuple[str, ...]:
    from yiwang.cases import payments

    if case.requires_payment and case.state == CaseState.IN_REVIEW and payments.fee_situation_needed(case):
        return tuple(catalog_selectors.fee_situations(case.item))
    return ()


def open_case_file(user: Any, case: Case, file_id: int) -> ApplicationFile:
    """A material file of the case for someone who may see the case; the read is recorded in the audit log."""
    if not policy.can_view_case(user, case):
        raise Http404(gettext("文件不存在"))
    stored = ApplicationFile.objects.filter(pk=file_id, application_id=case.application_id).first()
    if stored is None:
        raise Http404(gettext("文件不存在"))
    record_event(
        "case.file_downloaded",
        actor=user,
        on_behalf_of_person_id=None,
        target=f"cases.Case:{case.number}",
        detail={"file": stored.pk, "material": stored.material_key, "sha256": stored.sha256},
    )
    return stored
