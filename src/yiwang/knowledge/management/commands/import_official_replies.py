"""``yiwang import-official-replies FILE --department CODE --actor USERNAME``: official replies to citizens'
messages (a CSV with 留言编号, 留言主题, 答复意见 and 答复时间) as published 官方答复 entries.

Run by a platform administrator, who is recorded as publisher (one audit record per import). Running it
again with the same file changes nothing. The vectors of the new entries are computed at the end, in
batches (``--skip-vectors`` leaves them to the worker).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from yiwang.knowledge import services

REQUIRED_COLUMNS = ("留言编号", "留言主题", "答复意见")
DATE_COLUMN = "答复时间"


def _date(value: str) -> dt.date | None:
    text = value.strip().split(" ")[0]
    for pattern in ("%Y/%m/%d", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(text, pattern).date()  # noqa: DTZ007 (a calendar date, no time of day)
        except ValueError:
            continue
    return None


def read_replies(path: Path) -> list[services.OfficialReply]:
    """The replies of a CSV file; raises CommandError, in Chinese, for a file that is not such a CSV."""
    if not path.is_file():
        raise CommandError(f"文件不存在：{path}")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CommandError(f"{path} 不是 UTF-8 编码的 CSV 文件") from error
    reader = csv.DictReader(io.StringIO(text))
    missing = [column for column in REQUIRED_COLUMNS if column not in (reader.fieldnames or [])]
    if missing:
        raise CommandError(f"{path} 缺少列：{'、'.join(missing)}（需要 {'、'.join(REQUIRED_COLUMNS)}）")
    try:
        return [
            services.OfficialReply(
                number=(row.get("留言编号") or "").strip()[:60],
                title=row.get("留言主题") or "",
                answer=row.get("答复意见") or "",
                replied_on=_date(row.get(DATE_COLUMN) or ""),
            )
            for row in reader
        ]
    except csv.Error as error:
        raise CommandError(f"{path} 第 {reader.line_num} 行无法读取：{error}") from error


class Command(BaseCommand):
    help = "Import official replies (CSV: 留言编号, 留言主题, 答复意见, 答复时间) as published 官方答复 entries."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--department", required=True, help="code of the department the replies belong to")
        parser.add_argument("--actor", required=True, help="username of the platform administrator importing")
        parser.add_argument("--skip-vectors", action="store_true", help="leave the sentence vectors to the worker")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = get_user_model().objects.filter(username=options["actor"], is_active=True).first()
        if actor is None:
            raise CommandError(f"用户不存在或已停用：{options['actor']}")
        replies = read_replies(options["file"])
        try:
            report = services.import_official_replies(
                replies, department_code=options["department"], actor=actor, source_name=options["file"].name
            )
        except services.KnowledgeError as error:
            raise CommandError(error.message) from error
        self.stdout.write(
            f"已导入：新增 {report.created}，更新 {report.updated}，未变 {report.unchanged}，跳过 {report.skipped}"
        )
        if not options["skip_vectors"]:
            embedded = services.store_missing_vectors(say=lambda done: self.stdout.write(f"已计算向量 {done} 条"))
            self.stdout.write(f"向量：{embedded} 条")
