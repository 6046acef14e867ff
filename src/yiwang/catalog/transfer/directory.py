"""Divisions, departments, windows and themes in an export, so that it imports into an empty database.

Items name their department, windows and themes by code or name; a full
export carries those too, as sections (JSON), sheets (XLSX) or companion
files (CSV) with the columns in ``COLUMNS``. Import validates every row of
every section before anything is written, and writes parents before their
children.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from yiwang.directory import selectors as directory_selectors
from yiwang.directory import services as directory_services

from .. import services
from ..constants import Level, ThemeAudience
from ..models import Theme, Window
from .reading import Table
from .report import ImportReport, RowProblem

SECTIONS = ("divisions", "departments", "windows", "themes")
COLUMNS = {
    "divisions": ["code", "name", "level", "parent"],
    "departments": [
        "code",
        "name",
        "short_name",
        "credit_code",
        "division",
        "level",
        "parent",
        "description",
        "address",
        "phone",
        "office_hours",
        "sort_order",
    ],
    "windows": ["department", "name", "address", "office_hours", "phone", "is_general"],
    "themes": ["code", "name", "audience", "description", "sort_order"],
}
_TEXT_LIMITS = {
    "divisions": {"name": 64},
    "departments": {
        "name": 128,
        "short_name": 64,
        "credit_code": 18,
        "address": 200,
        "phone": 64,
        "office_hours": 200,
        "description": 4000,
    },
    "windows": {"name": 128, "address": 200, "office_hours": 200, "phone": 64},
    "themes": {"name": 64, "description": 200},
}
_TRUE = {"1", "true", "yes", "是", "y"}
_FALSE = {"", "0", "false", "no", "否", "n"}


# --- export ---------------------------------------------------------------


def export_directory() -> dict[str, list[dict[str, Any]]]:
    """Every division, department, window and theme, in a stable order."""
    divisions = [
        {"code": d.code, "name": d.name, "level": d.level, "parent": d.parent.code if d.parent else ""}
        for d in directory_selectors.divisions()
    ]
    departments = [
        {
            "code": d.code,
            "name": d.name,
            "short_name": d.short_name,
            "credit_code": d.credit_code,
            "division": d.division.code,
            "level": d.level,
            "parent": d.parent.code if d.parent else "",
            "description": d.description,
            "address": d.address,
            "phone": d.phone,
            "office_hours": d.office_hours,
            "sort_order": d.sort_order,
        }
        for d in directory_selectors.departments()
    ]
    windows = [
        {
            "department": w.department.code,
            "name": w.name,
            "address": w.address,
            "office_hours": w.office_hours,
            "phone": w.phone,
            "is_general": w.is_general,
        }
        for w in Window.objects.select_related("department").order_by("department__code", "name")
    ]
    themes = [
        {
            "code": t.code,
            "name": t.name,
            "audience": t.audience,
            "description": t.description,
            "sort_order": t.sort_order,
        }
        for t in Theme.objects.order_by("code")
    ]
    return {"divisions": divisions, "departments": departments, "windows": windows, "themes": themes}


# --- import ---------------------------------------------------------------


@dataclass
class DirectoryPlan:
    """The validated directory sections of a file, ready to be written."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def department_codes(self) -> set[str]:
        return {row["code"] for row in self.rows.get("departments", [])}

    @property
    def theme_codes(self) -> set[str]:
        return {row["code"] for row in self.rows.get("themes", [])}


def _problem(report: ImportReport, section: str, number: int, column: str, reason: str) -> None:
    report.errors.append(RowProblem(number, f"{section}.{column}", reason))


def validate_directory(tables: dict[str, Table], report: ImportReport) -> DirectoryPlan:
    """Check every directory row; problems go to ``report.errors`` as ``第N行 section.column：reason``."""
    plan = DirectoryPlan()
    for section in SECTIONS:
        table = tables.get(section)
        if table is None:
            continue
        missing: list[str] = [c for c in ("code", "name") if c in COLUMNS[section] and c not in table.header]
        missing += [c for c in ("department", "name") if section == "windows" and c not in table.header]
        for column in missing:
            _problem(report, section, 0, column, "缺少此列")
        if missing:
            continue
        plan.rows[section] = []
        for number, raw in table.rows:
            row = _clean_row(section, number, raw, report)
            if row is not None:
                plan.rows[section].append({**row, "_row": number})
    _check_references(plan, report)
    return plan


def _clean_row(section: str, number: int, raw: dict[str, Any], report: ImportReport) -> dict[str, Any] | None:
    """The row with its values converted; it is kept even when bad, so that references to it still check."""
    if raw.get("__invalid__"):
        _problem(report, section, number, "-", "应为对象")
        return None
    row: dict[str, Any] = {c: "" if raw.get(c) is None else str(raw.get(c)).strip() for c in COLUMNS[section]}
    key = "department" if section == "windows" else "code"
    if not row[key]:
        _problem(report, section, number, key, "不能为空")
    if not row["name"]:
        _problem(report, section, number, "name", "名称不能为空")
    for column, limit in _TEXT_LIMITS[section].items():
        if len(row[column]) > limit:
            _problem(report, section, number, column, f"长度不能超过{limit}个字符")
    _CHECKS[section](row, lambda column, reason: _problem(report, section, number, column, reason))
    return row


Complain = Callable[[str, str], None]


def _check_division(row: dict[str, Any], complain: Complain) -> None:
    if not re.fullmatch(r"[0-9]{12}", row["code"]):
        complain("code", "行政区划代码应为12位数字")
    if row["level"] not in Level.values:
        complain("level", "层级无效")


def _check_department(row: dict[str, Any], complain: Complain) -> None:
    if not re.fullmatch(r"[-a-zA-Z0-9_]{1,32}", row["code"]):
        complain("code", "部门代码只能包含字母、数字、连字符和下划线，最长32位")
    if row["level"] not in Level.values:
        complain("level", "层级无效")
    if not row["division"]:
        complain("division", "行政区划不能为空")
    row["sort_order"] = _non_negative(row["sort_order"], "sort_order", complain)


def _check_window(row: dict[str, Any], complain: Complain) -> None:
    flag = row["is_general"].lower()
    if flag not in _TRUE | _FALSE:
        complain("is_general", "应为 true 或 false")
    row["is_general"] = flag in _TRUE


def _check_theme(row: dict[str, Any], complain: Complain) -> None:
    if not re.fullmatch(r"[-a-zA-Z0-9_]{1,32}", row["code"]):
        complain("code", "主题代码只能包含字母、数字、连字符和下划线，最长32位")
    if row["audience"] not in ThemeAudience.values:
        complain("audience", "服务对象应为 person 或 organisation")
    row["sort_order"] = _non_negative(row["sort_order"], "sort_order", complain)


def _non_negative(text: str, column: str, complain: Complain) -> int:
    if not text:
        return 0
    if not text.isdigit():
        complain(column, "应为非负整数")
        return 0
    return int(text)


_CHECKS: dict[str, Callable[[dict[str, Any], Complain], None]] = {
    "divisions": _check_division,
    "departments": _check_department,
    "windows": _check_window,
    "themes": _check_theme,
}


def _check_references(plan: DirectoryPlan, report: ImportReport) -> None:
    """Parents, divisions and departments named by a row must be in the file or the database."""
    divisions = {row["code"] for row in plan.rows.get("divisions", [])}
    divisions |= directory_selectors.division_codes()
    departments = plan.department_codes | directory_selectors.department_codes()
    for row in plan.rows.get("divisions", []):
        if row["parent"] and (row["parent"] not in divisions or row["parent"] == row["code"]):
            _problem(report, "divisions", row["_row"], "parent", f"上级行政区划“{row['parent']}”不存在")
    for row in plan.rows.get("departments", []):
        if row["division"] not in divisions:
            _problem(report, "departments", row["_row"], "division", f"行政区划“{row['division']}”不存在")
        if row["parent"] and (row["parent"] not in departments or row["parent"] == row["code"]):
            _problem(report, "departments", row["_row"], "parent", f"上级部门“{row['parent']}”不存在")
    for row in plan.rows.get("windows", []):
        if row["department"] not in departments:
            _problem(report, "windows", row["_row"], "department", f"部门“{row['department']}”不存在")


def _parents_first(rows: list[dict[str, Any]], section: str, report: ImportReport) -> list[dict[str, Any]]:
    """Rows ordered so that a parent in the file comes before its children; a cycle is an error."""
    pending = {row["code"]: row for row in rows}
    ordered: list[dict[str, Any]] = []
    placed: set[str] = set()
    while pending:
        ready = [r for r in pending.values() if not r["parent"] or r["parent"] in placed or r["parent"] not in pending]
        if not ready:
            for row in pending.values():
                _problem(report, section, row["_row"], "parent", "上级关系成环")
            return []
        for row in ready:
            ordered.append(row)
            placed.add(row["code"])
            del pending[row["code"]]
    return ordered


def order_directory(plan: DirectoryPlan, report: ImportReport) -> None:
    """Put parents before children in the plan; a cycle is reported as an error of each row in it."""
    for section in ("divisions", "departments"):
        if section in plan.rows:
            plan.rows[section] = _parents_first(plan.rows[section], section, report)


def apply_directory(plan: DirectoryPlan, report: ImportReport) -> None:
    """Write the plan (inside the caller's transaction): divisions, departments, themes, then windows."""
    for row in plan.rows.get("divisions", []):
        directory_services.save_division(
            code=row["code"], name=row["name"], level=row["level"], parent_code=row["parent"] or None
        )
        report.divisions_saved += 1
    for row in plan.rows.get("departments", []):
        fields = {c: row[c] for c in COLUMNS["departments"] if c not in ("code", "division", "parent")}
        directory_services.save_department(
            code=row["code"], division_code=row["division"], parent_code=row["parent"] or None, **fields
        )
        report.departments_saved += 1
    for row in plan.rows.get("themes", []):
        services.save_theme(**{c: row[c] for c in COLUMNS["themes"]})
    departments = directory_selectors.departments_by_code({row["department"] for row in plan.rows.get("windows", [])})
    for row in plan.rows.get("windows", []):
        fields = {c: row[c] for c in COLUMNS["windows"] if c not in ("department", "name")}
        services.save_window(department=departments[row["department"]], name=row["name"], **fields)
