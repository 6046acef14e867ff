"""What the application pages show: the form's questions, fields and materials, and who may apply online."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from yiwang.accounts import policy as accounts_policy
from yiwang.accounts import selectors as accounts_selectors
from yiwang.accounts.constants import AssuranceLevel
from yiwang.cases import definitions, policy, services
from yiwang.cases.models import Application, ApplicationFile
from yiwang.catalog import selectors as catalog_selectors
from yiwang.core import material_sources

if TYPE_CHECKING:
    from yiwang.catalog.models import ServiceItem

    pass


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


def definition_of(application: Application) -> definitions.ApplicationDefinition:
    """What the application asks for: its item's definition, or the merged one of its bundle."""
    if application.bundle_code:
        return definitions.for_bundle(application.bundle_code)[0]
    return definitions.for_item(catalog_selectors.get_item(application.item_code))


def holds(conditions: tuple[tuple[str, str], ...], context: Mapping[str, Any]) -> bool:
    """Whether every (key, value) condition of a ``show_if`` holds for the answers in ``context``."""
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
    # 免填: "profile" or "earlier" while the value put in for the applicant stands unchanged.
    prefilled: str = ""

    @property
    def described_by(self) -> str:
        """The ids of the texts that describe the control: hint, prefill note, error."""
        fid = f"field-{self.field.key}"
        ids = [f"{fid}-hint" if self.field.help else "", f"{fid}-prefill" if self.prefilled else ""]
        ids.append(f"{fid}-error" if self.problem else "")
        return " ".join(i for i in ids if i)


@dataclass
class MaterialRow:
    spec: definitions.MaterialSpec
    files: list[ApplicationFile] = field(default_factory=list)
    problem: str = ""
    error: str = ""
    # What a registered material source (the licence wallet) offers for a material that need not be uploaded.
    offer: material_sources.MaterialOffer | None = None


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
    # Answers may bring up further questions (a bundle's member items ask theirs once they apply).
    more_questions_may_follow: bool = False

    @property
    def problem_count(self) -> int:
        return len(self.problems)


def field_row(form_field: definitions.FormField, value: str, problem: str = "", prefilled: str = "") -> FieldRow:
    input_type, inputmode = _INPUT_TYPES.get(form_field.type, ("text", ""))
    return FieldRow(
        field=form_field,
        value=value,
        input_type=input_type,
        inputmode=inputmode,
        autocomplete=_AUTOCOMPLETE.get(form_field.key, ""),
        problem=problem,
        prefilled=prefilled,
    )


def application_view(
    application: Application,
    *,
    show_problems: bool,
    upload_error: tuple[str, str] | None = None,
    user: Any = None,
) -> ApplicationView:
    """Everything the application page shows: the questions, then what applies under the saved answers.

    With ``user``, each material that need not be uploaded carries what the material sources offer
    them for it (a licence from their wallet to confirm, or the one already taken).
    """
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
    if user is not None and waived:
        needs = [
            material_sources.MaterialNeed(row.spec.key, row.spec.name, row.spec.from_source, row.spec.item_codes)
            for row in waived
        ]
        offers = material_sources.material_offers(user, application.pk, needs)
        for row in waived:
            row.offer = offers.get(row.spec.key)
    kept = services.kept_prefills(application)
    item_names: list[str] = []
    if application.bundle_code:
        _definition, items = definitions.for_bundle(application.bundle_code)
        names = {item.code: item.name for item in items}
        item_names = [names[code] for code in applies.item_codes if code in names]
    return ApplicationView(
        application=application,
        title=definition.title,
        questions=[
            QuestionRow(q, answers.get(q.key, ""), by_key.get(("question", q.key), ""))
            for q in definitions.relevant_questions(definition, answers)
        ],
        more_questions_may_follow=len(definition.question_items) > 0,
        fields=[
            field_row(f, data.get(f.key, ""), by_key.get(("field", f.key), ""), kept.get(f.key, ""))
            for f in applies.fields
        ],
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
    """The level an item asks for and the person's, as labels, and the level numbers to pick the way up."""

    required: str
    current: str
    required_level: int = 0
    current_level: int = 0


def assurance_gap(person_id: int | None, item: ServiceItem) -> AssuranceGap | None:
    """What real-name level the item asks for and what the person has, when they fall short."""
    if person_id is not None and policy.meets_assurance(person_id, item):
        return None
    required = accounts_policy.required_assurance(item)
    current = ""
    current_level = 0
    if person_id is not None:
        current_level = accounts_selectors.get_person(person_id).assurance_level
        current = str(AssuranceLevel(current_level).label)
    return AssuranceGap(
        required=str(AssuranceLevel(required).label),
        current=current,
        required_level=required,
        current_level=current_level,
    )


# The lowest online depth at which an item takes applications on the web (三级：网上申请).
ONLINE_APPLICATION_DEPTH = 3


def applies_online(item: ServiceItem) -> bool:
    """Whether the item takes applications on the web; others are filed at a counter."""
    return item.online_depth >= ONLINE_APPLICATION_DEPTH
