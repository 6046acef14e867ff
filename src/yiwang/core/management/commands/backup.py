"""``yiwang backup DIR``: the database, the materials, the e-archive and the key store's files, with a manifest.

What is in a backup and why keys are not: :mod:`yiwang.core.backup` and docs/backup.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from yiwang.core.backup import BackupError, create_backup


class Command(BaseCommand):
    help = "Back up this instance (database, materials, e-archive, key store files) into an empty directory."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path, help="where to write the backup (absent or empty)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            manifest = create_backup(options["directory"], say=self.stdout.write)
        except BackupError as error:
            raise CommandError(str(error), returncode=1) from None
        self.stdout.write(
            f"备份完成：{len(manifest.files)} 个文件，清单 manifest.json 的 SHA-256 为 {manifest.digest}"
            "（请与备份分开记下，恢复前可据此核对清单本身）"
        )
