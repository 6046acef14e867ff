"""``yiwang backup`` and ``yiwang restore`` end to end, on SQLite and on PostgreSQL.

A seeded instance (the demo city: cases, uploaded materials, a sealed e-archive, the audit chain) is backed
up and restored into a fresh instance, another var directory and database, under the same keys (which come
from the environment, as in production, and are never in a backup). Each instance runs as processes of its
own, as an operator's commands would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.db_template import migrated_postgresql_database, migrated_sqlite_var_dir

from .conftest import BLIND_INDEX_KEY, KEY_1

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
KEY_STORE_KEY = "sHVWkb4fqKu6RZYfc4Rc5g=="
# Variables of the test run that must not reach an instance: it is described by its own.
CLEARED = ("DATABASE_URL", "YIWANG_VAR_DIR", "YIWANG_ARCHIVE_DIR", "YIWANG_KEY_STORE_DIR", "PROMETHEUS_MULTIPROC_DIR")


@dataclass
class Instance:
    """One Yiwang instance: a var directory and a database, driven through ``python -m yiwang.cli``."""

    var_dir: Path
    database_url: str | None
    env: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in CLEARED}
        env.update(
            YIWANG_VAR_DIR=str(self.var_dir),
            DJANGO_SETTINGS_MODULE="yiwang.settings",
            PYTHONPATH=os.pathsep.join([str(REPO / "src"), str(REPO)]),
            YIWANG_PII_KEYS=KEY_1,
            YIWANG_BLIND_INDEX_KEY=BLIND_INDEX_KEY,
            YIWANG_KEY_STORE_KEY=KEY_STORE_KEY,
            YIWANG_EMBEDDED_WORKER="0",
        )
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        self.env = env

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *argv], env=self.env, cwd=REPO, capture_output=True, text=True, timeout=900
        )

    def yiwang(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return self.run("-m", "yiwang.cli", *argv)

    def probe(self) -> dict[str, object]:
        result = self.run("-m", "tests.core.backup_support", "probe")
        assert result.returncode == 0, result.stderr
        described: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
        return described


class Databases:
    """Fresh databases for one test run: SQLite files in var directories, or PostgreSQL databases of their own."""

    def __init__(self, engine: str, base: Path, server_url: str = "") -> None:
        self.engine = engine
        self.base = base
        self.server_url = server_url
        self.created: list[str] = []

    def instance(self, name: str, *, migrated: bool = False) -> Instance:
        """A new instance; ``migrated``: with the suite's one migrated schema (tests/db_template.py), else empty."""
        var_dir = self.base / name
        var_dir.mkdir(parents=True)
        if self.engine == "sqlite":
            if migrated:
                shutil.copyfile(migrated_sqlite_var_dir() / "yiwang.sqlite3", var_dir / "yiwang.sqlite3")
            return Instance(var_dir, None)
        database = f"yw_backup_{name}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        if migrated:
            migrated_postgresql_database(self.server_url, database)
        else:
            self._admin(f'CREATE DATABASE "{database}"')
        self.created.append(database)
        return Instance(var_dir, f"{_server_of(self.server_url)}/{database}")

    def drop_all(self) -> None:
        for database in self.created:
            self._admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    def _admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(_server_of(self.server_url) + "/postgres", autocommit=True, connect_timeout=5) as conn:
            conn.execute(statement)  # type: ignore[arg-type]  (a name made above, not user input)


def _server_of(url: str) -> str:
    """``postgresql://user@host:port`` of a database URL (its maintenance database is ``postgres``)."""
    return url.split("?", 1)[0].rsplit("/", 1)[0]


def _postgresql_reachable(url: str) -> bool:
    import psycopg

    try:
        psycopg.connect(_server_of(url) + "/postgres", connect_timeout=3).close()
    except psycopg.Error:
        return False
    return True


def _suite_on_postgresql() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def databases(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    """Each engine runs in its own pass of `make test` (each pass once, not twice), or by hand with PG_URL set."""
    engine = request.param
    if engine == "sqlite":
        if _suite_on_postgresql():
            pytest.skip("backup and restore on SQLite run in the SQLite pass")
        yield Databases(engine, tmp_path_factory.mktemp("backup-sqlite"))
        return
    server_url = os.environ["DATABASE_URL"] if _suite_on_postgresql() else os.environ.get("PG_URL", "")
    if not server_url:
        pytest.skip("SKIPPED: backup and restore on PostgreSQL run in the PostgreSQL pass, or with PG_URL set")
    if not _postgresql_reachable(server_url):
        message = f"PostgreSQL is not reachable at {server_url}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + "; CI must run backup and restore on PostgreSQL")
        pytest.skip(f"SKIPPED: backup and restore on PostgreSQL: {message} (set PG_URL)")
    dbs = Databases(engine, tmp_path_factory.mktemp("backup-postgresql"), server_url)
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="module")
def backed_up(databases: Databases) -> tuple[Instance, Path, dict[str, object]]:
    """A seeded instance, its backup directory (made while nothing else runs) and its probe."""
    source = databases.instance("source", migrated=True)
    seeded = source.run("-m", "tests.core.backup_support", "seed")
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    backup_dir = databases.base / "backup"
    made = source.yiwang("backup", str(backup_dir))
    assert made.returncode == 0, made.stderr[-3000:]
    assert "备份完成" in made.stdout
    return source, backup_dir, source.probe()


def test_a_backup_restores_into_a_fresh_instance_with_its_cases_materials_audit_chain_and_archive(
    databases: Databases, backed_up: tuple[Instance, Path, dict[str, object]]
) -> None:
    _source, backup_dir, before = backed_up
    manifest = json.loads((backup_dir / "manifest.json").read_text())
    database_file = "database.sqlite3" if databases.engine == "sqlite" else "database.pgdump"
    assert manifest["engine"] == databases.engine and manifest["database"] == database_file
    assert any(name.startswith("materials/") for name in manifest["files"])
    assert any(name.startswith("archive/") for name in manifest["files"])
    assert before["cases"] and before["archive_entries"]

    fresh = databases.instance("restored")
    restored = fresh.yiwang("restore", str(backup_dir))
    assert restored.returncode == 0, restored.stdout + restored.stderr[-3000:]
    assert "备份清单完好" in restored.stdout
    assert "审计日志完好" in restored.stdout
    assert "电子档案完整" in restored.stdout

    after = fresh.probe()
    assert after == before  # the cases, a material's very bytes, the decrypted applicant, audit and archive
    material_hash = before["material"]
    assert isinstance(material_hash, list) and material_hash[1] == material_hash[2]

    # Restoring again into the now populated instance is refused, and leaves it as it was.
    again = fresh.yiwang("restore", str(backup_dir))
    assert again.returncode == 1
    assert "目标实例不是空的" in again.stderr and "--force" in again.stderr
    forced = fresh.yiwang("restore", "--force", str(backup_dir))
    assert forced.returncode == 0, forced.stderr[-3000:]
    assert fresh.probe() == before


def test_a_corrupted_backup_is_refused_naming_the_file_before_anything_is_touched(
    databases: Databases, backed_up: tuple[Instance, Path, dict[str, object]], tmp_path: Path
) -> None:
    _source, backup_dir, _before = backed_up
    damaged = tmp_path / "damaged"
    shutil.copytree(backup_dir, damaged)
    manifest = json.loads((damaged / "manifest.json").read_text())
    material = next(name for name in sorted(manifest["files"]) if name.startswith("materials/"))
    data = bytearray((damaged / material).read_bytes())
    data[len(data) // 2] ^= 0x01
    (damaged / material).write_bytes(bytes(data))

    fresh = databases.instance("untouched")
    refused = fresh.yiwang("restore", str(damaged))
    assert refused.returncode == 1
    assert f"{damaged / material}：文件内容与清单中的 SHA-256 不符" in refused.stderr
    # Nothing was restored: no material directory, and the database still has no tables.
    assert not (fresh.var_dir / "materials").exists()
    empty = fresh.run(
        "-c",
        "import django; django.setup(); from django.db import connection; "
        "print(len(connection.introspection.table_names()))",
    )
    assert empty.stdout.strip().splitlines()[-1] == "0", empty.stderr

    # A file that the manifest does not list, and a missing one, are named too.
    (damaged / material).write_bytes(bytes(data[: len(data) // 2]))
    (damaged / material).unlink()
    missing = fresh.yiwang("restore", str(damaged))
    assert missing.returncode == 1 and f"{damaged / material}：清单中列出的文件不存在" in missing.stderr
    shutil.copyfile(backup_dir / material, damaged / material)
    (damaged / "materials" / "extra.pdf").write_bytes(b"%PDF-1.4 not from this backup")
    extra = fresh.yiwang("restore", str(damaged))
    assert extra.returncode == 1 and f"{damaged / 'materials' / 'extra.pdf'}：文件不在清单中" in extra.stderr


def test_backup_refuses_a_directory_that_is_not_empty(
    databases: Databases, backed_up: tuple[Instance, Path, dict[str, object]]
) -> None:
    source, backup_dir, _before = backed_up
    result = source.yiwang("backup", str(backup_dir))
    assert result.returncode == 1
    assert "不是空的" in result.stderr
