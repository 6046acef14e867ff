"""Shared fixtures.

The seed catalogue is loaded once per test session into the test database
(``seeded_db``); tests that change it run in a transaction that is rolled
back, so they all see the same catalogue.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client

SHARED_DIR = Path(__file__).resolve().parents[2] / "shared"
if not SHARED_DIR.exists():  # a checkout with shared/ beside the repository root
    SHARED_DIR = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED_DIR.exists():
        pytest.skip("../shared/ is not beside this checkout; the shared data sets are needed for this test")
    return SHARED_DIR


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> Iterator[None]:  # type: ignore[type-arg]
    """Load the seed catalogue once into the session's test database."""
    from yiwang.catalog.demo import load_seed
    from yiwang.catalog.search.engine import catalog_search

    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        load_seed()
        catalog_search.reset()
    yield


@pytest.fixture
def fresh_search_index() -> Iterator[None]:
    """For tests that change the catalogue: their changes are rolled back, so the index must be too."""
    from yiwang.catalog.search.engine import catalog_search

    catalog_search.reset()
    yield
    catalog_search.reset()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: pytest.FixtureRequest) -> None:
    # Argon2 is deliberately slow; tests that check hashing itself ask for it explicitly.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # type: ignore[attr-defined]


@pytest.fixture
def api_client() -> Client:
    return Client()


def on_postgresql() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
