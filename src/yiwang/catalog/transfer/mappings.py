"""Column mappings: foreign list layouts turned into catalogue records.

The provincial layout (``sichuan``) names each item's implementing department
twice: by name (``department``) and by code (``deptCode``). The code decides;
the credit code inside ``itemCode`` does not, because a 行政审批局 or a
税务局 lists items whose codes carry another body's credit code.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from yiwang.core.identifiers import credit_code_problem

from ..constants import Level
from ..records import Problem
from .report import FILE_ROW, RowProblem

Rows = list[tuple[int, dict[str, str]]]


@dataclass
class MappingContext:
    """What a mapping learns from the whole file before converting its rows."""

    departments: dict[str, dict[str, str]] = field(default_factory=dict)
    department_of: dict[tuple[str, str], str] = field(default_factory=dict)
    warnings: list[RowProblem] = field(default_factory=list)


@dataclass
class Mapping:
    """How to turn the rows of a foreign layout into records."""

    name: str
    description: str
    columns: tuple[str, ...]
    prepare: Callable[[Rows, MappingContext], None]
    convert: Callable[[dict[str, str], MappingContext], tuple[dict[str, Any], list[Problem]]]
    creates_departments: bool = False


# The provincial site lists a department's sub-units as ``<code>_<n>``; they are the department itself.
_SUB_UNIT_RE = re.compile(r"^(?P<base>.+)_[0-9]+$")
# A department code becomes part of a slug (``imp-<code>``, at most 32 characters).
_DEPT_CODE_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z-]{0,27}$", re.ASCII)


def _dept_key(row: dict[str, str]) -> tuple[str, str]:
    """(area, department code without its sub-unit suffix) of a row; the code is empty when unusable."""
    raw = (row.get("deptCode") or "").strip()
    match = _SUB_UNIT_RE.match(raw)
    base = match["base"] if match else raw
    return (row.get("areaCode") or "").strip(), base if _DEPT_CODE_RE.match(base) else ""


@dataclass
class _Unit:
    first_row: int
    rows: int = 0
    names: Counter[str] = field(default_factory=Counter)
    raw_codes: set[str] = field(default_factory=set)


def _canonical(codes: list[str], units: dict[tuple[str, str], _Unit], area: str) -> str:
    """The code a department is known by: a valid credit code first, else the one with the most items."""
    credit = [c for c in codes if credit_code_problem(c.upper()) is None]
    if credit:
        return credit[0]
    return max(codes, key=lambda c: (units[(area, c)].rows, -units[(area, c)].first_row))


def _sichuan_prepare(rows: Rows, context: MappingContext) -> None:
    """Find the departments of the file: one per ``deptCode``, with codes of the same name in one area merged.

    Codes that differ only by a ``_<n>`` suffix, or that carry the same
    department name in the same area, are one department listed under
    several codes; each merge is reported as a warning.
    """
    units: dict[tuple[str, str], _Unit] = {}
    for number, row in rows:
        key = _dept_key(row)
        if not key[1]:
            continue
        unit = units.setdefault(key, _Unit(first_row=number))
        unit.rows += 1
        unit.names[(row.get("department") or "").strip()] += 1
        unit.raw_codes.add((row.get("deptCode") or "").strip())
    by_name: dict[tuple[str, str], list[str]] = {}
    for (area, code), unit in units.items():
        name, _count = unit.names.most_common(1)[0]
        if len(unit.names) > 1:
            others = "、".join(sorted(n for n in unit.names if n != name))
            context.warnings.append(
                RowProblem(unit.first_row, "department", f"部门代码{code}另有名称“{others}”，按“{name}”导入")
            )
        by_name.setdefault((area, name), []).append(code)
    for (area, name), codes in by_name.items():
        chosen = _canonical(codes, units, area)
        department_code = f"imp-{chosen.lower()}"
        all_raw = sorted(set().union(*(units[(area, c)].raw_codes for c in codes)))
        if len(all_raw) > 1:
            context.warnings.append(
                RowProblem(
                    FILE_ROW,
                    "deptCode",
                    f"“{name}”在清单中有多个部门代码（{'、'.join(all_raw)}），合并为部门 {department_code}",
                )
            )
        context.departments[department_code] = {
            "name": name,
            "credit_code": chosen.upper() if credit_code_problem(chosen.upper()) is None else "",
            "division": area or "000000000000",
        }
        for code in codes:
            context.department_of[(area, code)] = department_code


def _sichuan_row(row: dict[str, str], context: MappingContext) -> tuple[dict[str, Any], list[Problem]]:
    """One row of the provincial list as a record; the department is the one of its ``deptCode``."""
    area = (row.get("areaCode") or "").strip()
    problems = []
    department = context.department_of.get(_dept_key(row), "")
    if not department:
        problems.append(Problem("deptCode", "部门代码为空或含有字母、数字、连字符以外的字符"))
    elif not (row.get("department") or "").strip():
        problems.append(Problem("department", "部门名称不能为空"))
    record = {
        "code": (row.get("itemCode") or "").strip(),
        "name": (row.get("name") or "").strip(),
        "kind": (row.get("taskType") or "").strip(),
        "department": department,
        "division_code": area,
        "level": Level.COUNTY if area.endswith("000000") and not area.endswith("00000000") else "",
        "audience": "both",
    }
    return record, problems


MAPPINGS = {
    "sichuan": Mapping(
        name="sichuan",
        description="四川政务服务网事项清单（department, name, itemCode, taskType, areaCode, deptCode）",
        columns=("department", "name", "itemCode", "taskType", "areaCode", "deptCode"),
        prepare=_sichuan_prepare,
        convert=_sichuan_row,
        creates_departments=True,
    ),
}
