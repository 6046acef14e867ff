"""``yiwang audit verify``: recompute the audit log's hash chain.

Exits 0 and prints how many records were checked when the chain is intact;
exits 1 naming the first bad record's sequence when any record was edited,
deleted or added outside ``record_event``.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from yiwang.core.audit import verify_chain


class Command(BaseCommand):
    help = "Audit log tools. 'verify': check that no record was changed, removed or inserted."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        actions.add_parser("verify", help="recompute the hash chain and compare it with the chain head")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "verify":
            self.verify()

    def verify(self) -> None:
        result = verify_chain()
        if not result.ok:
            raise CommandError(
                f"审计日志校验失败：第一条异常记录的序号为 {result.first_bad_sequence}（{result.reason}）："
                f"{result.detail}；此前 {result.checked} 条记录完好",
                returncode=1,
            )
        self.stdout.write(f"审计日志完好：已校验 {result.checked} 条记录")
