"""``yiwang seed``: load the demo catalogue and demo accounts."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from yiwang.catalog.seeding import load_seed


class Command(BaseCommand):
    help = "Load (or refresh) the seed catalogue and, outside production, the demo accounts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-accounts", action="store_true", help="load the catalogue only")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = load_seed()
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"目录：{report.departments} 个部门，新增事项 {report.items_created}，更新 {report.items_updated}，"
            f"未变 {report.items_unchanged}，一件事 {report.bundles}"
        )
        from yiwang.hotline.seeding import load_dispatch_rules

        self.stdout.write(f"12345 派单规则：新增 {load_dispatch_rules()} 条")
        if options["no_accounts"]:
            return
        if settings.PRODUCTION:
            self.stdout.write("生产模式下不创建演示账户。")
            return
        from yiwang.accounts.demo import create_demo_accounts

        for account in create_demo_accounts():
            self.stdout.write(f"演示账户：{account}")
        from yiwang.cases.demo import create_demo_cases

        for case in create_demo_cases():
            self.stdout.write(f"演示办件：{case}")
        from yiwang.hotline.demo import create_demo_orders

        for order in create_demo_orders():
            self.stdout.write(f"演示工单：{order}")
