"""Reads that shape the case pages (applicant, staff, counter, printed documents).

The pages stay thin: everything they show is put together here from the
selectors, the definitions and the transition table. Nothing here writes,
except the audit record of a file download (every read of personal data is
recorded).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from yiwang.accounts import policy as accounts_policy
from yiwang.accounts import selectors as accounts_selectors
from yiwang.accounts.constants import CASE_ROLES, PLATFORM_WIDE_ROLES, AssuranceLevel, Role
from yiwang.cases import definitions, payments, policy, selectors, services
from yiwang.cases.constants import (
    CaseOutcome,
    CaseState,
    ExtensionStatus,
    StepKind,
    TaskStatus,
)
from yiwang.cases.models import Application, ApplicationFile, Case, CaseEvent, CaseTask, CorrectionNotice, Extension
from yiwang.cases.workflow import TRANSITIONS, Transition, action_label, actions_from
from yiwang.catalog import selectors as catalog_selectors
from yiwang.core import calendar, crypto, desks
from yiwang.core.audit import record_event

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

    from yiwang.catalog.models import ServiceItem

# How an answer of each field type is typed in: (input type, inputmode).
_INPUT_TYPES = {
    "text": ("text", ""),
    "textarea": ("textarea", ""),
    "date": ("date", ""),
    "integer": ("text", "numeric"),
    "decimal": ("text", "decimal"),
    "choice": ("select", ""),
    "phone": ("tel", "tel"),
    "email": ("email", "email"),
    "credit_code": ("text", ""),
    "id_number": ("text", ""),
}
# Input purposes (WCAG 1.3.5) of the applicant fields every item shares.
_AUTOCOMPLETE = {
    "applicant_name": "name",
    "contact_name": "name",
    "contact_mobile": "tel",
    "address": "street-address",
    "organisation_name": "organization",
}
# Form fields that carry personal data: masked on staff screens.
_NAME_FIELDS = frozenset({"applicant_name", "contact_name", "legal_representative"})

DOCUMENT_KINDS = {
    "receipt": _("受理回执"),
    "rejection": _("不予受理决定书"),
    "correction": _("补正告知书"),
    "decision": _("行政许可决定书"),
}


# --- applications ---------------------------------------------------------------


def definition_of(application: Application) -> definitions.ApplicationDefinition:
    """What the application asks for: its item's definition, or the merged one of its bundle."""
    if application.bundle_code:
        return definitions.for_bundle(application.bundle_code)[0]
    return definitions.for_item(catalog_selectors.get_item(application.item_code))


def _holds(conditions: tuple[tuple[str, str], ...], context: Mapping[str, Any]) -> bool:
    return all(str(context.get(key, "")) == value for key, value in conditions)


@dataclass
class QuestionRow:
    question: definitions.Question
    value: str
    problem: str = ""


@dataclass
class FieldRow:
    field: definitions.FormField
    value: str
    input_type: str
    inputmode: str = ""
    autocomplete: str = ""
    problem: str = ""


@dataclass
class MaterialRow:
    spec: definitions.MaterialSpec
    files: list[ApplicationFile] = field(default_factory=list)
    problem: str = ""
    error: str = ""


@dataclass
class ApplicationView:
    application: Application
    title: str
    questions: list[QuestionRow]
    fields: list[FieldRow]
    materials: list[MaterialRow]
    waived: list[MaterialRow]
    # Files of materials that no longer apply after the answers changed: shown so they can be removed.
    stray_files: list[ApplicationFile]
    # For a bundle: the items the answers so far apply for.
    item_names: list[str]
    problems: list[definitions.Problem]
    show_problems: bool
    is_bundle: bool

    @property
    def problem_count(self) -> int:
        return len(self.problems)


def field_row(form_field: definitions.FormField, value: str, problem: str = "") -> FieldRow:
    input_type, inputmode = _INPUT_TYPES.get(form_field.type, ("text", ""))
    return FieldRow(
        field=form_field,
        value=value,
        input_type=input_type,
        inputmode=inputmode,
        autocomplete=_AUTOCOMPLETE.get(form_field.key, ""),
        problem=problem,
    )


def application_view(
    application: Application, *, show_problems: bool, upload_error: tuple[str, str] | None = None
) -> ApplicationView:
    """Everything the application page shows: the questions, then what applies under the saved answers."""
    definition = definition_of(application)
    answers = {str(k): str(v) for k, v in application.situation_answers.items()}
    data = {str(k): str(v) for k, v in application.form_data.items()}
    context = {**data, **answers}
    applies = definitions.applicable(definition, context)
    problems = services.application_problems(application, definition) if show_problems else []
    by_key = {(p.kind, p.key): p.message for p in problems}
    files: dict[str, list[ApplicationFile]] = {}
    for stored in application.files.filter(superseded_at__isnull=True).order_by("id"):
        files.setdefault(stored.material_key, []).append(stored)
    materials: list[MaterialRow] = []
    waived: list[MaterialRow] = []
    for spec in applies.materials:
        row = MaterialRow(spec, files.pop(spec.key, []), by_key.get(("material", spec.key), ""))
        if upload_error and upload_error[0] == spec.key:
            row.error = upload_error[1]
        (waived if spec.from_source else materials).append(row)
    item_names: list[str] = []
    if application.bundle_code:
        _definition, items = definitions.for_bundle(application.bundle_code)
        names = {item.code: item.name for item in items}
        item_names = [names[code] for code in applies.item_codes if code in names]
    return ApplicationView(
        application=application,
        title=definition.title,
        questions=[
            QuestionRow(q, answers.get(q.key, ""), by_key.get(("question", q.key), "")) for q in definition.questions
        ],
        fields=[field_row(f, data.get(f.key, ""), by_key.get(("field", f.key), "")) for f in applies.fields],
        materials=materials,
        waived=waived,
        stray_files=[stored for rows in files.values() for stored in rows],
        item_names=item_names,
        problems=problems,
        show_problems=show_problems,
        is_bundle=bool(application.bundle_code),
    )


def material_keys(application: Application) -> set[str]:
    """Every material key the application's definition knows (whether or not it applies now)."""
    return {m.key for m in definition_of(application).materials}


@dataclass(frozen=True)
class AssuranceGap:
    required: str
    current: str


def assurance_gap(person_id: int | None, item: ServiceItem) -> AssuranceGap | None:
    """What real-name level the item asks for and what the person has, when they fall short."""
    if person_id is not None and policy.meets_assurance(person_id, item):
        return None
    required = accounts_policy.required_assurance(item)
    current = ""
    if person_id is not None:
        current = str(AssuranceLevel(accounts_selectors.get_person(person_id).assurance_level).label)
    return AssuranceGap(required=str(AssuranceLevel(required).label), current=current)


# The lowest online depth at which an item takes applications on the web (三级：网上申请).
ONLINE_APPLICATION_DEPTH = 3


def applies_online(item: ServiceItem) -> bool:
    """Whether the item takes applications on the web; others are filed at a counter."""
    return item.online_depth >= ONLINE_APPLICATION_DEPTH


# --- the applicant's case page ----------------------------------------------------


@dataclass
class EventRow:
    created_at: dt.datetime
    label: str
    state_label: str
    reason: str
    actor: str
    on_behalf_of: str
    public: bool
    detail: dict[str, Any]


@dataclass
class CorrectionRow:
    kind: str
    key: str
    label: str
    problem: str
    # Files uploaded for this material since the notice (material rows only).
    files: list[ApplicationFile] = field(default_factory=list)
    # The field to correct and what it holds now (field rows only).
    field: FieldRow | None = None


@dataclass
class CaseView:
    case: Case
    state_label: str
    warning: str
    warning_label: str
    current_steps: list[str]
    expectation: selectors.Expectation
    correction: list[CorrectionRow]
    correction_due: dt.date | None
    payment_url: str
    payment_amount: str
    timeline: list[EventRow]
    can_withdraw: bool
    documents: list[tuple[str, str]]


def _state_label(state: str) -> str:
    try:
        return str(CaseState(state).label)
    except ValueError:
        return state


def _actor(event: CaseEvent) -> str:
    # Citizens (accounts with a person) are masked; officials act under their own names, the platform as itself.
    if event.actor is None:
        return (
            gettext(services.SYSTEM_ACTOR_LABEL)
            if event.actor_label == services.SYSTEM_ACTOR_LABEL
            else event.actor_label
        )
    return crypto.mask_name(event.actor_label) if event.actor.person_id else event.actor_label


def event_rows(events: list[CaseEvent]) -> list[EventRow]:
    """Timeline entries with their labels in the active language."""
    return [
        EventRow(
            created_at=e.created_at,
            label=action_label(e.action),
            state_label=_state_label(e.to_state) if e.to_state else "",
            reason=e.reason,
            actor=_actor(e),
            on_behalf_of=crypto.mask_name(e.on_behalf_of) if e.on_behalf_of else "",
            public=e.public,
            detail=e.detail if isinstance(e.detail, dict) else {},
        )
        for e in events
    ]


def warning_of(case: Case) -> tuple[str, str]:
    """The deadline colour as a value (for the style) and a label (the text that says it)."""
    warning = selectors.deadline_warning(case)
    return warning, str(calendar.DeadlineWarning(warning).label)


def _open_tasks(case: Case) -> list[CaseTask]:
    return [t for t in selectors.case_tasks(case) if t.status == TaskStatus.OPEN]


def checkout_url(case: Case) -> tuple[str, str]:
    """The payment order's checkout address and amount, when the case waits for a fee and payments are set up."""
    order = payments.pending_order(case)
    if order is None:
        return "", ""
    return payments.checkout_url(order), str(order.amount)


def correction_rows(case: Case) -> tuple[list[CorrectionRow], dt.date | None]:
    """The open correction notice, item by item, with what was uploaded since and the fields to fix."""
    notice = selectors.open_correction(case)
    if notice is None:
        return [], None
    definition = definitions.for_item(case.item)
    fields = {f.key: f for f in definition.fields}
    data = case.application.form_data
    uploaded: dict[str, list[ApplicationFile]] = {}
    for stored in case.application.files.filter(uploaded_at__gt=notice.created_at, superseded_at__isnull=True).order_by(
        "id"
    ):
        uploaded.setdefault(stored.material_key, []).append(stored)
    rows = []
    for entry in notice.items:
        row = CorrectionRow(
            kind=str(entry.get("kind", "")),
            key=str(entry.get("key", "")),
            label=str(entry.get("label", "")),
            problem=str(entry.get("problem", "")),
        )
        if row.kind == "material":
            row.files = uploaded.get(row.key, [])
        elif row.key in fields:
            row.field = field_row(fields[row.key], str(data.get(row.key, "")))
        rows.append(row)
    return rows, notice.due


def available_documents(case: Case) -> list[tuple[str, str]]:
    """The printable documents this case has so far: (kind, title)."""
    kinds = ["receipt"]
    if CorrectionNotice.objects.filter(case=case).exists():
        kinds.append("correction")
    if case.state == CaseState.REJECTED:
        kinds.append("rejection")
    if case.outcome in {CaseOutcome.APPROVED, CaseOutcome.REFUSED} and case.decided_at is not None:
        kinds.append("decision")
    return [(kind, str(DOCUMENT_KINDS[kind])) for kind in kinds]


def case_view(user: Any, case: Case) -> CaseView:
    """Everything the applicant's case page shows."""
    warning, warning_label = warning_of(case)
    expectation = selectors.expected_of_applicant(case)
    rows, due = correction_rows(case) if expectation.kind == "correction" else ([], None)
    url, amount = checkout_url(case) if expectation.kind == "payment" else ("", "")
    withdraw = TRANSITIONS["withdraw"]
    return CaseView(
        case=case,
        state_label=_state_label(case.state),
        warning=warning,
        warning_label=warning_label,
        current_steps=[t.name for t in _open_tasks(case)],
        expectation=expectation,
        correction=rows,
        correction_due=due,
        payment_url=url,
        payment_amount=amount,
        timeline=event_rows(selectors.timeline(case, for_staff=False)),
        can_withdraw=case.state in withdraw.sources and policy.can_perform(user, case, withdraw),
        documents=available_documents(case),
    )


# --- printed documents --------------------------------------------------------------


@dataclass
class ReceivedMaterial:
    name: str
    files: list[ApplicationFile]


@dataclass
class DocumentView:
    kind: str
    title: str
    case: Case
    applicant: str
    issued_on: dt.date
    materials: list[ReceivedMaterial] = field(default_factory=list)
    waived: list[str] = field(default_factory=list)
    event: CaseEvent | None = None
    legal_basis: str = ""
    notice: CorrectionNotice | None = None
    approved: bool = False


def masked_applicant(case: Case) -> str:
    """The applicant as printed and shown to staff: a person's name masked, an organisation's name in full."""
    if case.applicant_organisation_id is not None:
        return case.applicant_name
    return crypto.mask_name(case.applicant_name)


def _last_event(case: Case, *actions: str) -> CaseEvent | None:
    return case.events.filter(action__in=actions).order_by("-id").first()


def document_view(case: Case, kind: str) -> DocumentView:
    """One printable document of the case; 404 when the case has no such document (yet)."""
    if kind not in {k for k, _title in available_documents(case)}:
        raise Http404(gettext("该办件没有这份文书"))
    view = DocumentView(
        kind=kind,
        title=str(DOCUMENT_KINDS[kind]),
        case=case,
        applicant=masked_applicant(case),
        issued_on=calendar.today_local(),
    )
    if kind == "receipt":
        definition = definitions.for_item(case.item)
        files: dict[str, list[ApplicationFile]] = {}
        for stored in selectors.files_of(case):
            files.setdefault(stored.material_key, []).append(stored)
        context = {**case.application.form_data, **case.application.situation_answers}
        for spec in definition.materials:
            if not _holds(spec.show_if, context):
                continue
            if spec.from_source:
                view.waived.append(spec.name)
            elif spec.key in files:
                view.materials.append(ReceivedMaterial(spec.name, files[spec.key]))
    elif kind == "rejection":
        view.event = _last_event(case, "reject")
    elif kind == "correction":
        view.notice = CorrectionNotice.objects.filter(case=case).order_by("-id").first()
    elif kind == "decision":
        view.event = _last_event(case, "approve", "refuse")
        view.approved = case.outcome == CaseOutcome.APPROVED
    if view.event is not None:
        view.legal_basis = str(view.event.detail.get("legal_basis", "")) if isinstance(view.event.detail, dict) else ""
        view.issued_on = timezone.localdate(view.event.created_at)
    elif view.notice is not None:
        view.issued_on = timezone.localdate(view.notice.created_at)
    else:
        view.issued_on = timezone.localdate(case.accepted_at or case.submitted_at)
    return view


# --- staff ---------------------------------------------------------------------------


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


def may_use_workbench(user: Any) -> bool:
    """Case staff and supervisors have a workbench, and so do staff with another desk (hotline, 好差评).

    For the latter the workbench is where they find their desks; their case queue is empty, since
    the tasks it lists are scoped by case roles.
    """
    return accounts_policy.has_any_role(user, CASE_ROLES | PLATFORM_WIDE_ROLES) or bool(other_desks(user))


def may_use_counter(user: Any) -> bool:
    """Counter intake is for counter clerks (of any department: 无差别受理)."""
    return accounts_policy.has_any_role(user, {Role.COUNTER_CLERK})


def other_desks(user: Any) -> list[tuple[str, StrOrPromise]]:
    """The desks of other apps (hotline, 好差评 …) ``user`` may use, as (address, label), for the workbench.

    Those apps register their desks in :mod:`yiwang.core.desks`; whether a
    desk is open to the user is their policy's to say, and the desks
    themselves check again.
    """
    return desks.desks_for(user)


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
    current = [t for t in _open_tasks(case) if t.stage == case.current_stage]
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
        offered.append(step)
    return offered


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
    documents: list[tuple[str, str]]
    open_correction: CorrectionNotice | None


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
    warning, warning_label = warning_of(case)
    departments = [(d.code, d.name) for d in catalog_selectors.departments() if d.pk != case.department_id]
    return StaffCaseView(
        case=case,
        applicant=masked_applicant(case),
        state_label=_state_label(case.state),
        warning=warning,
        warning_label=warning_label,
        answers=answer_rows,
        form_data=[
            DataRow(f.label, _shown_value(f, data.get(f.key, "")))
            for f in definition.fields
            if _holds(f.show_if, context)
        ],
        files=[
            (names.get(f.material_key, f.material_key), f) for f in selectors.files_of(case) if f.material_key in names
        ],
        waived=[m.name for m in definition.materials if m.from_source and _holds(m.show_if, context)],
        tasks=selectors.case_tasks(case),
        timeline=event_rows(selectors.timeline(case, for_staff=True)),
        actions=available_actions(user, case),
        extension=pending_extension(case),
        correction_materials=list(definition.materials),
        correction_fields=list(definition.fields),
        departments=departments,
        documents=available_documents(case),
        open_correction=selectors.open_correction(case),
    )


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


# --- counter intake -------------------------------------------------------------------


@dataclass(frozen=True)
class ItemChoice:
    code: str
    name: str
    department: str


def counter_item_choices(query: str, limit: int = 10) -> list[ItemChoice]:
    """Items for the counter clerk to choose from: any published item of any department (无差别受理)."""
    query = query.strip()
    if not query:
        return []
    found: list[ItemChoice] = []
    exact = catalog_selectors.published_items().filter(code=query).first()
    if exact is not None:
        found.append(ItemChoice(exact.code, exact.name, exact.department.name))
    hits, _total = catalog_selectors.search(query, limit=limit, type="item")
    found.extend(ItemChoice(h.doc.code, h.doc.name, h.doc.department_name) for h in hits if h.doc.code != query)
    return found[:limit]


def application_cases(application: Application) -> list[Case]:
    """The cases a submitted application made (one per item; a bundle fans out)."""
    return list(application.cases.select_related("department").order_by("id"))


def accept_allowed(user: Any, case: Case) -> bool:
    """Whether ``user`` may accept the case right now (the counter's 当场受理)."""
    step = TRANSITIONS["accept"]
    return case.state in step.sources and policy.can_perform(user, case, step)


def acting_label(application: Application) -> str:
    """Whom a counter clerk or delegate fills the application in for, masked."""
    return crypto.mask_name(accounts_selectors.get_person(application.applicant_person_id).name)


@dataclass(frozen=True)
class DraftRow:
    application: Application
    title: str


def draft_rows(drafts: list[Application]) -> list[DraftRow]:
    """Drafts with the name of what they apply for, in two queries whatever their number."""
    item_names = dict(
        catalog_selectors.published_items()
        .filter(code__in={d.item_code for d in drafts if d.item_code})
        .values_list("code", "name")
    )
    bundle_names = dict(
        catalog_selectors.published_bundles()
        .filter(code__in={d.bundle_code for d in drafts if d.bundle_code})
        .values_list("code", "name")
    )
    return [
        DraftRow(
            d,
            item_names.get(d.item_code, d.item_code) if d.item_code else bundle_names.get(d.bundle_code, d.bundle_code),
        )
        for d in drafts
    ]


def intake_rows(user: Any, application_ids: list[int]) -> list[DraftRow]:
    """The applications a counter clerk opened during the current intake."""
    if not application_ids:
        return []
    applications = list(Application.objects.filter(pk__in=application_ids, agent_id=user.pk).order_by("id"))
    return draft_rows(applications)
