"""Shared set-up for benchmarks: a throw-away database with the seed catalogue."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


def django_with_seed(*, seed: bool = True, migrate: bool = True) -> None:
    """Point Django at a fresh SQLite file (unless DATABASE_URL is set), migrate and seed.

    ``migrate=False`` for a process that plays a server worker over a database another one has set up:
    a worker never loads the migrations, and their graph would count in its memory.
    """
    os.environ.setdefault("YIWANG_VAR_DIR", tempfile.mkdtemp(prefix="yiwang-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yiwang.settings")
    sys.path.insert(0, str(REPO / "src"))
    import django

    django.setup()
    from django.core.management import call_command

    if migrate:
        call_command("migrate", verbosity=0, interactive=False)
    if seed:
        from yiwang.catalog.demo import load_seed

        load_seed()


def bench(name: str, value: float, unit: str) -> None:
    print(f"BENCH {name} {value:.4g} {unit}", flush=True)
