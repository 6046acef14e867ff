"""``yiwang calendar``: look at and enter the working-day calendar.

``yiwang calendar show 2027`` lists every date that departs from Monday–Friday
and says whether the year is known. ``yiwang calendar import 2027 --csv
2027.csv --source "国务院办公厅关于2027年部分节假日安排的通知"`` reads one row per
date (``date,is_working_day,name``; a header row is optional), checks every
row before writing anything, replaces the year's entries and confirms the
year, so deadlines in it stop being provisional.
"""

from __future__ import annotations

import csv
import datetime as dt
import getpass
import re
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from yiwang.core import calendar, services

DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
WORKING = {"1", "true", "yes", "y", "是", "上班", "工作日"}
RESTING = {"0", "false", "no", "n", "否", "休息", "休息日"}
WEEKDAYS = "一二三四五六日"


def parse_rows(lines: list[list[str]]) -> tuple[list[services.CalendarEntry], list[int], list[str]]:
    """Turn CSV rows into entries; returns the entries, the line number of each, and the format problems."""
    entries: list[services.CalendarEntry] = []
    line_numbers: list[int] = []
    problems: list[str] = []
    for number, row in enumerate(lines, start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if not entries and not problems and cells[0].lower().lstrip("\ufeff") == "date":
            continue  # the header row
        if len(cells) not in (2, 3):
            problems.append(f"第 {number} 行：应有 2 或 3 列（date,is_working_day,name），实有 {len(cells)} 列")
            continue
        raw_date, raw_working = cells[0], cells[1]
        name = cells[2] if len(cells) == 3 else ""
        day = None
        if DATE_RE.fullmatch(raw_date):
            try:
                day = dt.date.fromisoformat(raw_date)
            except ValueError:
                day = None
        if day is None:
            problems.append(f"第 {number} 行：日期 {raw_date!r} 无效，应为 YYYY-MM-DD")
        working = raw_working.lower()
        if working not in WORKING | RESTING:
            problems.append(f"第 {number} 行：is_working_day 应为 1/0、true/false 或 上班/休息，实为 {raw_working!r}")
        if day is not None and working in WORKING | RESTING:
            entries.append(services.CalendarEntry(day=day, is_working_day=working in WORKING, name=name))
            line_numbers.append(number)
    return entries, line_numbers, problems


def _console_label() -> str:
    try:
        user = getpass.getuser()
    except (OSError, KeyError, ImportError):
        user = "unknown"
    return f"console:{user}"


class Command(BaseCommand):
    help = (
        "Working-day calendar. 'show YEAR': the year's holidays and adjusted working days; "
        "'import YEAR --csv FILE --source TEXT': enter a year from the State Council's notice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        show = actions.add_parser("show", help="list the dates that depart from Monday–Friday")
        show.add_argument("year", type=int)
        load = actions.add_parser("import", help="replace a year's entries from a CSV file and confirm the year")
        load.add_argument("year", type=int)
        load.add_argument("--csv", required=True, dest="csv_file", help="rows of date,is_working_day,name")
        load.add_argument("--source", required=True, help="the notice the dates come from")

    def handle(self, *args: Any, **options: Any) -> None:
        year = options["year"]
        if not 1 <= year <= 9998:
            raise CommandError(f"年份无效：{year}")
        if options["action"] == "show":
            self.show(year)
        else:
            self.import_year(year, Path(options["csv_file"]), options["source"])

    def show(self, year: int) -> None:
        status = calendar.year_status(year)
        if status.state == "library":
            self.stdout.write(f"{year} 年：已知（日历库 {status.source}）")
        elif status.state == "confirmed":
            self.stdout.write(f"{year} 年：已知（管理员录入，依据：{status.source}）")
        else:
            self.stdout.write(
                f"{year} 年：未知，期限按周一至周五计算并标为暂定；"
                f"请按国务院通知运行 yiwang calendar import {year} 录入"
            )
        entries = calendar.year_entries(year)
        if not entries:
            self.stdout.write("（没有节假日或调休记录）")
        for entry in entries:
            state = "上班" if entry.is_working_day else "休息"
            origin = "管理员录入" if entry.source == "admin" else "日历库"
            name = f" {entry.name}" if entry.name else ""
            weekday = WEEKDAYS[entry.date.weekday()]
            self.stdout.write(f"{entry.date.isoformat()} 星期{weekday} {state}{name}（{origin}）")

    def import_year(self, year: int, path: Path, source: str) -> None:
        try:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                rows = list(csv.reader(handle))
        except OSError as error:
            raise CommandError(f"无法读取文件 {path}：{error.strerror or error}") from error
        except (UnicodeDecodeError, csv.Error) as error:
            raise CommandError(f"文件 {path} 不是 UTF-8 编码的 CSV：{error}") from error
        entries, line_numbers, problems = parse_rows(rows)
        problems += [f"第 {line_numbers[i]} 行：{message}" for i, message in services.entry_problems(year, entries)]
        year_problem = services.calendar_year_problem(year, source)
        if year_problem:
            problems.insert(0, year_problem)
        if not entries and not problems:
            problems.append("文件中没有任何日期")
        if problems:
            raise CommandError("导入失败，未写入任何数据：\n" + "\n".join(problems))
        try:
            services.import_calendar_year(
                actor=None, actor_label=_console_label(), year=year, entries=entries, source=source
            )
        except services.CalendarError as error:
            raise CommandError("\n".join([error.detail, *error.problems])) from error
        resting = sum(1 for entry in entries if not entry.is_working_day)
        self.stdout.write(
            f"已导入 {year} 年：{len(entries)} 个日期（休息 {resting} 天，上班 {len(entries) - resting} 天），"
            f"依据：{source.strip()}；该年的期限不再是暂定"
        )
