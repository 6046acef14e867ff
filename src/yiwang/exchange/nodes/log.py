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
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from django.conf import settings
from django.db import transaction
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


def entry_hash(prev_hash: str, sequence: int, logged_at: str, fields: tuple[str, ...]) -> str:
    """The hash an entry carries, from its predecessor's hash and its content (``fields`` in HASHED_FIELDS order)."""
    canonical = json.dumps([sequence, logged_at, *fields], ensure_ascii=False, separators=(",", ":"))
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


def append(messages: list[Message]) -> list[LogEntry]:
    """Append ``messages`` to the chain in one transaction, signing a checkpoint when one falls due."""
    every = int(settings.YIWANG_EXCHANGE_CHECKPOINT_EVERY)
    with transaction.atomic():
        head = _locked_head()
        now = timezone.now()
        stamp = iso(now)
        entries = []
        previous, sequence = head.entry_hash, head.sequence
        for message in messages:
            sequence += 1
            fields = tuple(str(getattr(message, name)) for name in HASHED_FIELDS)
            digest = entry_hash(previous, sequence, stamp, fields)
            entries.append(
                LogEntry(sequence=sequence, logged_at=now, prev_hash=previous, entry_hash=digest, **vars(message))
            )
            previous = digest
        LogEntry.objects.bulk_create(entries)
        due = head.sequence // every != sequence // every
        head.sequence, head.entry_hash = sequence, previous
        head.save(update_fields=["sequence", "entry_hash"])
        if due:
            _checkpoint(sequence, previous)
    return entries


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


def _rows(after: int = 0) -> Iterator[tuple[object, ...]]:
    """Entries in sequence order, a batch at a time by key (no cursor held open, none read whole)."""
    columns = ["sequence", "logged_at", *HASHED_FIELDS, "prev_hash", "entry_hash"]
    while True:
        batch = list(LogEntry.objects.filter(sequence__gt=after).order_by("sequence").values_list(*columns)[:_BATCH])
        if not batch:
            return
        yield from batch
        after = int(str(batch[-1][0]))


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
    for row in _rows():
        sequence, logged_at, *rest = row
        fields, prev_hash, stored = tuple(str(value) for value in rest[:-2]), rest[-2], rest[-1]
        if sequence != expected:
            return VerifyResult(False, checked, checkpoints, expected, "序号不连续（有条目被删除或插入）")
        if prev_hash != previous:
            return VerifyResult(False, checked, checkpoints, expected, "前一条哈希不符（条目被删除、插入或改写）")
        assert isinstance(logged_at, dt.datetime) and isinstance(sequence, int)
        if entry_hash(previous, sequence, iso(logged_at), fields) != stored:
            return VerifyResult(False, checked, checkpoints, expected, "条目内容与其哈希不符（条目被改写）")
        previous, expected, checked = str(stored), expected + 1, checked + 1
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
