"""Batch exchange (前置库): providers that cannot answer online drop files; the platform checks and loads them.

The front directory (``YIWANG_EXCHANGE_FRONT_DIR``) has four folders:

* ``inbox/`` — where a provider drops a batch: its data files first, the
  manifest (``*.manifest.json``, format in :mod:`.batch_formats`) last;
* ``work/<token>/`` — a batch the platform has taken in (:func:`scan`);
* ``done/<token>/`` — loaded, or a duplicate of a loaded batch;
* ``quarantine/<token>/`` — rejected or given up, with ``REASON.txt``.

:func:`load` takes one batch through every check — manifest, provider
department, checksums (SM3 or SHA-256), row counts, sequence, columns against
the resource catalogue and the provider table, every row's values — and then
upserts the rows by their natural key into the table the data service reads,
all in one transaction: a batch is loaded whole or not at all. Re-loading the
same content changes nothing (the rows compare equal and count as unchanged;
a batch whose sequence number was loaded before with the same checksums is
recorded as a duplicate and not read again). A transient failure (the
database or the file system hiccups) is retried with the outbox's backoff; a
batch that keeps failing is quarantined.

The worker runs it on a schedule (:func:`ensure_scheduled`: a chain of
``exchange.batch_scan`` events, one every ``YIWANG_EXCHANGE_BATCH_SCAN_SECONDS``),
and ``yiwang exchange load-batches`` runs it at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connections, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.core import crypto, leasing, outbox
from yiwang.core.audit import record_event
from yiwang.directory import selectors as directory_selectors

from . import batch_formats as formats
from .batch_formats import BatchRejected, Manifest, Schema
from .constants import Backend, SubjectKind
from .models import (
    Batch,
    BatchSchedule,
    CreditRecord,
    DataService,
    EnterpriseRecord,
    HouseholdRecord,
    MarriageRecord,
    RealEstateRecord,
    Resource,
    SocialInsuranceRecord,
)
from .services import person_index

if TYPE_CHECKING:
    from yiwang.core.models import OutboxEvent

logger = logging.getLogger("yiwang.exchange.batches")

SCAN_TOPIC = "exchange.batch_scan"
LOAD_TOPIC = "exchange.batch_load"
SCHEDULE_NAME = "front"
LOADED_EVENT = "exchange.batch_loaded"
REJECTED_EVENT = "exchange.batch_rejected"
# A batch whose predecessor is still being taken in waits this long before it is looked at again.
WAIT_FOR_PREDECESSOR = dt.timedelta(seconds=30)
# Failures worth trying again: the database or the file system, not the batch.
TRANSIENT: tuple[type[BaseException], ...] = (OperationalError, InterfaceError, OSError)
FETCH_CHUNK = 500
WRITE_CHUNK = 1000
FINISHED = (Batch.Status.LOADED, Batch.Status.DUPLICATE, Batch.Status.REJECTED, Batch.Status.FAILED)


class WaitForPredecessor(Exception):
    """The batch before this one is taken in but not loaded yet: look again later."""


def front_dir(override: str | Path | None = None) -> Path | None:
    """The front directory, or None when batch exchange is off (nothing configured)."""
    value = override if override is not None else settings.YIWANG_EXCHANGE_FRONT_DIR
    return Path(value) if value else None


def _folders(front: Path) -> dict[str, Path]:
    folders = {name: front / name for name in ("inbox", "work", "done", "quarantine")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    return folders


# --- taking batches in ----------------------------------------------------------------------------------


def scan(front: Path) -> list[int]:
    """Take in every complete batch of the inbox (its manifest is there); return the new batches' ids.

    Each batch's files move to ``work/<token>/`` and a :class:`Batch` is
    recorded (received) with a load event; a batch left in ``work/`` without
    a record (the process stopped between the two) is recorded too.
    """
    folders = _folders(front)
    taken: list[int] = []
    for manifest_path in sorted(folders["inbox"].glob(f"*{formats.MANIFEST_SUFFIX}")):
        if manifest_path.is_symlink() or not manifest_path.is_file():
            logger.warning("front directory: %s is not a regular file; left where it is", manifest_path.name)
            continue
        token = secrets.token_hex(8)
        target = folders["work"] / token
        target.mkdir()
        moved = _move_batch_files(manifest_path, target)
        try:
            taken.append(_record_received(front, token, target))
        except Exception:
            for path in moved:
                path.rename(folders["inbox"] / path.name)
            target.rmdir()
            raise
    known = set(Batch.objects.values_list("token", flat=True))
    for orphan in sorted(folders["work"].iterdir()):
        if orphan.is_dir() and orphan.name not in known and any(orphan.glob(f"*{formats.MANIFEST_SUFFIX}")):
            taken.append(_record_received(front, orphan.name, orphan))
    return taken


def _move_batch_files(manifest_path: Path, target: Path) -> list[Path]:
    data = formats.peek_manifest(manifest_path.read_bytes())
    names = [entry.get("name") for entry in data.get("files", []) if isinstance(entry, dict)] if data else []
    moved = []
    for name in names:
        if isinstance(name, str) and formats.FILE_NAME_RE.fullmatch(name):
            source = manifest_path.parent / name
            if source.is_file() and not source.is_symlink():
                source.rename(target / name)
                moved.append(target / name)
    manifest_path.rename(target / manifest_path.name)
    moved.append(target / manifest_path.name)
    return moved


def _record_received(front: Path, token: str, folder: Path) -> int:
    manifest_path = next(folder.glob(f"*{formats.MANIFEST_SUFFIX}"))
    data = formats.peek_manifest(manifest_path.read_bytes())
    department_code = str(data.get("department") or "")[:40]
    resource_code = str(data.get("resource") or "")[:40]
    sequence = data.get("sequence")
    with transaction.atomic():
        batch = Batch.objects.create(
            token=token,
            front=str(front.resolve())[:500],
            manifest_name=manifest_path.name[:200],
            department=directory_selectors.department_by_code(department_code) if department_code else None,
            department_code=department_code,
            resource=Resource.objects.filter(code=resource_code).first() if resource_code else None,
            resource_code=resource_code,
            sequence=sequence
            if isinstance(sequence, int) and not isinstance(sequence, bool) and sequence > 0
            else None,
        )
        outbox.publish(LOAD_TOPIC, {"batch_id": batch.pk})
    return batch.pk


# --- loading one batch ----------------------------------------------------------------------------------


@dataclass
class Counts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


def load(batch_id: int) -> Batch | None:
    """Check and load one batch, in one transaction; record how it ended. Returns the batch (None if unknown).

    A finished batch, or one not yet due for another try, is left as it is.
    """
    now = timezone.now()
    with transaction.atomic():
        batch = Batch.objects.select_for_update().filter(pk=batch_id).first()
        if batch is None or batch.status in FINISHED or batch.next_attempt_at > now:
            return batch
        base = Path(batch.front)
        try:
            with transaction.atomic():
                counts = _check_and_load(batch, base / "work" / batch.token)
        except BatchRejected as refusal:
            _finish(batch, base, Batch.Status.REJECTED, refusal.code, refusal.reason)
        except WaitForPredecessor as waiting:
            batch.last_error = str(waiting)
            batch.next_attempt_at = now + WAIT_FOR_PREDECESSOR
            batch.save(update_fields=["last_error", "next_attempt_at"])
            outbox.publish(LOAD_TOPIC, {"batch_id": batch.pk}, delay=WAIT_FOR_PREDECESSOR)
        except TRANSIENT as error:
            _retry(batch, base, error)
        else:
            if counts is None:
                _finish(batch, base, Batch.Status.DUPLICATE, "duplicate", _("该批次此前已入库，内容相同，未重复加载"))
            else:
                batch.rows_inserted, batch.rows_updated, batch.rows_unchanged = (
                    counts.inserted,
                    counts.updated,
                    counts.unchanged,
                )
                _finish(batch, base, Batch.Status.LOADED, "", "")
    return batch


def _retry(batch: Batch, base: Path, error: BaseException) -> None:
    batch.attempts += 1
    batch.last_error = f"{type(error).__name__}: {error}"[:2000]
    if batch.attempts >= leasing.MAX_ATTEMPTS:
        reason = _("%(count)s次尝试均失败，最近一次：%(error)s") % {"count": batch.attempts, "error": batch.last_error}
        _finish(batch, base, Batch.Status.FAILED, "gave_up", reason)
        return
    delay = leasing.backoff(batch.attempts)
    batch.next_attempt_at = timezone.now() + delay
    batch.save(update_fields=["attempts", "last_error", "next_attempt_at"])
    outbox.publish(LOAD_TOPIC, {"batch_id": batch.pk}, delay=delay)
    logger.warning("batch %s: attempt %s failed, retry in %s: %s", batch.pk, batch.attempts, delay, error)


def _finish(batch: Batch, base: Path, status: str, code: str, reason: str) -> None:
    batch.status = status
    batch.reason_code = code
    batch.reason = reason
    batch.finished_at = timezone.now()
    batch.save()
    record_event(
        LOADED_EVENT if status in (Batch.Status.LOADED, Batch.Status.DUPLICATE) else REJECTED_EVENT,
        target=f"exchange.Batch:{batch.pk}",
        detail={
            "resource": batch.resource_code,
            "department": batch.department_code,
            "sequence": batch.sequence,
            "status": status,
            "reason_code": code,
            "inserted": batch.rows_inserted,
            "updated": batch.rows_updated,
            "unchanged": batch.rows_unchanged,
        },
    )
    folder = "done" if status in (Batch.Status.LOADED, Batch.Status.DUPLICATE) else "quarantine"
    token = batch.token
    transaction.on_commit(lambda: _file_away(base, token, folder, reason))


def _file_away(base: Path, token: str, folder: str, reason: str) -> None:
    source = base / "work" / token
    if not source.is_dir():
        return
    target = base / folder / token
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(source), str(target))
    if reason and folder == "quarantine":
        (target / "REASON.txt").write_text(reason + "\n", encoding="utf-8")


def _check_and_load(batch: Batch, folder: Path) -> Counts | None:
    """Every check, then the rows; BatchRejected for the first check that fails. None: a duplicate batch."""
    manifests = sorted(folder.glob(f"*{formats.MANIFEST_SUFFIX}")) if folder.is_dir() else []
    if not manifests:
        raise BatchRejected("missing_file", _("批次目录中没有清单文件"))
    manifest = formats.parse_manifest(manifests[0].read_bytes())
    resource = Resource.objects.select_related("department").filter(code=manifest.resource, active=True).first()
    if resource is None:
        raise BatchRejected(
            "unknown_resource", _("信息资源目录中没有在用的资源 %(code)s") % {"code": manifest.resource}
        )
    batch.resource, batch.resource_code = resource, resource.code
    if manifest.department != resource.department.code:
        raise BatchRejected(
            "department_mismatch",
            _("清单所列部门 %(given)s 不是资源 %(code)s 的提供部门 %(owner)s")
            % {"given": manifest.department, "code": resource.code, "owner": resource.department.code},
        )
    batch.department = resource.department
    batch.sequence = manifest.sequence
    batch.files = [{"name": f.name, "rows": f.rows, "algorithm": f.algorithm} for f in manifest.files]
    _check_files(folder, manifest)
    batch.digest = manifest.digest[:600]
    batch.rows_total = sum(f.rows for f in manifest.files)
    batch.verified_at = timezone.now()
    if _check_sequence(batch, resource, manifest):
        return None
    service = DataService.objects.filter(resource=resource, active=True).order_by("id").first()
    if service is None or service.backend not in formats.SCHEMAS:
        raise BatchRejected("no_provider_table", _("资源 %(code)s 没有对应的提供部门数据表") % {"code": resource.code})
    schema = formats.SCHEMAS[service.backend]
    formats.check_catalogue(schema, list(resource.fields.values_list("key", flat=True)))
    rows = _read_batch(folder, manifest, schema)
    batch.status = Batch.Status.VERIFIED
    return _upsert(schema, rows)


def _check_files(folder: Path, manifest: Manifest) -> None:
    for entry in manifest.files:
        path = folder / entry.name
        if not path.is_file() or path.is_symlink():
            raise BatchRejected(
                "missing_file", _("清单所列数据文件 %(name)s 不存在或不是普通文件") % {"name": entry.name}
            )
        actual = formats.file_checksum(path, entry.algorithm)
        if actual != entry.checksum:
            raise BatchRejected(
                "bad_checksum",
                _("数据文件 %(name)s 的%(algorithm)s校验值为 %(actual)s，与清单所列 %(given)s 不符")
                % {"name": entry.name, "algorithm": entry.algorithm.upper(), "actual": actual, "given": entry.checksum},
            )


def _check_sequence(batch: Batch, resource: Resource, manifest: Manifest) -> bool:
    """True for a duplicate of a loaded batch; BatchRejected for a reused number or a gap; wait for a predecessor."""
    loaded = Batch.objects.filter(resource=resource, status=Batch.Status.LOADED).exclude(pk=batch.pk)
    same = loaded.filter(sequence=manifest.sequence).first()
    if same is not None:
        if same.digest == manifest.digest[:600]:
            return True
        raise BatchRejected(
            "sequence_reused",
            _("资源 %(code)s 的第%(seq)s批已于 %(at)s 入库，内容不同；请使用新的批次序号")
            % {
                "code": resource.code,
                "seq": manifest.sequence,
                "at": timezone.localtime(same.finished_at or same.received_at),
            },
        )
    last = loaded.aggregate(last=models.Max("sequence"))["last"] or 0
    expected = last + 1
    if manifest.sequence == expected:
        return False
    if manifest.sequence < expected:
        raise BatchRejected(
            "sequence_reused",
            _("资源 %(code)s 已入库至第%(last)s批，第%(seq)s批来得太晚")
            % {"code": resource.code, "last": last, "seq": manifest.sequence},
        )
    pending = Batch.objects.filter(
        resource_code=resource.code,
        sequence__gte=expected,
        sequence__lt=manifest.sequence,
        status__in=(Batch.Status.RECEIVED, Batch.Status.VERIFIED),
    ).exclude(pk=batch.pk)
    if pending.exists():
        raise WaitForPredecessor(f"waiting for batch {expected} of {resource.code}")
    raise BatchRejected(
        "sequence_gap",
        _("资源 %(code)s 应接收第%(expected)s批，收到的是第%(seq)s批（中间缺批次），请先补发缺少的批次")
        % {"code": resource.code, "expected": expected, "seq": manifest.sequence},
    )


def _read_batch(folder: Path, manifest: Manifest, schema: Schema) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    """Every row of every file, checked; BatchRejected naming the first bad rows (file and line)."""
    problems: list[str] = []
    rows: list[tuple[tuple[str, ...], dict[str, Any]]] = []
    seen: dict[tuple[str, ...], str] = {}
    for entry in manifest.files:
        path = folder / entry.name
        formats.check_utf8(path)
        if entry.format == "csv":
            formats.check_columns(schema, entry.name, formats.csv_header(path))
        count = 0
        for line, row, columns in formats.read_rows(path, entry.format):
            if count == 0 and entry.format != "csv":
                formats.check_columns(schema, entry.name, columns)
            count += 1
            checked = _check_row(schema, entry.name, line, row, columns, seen)
            if isinstance(checked, str):
                problems.append(checked)
                if len(problems) >= formats.MAX_ROW_PROBLEMS:
                    break
            else:
                rows.append(checked)
        if len(problems) >= formats.MAX_ROW_PROBLEMS:
            break
        if count != entry.rows:
            raise BatchRejected(
                "row_count_mismatch",
                _("数据文件 %(name)s 有%(count)s行数据，清单所列为%(rows)s行")
                % {"name": entry.name, "count": count, "rows": entry.rows},
            )
    if problems:
        raise BatchRejected(
            "invalid_row", _("有数据行不合规，整批未加载：%(problems)s") % {"problems": "；".join(problems)}
        )
    return rows


def _check_row(
    schema: Schema,
    file_name: str,
    line: int,
    row: dict[str, str] | None,
    columns: list[str],
    seen: dict[tuple[str, ...], str],
) -> tuple[tuple[str, ...], dict[str, Any]] | str:
    """The row's natural key and checked values, or what is wrong with it (file and line first)."""
    where = _("%(name)s 第%(line)s行") % {"name": file_name, "line": line}
    if row is None:
        return _("%(where)s：列数不符或不是JSON对象") % {"where": where}
    if set(row) != set(columns):
        formats.check_columns(schema, file_name, list(row))
    try:
        cleaned = formats.clean_row(schema, row)
    except formats.RowProblem as problem:
        return _("%(where)s：%(column)s %(problem)s") % {
            "where": where,
            "column": problem.column,
            "problem": problem.problem,
        }
    key = formats.natural_key(schema, cleaned, person_index)
    if key in seen:
        return _("%(where)s：与%(first)s的主键重复") % {"where": where, "first": seen[key]}
    seen[key] = where
    return key, cleaned


# --- upserting into the provider tables ------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """How checked rows land in one provider table: the model, its key columns, a row's stored values."""

    model: type[models.Model]
    key_fields: tuple[str, ...]
    values: Callable[[dict[str, Any], tuple[str, ...]], dict[str, Any]]
    insert_only: Callable[[dict[str, Any]], dict[str, Any]]


def _person_values(cleaned: dict[str, Any], key: tuple[str, ...]) -> dict[str, Any]:
    stored = {name: value for name, value in cleaned.items() if name != "id_number"}
    stored["id_number_index"] = key[0]
    stored["id_number_masked"] = crypto.mask_id_number(cleaned["id_number"])
    return stored


def _person_insert(cleaned: dict[str, Any]) -> dict[str, Any]:
    return {"id_number_encrypted": crypto.encrypt(cleaned["id_number"])}


def _credit_values(cleaned: dict[str, Any], key: tuple[str, ...]) -> dict[str, Any]:
    person = cleaned["subject_kind"] == SubjectKind.PERSON
    return {
        "subject_kind": cleaned["subject_kind"],
        "subject_index": key[1],
        "subject_masked": crypto.mask_id_number(cleaned["subject"]) if person else cleaned["subject"],
        "name": cleaned["name"],
        "list_name": cleaned["list_name"],
        "reason": cleaned["reason"],
        "listed_by": cleaned["listed_by"],
        "listed_on": cleaned["listed_on"],
        "removed_on": cleaned["removed_on"],
    }


def _nothing(cleaned: dict[str, Any]) -> dict[str, Any]:
    return {}


TABLES: dict[str, Table] = {
    Backend.HOUSEHOLD: Table(HouseholdRecord, ("id_number_index",), _person_values, _person_insert),
    Backend.SOCIAL_INSURANCE: Table(SocialInsuranceRecord, ("id_number_index",), _person_values, _person_insert),
    Backend.MARRIAGE: Table(MarriageRecord, ("id_number_index",), _person_values, _person_insert),
    Backend.REAL_ESTATE: Table(
        RealEstateRecord, ("id_number_index", "certificate_number"), _person_values, _person_insert
    ),
    Backend.ENTERPRISE: Table(EnterpriseRecord, ("credit_code",), lambda cleaned, key: dict(cleaned), _nothing),
    Backend.CREDIT: Table(CreditRecord, ("subject_kind", "subject_index", "list_name"), _credit_values, _nothing),
}


def _upsert(schema: Schema, rows: list[tuple[tuple[str, ...], dict[str, Any]]]) -> Counts:
    """Insert the rows the table lacks, update those that differ, leave equal ones; count each."""
    table = TABLES[schema.backend]
    counts = Counts()
    now = timezone.now()
    for start in range(0, len(rows), FETCH_CHUNK):
        chunk = rows[start : start + FETCH_CHUNK]
        existing = _existing(table, [key for key, _cleaned in chunk])
        inserts: list[models.Model] = []
        updates: list[models.Model] = []
        changed_fields: set[str] = set()
        for key, cleaned in chunk:
            values = table.values(cleaned, key)
            row = existing.get(key)
            if row is None:
                inserts.append(table.model(**values, **table.insert_only(cleaned), updated_at=now))
                continue
            differing = [name for name, value in values.items() if getattr(row, name) != value]
            if not differing:
                counts.unchanged += 1
                continue
            for name in differing:
                setattr(row, name, values[name])
            row.updated_at = now  # type: ignore[attr-defined]
            changed_fields.update(differing)
            updates.append(row)
        if inserts:
            table.model._default_manager.bulk_create(inserts, batch_size=WRITE_CHUNK)
            counts.inserted += len(inserts)
        if updates:
            table.model._default_manager.bulk_update(
                updates, sorted(changed_fields | {"updated_at"}), batch_size=WRITE_CHUNK
            )
            counts.updated += len(updates)
    return counts


def _existing(table: Table, keys: list[tuple[str, ...]]) -> dict[tuple[str, ...], models.Model]:
    first = table.key_fields[0] if table.key_fields[0] != "subject_kind" else "subject_index"
    position = table.key_fields.index(first)
    lookup = {f"{first}__in": sorted({key[position] for key in keys})}
    found: dict[tuple[str, ...], models.Model] = {}
    for row in table.model._default_manager.filter(**lookup).order_by("pk"):
        found.setdefault(tuple(getattr(row, name) for name in table.key_fields), row)
    return found


# --- running: at once, and on a schedule ---------------------------------------------------------------


def run(front: Path | None = None, *, on_batch: Callable[[Batch], None] | None = None) -> list[Batch]:
    """Take in the inbox and load every batch that is due (in resource and sequence order); return them."""
    base = front or front_dir()
    if base is None:
        return []
    scan(base)
    due = Batch.objects.exclude(status__in=FINISHED).filter(next_attempt_at__lte=timezone.now())
    done = []
    for batch_id in due.order_by("resource_code", "sequence", "id").values_list("pk", flat=True):
        batch = load(batch_id)
        if batch is not None:
            done.append(batch)
            if on_batch is not None:
                on_batch(batch)
    return done


def ensure_scheduled(*, delay: dt.timedelta | None = None) -> BatchSchedule | None:
    """Start (or restart) the scheduled scan when a front directory is configured; None when it is off.

    A restart makes any scan event of an earlier chain stale, so there is
    only ever one chain however often this is called.
    """
    if front_dir() is None:
        return None
    when = timezone.now() + (delay or dt.timedelta(0))
    with transaction.atomic():
        schedule, _created = BatchSchedule.objects.select_for_update().get_or_create(
            name=SCHEDULE_NAME, defaults={"token": "", "next_scan_at": when}
        )
        schedule.token = secrets.token_hex(16)
        schedule.next_scan_at = when
        schedule.save()
        outbox.publish(SCAN_TOPIC, {"token": schedule.token}, delay=delay)
    return schedule


@outbox.handles(SCAN_TOPIC)
def scheduled_scan(event: OutboxEvent) -> None:
    """The scheduled scan: take in the inbox (each batch then loads on its own event), schedule the next scan."""
    schedule = BatchSchedule.objects.select_for_update().filter(name=SCHEDULE_NAME).first()
    base = front_dir()
    if schedule is None or base is None or event.payload.get("token") != schedule.token:
        return
    try:
        with transaction.atomic():
            scan(base)
    except Exception:
        # The next scan tries again; the chain must not stop because one scan failed.
        logger.exception("front directory scan failed")
    every = dt.timedelta(seconds=settings.YIWANG_EXCHANGE_BATCH_SCAN_SECONDS)
    schedule.last_scan_at = timezone.now()
    schedule.next_scan_at = schedule.last_scan_at + every
    schedule.save(update_fields=["last_scan_at", "next_scan_at"])
    outbox.publish(SCAN_TOPIC, {"token": schedule.token}, delay=every)


@outbox.handles(LOAD_TOPIC)
def scheduled_load(event: OutboxEvent) -> None:
    """Load one batch taken in (its own transaction is the event's)."""
    batch_id = event.payload.get("batch_id")
    if isinstance(batch_id, int):
        load(batch_id)


def start_schedule_after_migrate(using: str = "default", **kwargs: Any) -> None:
    """post_migrate: a configured front directory is scanned from the first worker pass on."""
    if front_dir() is None:
        return
    tables = connections[using].introspection.table_names()
    if BatchSchedule._meta.db_table in tables:  # not when migrating back below this app's batch tables
        ensure_scheduled()


def batch_lines(batches: Iterable[Batch]) -> list[str]:
    """One line per batch for the console."""
    lines = []
    for batch in batches:
        line = (
            f"{batch.resource_code or '?'}#{batch.sequence or '?'} {batch.status} "
            f"rows={batch.rows_total} inserted={batch.rows_inserted} updated={batch.rows_updated} "
            f"unchanged={batch.rows_unchanged}"
        )
        if batch.reason_code:
            line += f" [{batch.reason_code}] {batch.reason}"
        elif batch.last_error:
            line += f" (retry at {timezone.localtime(batch.next_attempt_at):%Y-%m-%d %H:%M:%S}: {batch.last_error})"
        lines.append(line)
    return lines
