"""Shared fixtures.

Every test process starts from a test database that already holds the seed
catalogue, copied from a template built once (tests/db_template.py); tests
that change it run in a transaction that is rolled back, so they all see the
same catalogue.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

SHARED_DIR = Path(__file__).resolve().parents[2] / "shared"
if not SHARED_DIR.exists():  # a checkout with shared/ beside the repository root
    SHARED_DIR = Path(__file__).resolve().parents[1].parent / "shared"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the ``slow`` tests (real servers and workers, tens of seconds each) first.

    With ``-n 2`` the first tests are dealt to the workers in turn, so the long
    ones start at once on both and the short ones fill in around them, instead
    of one long test keeping a worker busy after the other has finished.
    """
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: otherwise in order


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED_DIR.exists():
        pytest.skip("../shared/ is not beside this checkout; the shared data sets are needed for this test")
    return SHARED_DIR


@pytest.fixture(scope="session")
def django_db_setup(
    request: pytest.FixtureRequest,
    django_test_environment: None,
    django_db_blocker: Any,
    django_db_use_migrations: bool,
    django_db_keepdb: bool,
    django_db_modify_db_settings: None,
) -> Iterator[None]:
    """A test database with the seed catalogue, copied from a template built once (tests/db_template.py).

    ``--reuse-db`` and ``--nomigrations`` keep pytest-django's own way, then load the seed.
    """
    from yiwang.catalog.demo import load_seed
    from yiwang.catalog.search.engine import catalog_search

    from .db_template import keep_search_vectors, prepare_test_database, restore_search_vectors

    def seed() -> None:
        load_seed()
        # Embed the seed catalogue once into the template (SearchVector rows), so that every test
        # process builds its search index from stored vectors instead of running the model over it;
        # the vectors also outlive the template (which any source change rebuilds) in a file beside it.
        restore_search_vectors()
        catalog_search.rebuild()
        keep_search_vectors()

    verbosity = request.config.option.verbose
    with django_db_blocker.unblock():
        if django_db_keepdb or not django_db_use_migrations:
            teardown = _pytest_django_setup(request, django_db_use_migrations, django_db_keepdb, seed)
        else:
            teardown = prepare_test_database(seed, verbosity=max(verbosity, 0))
        catalog_search.reset()
    yield
    with django_db_blocker.unblock():
        teardown()


def _pytest_django_setup(
    request: pytest.FixtureRequest, use_migrations: bool, keepdb: bool, seed: Callable[[], None]
) -> Callable[[], None]:
    from django.test.utils import setup_databases, teardown_databases
    from pytest_django.fixtures import _disable_migrations

    if not use_migrations:
        _disable_migrations()
    config = setup_databases(verbosity=request.config.option.verbose, interactive=False, keepdb=keepdb)
    seed()
    return (lambda: None) if keepdb else (lambda: teardown_databases(config, verbosity=request.config.option.verbose))


@pytest.fixture
def fresh_search_index() -> Iterator[None]:
    """For tests that change the catalogue: their changes are rolled back, so the index must be too."""
    from yiwang.catalog.search.engine import catalog_search

    catalog_search.reset()
    yield
    catalog_search.reset()


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """Every test starts in the site's language (Simplified Chinese), whatever an earlier test in the same
    worker activated: a request with another Accept-Language leaves it active in the thread."""
    from django.utils import translation

    translation.activate(django_settings.LANGUAGE_CODE)
    yield
    translation.activate(django_settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: pytest.FixtureRequest) -> None:
    # Argon2 is deliberately slow; tests that check hashing itself ask for it explicitly.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # type: ignore[attr-defined]


@pytest.fixture
def api_client() -> Client:
    return Client()


def on_postgresql() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
