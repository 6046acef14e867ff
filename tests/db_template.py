"""A migrated and seeded test database built once, then copied for every test process.

Migrating from empty and loading the seed catalogue took most of each xdist
worker's start-up, and every worker did it again. Here the first process to
need it builds a template under a file lock (the workers start together) and
keeps it, keyed by a hash of everything that decides its content: the
database engine, Django's version and every file of the ``yiwang`` package
(migrations, seed data and the code that loads them). The other processes,
and later runs while nothing changed, copy it:

* SQLite: the template is a file; the sqlite3 backup API copies it into the
  worker's in-memory test database. Its schema comes from
  :func:`migrated_sqlite_var_dir`, the suite's one ``yiwang migrate`` from
  empty on SQLite, which the tests that start real ``yiwang`` processes copy
  too.
* PostgreSQL: the template is a database ``<name>_tpl_<hash>``; each worker's
  test database is ``CREATE DATABASE … TEMPLATE`` of it.

A change to any source file means a new hash, so a stale template is never
used; the build itself is a plain ``migrate`` plus ``load_seed()``, exactly
what the fixture did before.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import django

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "src" / "yiwang"
CACHE_DIR = Path(tempfile.gettempdir()) / "yiwang-test-db"
# Templates of other source states are removed once they have not been used for this long.
STALE_AFTER_SECONDS = 2 * 24 * 3600


def content_key(engine: str) -> str:
    """A hash of the engine, Django's version and every file under src/yiwang."""
    digest = hashlib.sha256(f"{engine}\0{django.get_version()}\0".encode())
    for path in sorted(PACKAGE_DIR.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(PACKAGE_DIR)).encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@contextmanager
def file_lock(name: str) -> Iterator[None]:
    """An exclusive lock shared by every process on this machine (xdist workers start together)."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with (CACHE_DIR / f"{name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def prepare_test_database(seed: Callable[[], None], *, verbosity: int = 0) -> Callable[[], None]:
    """Give this process a migrated, seeded test database; returns the teardown."""
    from django.db import connections

    connection = connections["default"]
    engine = connection.vendor
    if engine == "sqlite":
        return _prepare_sqlite(seed, verbosity)
    if engine == "postgresql":
        return _prepare_postgresql(seed, verbosity)
    return _build_in_place(seed, verbosity)  # another engine: no template, the plain way


def _build_in_place(seed: Callable[[], None], verbosity: int) -> Callable[[], None]:
    from django.test.utils import setup_databases, teardown_databases

    config = setup_databases(verbosity=verbosity, interactive=False, aliases={"default": {}}, serialized_aliases=set())
    seed()
    return lambda: teardown_databases(config, verbosity=verbosity)


def _point_at_test_database(test_name: str) -> str:
    """Switch the default connection to ``test_name`` as Django's create_test_db does; returns the old name."""
    from django.conf import settings
    from django.db import connections

    connection = connections["default"]
    old_name: str = connection.settings_dict["NAME"]
    connection.close()
    settings.DATABASES["default"]["NAME"] = test_name
    connection.settings_dict["NAME"] = test_name
    return old_name


def _destroyer(old_name: str, verbosity: int) -> Callable[[], None]:
    from django.db import connections

    return lambda: connections["default"].creation.destroy_test_db(old_name, verbosity)


# --- SQLite -----------------------------------------------------------------------------------------


def _prepare_sqlite(seed: Callable[[], None], verbosity: int) -> Callable[[], None]:
    from django.db import connections

    connection: Any = connections["default"]
    key = content_key("sqlite")
    template = CACHE_DIR / f"sqlite-{key}.sqlite3"
    with file_lock("sqlite"):
        if not template.exists():
            # The schema from the one ``yiwang migrate`` of this source state (migrated_sqlite_var_dir), then the seed.
            teardown = _copy_into_test_database(migrated_sqlite_var_dir() / "yiwang.sqlite3", verbosity)
            seed()
            partial = template.with_suffix(f".{os.getpid()}.part")
            with sqlite3.connect(partial) as target:
                connection.ensure_connection()
                connection.connection.backup(target)
            target.close()
            partial.replace(template)  # atomic: nobody ever sees half a template
            _remove_stale("sqlite-*", keep=template)  # older templates, and parts of interrupted builds
            return teardown
    os.utime(template)
    return _copy_into_test_database(template, verbosity)


def _copy_into_test_database(source: Path, verbosity: int) -> Callable[[], None]:
    """Point the default connection at its test database and fill that with a copy of the SQLite file ``source``."""
    from django.db import connections

    connection: Any = connections["default"]
    old_name = _point_at_test_database(connection.creation._get_test_db_name())
    if not connection.is_in_memory_db():
        # A file test database (TEST NAME set): start it empty, the backup fills it.
        Path(connection.settings_dict["NAME"]).unlink(missing_ok=True)
    connection.ensure_connection()
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as reader:
        reader.backup(connection.connection)
    reader.close()
    return _destroyer(old_name, verbosity)


def _yiwang_migrate(var_dir: Path, *, database_url: str | None) -> None:
    """``yiwang migrate --noinput`` in a process of its own, on ``database_url`` or else var_dir's SQLite file."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "YIWANG_MODE", "STATIC_ROOT"}}
    env.update(YIWANG_VAR_DIR=str(var_dir), DJANGO_SETTINGS_MODULE="yiwang.settings")
    if database_url:
        env["DATABASE_URL"] = database_url
    command = [str(Path(sys.executable).with_name("yiwang")), "migrate", "--noinput"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"`yiwang migrate` from empty failed:\n{result.stdout}\n{result.stderr}")


def migrated_sqlite_var_dir() -> Path:
    """A ``YIWANG_VAR_DIR`` that ``yiwang migrate --noinput`` filled from empty on SQLite, built once per source state.

    Migrating from empty costs about a minute of CPU (most of it Django rebuilding its model states between
    operations), and the suite did it five times on SQLite: for this template, the worker kill test, the
    two-platform and three-node tests and the browser tests' snapshot. They all start from copies of this
    directory now (its database, and the secret and OIDC keys the settings made beside it); the command
    that builds it is the one ``make run`` runs, so a migration that fails from empty still fails the suite.
    Callers copy it; nothing may write into it.
    """
    import shutil

    key = content_key("sqlite")
    var_dir = CACHE_DIR / f"migrated-{key}"
    with file_lock("migrated"):
        if not var_dir.exists():
            partial = CACHE_DIR / f"migrated-{key}.{os.getpid()}.part"
            shutil.rmtree(partial, ignore_errors=True)
            try:
                _yiwang_migrate(partial, database_url=None)
            except RuntimeError:
                shutil.rmtree(partial, ignore_errors=True)
                raise
            partial.replace(var_dir)  # atomic: nobody ever sees half a directory
            for stale in CACHE_DIR.glob("migrated-*"):
                if stale != var_dir and stale.stat().st_mtime < time.time() - STALE_AFTER_SECONDS:
                    shutil.rmtree(stale, ignore_errors=True)
    os.utime(var_dir)
    return var_dir


def _remove_stale(pattern: str, *, keep: Path) -> None:
    cutoff = time.time() - STALE_AFTER_SECONDS
    for path in CACHE_DIR.glob(pattern):
        if path != keep and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)


# --- PostgreSQL -------------------------------------------------------------------------------------


def _prepare_postgresql(seed: Callable[[], None], verbosity: int) -> Callable[[], None]:
    from django.db import connections

    connection: Any = connections["default"]
    test_name: str = connection.creation._get_test_db_name()
    base = str(connection.settings_dict["NAME"])[:40]
    template = f"{base}_tpl_{content_key('postgresql')}"
    # Cloning needs the template free of sessions, and two clones at once can collide: hold the lock.
    with file_lock(f"postgresql-{base}"):
        if not _pg_database_exists(template):
            # The schema from the one ``yiwang migrate`` of this source state (migrated_postgresql_database).
            _pg_admin(f'DROP DATABASE IF EXISTS "{test_name}" WITH (FORCE)')  # left by an interrupted run
            migrated_postgresql_database(os.environ["DATABASE_URL"], test_name)  # what the settings read
            old_name = _point_at_test_database(test_name)
            seed()
            connection.close()
            built = test_name
            _pg_admin(f'CREATE DATABASE "{template}" TEMPLATE "{built}"')
            for (stale,) in _pg_admin_rows("SELECT datname FROM pg_database WHERE datname LIKE %s", [f"{base}_tpl_%"]):
                if stale != template:
                    _pg_admin(f'DROP DATABASE IF EXISTS "{stale}" WITH (FORCE)')
            return _destroyer(old_name, verbosity)
        _pg_admin(f'DROP DATABASE IF EXISTS "{test_name}" WITH (FORCE)')  # left by an interrupted run
        _pg_admin(f'CREATE DATABASE "{test_name}" TEMPLATE "{template}"')
    old_name = _point_at_test_database(test_name)
    return _destroyer(old_name, verbosity)


def migrated_postgresql_database(url: str, name: str) -> None:
    """Create database ``name`` on ``url``'s server as a copy of one that ``yiwang migrate`` filled from empty.

    As :func:`migrated_sqlite_var_dir` on SQLite: the database ``<url's name>_mig_<hash>`` is migrated by the
    ``yiwang migrate`` command once per source state and kept; the unit tests' template, the worker kill test
    and the browser tests' snapshot are ``CREATE DATABASE … TEMPLATE`` copies of it.
    """
    import shutil

    import psycopg

    server, base = url.split("?", 1)[0].rsplit("/", 1)
    base = base[:40]
    template = f"{base}_mig_{content_key('postgresql')}"
    admin_url = server + "/postgres"

    def admin(sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            cursor = connection.execute(sql, params)
            return list(cursor.fetchall()) if cursor.description else []

    # Cloning needs the template free of sessions, and two clones at once can collide: hold the lock.
    with file_lock(f"postgresql-migrated-{base}"):
        if not admin("SELECT 1 FROM pg_database WHERE datname = %s", [template]):
            partial = f"{template}_part"
            admin(f'DROP DATABASE IF EXISTS "{partial}" WITH (FORCE)')
            admin(f'CREATE DATABASE "{partial}"')
            var_dir = Path(tempfile.mkdtemp(prefix="yiwang-migrate-"))
            try:
                _yiwang_migrate(var_dir, database_url=f"{server}/{partial}")
            except RuntimeError:
                admin(f'DROP DATABASE IF EXISTS "{partial}" WITH (FORCE)')
                raise
            finally:
                shutil.rmtree(var_dir, ignore_errors=True)
            admin(f'ALTER DATABASE "{partial}" RENAME TO "{template}"')  # nobody ever copies half a schema
            for (stale,) in admin("SELECT datname FROM pg_database WHERE datname LIKE %s", [f"{base}\\_mig\\_%"]):
                if stale != template:
                    admin(f'DROP DATABASE IF EXISTS "{stale}" WITH (FORCE)')
        admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


def _pg_admin_rows(sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    from django.db import connections

    # The maintenance database, as Django itself uses to create and drop test databases.
    with connections["default"]._nodb_cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall()) if cursor.description else []


def _pg_admin(sql: str) -> None:
    _pg_admin_rows(sql)


def _pg_database_exists(name: str) -> bool:
    return bool(_pg_admin_rows("SELECT 1 FROM pg_database WHERE datname = %s", [name]))


# Search vectors depend only on the model and the text embedded, not on the source hash.
VECTOR_CACHE = CACHE_DIR / "search-vectors.npz"


def restore_search_vectors() -> None:
    """Load the search vectors kept by an earlier template build (see :func:`keep_search_vectors`)."""
    import numpy as np

    from yiwang.catalog.models import SearchVector

    if not VECTOR_CACHE.exists():
        return
    with np.load(VECTOR_CACHE) as cached:
        rows = [
            SearchVector(digest=str(d), vector=v.tobytes())
            for d, v in zip(cached["digests"], cached["vectors"], strict=True)
        ]
    SearchVector.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)


def keep_search_vectors() -> None:
    """Keep every stored search vector in a file beside the templates, for the next template build."""
    import numpy as np

    from yiwang.catalog.models import SearchVector

    rows = list(SearchVector.objects.values_list("digest", "vector"))
    if not rows:
        return
    digests = np.array([d for d, _ in rows])
    vectors = np.vstack([np.frombuffer(bytes(v), dtype=np.float32) for _, v in rows])
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    partial = VECTOR_CACHE.with_suffix(".tmp.npz")
    np.savez(partial, digests=digests, vectors=vectors)
    partial.replace(VECTOR_CACHE)
