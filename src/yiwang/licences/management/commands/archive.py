"""``yiwang archive``: check the e-archive (``verify``) or seal what is missing (``seal``).

``yiwang archive verify`` recomputes every package's SM3 digest, checks each
entry's leaf and inclusion proof against the latest signed tree head, the
consistency between every two successive tree heads and every tree head's
SM2 signature. It prints one line per finding, naming the case or order
number and the leaf index, and exits with status 1 when there is any
(0 when the archive is whole).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from yiwang.licences import archive_verify, services


class Command(BaseCommand):
    help = "Verify the e-archive (packages, Merkle log, signed tree heads), or seal finished cases not archived yet."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["verify", "seal"], help="verify: check everything; seal: catch up")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "seal":
            made = services.archive_finished_cases()
            for entry in made:
                self.stdout.write(f"已归档：#{entry.leaf_index} {entry.kind} {entry.ref}")
            self.stdout.write(f"新归档 {len(made)} 项。")
            return
        report = archive_verify.verify_archive()
        for note in report.notes:
            self.stdout.write(f"注意：{note}")
        for finding in report.findings:
            self.stderr.write(f"错误：{finding}")
        summary = (
            f"日志大小 {report.size}，检查条目 {report.entries_checked} 项，"
            f"签名树头 {report.tree_heads_checked} 个，发现问题 {len(report.findings)} 处。"
        )
        if not report.ok:
            raise CommandError(summary, returncode=1)
        self.stdout.write(f"电子档案完整。{summary}")
