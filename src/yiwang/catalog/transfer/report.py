"""What an import found: every error and warning with its row and field, and how it ended."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field

# Row 0 stands for the file as a whole (its encoding, its header): such a
# problem is reported once, not on every row it affects.
FILE_ROW = 0


@dataclass
class RowProblem:
    row: int
    field: str
    reason: str

    def __str__(self) -> str:
        where = "文件" if self.row == FILE_ROW else f"第{self.row}行"
        return f"{where} {self.field}：{self.reason}"


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    departments_created: int = 0
    divisions_saved: int = 0
    departments_saved: int = 0
    errors: list[RowProblem] = field(default_factory=list)
    warnings: list[RowProblem] = field(default_factory=list)
    applied: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, object]:
        return {
            "applied": self.applied,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "departments_created": self.departments_created,
            "divisions_saved": self.divisions_saved,
            "departments_saved": self.departments_saved,
            "errors": [asdict(p) for p in self.errors],
            "warnings": [asdict(p) for p in self.warnings],
        }


class ImportRejected(Exception):
    def __init__(self, report: ImportReport) -> None:
        super().__init__(f"{len(report.errors)} 处错误，未导入任何数据")
        self.report = report


def write_report(report: ImportReport, fmt: str) -> bytes:
    """Every error and warning of ``report`` as JSON (with the totals) or as CSV (one problem a line)."""
    if fmt == "json":
        return json.dumps(report.as_dict(), ensure_ascii=False, indent=2).encode("utf-8")
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["severity", "row", "field", "reason"])
    for severity, problems in (("error", report.errors), ("warning", report.warnings)):
        for problem in problems:
            writer.writerow([severity, problem.row, problem.field, problem.reason])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
