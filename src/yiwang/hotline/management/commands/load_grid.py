"""``yiwang load-grid FILE --department CODE``: load the city's grid cells from GeoJSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from yiwang.hotline import services
from yiwang.hotline.geometry.shapes import GridDataError


class Command(BaseCommand):
    help = "从 GeoJSON 加载网格（Load grid cells from a GeoJSON FeatureCollection）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "file", type=Path, help="GeoJSON FeatureCollection; properties code, name, worker, department"
        )
        parser.add_argument(
            "--department", required=True, help="the department code for cells whose data names no department"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CommandError(f"无法读取文件 {path}: {error.strerror}") from error
        try:
            report = services.load_grid(data, department_code=options["department"])
        except (GridDataError, services.HotlineError) as error:
            raise CommandError(getattr(error, "message", str(error))) from error
        self.stdout.write(f"网格：新增 {report.created}，更新 {report.updated}，停用 {report.deactivated}")
