"""``yiwang mine-search-phrases``: mine people's words for catalogue words from real text (offline).

Reads item lists (CSV with a ``name`` column, such as the Sichuan list) and
12345 messages with official replies (the TipDM layout: 留言主题, 留言详情,
答复意见), and writes ``catalog/search/data/mined_synonyms.tsv``, which the
search index reads. The product ships only the written file.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from yiwang.catalog.search import mining
from yiwang.catalog.search.index import DATA_DIR

# Columns of the hotline files whose text is read, in the order they are joined into one document.
_TEXT_COLUMNS = ("留言主题", "留言详情", "答复意见")


def _read_names(paths: list[Path]) -> list[str]:
    names: list[str] = []
    for path in paths:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            names.extend(row["name"] for row in csv.DictReader(handle) if row.get("name"))
    return names


def _read_documents(paths: list[Path]) -> list[str]:
    documents = []
    for path in paths:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            for row in csv.DictReader(handle):
                document = " ".join(row[c] for c in _TEXT_COLUMNS if row.get(c))
                if document:
                    documents.append(document)
    return documents


class Command(BaseCommand):
    help = "Mine colloquial phrasings for catalogue words from item lists and 12345 messages with replies."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--items", type=Path, action="append", required=True, help="item list CSV (name column)")
        parser.add_argument(
            "--hotline", type=Path, required=True, help="directory of 12345 CSV files (留言主题, 留言详情, 答复意见)"
        )
        parser.add_argument("--out", type=Path, default=DATA_DIR / "mined_synonyms.tsv")
        parser.add_argument("--min-npmi", type=float, default=0.25)
        parser.add_argument("--min-cosine", type=float, default=0.90)

    def handle(self, *args: Any, **options: Any) -> None:
        hotline: Path = options["hotline"]
        if not hotline.is_dir():
            raise CommandError(f"{hotline} is not a directory")
        names = _read_names(options["items"])
        documents = _read_documents(sorted(hotline.glob("*.csv")))
        if not names or not documents:
            raise CommandError("no item names or no hotline text found")
        pairs = mining.mine(names, documents, min_npmi=options["min_npmi"], min_cosine=options["min_cosine"])
        header = (
            "Mined by `yiwang mine-search-phrases` (catalog/search/mining.py): people's word <TAB> catalogue words.\n"
            f"From {len(names)} item names and {len(documents)} 12345 messages/replies; "
            f"min_npmi={options['min_npmi']} min_cosine={options['min_cosine']}. Do not edit: regenerate."
        )
        options["out"].write_text(mining.render(pairs, header), encoding="utf-8")
        self.stdout.write(
            f"{len(pairs)} pairs for {len({p.phrase for p in pairs})} phrases written to {options['out']}"
        )
