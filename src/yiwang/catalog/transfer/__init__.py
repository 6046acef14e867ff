"""Batch import and export of the catalogue in JSON, CSV and XLSX.

* Every format carries the same item columns (``records.ALL_FIELDS``); in CSV
  and XLSX the list columns (materials, steps, fees, FAQs) hold JSON text and
  the simple lists (themes, channels, keywords, windows) are separated by ``;``.
* A full export also carries the divisions, departments, windows and themes
  the items refer to (``directory``), so it imports into an empty database.
* Headers may be the English field names or their Chinese names
  (``CHINESE_HEADERS``); a named mapping (``MAPPINGS``) adapts other layouts,
  such as the provincial list of 广安区 (see docs/catalog-import.md).
* ``dry_run`` validates everything and reports every bad row with its row
  number, field and reason; a real import applies all rows or none. A bad
  column is reported once, before any row is looked at.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.db import transaction
from openpyxl import Workbook

from yiwang.core.audit import record_event
from yiwang.directory import selectors as directory_selectors
from yiwang.directory import services as directory_services

from .. import services
from ..constants import Level
from ..models import ServiceItem
from ..records import ALL_FIELDS, LIST_FIELDS, CleanRecord, Problem, Validator, apply_record, item_to_record
from .directory import (
    COLUMNS,
    SECTIONS,
    DirectoryPlan,
    apply_directory,
    export_directory,
    order_directory,
    validate_directory,
)
from .mappings import MAPPINGS, Mapping, MappingContext
from .reading import MAX_FILE_BYTES, Table, read_csv_table, read_json_tables, read_xlsx_tables
from .report import FILE_ROW, ImportRejected, ImportReport, RowProblem, write_report

__all__ = [
    "FORMATS",
    "MAPPINGS",
    "MAX_FILE_BYTES",
    "SECTIONS",
    "ImportRejected",
    "ImportReport",
    "RowProblem",
    "companion_path",
    "detect_format",
    "export_directory",
    "export_records",
    "import_catalog",
    "read_rows",
    "write_directory_csv",
    "write_export",
    "write_report",
]

MAX_ROWS = 50_000
FORMATS = ("json", "csv", "xlsx")
NESTED_FIELDS = ("materials", "steps", "fees", "faqs")
META_FIELDS = ("version", "status", "department_name")
EXPORT_COLUMNS = [*ALL_FIELDS, *META_FIELDS]
# Without these an item cannot be imported; a file lacking the column is refused once, not row by row.
REQUIRED_COLUMNS = ("code", "name", "kind", "department")

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


def companion_path(path: Path, section: str) -> Path:
    """Where a CSV export keeps one directory section: ``catalogue.csv`` → ``catalogue.departments.csv``."""
    return path.with_name(f"{path.stem}.{section}.csv")


def read_tables(
    data: bytes, fmt: str, report: ImportReport, companions: dict[str, bytes] | None = None
) -> dict[str, Table]:
    """The item table and any directory tables of a file (for CSV, of its companion files)."""
    if fmt == "json":
        tables = read_json_tables(data, report, SECTIONS)
    elif fmt == "csv":
        tables = {"items": read_csv_table(data, report)}
        for section, content in (companions or {}).items():
            tables[section] = read_csv_table(content, report)
    else:
        tables = read_xlsx_tables(data, report, SECTIONS)
    if not any(table.rows for table in tables.values()):
        raise ValueError("文件中没有任何数据行")
    return tables


def read_rows(data: bytes, fmt: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (row number as a person counts it, row) of the items of file content."""
    yield from read_tables(data, fmt, ImportReport())["items"].rows


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
                # An empty cell is unknown (待补充); an item that needs none says "[]".
                record[name] = None
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
    companions: dict[str, bytes] | None = None,
    report: ImportReport | None = None,
) -> ImportReport:
    """Validate and (unless ``dry_run``) apply a catalogue file, all rows or none.

    ``companions`` are a CSV export's directory files by section name. Raises
    ``ImportRejected`` carrying the full report when any row is bad, and
    ``ValueError`` when the file itself cannot be read. Pass ``report`` to
    keep the warnings found before a ``ValueError``.
    """
    report = report if report is not None else ImportReport()
    chosen = MAPPINGS.get(mapping) if mapping else None
    if mapping and chosen is None:
        raise ValueError(f"未知的列映射“{mapping}”，可用：{'、'.join(MAPPINGS)}")
    tables = read_tables(data, fmt, report, companions)
    items = tables["items"]
    _check_columns(items, fmt, chosen, report)
    plan = validate_directory(tables, report) if chosen is None else DirectoryPlan()
    order_directory(plan, report)
    _reject_if_bad(report)
    context = MappingContext()
    records = _read_records(items, fmt, chosen, context, report)
    cleaned = _validate_records(records, context, plan, report)
    _reject_if_bad(report)
    if dry_run:
        return report
    _apply_records(cleaned, context, plan, report, actor=actor)
    report.applied = True
    record_event(
        "catalog.imported",
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=None if getattr(actor, "pk", None) else "system:import-catalog",
        detail={
            "rows": report.rows,
            "created": report.created,
            "updated": report.updated,
            "departments_saved": report.departments_saved,
        },
    )
    return report


def _reject_if_bad(report: ImportReport) -> None:
    if report.errors:
        report.errors.sort(key=lambda p: p.row)
        raise ImportRejected(report)


def _check_columns(items: Table, fmt: str, chosen: Mapping | None, report: ImportReport) -> None:
    """Missing and unknown item columns, each reported once; a misnamed column never imports silently.

    A mapping's layout may carry columns it does not read; the platform's
    own layout may not, since an unknown column is most often a misspelt one
    whose values would otherwise be dropped without a word.
    """
    if not items.rows:
        return
    present = [h for h in items.header if h]
    if chosen is not None:
        names, unknown = set(present), []
        required: tuple[str, ...] = chosen.columns
    else:
        translate = CHINESE_HEADERS if fmt != "json" else {}
        known = [*ALL_FIELDS, *META_FIELDS, *translate]
        names = {translate.get(h, h) for h in present}
        unknown = [h for h in present if h not in known]
        required = REQUIRED_COLUMNS
        for column in unknown:
            report.errors.append(
                RowProblem(FILE_ROW, column, "未知的列" + _did_you_mean(column, known) + "；请改正列名或删除该列")
            )
    for column in required:
        if column not in names:
            near = difflib.get_close_matches(column, present, n=1, cutoff=0.6)
            hint = f"（文件中有“{near[0]}”，是否拼错？）" if near else ""
            report.errors.append(RowProblem(FILE_ROW, column, "缺少此列" + hint))


def _did_you_mean(name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f"（是否应为“{close[0]}”？）" if close else ""


def _read_records(
    items: Table, fmt: str, chosen: Mapping | None, context: MappingContext, report: ImportReport
) -> list[tuple[int, dict[str, Any]]]:
    """Rows of the file as records (through the column mapping, if any), with duplicate codes reported."""
    rows: list[tuple[int, dict[str, Any]]] = []
    for number, row in items.rows:
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
    records: list[tuple[int, dict[str, Any]]], context: MappingContext, plan: DirectoryPlan, report: ImportReport
) -> list[tuple[int, CleanRecord]]:
    known = directory_selectors.department_codes() | set(context.departments) | plan.department_codes
    validator = Validator(known_departments=known)
    validator.themes |= plan.theme_codes
    cleaned = []
    for number, record in records:
        clean, problems = validator.validate(record)
        report.errors.extend(RowProblem(number, p.field, p.reason) for p in problems)
        if clean is not None:
            report.warnings.extend(RowProblem(number, p.field, p.reason) for p in clean.warnings)
            cleaned.append((number, clean))
    return cleaned


def _apply_records(
    cleaned: list[tuple[int, CleanRecord]],
    context: MappingContext,
    plan: DirectoryPlan,
    report: ImportReport,
    *,
    actor: Any,
) -> None:
    """Write the file's directory, create the departments a mapping introduces and apply every record."""
    with transaction.atomic():
        apply_directory(plan, report)
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
            report.divisions_saved = report.departments_saved = 0
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
            row[name] = "" if value is None else json.dumps(value, ensure_ascii=False)
        elif name in LIST_FIELDS:
            row[name] = ";".join(value)
        else:
            row[name] = "" if value is None else value
        row[name] = _defuse(row[name])
    return row


def _flat_directory(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _defuse("true" if v is True else "false" if v is False else v) for k, v in row.items()}


def write_export(
    records: list[dict[str, Any]], fmt: str, directory: dict[str, list[dict[str, Any]]] | None = None
) -> bytes:
    """Serialise exported records (and, for JSON and XLSX, the directory) in ``fmt``.

    Importing the result reproduces the catalogue; a CSV export's directory
    goes into companion files (``write_directory_csv``).
    """
    if fmt == "json":
        payload: dict[str, Any] = dict(directory or {})
        payload["items"] = records
        return json.dumps(payload, ensure_ascii=False, indent=2).encode("utf-8")
    if fmt == "csv":
        return _csv_bytes(EXPORT_COLUMNS, [_flat(record) for record in records])
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("items")
    sheet.append(EXPORT_COLUMNS)
    for record in records:
        flat = _flat(record)
        sheet.append([flat[c] for c in EXPORT_COLUMNS])
    for section, rows in (directory or {}).items():
        sheet = workbook.create_sheet(section)
        sheet.append(COLUMNS[section])
        for row in rows:
            flat = _flat_directory(row)
            sheet.append([flat[c] for c in COLUMNS[section]])
    buffer_bytes = io.BytesIO()
    workbook.save(buffer_bytes)
    return buffer_bytes.getvalue()


def write_directory_csv(directory: dict[str, list[dict[str, Any]]]) -> dict[str, bytes]:
    """A CSV export's companion files, by section name."""
    return {
        section: _csv_bytes(COLUMNS[section], [_flat_directory(row) for row in rows])
        for section, rows in directory.items()
    }


def _csv_bytes(columns: list[str], rows: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    # A byte-order mark so that spreadsheet programs open the Chinese text correctly.
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
