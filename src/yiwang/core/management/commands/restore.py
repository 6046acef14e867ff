"""``yiwang restore DIR``: restore a backup into a fresh instance, then verify its audit chain and e-archive.

The manifest is checked (every file's SHA-256) before anything is touched; an
instance that already holds data is refused unless ``--force``. Afterwards
``yiwang audit verify`` and ``yiwang archive verify`` run on what was
restored, and a failure of either fails the command (exit status 1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from yiwang.core.backup import BackupError, restore_backup


class Command(BaseCommand):
    help = "Restore a backup made by 'yiwang backup' into this (fresh) instance and verify it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path, help="a backup written by 'yiwang backup'")
        parser.add_argument(
            "--force", action="store_true", help="replace the data this instance holds instead of refusing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            restore_backup(options["directory"], force=options["force"], say=self.stdout.write)
        except BackupError as error:
            raise CommandError(str(error), returncode=1) from None
        # By name, not by import: the e-archive belongs to the licences app, above the core.
        call_command("audit", "verify", stdout=self.stdout, stderr=self.stderr)
        call_command("archive", "verify", stdout=self.stdout, stderr=self.stderr)
        self.stdout.write("恢复完成，审计日志与电子档案均已校验。")
