"""An item's application form, situations (情形) and handling process, as data.

Each published :class:`~yiwang.catalog.models.ServiceItem` may carry its own
``application_form`` and ``process_definition`` JSON; when they are empty the
definitions below are derived from what the catalogue already says: the
audience decides the applicant fields, every distinct condition of a
conditional material becomes a yes/no situation question, and the published
steps become stages. A bundle ("一件事") merges its members: shared fields and
materials are asked once, and its choice groups and conditional members
become questions that decide which items the application fans out to.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from yiwang.accounts.constants import Role
from yiwang.cases.constants import StepKind
from yiwang.catalog import selectors as catalog_selectors
from yiwang.catalog.constants import Audience, MaterialRequirement, MaterialSource
from yiwang.core import identifiers

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

    from yiwang.catalog.models import ServiceItem

YES, NO = "yes", "no"
YES_NO: tuple[tuple[str, StrOrPromise], ...] = ((YES, _("是")), (NO, _("否")))
FIELD_TYPES = frozenset(
    {"text", "textarea", "date", "integer", "decimal", "choice", "phone", "email", "credit_code", "id_number"}
)
MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class DefinitionError(ValueError):
    """An item's form or process JSON is malformed (caught when it is saved, and again when used)."""


@dataclass(frozen=True)
class Question:
    key: str
    text: str
    options: tuple[tuple[str, StrOrPromise], ...] = YES_NO


@dataclass(frozen=True)
class FormField:
    key: str
    # The platform's own fields have translated labels; an item's own fields carry the label its JSON gives.
    label: StrOrPromise
    type: str = "text"
    required: bool = True
    max_length: int = 200
    choices: tuple[tuple[str, StrOrPromise], ...] = ()
    help: str = ""
    # {question or field key: answer} that must all hold for the field to apply.
    show_if: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class MaterialSpec:
    key: str
    name: str
    required: bool
    note: str = ""
    # Provided by data sharing or an e-licence: nothing to upload.
    from_source: str = ""
    show_if: tuple[tuple[str, str], ...] = ()
    # The items that ask for it (a bundle asks once for all of them).
    item_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Stage:
    key: str
    kind: str
    name: str
    role: str
    # Department codes; empty means the item's own department. Several are parallel branches.
    departments: tuple[str, ...] = ()
    days: int | None = None


@dataclass(frozen=True)
class ApplicationDefinition:
    """What one application (for an item or a bundle) asks for."""

    title: str
    questions: tuple[Question, ...]
    fields: tuple[FormField, ...]
    materials: tuple[MaterialSpec, ...]
    # For bundles: item code → conditions {question: answer} under which it is applied for.
    members: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    # For bundles: question key → the member items whose materials or form it decides. Such a question is
    # asked only once one of those items applies; questions not listed (which items apply) are always asked.
    question_items: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def question(self, key: str) -> Question | None:
        return next((q for q in self.questions if q.key == key), None)


@dataclass
class Problem:
    """One thing wrong with an application, addressed to the field or material it concerns."""

    key: str
    message: str
    kind: str = "field"  # field | material | question


@dataclass
class Applicability:
    fields: list[FormField] = field(default_factory=list)
    materials: list[MaterialSpec] = field(default_factory=list)
    item_codes: list[str] = field(default_factory=list)


def _short_key(prefix: str, text: str) -> str:
    return f"{prefix}_{hashlib.sha256(text.encode()).hexdigest()[:8]}"


# A condition that names who or what it is about before its verb ("股东或合伙人为企业…的") is asked about that
# subject ("股东或合伙人是否为企业…？"), as a person would ask it, not "是否股东或合伙人为企业…？".
_SUBJECT_THEN_VERB = re.compile(
    r"^(?P<subject>[^，,；;、]{0,10}?(?:人|者|场所|项目|单位|企业|机构|设施|设备|产品|房屋|车辆|场地|住所))"
    r"(?P<verb>为|是|系|属于|涉及|设有|具有|持有|已|需|需要|有)"
)


def _condition_clause(condition: str) -> str:
    text = condition.strip().rstrip("。；;：:")
    # "以家庭形式经营的，用于证明参加经营的家庭成员关系": the condition is the clause ending in 的; the rest
    # says what the material is for and belongs in the material's note, not in the question.
    clauses = re.split(r"[，,]", text)
    text = next((clause for clause in clauses if clause.endswith("的")), text).strip()
    return text[:-1] if text.endswith("的") else text


def condition_question(condition: str) -> Question:
    """The yes/no situation question for a material's condition, worded as a person would ask it.

    "委托他人代为办理的" → "是否委托他人代为办理？"; "场所设有自动消防系统的" → "场所是否设有自动消防系统？";
    "以家庭形式经营的，用于证明…" → "是否以家庭形式经营？". The key stays that of the condition's text.
    """
    text = _condition_clause(condition)
    matched = _SUBJECT_THEN_VERB.match(text)
    if text.startswith("是否"):
        question = gettext("%(condition)s？") % {"condition": text}
    elif matched and matched.group("subject"):
        question = gettext("%(subject)s是否%(rest)s？") % {
            "subject": matched.group("subject"),
            "rest": text[matched.end("subject") :],
        }
    else:
        question = gettext("是否%(condition)s？") % {"condition": text}
    return Question(_short_key("q", condition.strip()), question)


_PERSON_FIELDS = (
    FormField("applicant_name", _("申请人姓名"), max_length=64),
    FormField("contact_mobile", _("联系电话"), type="phone", max_length=11),
    FormField("address", _("联系地址"), max_length=200),
)
_ORGANISATION_FIELDS = (
    FormField("organisation_name", _("单位名称"), max_length=200),
    FormField("credit_code", _("统一社会信用代码"), type="credit_code", max_length=18),
    FormField("legal_representative", _("法定代表人"), max_length=64),
    FormField("contact_name", _("联系人"), max_length=64),
    FormField("contact_mobile", _("联系电话"), type="phone", max_length=11),
    FormField("address", _("住所（经营场所）"), max_length=200),
)
_PURPOSE_FIELD = FormField("description", _("申请事项说明"), type="textarea", required=False, max_length=2000)


def _applicant_fields(audiences: Iterable[str]) -> tuple[FormField, ...]:
    wanted = set(audiences)
    if wanted == {Audience.PERSON}:
        return _PERSON_FIELDS
    if wanted == {Audience.ORGANISATION}:
        return _ORGANISATION_FIELDS
    # Both kinds of applicant: organisation fields apply only to organisations.
    kind = FormField(
        "applicant_kind", _("申请人类型"), type="choice", choices=(("person", _("个人")), ("organisation", _("单位")))
    )
    organisation_only = tuple(
        FormField(
            f.key, f.label, f.type, f.required, f.max_length, f.choices, f.help, (("applicant_kind", "organisation"),)
        )
        for f in _ORGANISATION_FIELDS
        if f.key not in {"contact_mobile", "address"}
    )
    return (kind, *_PERSON_FIELDS, *organisation_only)


def _parse_fields(raw: Any) -> tuple[FormField, ...]:
    if not isinstance(raw, list):
        raise DefinitionError(gettext("fields 必须是列表"))
    fields = []
    for entry in raw:
        if not isinstance(entry, Mapping) or not entry.get("key") or not entry.get("label"):
            raise DefinitionError(gettext("每个字段须有 key 和 label"))
        kind = entry.get("type", "text")
        if kind not in FIELD_TYPES:
            raise DefinitionError(gettext("未知字段类型：%(type)s") % {"type": kind})
        fields.append(
            FormField(
                key=str(entry["key"]),
                label=str(entry["label"]),
                type=kind,
                required=bool(entry.get("required", True)),
                max_length=int(entry.get("max_length", 200)),
                choices=tuple((str(v), str(label)) for v, label in entry.get("choices", [])),
                help=str(entry.get("help", "")),
                show_if=tuple((str(k), str(v)) for k, v in dict(entry.get("show_if", {})).items()),
            )
        )
    return tuple(fields)


def _parse_questions(raw: Any) -> tuple[Question, ...]:
    if not isinstance(raw, list):
        raise DefinitionError(gettext("questions 必须是列表"))
    questions = []
    for entry in raw:
        if not isinstance(entry, Mapping) or not entry.get("key") or not entry.get("text"):
            raise DefinitionError(gettext("每个情形问题须有 key 和 text"))
        # Without options of its own a question is yes/no, in the reader's language.
        options = tuple((str(v), str(label)) for v, label in entry.get("options") or ())
        questions.append(Question(str(entry["key"]), str(entry["text"]), options or YES_NO))
    return tuple(questions)


# The answer to a fee question when the one situation a fee line names does not apply.
NO_FEE_SITUATION = "none"


def fee_question_key(item_code: str) -> str:
    """The key of the question whose answer picks the item's fee line (one per item, also inside a bundle)."""
    return _short_key("fee", item_code)


def fee_question(item: ServiceItem) -> Question | None:
    """收费情形: which of the item's alternative fee lines applies, asked only when the guide has such lines."""
    situations = catalog_selectors.fee_situations(item)
    if not situations:
        return None
    options: tuple[tuple[str, StrOrPromise], ...] = tuple((s, s) for s in situations)
    if len(situations) == 1:
        options = (*options, (NO_FEE_SITUATION, _("以上情形均不符合")))
    text = gettext("“%(item)s”的收费按哪种情形？") % {"item": item.name}
    return Question(fee_question_key(item.code), text, options)


def fee_situation(item: ServiceItem, answers: Mapping[str, Any]) -> str | None:
    """The fee situation the applicant chose for ``item``, or None if they were not asked or did not say."""
    answer = answers.get(fee_question_key(item.code))
    return str(answer) if answer else None


def _item_parts(item: ServiceItem) -> tuple[list[Question], list[FormField], list[MaterialSpec]]:
    questions: dict[str, Question] = {}
    materials = []
    for material in item.materials.all():
        show_if: tuple[tuple[str, str], ...] = ()
        if material.requirement == MaterialRequirement.CONDITIONAL and material.condition.strip():
            question = condition_question(material.condition)
            questions.setdefault(question.key, question)
            show_if = ((question.key, YES),)
        from_source = (
            material.source_name if material.source in {MaterialSource.SHARED_DATA, MaterialSource.E_LICENCE} else ""
        )
        if material.source == MaterialSource.ISSUED_BY_DEPARTMENT:
            continue
        materials.append(
            MaterialSpec(
                key=_short_key("m", catalog_selectors.material_key(material)),
                name=material.name,
                required=material.requirement != MaterialRequirement.OPTIONAL,
                note=material.note,
                from_source=from_source,
                show_if=show_if,
                item_codes=(item.code,),
            )
        )
    fee = fee_question(item)
    if fee is not None:
        questions[fee.key] = fee
    custom = item.application_form or {}
    extra_questions = _parse_questions(custom.get("questions", []))
    for question in extra_questions:
        questions[question.key] = question
    fields = list(
        _applicant_fields(
            [item.audience] if item.audience != Audience.BOTH else [Audience.PERSON, Audience.ORGANISATION]
        )
    )
    fields.extend(_parse_fields(custom.get("fields", [])))
    fields.append(_PURPOSE_FIELD)
    return list(questions.values()), fields, materials


def _merge(
    parts: Iterable[tuple[list[Question], list[FormField], list[MaterialSpec]]],
) -> tuple[tuple[Question, ...], tuple[FormField, ...], tuple[MaterialSpec, ...]]:
    questions: dict[str, Question] = {}
    fields: dict[str, FormField] = {}
    materials: dict[str, MaterialSpec] = {}
    for item_questions, item_fields, item_materials in parts:
        for question in item_questions:
            questions.setdefault(question.key, question)
        for form_field in item_fields:
            fields.setdefault(form_field.key, form_field)
        for spec in item_materials:
            known = materials.get(spec.key)
            if known is None:
                materials[spec.key] = spec
            else:
                # Asked once for every item that needs it; required if any item requires it unconditionally.
                materials[spec.key] = MaterialSpec(
                    key=known.key,
                    name=known.name,
                    required=known.required or spec.required,
                    note=known.note or spec.note,
                    from_source=known.from_source if known.from_source == spec.from_source else "",
                    show_if=known.show_if if known.show_if == spec.show_if else (),
                    item_codes=(*known.item_codes, *spec.item_codes),
                )
    ordered_fields = [f for k, f in fields.items() if k != _PURPOSE_FIELD.key] + [_PURPOSE_FIELD]
    return tuple(questions.values()), tuple(ordered_fields), tuple(materials.values())


def for_item(item: ServiceItem) -> ApplicationDefinition:
    """The application definition of one published item."""
    questions, fields, materials = _merge([_item_parts(item)])
    return ApplicationDefinition(item.name, questions, fields, materials)


def for_bundle(bundle_code: str) -> tuple[ApplicationDefinition, list[ServiceItem]]:
    """The merged definition of a bundle and its member items (current published versions)."""
    view = catalog_selectors.get_bundle(bundle_code)
    items: list[ServiceItem] = []
    members: list[tuple[str, tuple[tuple[str, str], ...]]] = []
    questions: list[Question] = []
    groups: dict[str, list[Any]] = {}
    for member in view.members:
        items.append(member.item)
        if member.membership.choice_group:
            groups.setdefault(member.membership.choice_group, []).append(member)
        elif member.membership.condition:
            question = condition_question(member.membership.condition)
            questions.append(question)
            members.append((member.item.code, ((question.key, YES),)))
        else:
            members.append((member.item.code, ()))
    for group, group_members in groups.items():
        key = _short_key("g", group)
        options = tuple(
            (m.item.code, f"{m.item.name}（{m.membership.condition}）" if m.membership.condition else m.item.name)
            for m in group_members
        )
        questions.append(Question(key, gettext("%(group)s：请选择") % {"group": group}, options))
        members.extend((m.item.code, ((key, m.item.code),)) for m in group_members)
    parts = [_item_parts(item) for item in items]
    served: dict[str, list[str]] = {}
    for item, (item_questions, _fields, _materials) in zip(items, parts, strict=True):
        for question in item_questions:
            served.setdefault(question.key, []).append(item.code)
    merged_questions, fields, materials = _merge(parts)
    all_questions = {q.key: q for q in (*questions, *merged_questions)}
    # A question that also decides which items apply is always asked.
    member_keys = {q.key for q in questions}
    question_items = tuple((key, tuple(codes)) for key, codes in served.items() if key not in member_keys)
    return ApplicationDefinition(
        view.bundle.name, tuple(all_questions.values()), fields, materials, tuple(members), question_items
    ), items


def _holds(conditions: Iterable[tuple[str, str]], answers: Mapping[str, Any]) -> bool:
    return all(str(answers.get(key, "")) == value for key, value in conditions)


def applicable(definition: ApplicationDefinition, answers: Mapping[str, Any]) -> Applicability:
    """The fields, materials and (for a bundle) items that apply under the given answers."""
    result = Applicability()
    result.fields = [f for f in definition.fields if _holds(f.show_if, answers)]
    if definition.members:
        result.item_codes = [code for code, conditions in definition.members if _holds(conditions, answers)]
        chosen = set(result.item_codes)
        result.materials = [
            m for m in definition.materials if _holds(m.show_if, answers) and chosen.intersection(m.item_codes)
        ]
    else:
        result.materials = [m for m in definition.materials if _holds(m.show_if, answers)]
    return result


def relevant_questions(definition: ApplicationDefinition, answers: Mapping[str, Any]) -> list[Question]:
    """The questions to ask under the answers so far: a bundle asks about a member item only once it applies.

    Answering the questions that decide the items (which 主体登记, whether there is a signboard) brings up
    the questions of the items chosen; those of an item not chosen are never asked, nor required.
    """
    if not definition.question_items:
        return list(definition.questions)
    chosen = set(applicable(definition, answers).item_codes)
    serves = dict(definition.question_items)
    return [q for q in definition.questions if q.key not in serves or chosen.intersection(serves[q.key])]


def check_answers(definition: ApplicationDefinition, answers: Mapping[str, Any]) -> list[Problem]:
    """Every relevant question must be answered with one of its options; unknown keys are refused.

    Answers kept from a branch no longer taken are ignored.
    """
    problems = []
    known = {q.key for q in definition.questions}
    for key in answers:
        if key not in known:
            problems.append(Problem(key, gettext("没有这个情形问题"), "question"))
    for question in relevant_questions(definition, answers):
        value = answers.get(question.key)
        if value in (None, ""):
            problems.append(
                Problem(question.key, gettext("请回答：%(question)s") % {"question": question.text}, "question")
            )
        elif str(value) not in {v for v, _label in question.options}:
            problems.append(
                Problem(question.key, gettext("“%(question)s”的回答无效") % {"question": question.text}, "question")
            )
    return problems


def _is_date(value: str) -> bool:
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_decimal(value: str) -> bool:
    try:
        Decimal(value)
    except InvalidOperation:
        return False
    return True


# Per field type: the form it is stored in, whether the stored form is valid, and what to tell a citizen if not.
_TYPE_CHECKS: dict[str, tuple[Callable[[str], str], Callable[[str], bool], str]] = {
    "phone": (str, lambda v: bool(MOBILE_RE.match(v)), gettext_noop("%(label)s应为11位手机号码")),
    "email": (str, lambda v: bool(EMAIL_RE.match(v)), gettext_noop("%(label)s格式不正确")),
    "credit_code": (
        str.upper,
        lambda v: not identifiers.credit_code_problem(v),
        gettext_noop("%(label)s无效，请核对18位代码"),
    ),
    "id_number": (
        str.upper,
        lambda v: not identifiers.resident_id_problem(v),
        gettext_noop("%(label)s无效，请核对18位号码"),
    ),
    "date": (str, _is_date, gettext_noop("%(label)s应为日期，如2026-01-31")),
    "integer": (str, lambda v: bool(re.fullmatch(r"-?\d{1,12}", v)), gettext_noop("%(label)s应为整数")),
    "decimal": (str, _is_decimal, gettext_noop("%(label)s应为数字")),
}


def clean_value(form_field: FormField, raw: Any) -> tuple[Any, str | None]:
    """The stored value of a field and, if it is invalid, why (in words a citizen understands)."""
    value = "" if raw is None else str(raw).strip()
    label = {"label": form_field.label}
    if not value:
        return "", (gettext("请填写%(label)s") % label if form_field.required else None)
    if len(value) > form_field.max_length:
        return value, gettext("%(label)s不能超过%(max)s个字") % {**label, "max": form_field.max_length}
    if form_field.type == "choice" and value not in {v for v, _label in form_field.choices}:
        return value, gettext("请从列表中选择%(label)s") % label
    check = _TYPE_CHECKS.get(form_field.type)
    if check is None:
        return value, None
    normalise, is_valid, message = check
    value = normalise(value)
    return value, (None if is_valid(value) else gettext(message) % label)


def check_form(definition: ApplicationDefinition, answers: Mapping[str, Any], data: Mapping[str, Any]) -> list[Problem]:
    """Problems with the form data under the given answers (fields that do not apply are ignored)."""
    context = {**answers, **data}
    problems = []
    for form_field in definition.fields:
        if not _holds(form_field.show_if, context):
            continue
        _, error = clean_value(form_field, data.get(form_field.key))
        if error:
            problems.append(Problem(form_field.key, error))
    return problems


# --- processes -------------------------------------------------------------------


_KIND_BY_WORD = (
    ("预审", StepKind.PRE_REVIEW),
    ("受理", StepKind.ACCEPTANCE),
    ("决定", StepKind.DECISION),
    ("核准", StepKind.DECISION),
    ("审批", StepKind.DECISION),
    ("发证", StepKind.CERTIFICATE),
    ("制证", StepKind.CERTIFICATE),
    ("发照", StepKind.CERTIFICATE),
    ("送达", StepKind.DELIVERY),
    ("领取", StepKind.DELIVERY),
    ("审查", StepKind.REVIEW),
    ("核查", StepKind.REVIEW),
    ("检查", StepKind.REVIEW),
    ("审核", StepKind.REVIEW),
)
_ROLE_BY_KIND = {
    StepKind.PRE_REVIEW: Role.COUNTER_CLERK,
    StepKind.ACCEPTANCE: Role.COUNTER_CLERK,
    StepKind.REVIEW: Role.REVIEWER,
    StepKind.DECISION: Role.APPROVER,
    StepKind.CERTIFICATE: Role.COUNTER_CLERK,
    StepKind.DELIVERY: Role.COUNTER_CLERK,
}
# Default stage names. Stored with each case's tasks, so kept in the source language here (marked for the
# catalogue only); messages translate them when they use them.
_NAME_BY_KIND = {
    StepKind.PRE_REVIEW: gettext_noop("预审"),
    StepKind.ACCEPTANCE: gettext_noop("受理"),
    StepKind.REVIEW: gettext_noop("审查"),
    StepKind.DECISION: gettext_noop("决定"),
    StepKind.CERTIFICATE: gettext_noop("制证"),
    StepKind.DELIVERY: gettext_noop("送达"),
}
# The order every process follows; a process may leave out pre-review.
STAGE_ORDER = (
    StepKind.ACCEPTANCE,
    StepKind.REVIEW,
    StepKind.DECISION,
    StepKind.CERTIFICATE,
    StepKind.DELIVERY,
)


def _kind_of(step_name: str) -> str | None:
    return next((kind for word, kind in _KIND_BY_WORD if word in step_name), None)


def _parse_stages(raw: Any) -> tuple[Stage, ...]:
    stages = raw.get("stages") if isinstance(raw, Mapping) else None
    if not isinstance(stages, list) or not stages:
        raise DefinitionError(gettext("process_definition 须有 stages 列表"))
    parsed = []
    for entry in stages:
        if not isinstance(entry, Mapping):
            raise DefinitionError(gettext("每个环节须是对象"))
        kind = str(entry.get("kind", ""))
        if kind not in set(StepKind):
            raise DefinitionError(gettext("未知环节类型：%(kind)s") % {"kind": kind})
        role = str(entry.get("role") or _ROLE_BY_KIND[StepKind(kind)])
        if role not in set(Role):
            raise DefinitionError(gettext("未知角色：%(role)s") % {"role": role})
        days = entry.get("days")
        if days is not None and (not isinstance(days, int) or days < 0):
            raise DefinitionError(gettext("环节时限须为非负整数"))
        departments = entry.get("departments", [])
        if not isinstance(departments, list):
            raise DefinitionError(gettext("departments 必须是列表"))
        parsed.append(
            Stage(
                key=str(entry.get("key") or kind),
                kind=kind,
                name=str(entry.get("name") or _NAME_BY_KIND[StepKind(kind)]),
                role=role,
                departments=tuple(str(d) for d in departments),
                days=days,
            )
        )
    kinds = [s.kind for s in parsed]
    for required in (StepKind.ACCEPTANCE, StepKind.DECISION):
        if kinds.count(required) != 1:
            raise DefinitionError(
                gettext("流程须有且只有一个“%(stage)s”环节") % {"stage": gettext(_NAME_BY_KIND[required])}
            )
    order = [k for k in kinds if k != StepKind.PRE_REVIEW]
    if order != sorted(order, key=STAGE_ORDER.index):
        raise DefinitionError(gettext("环节顺序须为：受理、审查、决定、制证、送达"))
    if len({s.key for s in parsed}) != len(parsed):
        raise DefinitionError(gettext("环节 key 不能重复"))
    return tuple(s for s in parsed if s.kind != StepKind.PRE_REVIEW)


def validate_process(raw: Any) -> None:
    """Raise DefinitionError when an item's process JSON is malformed (used by the catalogue admin)."""
    if raw:
        _parse_stages(raw)


def process_for(item: ServiceItem) -> tuple[Stage, ...]:
    """The stages of an item's process: its own definition, or one derived from its published steps.

    Pre-review is folded into acceptance: one counter clerk checks and accepts.
    """
    if item.process_definition:
        return _parse_stages(item.process_definition)
    days: dict[str, int] = {}
    names: dict[str, str] = {}
    for step in item.steps.all():
        kind = _kind_of(step.name)
        if kind is None or kind == StepKind.PRE_REVIEW:
            continue
        days[kind] = days.get(kind, 0) + (step.days or 0)
        names.setdefault(kind, step.name)
    stages = []
    for kind in STAGE_ORDER:
        stages.append(
            Stage(
                key=str(kind),
                kind=kind,
                name=names.get(kind, _NAME_BY_KIND[kind]),
                role=_ROLE_BY_KIND[kind],
                days=days.get(kind),
            )
        )
    return tuple(stages)
