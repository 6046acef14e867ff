"""``yiwang seed``: load the demo catalogue and demo accounts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from yiwang.catalog import demo as catalog_demo
from yiwang.demo.services import load_demo


class Command(BaseCommand):
    help = "Load (or refresh) the seed catalogue and, outside production, the demo accounts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-accounts", action="store_true", help="load the catalogue only")
        parser.add_argument(
            "--export-search-vectors",
            metavar="FILE",
            help="after loading, embed every text the search reads and write the vectors to FILE "
            "(how src/yiwang/catalog/seed/search-vectors.npz is made when the seed catalogue changes)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            load_demo(accounts=not options["no_accounts"], say=self.stdout.write)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options["export_search_vectors"]:
            count = catalog_demo.export_seed_vectors(Path(options["export_search_vectors"]))
            self.stdout.write(f"{count} search vectors written to {options['export_search_vectors']}")
