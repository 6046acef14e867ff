"""``yiwang import-catalog FILE``: batch import of service items (JSON, CSV, XLSX)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from yiwang.catalog.transfer import (
    MAPPINGS,
    SECTIONS,
    ImportRejected,
    ImportReport,
    RowProblem,
    companion_path,
    detect_format,
    import_catalog,
    write_report,
)

SHOWN_WARNINGS = 50


class Command(BaseCommand):
    help = "Import service items; every row is validated first and the file is applied all or nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--format", choices=["json", "csv", "xlsx"], help="default: from the file name")
        parser.add_argument("--dry-run", action="store_true", help="only validate and report; change nothing")
        parser.add_argument("--mapping", choices=sorted(MAPPINGS), help="column mapping of a foreign layout")
        parser.add_argument(
            "--report", type=Path, help="write every error and warning to this file (.json or .csv), also on failure"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        report_path: Path | None = options["report"]
        if report_path is not None and report_path.suffix.lower() not in (".json", ".csv"):
            raise CommandError("--report 的文件名应以 .json 或 .csv 结尾")
        if not path.is_file():
            raise CommandError(f"文件不存在：{path}")
        report = ImportReport()
        try:
            fmt = detect_format(path, options["format"])
            companions = self._companions(path) if fmt == "csv" and not options["mapping"] else {}
            import_catalog(
                path.read_bytes(),
                fmt,
                dry_run=options["dry_run"],
                mapping=options["mapping"],
                companions=companions,
                report=report,
            )
        except ImportRejected:
            self._write_report(report, report_path)
            for problem in report.errors:
                self.stderr.write(str(problem))
            raise CommandError(f"{len(report.errors)} 处错误，未导入任何数据") from None
        except ValueError as exc:
            self._write_report(report, report_path, failure=str(exc))
            raise CommandError(str(exc)) from exc
        self._write_report(report, report_path)
        self._summarise(report, dry_run=options["dry_run"], report_path=report_path)

    def _companions(self, path: Path) -> dict[str, bytes]:
        """A CSV export's directory files beside it (``catalogue.departments.csv`` …), where present."""
        found = {}
        for section in SECTIONS:
            companion = companion_path(path, section)
            if companion.is_file():
                found[section] = companion.read_bytes()
                self.stdout.write(f"同时读取 {companion.name}")
        return found

    @staticmethod
    def _write_report(report: ImportReport, report_path: Path | None, failure: str = "") -> None:
        if report_path is None:
            return
        if failure:
            # The file itself could not be read: that is the report's one error.
            report.errors.append(RowProblem(0, "文件", failure))
        report_path.write_bytes(write_report(report, report_path.suffix.lower().lstrip(".")))

    def _summarise(self, report: ImportReport, *, dry_run: bool, report_path: Path | None) -> None:
        for warning in report.warnings[:SHOWN_WARNINGS]:
            self.stdout.write(f"提示：{warning}")
        if len(report.warnings) > SHOWN_WARNINGS:
            hidden = len(report.warnings) - SHOWN_WARNINGS
            where = f"见 {report_path}" if report_path else "用 --report FILE 可取得全部提示"
            self.stdout.write(f"……另有 {hidden} 条提示（{where}）")
        if dry_run:
            self.stdout.write(f"试运行：{report.rows} 行全部有效，未写入。")
            return
        self.stdout.write(
            f"已导入 {report.rows} 行：新增 {report.created}，更新 {report.updated}，未变 {report.unchanged}，"
            f"新建部门 {report.departments_created}"
        )
        if report.departments_saved or report.divisions_saved:
            self.stdout.write(f"行政区划 {report.divisions_saved} 个、部门 {report.departments_saved} 个已写入")
