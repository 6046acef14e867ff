"""``yiwang import-catalog FILE``: batch import of service items (JSON, CSV, XLSX)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from yiwang.catalog.transfer import MAPPINGS, ImportRejected, detect_format, import_catalog


class Command(BaseCommand):
    help = "Import service items; every row is validated first and the file is applied all or nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--format", choices=["json", "csv", "xlsx"], help="default: from the file name")
        parser.add_argument("--dry-run", action="store_true", help="only validate and report; change nothing")
        parser.add_argument("--mapping", choices=sorted(MAPPINGS), help="column mapping of a foreign layout")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"文件不存在：{path}")
        try:
            fmt = detect_format(path, options["format"])
            report = import_catalog(path.read_bytes(), fmt, dry_run=options["dry_run"], mapping=options["mapping"])
        except ImportRejected as rejected:
            for problem in rejected.report.errors:
                self.stderr.write(str(problem))
            raise CommandError(f"{len(rejected.report.errors)} 处错误，未导入任何数据") from None
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        for warning in report.warnings[:50]:
            self.stdout.write(f"提示：{warning}")
        if len(report.warnings) > 50:
            self.stdout.write(f"……另有 {len(report.warnings) - 50} 条提示")
        if options["dry_run"]:
            self.stdout.write(f"试运行：{report.rows} 行全部有效，未写入。")
        else:
            self.stdout.write(
                f"已导入 {report.rows} 行：新增 {report.created}，更新 {report.updated}，未变 {report.unchanged}，"
                f"新建部门 {report.departments_created}"
            )
