"""Applications filled in the way an applicant would, for case tests and benchmarks."""

from __future__ import annotations

import io
from typing import Any

from yiwang.cases import definitions, services
from yiwang.cases.models import Application, Case
from yiwang.core.identifiers import make_credit_code

VALUES = {
    "phone": "13800138000",
    "email": "applicant@example.cn",
    "date": "2026-12-01",
    "integer": "3",
    "decimal": "12.50",
    "credit_code": make_credit_code("91", "990102", "MA123456"),
}


def pdf_bytes(text: str = "yiwang") -> bytes:
    """A small, valid, script-free PDF."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.add_metadata({"/Title": text})
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def value_for(form_field: definitions.FormField) -> str:
    if form_field.type == "choice":
        return form_field.choices[0][0]
    return VALUES.get(form_field.type, f"{form_field.label}示例")


def answer_all(
    definition: definitions.ApplicationDefinition, overrides: dict[str, str] | None = None
) -> dict[str, str]:
    """Answer every question: "no" to yes/no questions, the first option otherwise, unless overridden."""
    answers = {}
    for question in definition.questions:
        options = [value for value, _label in question.options]
        answers[question.key] = definitions.NO if definitions.NO in options else options[0]
    answers.update(overrides or {})
    return answers


def fill(application: Application, user: Any, *, answers: dict[str, str] | None = None) -> None:
    """Answer the questions, fill every applicable field and upload every material to upload."""
    definition = services.application_definition(application)
    chosen = answer_all(definition, answers)
    applies = definitions.applicable(definition, chosen)
    data = {f.key: value_for(f) for f in applies.fields}
    if "applicant_kind" in data:
        data["applicant_kind"] = "person"
    services.save_draft(application, actor=user, answers=chosen, form_data=data)
    for spec in applies.materials:
        if spec.required and not spec.from_source:
            services.attach_file(
                application, actor=user, material_key=spec.key, name=f"{spec.key}.pdf", stream=io.BytesIO(pdf_bytes())
            )


def apply(
    user: Any, *, item_code: str = "", bundle_code: str = "", answers: dict[str, str] | None = None
) -> list[Case]:
    """Apply online as ``user`` and submit; returns the cases made."""
    applicant = services.applicant_for(user)
    application = services.start_application(
        actor=user, applicant=applicant, item_code=item_code, bundle_code=bundle_code
    )
    fill(application, user, answers=answers)
    return services.submit_application(application, actor=user)


def apply_at_counter(clerk: Any, citizen: Any, *, item_code: str, answers: dict[str, str] | None = None) -> list[Case]:
    """A counter clerk checks the citizen's identity document, fills the application in for them and submits."""
    from tests.accounts.factories import full_number
    from yiwang.accounts.services import act_for_at_counter

    acting = act_for_at_counter(
        actor=clerk,
        document_type=citizen.person.document_type,
        document_number=full_number(citizen.person),
        identity_checked_by="id_card_reader",
    )
    application = services.start_application(
        actor=clerk, applicant=services.applicant_for(clerk, acting=acting), item_code=item_code, channel="counter"
    )
    fill(application, clerk, answers=answers)
    return services.submit_application(application, actor=clerk)
