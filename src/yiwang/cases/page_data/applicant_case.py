"""The applicant's case page: state, timeline, corrections asked for, payment and documents."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext

from yiwang.cases import definitions, payments, policy, selectors, services
from yiwang.cases.constants import CaseState, TaskStatus
from yiwang.cases.models import ApplicationFile, Case, CaseEvent, CaseTask
from yiwang.cases.page_data.applications import FieldRow, field_row, holds
from yiwang.cases.page_data.documents import PrintableDocument, available_documents
from yiwang.cases.wording import decision_wording
from yiwang.cases.workflow import TRANSITIONS, action_label
from yiwang.core import calendar, crypto

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


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


@dataclass(frozen=True)
class SubmittedRow:
    label: StrOrPromise
    value: StrOrPromise


@dataclass
class Submitted:
    """What the applicant submitted for this case: answers, form data and the files of its materials."""

    answers: list[SubmittedRow]
    fields: list[SubmittedRow]
    # (material name, file), in the order of the item's materials.
    files: list[tuple[str, ApplicationFile]]
    # Materials the departments fetch themselves (免提交), by name and source.
    waived: list[tuple[str, str]]


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
    documents: list[PrintableDocument]
    submitted: Submitted


def state_label(state: str) -> str:
    """The label of a case state, or the raw value for a state no longer in the enum."""
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


def _event_label(action: str, item_kind: str) -> str:
    # A decision is named as the item's kind names it (准予许可 only for 行政许可).
    if item_kind and action in {"approve", "refuse"}:
        wording = decision_wording(item_kind)
        return str(wording.approve_label if action == "approve" else wording.refuse_label)
    return action_label(action)


def event_rows(events: list[CaseEvent], item_kind: str = "") -> list[EventRow]:
    """Timeline entries with their labels in the active language."""
    return [
        EventRow(
            created_at=e.created_at,
            label=_event_label(e.action, item_kind),
            state_label=state_label(e.to_state) if e.to_state else "",
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


def open_tasks(case: Case) -> list[CaseTask]:
    """The case's tasks still open, at any stage."""
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


def submitted_view(case: Case) -> Submitted:
    """The answers, fields and current files of the case's application, as this case's item asks for them.

    A bundle's application holds every member's fields and files: the case shows those of its own item.
    """
    definition = definitions.for_item(case.item)
    application = case.application
    answers = {str(k): str(v) for k, v in application.situation_answers.items()}
    data = {str(k): str(v) for k, v in application.form_data.items()}
    context = {**data, **answers}
    answer_rows = [
        SubmittedRow(q.text, dict(q.options).get(answers[q.key], answers[q.key]))
        for q in definition.questions
        if q.key in answers
    ]
    field_rows = []
    for form_field in definition.fields:
        value = data.get(form_field.key, "")
        if not value or not holds(form_field.show_if, context):
            continue
        shown = dict(form_field.choices).get(value, value) if form_field.type == "choice" else value
        field_rows.append(SubmittedRow(form_field.label, shown))
    applies = definitions.applicable(definition, context)
    order = {spec.key: index for index, spec in enumerate(applies.materials)}
    names = {spec.key: spec.name for spec in applies.materials}
    files = sorted(
        (stored for stored in selectors.files_of(case) if stored.material_key in names),
        key=lambda stored: (order[stored.material_key], stored.pk),
    )
    return Submitted(
        answers=answer_rows,
        fields=field_rows,
        files=[(names[stored.material_key], stored) for stored in files],
        waived=[(spec.name, spec.from_source) for spec in applies.materials if spec.from_source],
    )


def case_view(user: Any, case: Case) -> CaseView:
    """Everything the applicant's case page shows."""
    warning, warning_label = warning_of(case)
    expectation = selectors.expected_of_applicant(case)
    rows, due = correction_rows(case) if expectation.kind == "correction" else ([], None)
    url, amount = checkout_url(case) if expectation.kind == "payment" else ("", "")
    withdraw = TRANSITIONS["withdraw"]
    return CaseView(
        case=case,
        state_label=state_label(case.state),
        warning=warning,
        warning_label=warning_label,
        current_steps=[t.name for t in open_tasks(case)],
        expectation=expectation,
        correction=rows,
        correction_due=due,
        payment_url=url,
        payment_amount=amount,
        timeline=event_rows(selectors.timeline(case, for_staff=False), case.item.kind),
        can_withdraw=case.state in withdraw.sources and policy.can_perform(user, case, withdraw),
        documents=available_documents(case),
        submitted=submitted_view(case),
    )
