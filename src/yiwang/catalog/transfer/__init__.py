"""Batch import and export of the catalogue in JSON, CSV and XLSX.

* Every format carries the same columns (``records.ALL_FIELDS``); in CSV and
  XLSX the list columns (materials, steps, fees, FAQs) hold JSON text and the
  simple lists (themes, channels, keywords, windows) are separated by ``;``.
* Headers may be the English field names or their Chinese names
  (``CHINESE_HEADERS``); a named mapping (``MAPPINGS``) adapts other layouts,
  such as the provincial list of 广安区 (see docs/catalog-import.md).
* ``dry_run`` validates everything and reports every bad row with its row
  number, field and reason; a real import applies all rows or none.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.db import transaction
from openpyxl import Workbook, load_workbook

from yiwang.core.audit import record_event
from yiwang.directory import selectors as directory_selectors
from yiwang.directory import services as directory_services

from .. import services
from ..constants import Level
from ..models import ServiceItem
from ..records import ALL_FIELDS, LIST_FIELDS, CleanRecord, Problem, Validator, apply_record, item_to_record
from .mappings import MAPPINGS, Mapping, MappingContext
from .report import ImportRejected, ImportReport, RowProblem

__all__ = [
    "FORMATS",
    "MAPPINGS",
    "ImportRejected",
    "ImportReport",
    "RowProblem",
    "detect_format",
    "export_records",
    "import_catalog",
    "read_rows",
    "write_export",
]

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 50_000
FORMATS = ("json", "csv", "xlsx")
NESTED_FIELDS = ("materials", "steps", "fees", "faqs")
EXPORT_COLUMNS = [*ALL_FIELDS, "version", "status", "department_name"]

CHINESE_HEADERS = {
    "事项编码": "code",
    "实施编码": "code",
    "事项名称": "name",
    "基本编码": "base_code",
    "事项类型": "kind",
    "行使层级": "level",
    "服务对象": "audience",
    "实施主体": "department",
    "部门代码": "department",
    "行政区划代码": "division_code",
    "事项简介": "summary",
    "设定依据": "legal_basis",
    "受理条件": "conditions",
    "法定时限": "statutory_days",
    "承诺时限": "promised_days",
    "时限说明": "time_limit_note",
    "办理深度": "online_depth",
    "到现场次数": "visits_required",
    "办理结果": "result_name",
    "咨询电话": "consult_phone",
    "投诉电话": "complaint_phone",
    "热度": "popularity",
    "生效日期": "effective_date",
    "主题": "themes",
    "办理渠道": "channels",
    "关键词": "keywords",
    "办理窗口": "windows",
    "申请材料": "materials",
    "办理流程": "steps",
    "收费": "fees",
    "常见问题": "faqs",
}


# --- reading --------------------------------------------------------------


def detect_format(path: Path, explicit: str | None = None) -> str:
    fmt = (explicit or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ValueError(f"不支持的文件格式“{fmt}”，应为 json、csv 或 xlsx")
    return fmt


def read_rows(data: bytes, fmt: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (row number as a person counts it, row) from file content."""
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"文件超过{MAX_FILE_BYTES // 1024 // 1024}MB上限")
    if fmt == "json":
        try:
            payload = json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"JSON 无法解析：{exc}") from exc
        rows = payload.get("items") if isinstance(payload, dict) else payload
        if not isinstance(rows, list):
            raise ValueError("JSON 应为事项数组，或含 items 数组的对象")
        for number, row in enumerate(rows, start=1):
            yield number, row if isinstance(row, dict) else {"__invalid__": True}
    elif fmt == "csv":
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("gb18030", errors="strict")
        reader = csv.DictReader(io.StringIO(text, newline=""))
        for number, row in enumerate(reader, start=2):
            yield number, {(k or "").strip(): v for k, v in row.items()}
    else:
        try:
            workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a broken file
            raise ValueError(f"XLSX 无法读取：{exc}") from exc
        sheet = workbook.worksheets[0]
        rows_iter = sheet.iter_rows(values_only=True)
        header = [str(h).strip() if h is not None else "" for h in next(rows_iter, [])]
        for number, values in enumerate(rows_iter, start=2):
            if values is None or all(v is None or str(v).strip() == "" for v in values):
                continue
            yield number, {h: ("" if v is None else str(v)) for h, v in zip(header, values, strict=False) if h}
        workbook.close()


# Spreadsheet programs run a cell that starts with one of these as a formula;
# exported text gets a leading apostrophe, which import takes off again.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _defuse(value: Any) -> Any:
    return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_STARTS) else value


def _undefuse(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(_FORMULA_STARTS):
        return value[1:]
    return value


def _from_flat(row: dict[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """Turn a CSV/XLSX row (Chinese or English headers, JSON in nested cells) into a record."""
    record: dict[str, Any] = {}
    problems: list[Problem] = []
    for header, raw_value in row.items():
        name = CHINESE_HEADERS.get(header, header)
        value = _undefuse(raw_value)
        if name in NESTED_FIELDS:
            text = (value or "").strip()
            if not text:
                record[name] = []
                continue
            try:
                record[name] = json.loads(text)
            except json.JSONDecodeError:
                problems.append(Problem(name, "应为 JSON 数组文本"))
        elif name in LIST_FIELDS:
            record[name] = [part.strip() for part in (value or "").split(";") if part.strip()]
        else:
            record[name] = value
    return record, problems


# --- import ---------------------------------------------------------------


def import_catalog(
    data: bytes,
    fmt: str,
    *,
    actor: Any = None,
    dry_run: bool = False,
    mapping: str | None = None,
) -> ImportReport:
    """Validate and (unless ``dry_run``) apply a catalogue file, all rows or none.

    Raises ``ImportRejected`` carrying the full report when any row is bad,
    and ``ValueError`` when the file itself cannot be read.
    """
    report = ImportReport()
    chosen = MAPPINGS.get(mapping) if mapping else None
    if mapping and chosen is None:
        raise ValueError(f"未知的列映射“{mapping}”，可用：{'、'.join(MAPPINGS)}")
    context = MappingContext()
    records = _read_records(data, fmt, chosen, context, report)
    cleaned = _validate_records(records, context, report)
    if report.errors:
        report.errors.sort(key=lambda p: p.row)
        raise ImportRejected(report)
    if dry_run:
        return report
    _apply_records(cleaned, context, report, actor=actor)
    report.applied = True
    record_event(
        "catalog.imported",
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=None if getattr(actor, "pk", None) else "system:import-catalog",
        detail={"rows": report.rows, "created": report.created, "updated": report.updated},
    )
    return report


def _read_records(
    data: bytes, fmt: str, chosen: Mapping | None, context: MappingContext, report: ImportReport
) -> list[tuple[int, dict[str, Any]]]:
    """Rows of the file as records (through the column mapping, if any), with duplicate codes reported."""
    rows: list[tuple[int, dict[str, Any]]] = []
    for number, row in read_rows(data, fmt):
        report.rows += 1
        if report.rows > MAX_ROWS:
            raise ValueError(f"一次最多导入{MAX_ROWS}行")
        if row.get("__invalid__"):
            report.errors.append(RowProblem(number, "-", "应为对象"))
            continue
        rows.append((number, row))
    if chosen is not None:
        # A mapping sees the whole file first: which department a code means can depend on other rows.
        chosen.prepare(rows, context)
        report.warnings.extend(context.warnings)
    records: list[tuple[int, dict[str, Any]]] = []
    seen_codes: dict[str, int] = {}
    for number, row in rows:
        record: dict[str, Any]
        problems: list[Problem]
        if chosen is not None:
            record, problems = chosen.convert(row, context)
        elif fmt == "json":
            record, problems = row, []
        else:
            record, problems = _from_flat(row)
        report.errors.extend(RowProblem(number, p.field, p.reason) for p in problems)
        code = str(record.get("code") or "").strip()
        if code and code in seen_codes:
            report.errors.append(RowProblem(number, "code", f"事项编码与第{seen_codes[code]}行重复"))
        elif code:
            seen_codes[code] = number
        records.append((number, record))
    return records


def _validate_records(
    records: list[tuple[int, dict[str, Any]]], context: MappingContext, report: ImportReport
) -> list[tuple[int, CleanRecord]]:
    known = directory_selectors.department_codes() | set(context.departments)
    validator = Validator(known_departments=known)
    cleaned = []
    for number, record in records:
        clean, problems = validator.validate(record)
        report.errors.extend(RowProblem(number, p.field, p.reason) for p in problems)
        if clean is not None:
            report.warnings.extend(RowProblem(number, p.field, p.reason) for p in clean.warnings)
            cleaned.append((number, clean))
    return cleaned


def _apply_records(
    cleaned: list[tuple[int, CleanRecord]], context: MappingContext, report: ImportReport, *, actor: Any
) -> None:
    """Create the departments the file introduces and apply every record, all or none."""
    with transaction.atomic():
        report.departments_created = _create_departments(context)
        for number, clean in cleaned:
            try:
                result = apply_record(clean, actor=actor)
            except services.CatalogError as exc:
                report.errors.append(RowProblem(number, "code", exc.detail))
                continue
            setattr(report, result.action, getattr(report, result.action) + 1)
        if report.errors:
            transaction.set_rollback(True)
            report.created = report.updated = report.unchanged = report.departments_created = 0
            raise ImportRejected(report)


def _create_departments(context: MappingContext) -> int:
    created = 0
    for code, info in context.departments.items():
        division_code = info["division"] if len(info["division"]) == 12 else info["division"].ljust(12, "0")
        if directory_services.create_department_if_missing(
            code=code,
            division_code=division_code,
            division_name=f"行政区划{division_code}",
            division_level=Level.COUNTY,
            name=info["name"][:128] or code,
            short_name=info["name"][:64],
            credit_code=info["credit_code"],
            sort_order=1000 + created,
        ):
            created += 1
    return created


# --- export ---------------------------------------------------------------


def export_records(*, include_unpublished: bool = False) -> list[dict[str, Any]]:
    items = ServiceItem.objects.select_related("department", "base_item").prefetch_related(
        "materials", "steps", "fees", "faqs", "themes", "windows"
    )
    items = items.exclude(status__in=["superseded", "withdrawn"]) if include_unpublished else items.published()
    return [item_to_record(item) for item in items.order_by("department__sort_order", "code", "version")]


def _flat(record: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name in EXPORT_COLUMNS:
        value = record.get(name, "")
        if name in NESTED_FIELDS:
            row[name] = json.dumps(value, ensure_ascii=False)
        elif name in LIST_FIELDS:
            row[name] = ";".join(value)
        else:
            row[name] = "" if value is None else value
        row[name] = _defuse(row[name])
    return row


def write_export(records: list[dict[str, Any]], fmt: str) -> bytes:
    """Serialise exported records in ``fmt``; importing the result reproduces the catalogue."""
    if fmt == "json":
        return json.dumps({"items": records}, ensure_ascii=False, indent=2).encode("utf-8")
    if fmt == "csv":
        buffer = io.StringIO(newline="")
        writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS)
        writer.writeheader()
        for record in records:
            writer.writerow(_flat(record))
        # A byte-order mark so that spreadsheet programs open the Chinese text correctly.
        return ("\ufeff" + buffer.getvalue()).encode("utf-8")
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("items")
    sheet.append(EXPORT_COLUMNS)
    for record in records:
        flat = _flat(record)
        sheet.append([flat[c] for c in EXPORT_COLUMNS])
    buffer_bytes = io.BytesIO()
    workbook.save(buffer_bytes)
    return buffer_bytes.getvalue()
