"""``yiwang export-catalog FILE``: export the published catalogue (JSON, CSV, XLSX)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from yiwang.catalog.transfer import (
    companion_path,
    detect_format,
    export_directory,
    export_records,
    write_directory_csv,
    write_export,
)
from yiwang.core.audit import record_event

SECTION_LABELS = {"divisions": "行政区划", "departments": "部门", "windows": "办事窗口", "themes": "主题"}


class Command(BaseCommand):
    help = (
        "Export published service items with their divisions, departments, windows and themes, "
        "in a form that import-catalog reads back unchanged, also into an empty database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="output file; '-' writes JSON to standard output")
        parser.add_argument("--format", choices=["json", "csv", "xlsx"], help="default: from the file name")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        try:
            fmt = "json" if str(path) == "-" and not options["format"] else detect_format(path, options["format"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if str(path) == "-" and fmt == "xlsx":
            raise CommandError("XLSX 不能写到标准输出")
        records = export_records()
        directory = export_directory()
        data = write_export(records, fmt, directory)
        record_event(
            "data.export",
            actor_label="system:export-catalog",
            target="catalog.ServiceItem",
            detail={"format": fmt, "items": len(records), "departments": len(directory["departments"])},
        )
        if str(path) == "-":
            # CSV on standard output has nowhere to put its companion files: items only.
            self.stdout.write(data.decode("utf-8"))
            return
        path.write_bytes(data)
        if fmt == "csv":
            # CSV holds one table: the directory goes into files beside it, which import reads too.
            for section, content in write_directory_csv(directory).items():
                companion_path(path, section).write_bytes(content)
                self.stdout.write(f"已导出{SECTION_LABELS[section]}到 {companion_path(path, section)}")
        self.stdout.write(f"已导出 {len(records)} 个事项、{len(directory['departments'])} 个部门到 {path}")
