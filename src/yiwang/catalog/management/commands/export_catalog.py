"""``yiwang export-catalog FILE``: export the published catalogue (JSON, CSV, XLSX)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from yiwang.catalog.transfer import detect_format, export_records, write_export
from yiwang.core.audit import record_event


class Command(BaseCommand):
    help = "Export published service items in a form that import-catalog reads back unchanged."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="output file; '-' writes JSON to standard output")
        parser.add_argument("--format", choices=["json", "csv", "xlsx"], help="default: from the file name")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        try:
            fmt = "json" if str(path) == "-" and not options["format"] else detect_format(path, options["format"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        records = export_records()
        data = write_export(records, fmt)
        record_event(
            "data.export",
            actor_label="system:export-catalog",
            target="catalog.ServiceItem",
            detail={"format": fmt, "items": len(records)},
        )
        if str(path) == "-":
            self.stdout.write(data.decode("utf-8"))
            return
        path.write_bytes(data)
        self.stdout.write(f"已导出 {len(records)} 个事项到 {path}")
