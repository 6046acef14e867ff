"""``yiwang pii-rotate``: re-encrypt every registered personal-data column under the active key.

Run it after putting a new key first in ``YIWANG_PII_KEYS`` (and restarting
the application, so new writes use it); remove the old key only once this
command reports nothing left to rotate. Safe to interrupt and run again.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.core.management.base import BaseCommand, CommandError, CommandParser

from yiwang.core import crypto


class Command(BaseCommand):
    help = "Re-encrypt, in batches, every registered encrypted column whose values are not under the active key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500, help="rows per transaction (default 500)")
        parser.add_argument("--dry-run", action="store_true", help="only count the values that need rotating")

    def handle(self, *args: Any, **options: Any) -> None:
        batch_size: int = options["batch_size"]
        if batch_size < 1:
            raise CommandError("--batch-size 应为正整数")
        fields = crypto.encrypted_fields()
        active = crypto.key_ring().active_kid
        self.stdout.write(f"当前加密密钥：{active}；已登记的加密字段 {len(fields)} 个")
        total = 0
        for field in fields:
            try:
                model = crypto.resolve_model(field.model_label)
                model._meta.get_field(field.field_name)
            except (LookupError, FieldDoesNotExist) as exc:
                raise CommandError(f"已登记的加密字段 {field} 不存在：{exc}") from exc
            try:
                if options["dry_run"]:
                    count = crypto.count_needing_rotation(model, field.field_name)
                else:
                    count = crypto.rotate_model_field(model, field.field_name, batch_size=batch_size)
            except crypto.DecryptionError as exc:
                raise CommandError(f"无法解密，已停止（此前的批次已提交，修复后可重新运行）：{exc}") from exc
            total += count
            verb = "待重新加密" if options["dry_run"] else "已重新加密"
            self.stdout.write(f"{field}: {verb} {count} 条")
        self.stdout.write(f"合计{'待' if options['dry_run'] else '已'}重新加密 {total} 条")
