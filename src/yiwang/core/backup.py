"""Backup and restore of one instance: the database, the materials, the e-archive and the key store's files.

``yiwang backup DIR`` writes (docs/backup.md, docs/adr/0035-metrics-and-backup.md)::

    DIR/database.sqlite3     SQLite's online backup API: a consistent copy while the site runs
    DIR/database.pgdump      or, on PostgreSQL, pg_dump's custom format
    DIR/materials/...        the materials storage (filesystem storage only)
    DIR/archive/...          the e-archive's packages and Merkle log files
    DIR/keystore/...         the file key store's private keys, as stored: encrypted under its master key
    DIR/manifest.json        every file above with its size and SHA-256, the database engine, the time

The database is dumped first and the files copied after it: a file written
meanwhile is at worst one the database does not know yet (an e-archive
entry past the restored log's committed size is an "uncommitted tail" that
``archive verify`` notes and the next append cuts), never a row whose file
is missing.

Keys are *not* in a backup: the personal-data keys, the key store's master
key and ``SECRET_KEY`` come from the environment in production and are kept
apart from the data they protect; a backup restores only under the same
keys.

``yiwang restore DIR`` checks the whole manifest before it touches anything,
refuses a target that already holds data unless ``--force``, and then
verifies the audit chain and the e-archive of what it restored.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

from .keystore import DEFAULT_KEY_STORE, KEY_STORE_DIR_ENV

MANIFEST = "manifest.json"
FORMAT = "yiwang-backup/1"
SQLITE_DUMP = "database.sqlite3"
PG_DUMP = "database.pgdump"
SQLITE = "sqlite"
POSTGRESQL = "postgresql"
CHUNK = 1024 * 1024

Say = Callable[[str], None]


class BackupError(Exception):
    """A backup cannot be made, or a backup (or its target) cannot be restored; the message says which file."""


@dataclass(frozen=True)
class Manifest:
    engine: str
    created_at: str
    files: dict[str, dict[str, Any]]
    digest: str  # SHA-256 of manifest.json itself, for the operator to note down beside the backup


# --- what an instance consists of -------------------------------------------------------------


def engine() -> str:
    vendor = connection.vendor
    if vendor == "sqlite":
        return SQLITE
    if vendor == "postgresql":
        return POSTGRESQL
    raise BackupError(f"不支持备份 {vendor} 数据库（仅支持 SQLite 和 PostgreSQL）")


def file_sets() -> dict[str, Path]:
    """The directories a backup holds, by their name inside the backup."""
    materials: dict[str, Any] = settings.STORAGES["materials"]
    if materials["BACKEND"] != "django.core.files.storage.FileSystemStorage":
        raise BackupError(
            "材料存放在对象存储中（YIWANG_MATERIALS_STORAGE=s3）：请用存储桶自身的版本控制或复制备份，"
            "本命令只备份本地目录中的材料"
        )
    sets = {
        "materials": Path(materials["OPTIONS"]["location"]),
        "archive": Path(settings.YIWANG_ARCHIVE_DIR),
    }
    if settings.YIWANG_KEY_STORE == DEFAULT_KEY_STORE:
        raw = os.environ.get(KEY_STORE_DIR_ENV, "").strip()
        sets["keystore"] = Path(raw) if raw else Path(settings.VAR_DIR) / "keystore"
    return sets


def _files_under(directory: Path) -> Iterator[Path]:
    if directory.is_dir():
        yield from sorted(path for path in directory.rglob("*") if path.is_file())


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _libpq_environment() -> dict[str, str]:
    """The default database's connection as libpq variables: no password on a command line."""
    db: dict[str, Any] = dict(settings.DATABASES["default"])
    env = dict(os.environ)
    for variable, key in (("PGDATABASE", "NAME"), ("PGUSER", "USER"), ("PGPASSWORD", "PASSWORD"),
                          ("PGHOST", "HOST"), ("PGPORT", "PORT")):  # fmt: skip
        if db.get(key):
            env[variable] = str(db[key])
    if sslmode := db.get("OPTIONS", {}).get("sslmode"):
        env["PGSSLMODE"] = str(sslmode)
    return env


def _run_pg_tool(argv: list[str]) -> None:
    tool = shutil.which(argv[0])
    if tool is None:
        raise BackupError(f"找不到 {argv[0]}：请安装与数据库服务器主版本相同的 PostgreSQL 客户端（postgresql-client）")
    result = subprocess.run([tool, *argv[1:]], env=_libpq_environment(), capture_output=True, text=True)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"{argv[0]} 失败（退出码 {result.returncode}）：{result.stderr.strip()[-2000:]}")


# --- backup -----------------------------------------------------------------------------------


def create_backup(target: Path, *, say: Say = lambda line: None) -> Manifest:
    """Write a backup of this instance into ``target`` (absent or empty); return its manifest."""
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"备份目录 {target} 不是空的：请指定新的目录，已有的备份不会被覆盖")
    sets = file_sets()
    kind = engine()
    target.mkdir(parents=True, exist_ok=True)
    dump = target / (SQLITE_DUMP if kind == SQLITE else PG_DUMP)
    if kind == SQLITE:
        _sqlite_backup(dump)
    else:
        _run_pg_tool(["pg_dump", "--format=custom", "--file", str(dump)])
    say(f"数据库：{dump.name}（{dump.stat().st_size} 字节）")
    files = {dump.name: _entry(dump)}
    for name, source in sets.items():
        count = 0
        for path in _files_under(source):
            relative = f"{name}/{path.relative_to(source).as_posix()}"
            copy = target / relative
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, copy)
            files[relative] = _entry(copy)
            count += 1
        say(f"{name}：{count} 个文件")
    created_at = timezone.now().isoformat()
    manifest = {
        "format": FORMAT,
        "created_at": created_at,
        "engine": kind,
        "database": dump.name,
        "sets": sorted(sets),
        "files": files,
    }
    text = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True).encode()
    (target / MANIFEST).write_bytes(text)
    return Manifest(kind, created_at, files, hashlib.sha256(text).hexdigest())


def _entry(path: Path) -> dict[str, Any]:
    return {"size": path.stat().st_size, "sha256": sha256_of(path)}


def _sqlite_backup(dump: Path) -> None:
    """SQLite's online backup API: a consistent snapshot page by page, while writers carry on."""
    connection.ensure_connection()
    source = connection.connection
    copy = sqlite3.connect(dump)
    try:
        source.backup(copy)
        # One self-contained file: the copy leaves write-ahead logging (the live database's mode).
        copy.execute("PRAGMA journal_mode=DELETE")
    finally:
        copy.close()


# --- verify -----------------------------------------------------------------------------------


def verify_backup(source: Path) -> Manifest:
    """Check every file of the backup in ``source`` against its manifest; raise naming the first bad file."""
    manifest_path = source / MANIFEST
    try:
        text = manifest_path.read_bytes()
        data = json.loads(text)
    except FileNotFoundError:
        raise BackupError(f"{manifest_path}：没有清单文件，这不是一份完整的备份") from None
    except (OSError, ValueError) as error:
        raise BackupError(f"{manifest_path}：清单无法读取（{error}）") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("files"), dict):
        raise BackupError(f"{manifest_path}：不是本系统的备份清单（格式应为 {FORMAT}）")
    files: dict[str, dict[str, Any]] = data["files"]
    for relative, expected in sorted(files.items()):
        path = source / relative
        if ".." in Path(relative).parts or Path(relative).is_absolute():
            raise BackupError(f"{manifest_path}：清单中的路径 {relative!r} 越出了备份目录")
        if not path.is_file():
            raise BackupError(f"{path}：清单中列出的文件不存在")
        if path.stat().st_size != expected.get("size") or sha256_of(path) != expected.get("sha256"):
            raise BackupError(f"{path}：文件内容与清单中的 SHA-256 不符，备份已损坏或被改动")
    listed = set(files) | {MANIFEST}
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        if path.relative_to(source).as_posix() not in listed:
            raise BackupError(f"{path}：文件不在清单中，备份目录被改动过")
    if data.get("database") not in files:
        raise BackupError(f"{manifest_path}：清单中没有数据库文件")
    return Manifest(data["engine"], data["created_at"], files, hashlib.sha256(text).hexdigest())


# --- restore ----------------------------------------------------------------------------------


def target_problems() -> list[str]:
    """What already holds data in this instance (tables, files); empty for a fresh instance."""
    problems = []
    tables = connection.introspection.table_names()
    if tables:
        problems.append(f"数据库已有 {len(tables)} 张表")
    for name, directory in file_sets().items():
        if any(_files_under(directory)):
            problems.append(f"{name} 目录 {directory} 中已有文件")
    return problems


def restore_backup(source: Path, *, force: bool = False, say: Say = lambda line: None) -> Manifest:
    """Restore the backup in ``source`` into this instance; verified first, then only into a fresh instance.

    ``force`` replaces what the instance holds (the database's tables and
    the directories' files) instead of refusing.
    """
    manifest = verify_backup(source)
    say(f"备份清单完好：{len(manifest.files)} 个文件的 SHA-256 均已核对（清单摘要 {manifest.digest}）")
    kind = engine()
    if manifest.engine != kind:
        raise BackupError(f"这份备份来自 {manifest.engine} 数据库，不能恢复到 {kind} 数据库")
    problems = target_problems()
    if problems and not force:
        raise BackupError("目标实例不是空的：" + "；".join(problems) + "。确认要覆盖时请加 --force")
    sets = file_sets()
    dump = source / (SQLITE_DUMP if kind == SQLITE else PG_DUMP)
    if kind == SQLITE:
        _sqlite_restore(dump)
    else:
        _pg_restore(dump, clean=bool(problems))
    say(f"数据库已恢复：{dump.name}")
    for name, directory in sets.items():
        if directory.exists() and force:
            shutil.rmtree(directory)
        prefix = f"{name}/"
        restored = 0
        for relative in sorted(r for r in manifest.files if r.startswith(prefix)):
            destination = directory / relative[len(prefix) :]
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / relative, destination)
            restored += 1
        say(f"{name}：已恢复 {restored} 个文件到 {directory}")
    return manifest


def _sqlite_restore(dump: Path) -> None:
    target = settings.DATABASES["default"]["NAME"]
    connections.close_all()
    backup = sqlite3.connect(f"file:{dump}?mode=ro", uri=True)
    live = sqlite3.connect(target)
    try:
        backup.backup(live)  # replaces every page of the target: tables that were there are gone
    finally:
        live.close()
        backup.close()


def _pg_restore(dump: Path, *, clean: bool) -> None:
    connections.close_all()
    argv = ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
    if clean:
        argv += ["--clean", "--if-exists"]
    _run_pg_tool([*argv, "--dbname", str(settings.DATABASES["default"]["NAME"]), str(dump)])
