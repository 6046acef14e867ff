"""``yiwang seed``: load the demo catalogue and demo accounts."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from yiwang.demo.services import load_demo


class Command(BaseCommand):
    help = "Load (or refresh) the seed catalogue and, outside production, the demo accounts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-accounts", action="store_true", help="load the catalogue only")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            load_demo(accounts=not options["no_accounts"], say=self.stdout.write)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
