"""The catalogue's interchange record: one service item as plain data.

Seed files, JSON/CSV/XLSX import and export all speak this shape, so an
export imports back unchanged. ``validate_record`` reports every problem of
a record with its field; ``apply_record`` writes one valid record through the
versioning rules of :mod:`yiwang.catalog.services`.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction

from yiwang.core.identifiers import IMPLEMENTATION_CODE_RE
from yiwang.directory import selectors as directory_selectors

from . import services
from .constants import (
    KIND_TASK_TYPES,
    Audience,
    Channel,
    GuideFact,
    ItemKind,
    ItemStatus,
    Level,
    MaterialForm,
    MaterialRequirement,
    MaterialSource,
    OnlineDepth,
    guide_is_complete,
)
from .models import BaseItem, Faq, Fee, Material, ProcessStep, ServiceItem, Theme, Window

CODE_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z-]{2,79}$")
SCALAR_FIELDS = [
    "code",
    "name",
    "base_code",
    "kind",
    "level",
    "audience",
    "department",
    "division_code",
    "summary",
    "legal_basis",
    "conditions",
    "statutory_days",
    "promised_days",
    "time_limit_note",
    "online_depth",
    "visits_required",
    "min_assurance_level",
    "result_name",
    "consult_phone",
    "complaint_phone",
    "popularity",
    "effective_date",
]
LIST_FIELDS = ["themes", "channels", "keywords", "windows", "materials", "steps", "fees", "faqs"]
ALL_FIELDS = SCALAR_FIELDS + LIST_FIELDS
TEXT_LIMITS = {
    "name": 200,
    "summary": 4000,
    "legal_basis": 8000,
    "conditions": 8000,
    "time_limit_note": 200,
    "result_name": 200,
    "consult_phone": 64,
    "complaint_phone": 64,
}


@dataclass
class Problem:
    field: str
    reason: str


@dataclass
class CleanRecord:
    """A validated record, with values converted to their model types."""

    values: dict[str, Any] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)


def _has_control_characters(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" and ch not in "\n\t\r" for ch in text)


def _label_lookup(choices: list[tuple[Any, Any]]) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for value, label in choices:
        table[str(value)] = value
        table[str(label)] = value
    return table


KIND_LOOKUP = {**_label_lookup(ItemKind.choices), **KIND_TASK_TYPES}
LEVEL_LOOKUP = _label_lookup(Level.choices)
AUDIENCE_LOOKUP = {**_label_lookup(Audience.choices), "个人": Audience.PERSON, "企业": Audience.ORGANISATION}
FORM_LOOKUP = _label_lookup(MaterialForm.choices)
REQUIREMENT_LOOKUP = _label_lookup(MaterialRequirement.choices)
SOURCE_LOOKUP = _label_lookup(MaterialSource.choices)
CHANNEL_LOOKUP = _label_lookup(Channel.choices)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _optional_int(value: Any, name: str, problems: list[Problem], maximum: int) -> int | None:
    if value is None or _text(value) == "":
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        problems.append(Problem(name, "应为非负整数"))
        return None
    if number < 0 or number > maximum:
        problems.append(Problem(name, f"应在0到{maximum}之间"))
        return None
    return number


def _absent(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _unknown_facts(record: dict[str, Any], values: dict[str, Any]) -> list[str]:
    """The guide facts the record leaves unknown: a missing or empty value, as opposed to an empty list.

    ``"materials": []`` says the item needs none; no ``materials`` at all (or an
    empty CSV cell) says the source did not tell.
    """
    unknown = [fact for fact in (GuideFact.MATERIALS, GuideFact.FEES) if _absent(record.get(str(fact)))]
    if values["statutory_days"] is None and values["promised_days"] is None and not values["time_limit_note"]:
        unknown.append(GuideFact.TIME_LIMITS)
    if _absent(record.get("visits_required")):
        unknown.append(GuideFact.VISITS)
    return [str(fact) for fact in unknown]


class Validator:
    """Validates records against the current catalogue (departments, themes, windows)."""

    def __init__(self, *, known_departments: set[str] | None = None) -> None:
        self.departments = (
            known_departments if known_departments is not None else directory_selectors.department_codes()
        )
        self.themes = set(Theme.objects.values_list("code", flat=True))

    def validate(self, record: dict[str, Any]) -> tuple[CleanRecord | None, list[Problem]]:
        problems: list[Problem] = []
        clean = CleanRecord()
        unknown = sorted(set(record) - set(ALL_FIELDS) - {"version", "status", "department_name"})
        for name in unknown:
            clean.warnings.append(Problem(name, "未知字段，已忽略"))
        self._identity(record, clean, problems)
        self._placement(record, clean.values, problems)
        self._numbers(record, clean.values, problems)
        self._lists(record, clean.values, problems)
        clean.values["unknown_facts"] = _unknown_facts(record, clean.values)
        return (None if problems else clean), problems

    def _identity(self, record: dict[str, Any], clean: CleanRecord, problems: list[Problem]) -> None:
        """Code, texts, kind and department: what the item is and who implements it."""
        values = clean.values
        code = _text(record.get("code"))
        if not code:
            problems.append(Problem("code", "事项编码不能为空"))
        elif not CODE_RE.match(code):
            problems.append(Problem("code", "事项编码只能包含字母、数字和连字符，长度3至80位"))
        elif not IMPLEMENTATION_CODE_RE.match(code):
            clean.warnings.append(Problem("code", "事项编码不符合“基本编码-区划代码-000-信用代码-1-00”的国家格式"))
        values["code"] = code

        for name, limit in TEXT_LIMITS.items():
            text = _text(record.get(name))
            if len(text) > limit:
                problems.append(Problem(name, f"长度不能超过{limit}个字符"))
            if _has_control_characters(text):
                problems.append(Problem(name, "含有不可见的控制字符"))
            values[name] = text
        if not values["name"]:
            problems.append(Problem("name", "事项名称不能为空"))

        kind = KIND_LOOKUP.get(_text(record.get("kind")))
        if kind is None:
            problems.append(Problem("kind", "事项类型无效，应为行政许可、行政给付、行政确认、公共服务等"))
        values["kind"] = kind

        department = _text(record.get("department"))
        if not department:
            problems.append(Problem("department", "实施主体（部门代码）不能为空"))
        elif department not in self.departments:
            problems.append(Problem("department", f"部门“{department}”不存在"))
        values["department"] = department

    @staticmethod
    def _placement(record: dict[str, Any], values: dict[str, Any], problems: list[Problem]) -> None:
        """Level, audience, division and base code."""
        level_text = _text(record.get("level"))
        values["level"] = LEVEL_LOOKUP.get(level_text) if level_text else None
        if level_text and values["level"] is None:
            problems.append(Problem("level", "行使层级无效"))
        audience_text = _text(record.get("audience")) or Audience.BOTH
        values["audience"] = AUDIENCE_LOOKUP.get(audience_text)
        if values["audience"] is None:
            problems.append(Problem("audience", "服务对象应为自然人、法人或自然人和法人"))

        division = _text(record.get("division_code"))
        if division and not re.fullmatch(r"[0-9]{6}|[0-9]{12}", division):
            problems.append(Problem("division_code", "行政区划代码应为6位或12位数字"))
        values["division_code"] = division
        code = values["code"]
        base_code = _text(record.get("base_code")) or (code.split("-")[0] if code else "")
        if len(base_code) > 40:
            problems.append(Problem("base_code", "基本编码长度不能超过40位"))
        values["base_code"] = base_code

    @staticmethod
    def _numbers(record: dict[str, Any], values: dict[str, Any], problems: list[Problem]) -> None:
        """Time limits, online depth, visits, popularity, assurance level and the effective date."""
        values["statutory_days"] = _optional_int(record.get("statutory_days"), "statutory_days", problems, 3650)
        values["promised_days"] = _optional_int(record.get("promised_days"), "promised_days", problems, 3650)
        if (
            values["statutory_days"] is not None
            and values["promised_days"] is not None
            and values["promised_days"] > values["statutory_days"]
        ):
            problems.append(Problem("promised_days", "承诺时限不能长于法定时限"))
        depth = _optional_int(record.get("online_depth"), "online_depth", problems, 4)
        if depth is not None and depth not in OnlineDepth.values:
            problems.append(Problem("online_depth", "办理深度应为1至4级"))
        values["online_depth"] = depth or OnlineDepth.ONLINE_APPLICATION
        visits = _optional_int(record.get("visits_required"), "visits_required", problems, 20)
        values["visits_required"] = 1 if visits is None else visits
        values["popularity"] = _optional_int(record.get("popularity"), "popularity", problems, 100) or 0
        level = _optional_int(record.get("min_assurance_level"), "min_assurance_level", problems, 4)
        if level == 0:
            problems.append(Problem("min_assurance_level", "最低实名等级应为1至4"))
        values["min_assurance_level"] = level or 2

        effective = _text(record.get("effective_date"))
        values["effective_date"] = None
        if effective:
            try:
                values["effective_date"] = dt.date.fromisoformat(effective[:10])
            except ValueError:
                problems.append(Problem("effective_date", "生效日期格式应为YYYY-MM-DD"))

    def _lists(self, record: dict[str, Any], values: dict[str, Any], problems: list[Problem]) -> None:
        """Themes, channels, keywords, windows, materials, steps, fees and FAQs."""
        values["themes"] = self._string_list(record, "themes", problems)
        bad_themes = [t for t in values["themes"] if t not in self.themes]
        if bad_themes:
            problems.append(Problem("themes", "未知主题：" + "、".join(bad_themes)))
        channels = self._string_list(record, "channels", problems)
        values["channels"] = []
        for channel in channels:
            if channel not in CHANNEL_LOOKUP:
                problems.append(Problem("channels", f"未知办理渠道“{channel}”"))
            else:
                values["channels"].append(str(CHANNEL_LOOKUP[channel]))
        values["keywords"] = self._string_list(record, "keywords", problems, item_limit=50)
        values["windows"] = self._string_list(record, "windows", problems)
        values["materials"] = self._materials(record, problems)
        values["steps"] = self._rows(record, "steps", problems, self._step)
        values["fees"] = self._rows(record, "fees", problems, self._fee)
        values["faqs"] = self._rows(record, "faqs", problems, self._faq)

    @staticmethod
    def _string_list(record: dict[str, Any], name: str, problems: list[Problem], item_limit: int = 100) -> list[str]:
        raw = record.get(name)
        if raw is None or raw == "":
            return []
        if isinstance(raw, str):
            raw = [part for part in re.split(r"[;,；，、\n]", raw)]
        if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
            problems.append(Problem(name, "应为文字列表"))
            return []
        cleaned = [v.strip() for v in raw if v.strip()]
        if len(cleaned) > item_limit or any(len(v) > 100 for v in cleaned):
            problems.append(Problem(name, f"最多{item_limit}项，每项不超过100个字符"))
            return []
        return cleaned

    @staticmethod
    def _rows(record: dict[str, Any], name: str, problems: list[Problem], convert: Any) -> list[dict[str, Any]]:
        raw = record.get(name) or []
        if not isinstance(raw, list) or len(raw) > 100:
            problems.append(Problem(name, "应为不超过100项的列表"))
            return []
        rows = []
        for index, row in enumerate(raw, start=1):
            if not isinstance(row, dict):
                problems.append(Problem(f"{name}[{index}]", "应为对象"))
                continue
            converted = convert(row, f"{name}[{index}]", problems)
            if converted is not None:
                rows.append(converted)
        return rows

    def _materials(self, record: dict[str, Any], problems: list[Problem]) -> list[dict[str, Any]]:
        return self._rows(record, "materials", problems, self._material)

    @staticmethod
    def _material(row: dict[str, Any], where: str, problems: list[Problem]) -> dict[str, Any] | None:
        name = _text(row.get("name"))
        if not name or len(name) > 200:
            problems.append(Problem(where, "材料名称不能为空且不超过200个字符"))
            return None
        form = FORM_LOOKUP.get(_text(row.get("form")) or MaterialForm.ORIGINAL)
        requirement = REQUIREMENT_LOOKUP.get(_text(row.get("requirement")) or MaterialRequirement.REQUIRED)
        source = SOURCE_LOOKUP.get(_text(row.get("source")) or MaterialSource.APPLICANT)
        if form is None or requirement is None or source is None:
            problems.append(Problem(where, f"材料“{name}”的形式、必要性或来源无效"))
            return None
        condition = _text(row.get("condition"))
        if requirement == MaterialRequirement.CONDITIONAL and not condition:
            problems.append(Problem(where, f"材料“{name}”为特定情形提交，须写明情形"))
            return None
        copies = _optional_int(row.get("copies"), where, problems, 99)
        return {
            "name": name,
            "form": form,
            "copies": 1 if copies is None else copies,
            "requirement": requirement,
            "condition": condition[:300],
            "source": source,
            "source_name": _text(row.get("source_name"))[:100],
            "blank_form": _text(row.get("blank_form"))[:200],
            "sample": _text(row.get("sample"))[:200],
            "note": _text(row.get("note"))[:300],
        }

    @staticmethod
    def _step(row: dict[str, Any], where: str, problems: list[Problem]) -> dict[str, Any] | None:
        name = _text(row.get("name"))
        if not name or len(name) > 64:
            problems.append(Problem(where, "环节名称不能为空且不超过64个字符"))
            return None
        level = _optional_int(row.get("min_assurance_level"), where, problems, 4)
        if level == 0:
            problems.append(Problem(where, "最低实名等级应为1至4"))
        return {
            "name": name,
            "role": _text(row.get("role"))[:64],
            "description": _text(row.get("description"))[:2000],
            "days": _optional_int(row.get("days"), where, problems, 3650),
            "min_assurance_level": level or None,
        }

    @staticmethod
    def _fee(row: dict[str, Any], where: str, problems: list[Problem]) -> dict[str, Any] | None:
        name = _text(row.get("name"))
        try:
            amount = Decimal(_text(row.get("amount")) or "0")
        except InvalidOperation:
            problems.append(Problem(where, "收费金额应为数字"))
            return None
        if not name or amount < 0 or amount >= Decimal("100000000"):
            problems.append(Problem(where, "收费项目名称不能为空，金额须为非负数"))
            return None
        return {
            "name": name[:100],
            "amount": amount.quantize(Decimal("0.01")),
            "unit": _text(row.get("unit"))[:50],
            "basis": _text(row.get("basis"))[:300],
            "note": _text(row.get("note"))[:300],
            "situation": _text(row.get("situation"))[:200],
        }

    @staticmethod
    def _faq(row: dict[str, Any], where: str, problems: list[Problem]) -> dict[str, Any] | None:
        question, answer = _text(row.get("question")), _text(row.get("answer"))
        if not question or not answer or len(question) > 300:
            problems.append(Problem(where, "常见问题须有问题和解答，问题不超过300个字符"))
            return None
        return {"question": question, "answer": answer[:4000]}


def _content_of(item: ServiceItem) -> dict[str, Any]:
    """The comparable content of a stored version, in the record shape."""
    return {**item_to_record(item, include_meta=False), "unknown_facts": sorted(item.unknown_facts)}


def item_to_record(item: ServiceItem, *, include_meta: bool = True) -> dict[str, Any]:
    """Export one item version as a record (the shape ``Validator`` accepts)."""
    record: dict[str, Any] = {
        "code": item.code,
        "name": item.name,
        "base_code": item.base_item.code,
        "kind": item.kind,
        "level": item.level,
        "audience": item.audience,
        "department": item.department.code,
        "division_code": item.division_code,
        "summary": item.summary,
        "legal_basis": item.legal_basis,
        "conditions": item.conditions,
        "statutory_days": item.statutory_days,
        "promised_days": item.promised_days,
        "time_limit_note": item.time_limit_note,
        "online_depth": item.online_depth,
        "visits_required": item.visits_required,
        "min_assurance_level": item.min_assurance_level,
        "result_name": item.result_name,
        "consult_phone": item.consult_phone,
        "complaint_phone": item.complaint_phone,
        "popularity": item.popularity,
        "themes": sorted(t.code for t in item.themes.all()),
        "channels": list(item.channels),
        "keywords": list(item.keywords),
        "windows": sorted(w.name for w in item.windows.all()),
        "materials": [
            {
                "name": m.name,
                "form": m.form,
                "copies": m.copies,
                "requirement": m.requirement,
                "condition": m.condition,
                "source": m.source,
                "source_name": m.source_name,
                "blank_form": m.blank_form,
                "sample": m.sample,
                "note": m.note,
            }
            for m in item.materials.all()
        ],
        "steps": [
            {
                "name": s.name,
                "role": s.role,
                "description": s.description,
                "days": s.days,
                "min_assurance_level": s.min_assurance_level,
            }
            for s in item.steps.all()
        ],
        "fees": [
            {
                "name": f.name,
                "amount": f"{f.amount:.2f}",
                "unit": f.unit,
                "basis": f.basis,
                "note": f.note,
                "situation": f.situation,
            }
            for f in item.fees.all()
        ],
        "faqs": [{"question": q.question, "answer": q.answer} for q in item.faqs.all()],
    }
    # Unknown facts export as null (an empty CSV cell), so that they import back as unknown, not as none.
    for fact, key in (
        (GuideFact.MATERIALS, "materials"),
        (GuideFact.FEES, "fees"),
        (GuideFact.VISITS, "visits_required"),
    ):
        if fact in item.unknown_facts:
            record[key] = None
    if include_meta:
        record["effective_date"] = item.effective_date.isoformat() if item.effective_date else ""
        record["version"] = item.version
        record["status"] = item.status
        record["department_name"] = item.department.name
    return record


def _normalised(values: dict[str, Any]) -> dict[str, Any]:
    """Make a clean record comparable with ``_content_of`` output."""
    data = dict(values)
    data.pop("effective_date", None)
    data["materials"] = data["materials"] or []
    data["visits_required"] = 1 if data["visits_required"] is None else data["visits_required"]
    data["unknown_facts"] = sorted(data.get("unknown_facts", []))
    data["fees"] = [{**f, "amount": f"{Decimal(f['amount']):.2f}"} for f in data["fees"] or []]
    data["themes"] = sorted(data["themes"])
    data["windows"] = sorted(data["windows"])
    return data


@dataclass
class ApplyResult:
    code: str
    action: str  # "created", "updated" or "unchanged"
    version: int


def apply_record(clean: CleanRecord, *, actor: Any, publish: bool = True) -> ApplyResult:
    """Create or update (upsert by code) one item from a validated record.

    An unchanged record leaves the catalogue alone; a changed one becomes a
    new version, so history is kept. A code with an unpublished draft is
    refused rather than overwritten.
    """
    values = clean.values
    with transaction.atomic():
        department = directory_selectors.department_by_code(values["department"])
        assert department is not None  # the validator checked the code against the directory
        level = values["level"] or department.level
        division = values["division_code"] or department.division.code
        if len(division) == 6:
            division += "000000"
        existing = ServiceItem.objects.filter(code=values["code"]).order_by("-version").first()
        if existing and existing.status in (ItemStatus.DRAFT, ItemStatus.IN_REVIEW):
            raise services.CatalogError("draft_exists", f"事项{values['code']}有未发布的草稿，不能覆盖")
        consult_phone = values["consult_phone"] or department.phone
        windows = Window.objects.filter(department=department)
        if values["windows"]:
            windows = windows.filter(name__in=values["windows"])
        # No windows named means every window of the department.
        comparable = {
            **values,
            "level": level,
            "division_code": division,
            "consult_phone": consult_phone,
            "windows": [w.name for w in windows],
        }
        if existing and existing.status == ItemStatus.PUBLISHED:
            stored = _content_of(existing)
            if _normalised(comparable) == _normalised({**stored, "effective_date": None}):
                return ApplyResult(values["code"], "unchanged", existing.version)
        base_item, _ = BaseItem.objects.get_or_create(
            code=values["base_code"],
            defaults={"name": values["name"], "kind": values["kind"], "legal_basis": values["legal_basis"]},
        )
        item = ServiceItem.objects.create(
            code=values["code"],
            version=(existing.version + 1) if existing else 1,
            status=ItemStatus.DRAFT,
            base_item=base_item,
            department=department,
            division_code=division,
            name=values["name"],
            kind=values["kind"],
            level=level,
            audience=values["audience"],
            summary=values["summary"],
            legal_basis=values["legal_basis"],
            conditions=values["conditions"],
            statutory_days=values["statutory_days"],
            promised_days=values["promised_days"],
            time_limit_note=values["time_limit_note"],
            charges_fee=any(Decimal(f["amount"]) > 0 for f in values["fees"]),
            online_depth=values["online_depth"],
            channels=values["channels"],
            visits_required=values["visits_required"],
            min_assurance_level=values["min_assurance_level"],
            result_name=values["result_name"],
            consult_phone=consult_phone,
            complaint_phone=values["complaint_phone"],
            keywords=values["keywords"],
            popularity=values["popularity"],
            change_note="批量导入" if existing else "",
            unknown_facts=values["unknown_facts"],
            guide_complete=guide_is_complete(values["unknown_facts"]),
        )
        item.themes.set(Theme.objects.filter(code__in=values["themes"]))
        item.windows.set(windows)
        Material.objects.bulk_create(Material(item=item, order=i, **m) for i, m in enumerate(values["materials"]))
        ProcessStep.objects.bulk_create(ProcessStep(item=item, order=i, **s) for i, s in enumerate(values["steps"]))
        Fee.objects.bulk_create(Fee(item=item, **f) for f in values["fees"])
        Faq.objects.bulk_create(Faq(item=item, order=i, **q) for i, q in enumerate(values["faqs"]))
        if publish:
            # A department's approved list may lack materials (the real county
            # list has names only); it is published as the official record.
            item = services.publish_item(
                item,
                actor=actor,
                effective_date=values["effective_date"],
                skip_review=True,
                require_materials=False,
            )
    return ApplyResult(values["code"], "updated" if existing else "created", item.version)
