"""``yiwang assistant vectors`` and ``yiwang assistant purge``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "智能客服：vectors 生成随代码发布的事项向量（种子目录）；purge 删除未同意保存且已过期的会话。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["vectors", "purge"])

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "vectors":
            from yiwang.assistant.recognise import PACKAGED_VECTORS, write_packaged_vectors

            count = write_packaged_vectors()
            self.stdout.write(f"{count} passages -> {PACKAGED_VECTORS}")
        else:
            from yiwang.assistant.services import purge_expired

            self.stdout.write(f"{purge_expired()} conversations purged")
