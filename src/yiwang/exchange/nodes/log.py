"""The message log: every message sent and received, in a SHA-256 hash chain with signed checkpoints.

An entry's hash is ``sha256(prev_hash + "\\n" + canonical)`` in lower-case hex, where ``canonical`` is the
JSON array of its fields (docs/exchange-nodes.md, "The message log"). Appending locks the single
:class:`LogHead` row, so concurrent writers (several server processes) take turns and the chain never
forks: ``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite every write transaction begins ``IMMEDIATE``.
Every ``YIWANG_EXCHANGE_CHECKPOINT_EVERY`` entries the head is signed with this node's key.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from . import keys
from .models import GENESIS_HASH, LogCheckpoint, LogEntry, LogHead

# Fields in the order they are hashed; ``sequence`` and ``logged_at`` come first.
HASHED_FIELDS = (
    "direction",
    "message_type",
    "peer_code",
    "message_id",
    "kind",
    "body_digest",
    "signature_base",
    "signature",
    "outcome",
)
CHECKPOINT_CONTEXT = "yiwang-exchange-log-checkpoint"
_BATCH = 5000


@dataclass(frozen=True)
class Message:
    """What the log keeps of one message (the body itself is not kept, only its SHA-256)."""

    direction: str
    message_type: str
    peer_code: str
    message_id: str
    kind: str
    body_digest: str
    signature_base: str
    signature: str
    outcome: str


@dataclass(frozen=True, slots=True)
class Appended:
    """Where an appended message went in the chain (plain values: no model row is built on the hot path)."""

    sequence: int
    logged_at: dt.datetime
    prev_hash: str
    entry_hash: str
    message: Message


@dataclass(frozen=True)
class VerifyResult:
    """``first_bad_sequence`` is the first entry (or checkpoint) at which the log is not what was written."""

    ok: bool
    checked: int
    checkpoints: int = 0
    first_bad_sequence: int | None = None
    reason: str = ""


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


# json.dumps(value, ensure_ascii=False, separators=(",", ":")), without making an encoder per entry.
_canonical = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def entry_hash(prev_hash: str, sequence: int, logged_at: str, fields: tuple[str, ...]) -> str:
    """The hash an entry carries, from its predecessor's hash and its content (``fields`` in HASHED_FIELDS order)."""
    canonical = _canonical([sequence, logged_at, *fields])
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


def checkpoint_text(node_code: str, sequence: int, head_hash: str, signed_at: str) -> bytes:
    return f"{CHECKPOINT_CONTEXT}\n{node_code}\n{sequence}\n{head_hash}\n{signed_at}".encode()


def _locked_head() -> LogHead:
    head = LogHead.objects.select_for_update().filter(pk=LogHead.SINGLETON_PK).first()
    if head is None:
        LogHead.objects.bulk_create([LogHead(pk=LogHead.SINGLETON_PK)], ignore_conflicts=True)
        head = LogHead.objects.select_for_update().get(pk=LogHead.SINGLETON_PK)
    if head.sequence == 0 and LogEntry.objects.exists():
        # A head reset over a non-empty log would launder a truncated tail into a valid-looking chain.
        raise RuntimeError("交换日志链头缺失而日志不为空，已拒绝追加；请运行 yiwang exchange verify-log 并调查")
    return head


def append(messages: list[Message]) -> list[Appended]:
    """Append ``messages`` to the chain in one transaction, signing a checkpoint when one falls due.

    The statements are written out (no ORM query building: this runs twice per exchange on each node).
    The head this process left last is tried first with a conditional ``UPDATE``, which takes the row's
    lock (on SQLite it runs inside the ``IMMEDIATE`` transaction, which already holds the write lock);
    only when another process, or a rolled-back transaction, moved the head is it read under lock
    (:func:`_locked_head`) and the entries hashed again from there.
    """
    if not messages:
        return []
    every = int(settings.YIWANG_EXCHANGE_CHECKPOINT_EVERY)
    rows = [tuple(str(getattr(message, name)) for name in HASHED_FIELDS) for message in messages]
    sql = _statements(connection.vendor)
    with transaction.atomic(), connection.cursor() as cursor:
        now = timezone.now()
        stamp = iso(now)
        hint = _head_hint.get(connection.alias)
        chained = _chain(hint, stamp, rows) if hint is not None else []
        if hint is not None:
            cursor.execute(sql.update_if, [*chained[-1], LogHead.SINGLETON_PK, *hint])
        if hint is None or cursor.rowcount != 1:
            locked = _locked_head()
            hint = (locked.sequence, locked.entry_hash)
            chained = _chain(hint, stamp, rows)
            cursor.execute(sql.update, [*chained[-1], LogHead.SINGLETON_PK])
        start: tuple[int, str] = hint
        previous = [start[1], *(digest for _sequence, digest in chained[:-1])]
        logged_at = connection.ops.adapt_datetimefield_value(now)
        values = [
            value
            for (sequence, digest), prev_hash, fields in zip(chained, previous, rows, strict=True)
            for value in (sequence, logged_at, *fields, prev_hash, digest)
        ]
        cursor.execute(f"{sql.insert} {', '.join([sql.row] * len(rows))}", values)
        end = chained[-1]
        _head_hint[connection.alias] = end
        if start[0] // every != end[0] // every:
            _checkpoint(*end)
    return [
        Appended(sequence, now, prev_hash, digest, message)
        for (sequence, digest), prev_hash, message in zip(chained, previous, messages, strict=True)
    ]


def _chain(head: tuple[int, str], stamp: str, rows: list[tuple[str, ...]]) -> list[tuple[int, str]]:
    """The sequence and hash of each new entry after ``head``, in order."""
    sequence, previous = head
    out = []
    for fields in rows:
        sequence += 1
        previous = entry_hash(previous, sequence, stamp, fields)
        out.append((sequence, previous))
    return out


@dataclass(frozen=True)
class _Statements:
    insert: str  # followed by one ``row`` per entry, comma-separated
    row: str
    update: str
    update_if: str


@functools.lru_cache(maxsize=4)
def _statements(vendor: str) -> _Statements:
    """The append's SQL for a database vendor, from the models' table and column names."""
    quote = connection.ops.quote_name

    def column(model: type[models.Model], name: str) -> str:
        field = model._meta.get_field(name)
        assert isinstance(field, models.Field) and field.column
        return quote(field.column)

    entry_columns = ", ".join(column(LogEntry, name) for name in _INSERTED)
    sequence, digest, key = (column(LogHead, name) for name in ("sequence", "entry_hash", "id"))
    # Table and column names come from the models; every value is a parameter.
    set_head = f"UPDATE {quote(LogHead._meta.db_table)} SET {sequence} = %s, {digest} = %s WHERE {key} = %s"  # noqa: S608
    return _Statements(
        insert=f"INSERT INTO {quote(LogEntry._meta.db_table)} ({entry_columns}) VALUES",
        row=f"({', '.join(['%s'] * len(_INSERTED))})",
        update=set_head,
        update_if=f"{set_head} AND {sequence} = %s AND {digest} = %s",
    )


_INSERTED = ("sequence", "logged_at", *HASHED_FIELDS, "prev_hash", "entry_hash")
# Per database alias, the head this process left: a guess that the conditional UPDATE checks, never trusted.
_head_hint: dict[str, tuple[int, str]] = {}


def _checkpoint(sequence: int, head_hash: str) -> LogCheckpoint:
    signer = keys.signer()
    signed_at = timezone.now()
    text = checkpoint_text(signer.node_code, sequence, head_hash, iso(signed_at))
    signature = base64.b64encode(signer.private_key.sign(text)).decode("ascii")
    return LogCheckpoint.objects.create(
        sequence=sequence,
        head_hash=head_hash,
        signed_at=signed_at,
        node_code=signer.node_code,
        key_fingerprint=signer.fingerprint,
        signature=signature,
    )


def checkpoint_now() -> LogCheckpoint | None:
    """Sign the current head (``yiwang exchange checkpoint``); None when the log is empty or already signed there."""
    with transaction.atomic():
        head = _locked_head()
        if head.sequence == 0 or LogCheckpoint.objects.filter(sequence=head.sequence).exists():
            return None
        return _checkpoint(head.sequence, head.entry_hash)


def _rows(after: int = 0) -> Iterator[tuple[Any, ...]]:
    """Entries in sequence order, a batch at a time by key (no cursor held open, none read whole).

    Read with a written-out statement: building a model row or the ORM's value conversions for each of
    a million entries cost more than hashing them.
    """
    quote = connection.ops.quote_name
    columns = ", ".join(quote(name) for name in _INSERTED)  # plain fields: the column is the field's name
    table, key = quote(LogEntry._meta.db_table), quote("sequence")
    # Names from the model; the position is a parameter.
    query = f"SELECT {columns} FROM {table} WHERE {key} > %s ORDER BY {key} LIMIT {_BATCH}"  # noqa: S608
    while True:
        with connection.cursor() as cursor:
            cursor.execute(query, [after])
            batch = cursor.fetchall()
        if not batch:
            return
        yield from batch
        after = int(batch[-1][0])


def _stamp(value: dt.datetime) -> str:
    """``iso`` of a time read by a written-out statement: SQLite gives it naive, in UTC (USE_TZ), PostgreSQL aware."""
    if value.tzinfo is None:
        return value.isoformat(timespec="microseconds") + "+00:00"
    return iso(value)


def _checkpoint_problem(checkpoint: LogCheckpoint, hash_at: str | None) -> str:
    if hash_at is None:
        return "检查点所指的日志条目不存在"
    if hash_at != checkpoint.head_hash:
        return "检查点签署的链头与日志不符（其前的条目被改写）"
    public = keys.public_key_of(checkpoint.key_fingerprint)
    if public is None:
        return "检查点的签名密钥不是本节点的密钥"
    text = checkpoint_text(checkpoint.node_code, checkpoint.sequence, checkpoint.head_hash, iso(checkpoint.signed_at))
    try:
        public.verify(base64.b64decode(checkpoint.signature, validate=True), text)
    except (InvalidSignature, binascii.Error, ValueError):
        return "检查点签名无效"
    return ""


def verify() -> VerifyResult:
    """Recompute the chain and check every checkpoint; name the first entry or checkpoint that is wrong."""
    pending = {c.sequence: c for c in LogCheckpoint.objects.order_by("sequence")}
    previous, expected, checked, checkpoints = GENESIS_HASH, 1, 0, 0
    for sequence, logged_at, *rest in _rows():
        fields, prev_hash, stored = tuple(rest[:-2]), rest[-2], rest[-1]
        if sequence != expected:
            return VerifyResult(False, checked, checkpoints, expected, "序号不连续（有条目被删除或插入）")
        if prev_hash != previous:
            return VerifyResult(False, checked, checkpoints, expected, "前一条哈希不符（条目被删除、插入或改写）")
        if entry_hash(previous, sequence, _stamp(logged_at), fields) != stored:
            return VerifyResult(False, checked, checkpoints, expected, "条目内容与其哈希不符（条目被改写）")
        previous, expected, checked = stored, expected + 1, checked + 1
        checkpoint = pending.pop(sequence, None)
        if checkpoint is not None:
            problem = _checkpoint_problem(checkpoint, previous)
            if problem:
                return VerifyResult(False, checked, checkpoints, sequence, problem)
            checkpoints += 1
    if pending:
        first = min(pending)
        return VerifyResult(False, checked, checkpoints, first, _checkpoint_problem(pending[first], None))
    head = LogHead.objects.filter(pk=LogHead.SINGLETON_PK).first()
    head_sequence, head_hash = (head.sequence, head.entry_hash) if head else (0, GENESIS_HASH)
    if head_sequence != checked or head_hash != previous:
        return VerifyResult(False, checked, checkpoints, min(head_sequence, checked) + 1, "链头与日志末尾不符")
    return VerifyResult(True, checked, checkpoints)
