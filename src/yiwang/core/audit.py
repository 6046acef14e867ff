"""The audit log: who did what, to which object, on whose behalf, from where.

:func:`record_event` is the only way in. Each record carries the SM3 hash of
its predecessor's hash and its own canonical content, so the records form a
chain; :func:`verify_chain` recomputes it (``yiwang audit verify``) and names
the first record that was edited, removed or inserted out of turn.

Appending locks the single :class:`~yiwang.core.models.AuditChainHead` row,
so concurrent writers take turns and the chain never forks. On PostgreSQL
that is ``SELECT … FOR UPDATE``; on SQLite every write transaction already
starts with ``BEGIN IMMEDIATE`` (see settings), which serialises writers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from .models import GENESIS_HASH, AuditChainHead, AuditEvent

EVENT_CODE_RE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
# Canonical JSON of ``detail`` larger than this is refused: the log records
# facts about an action, not copies of documents.
MAX_DETAIL_BYTES = 16 * 1024


class Events:
    """Event codes used across the apps (any ``area.action`` code is accepted)."""

    LOGIN = "auth.login"
    LOGIN_FAILED = "auth.login_failed"
    LOGOUT = "auth.logout"
    PERMISSION_DENIED = "permission.denied"
    ROLE_GRANTED = "role.granted"
    ROLE_REVOKED = "role.revoked"
    PII_READ = "pii.read"
    DATA_EXPORT = "data.export"


class AuditChainBroken(Exception):
    """The chain head is missing (or reset) while records exist: appending would hide the damage."""


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of :func:`verify_chain`.

    ``reason`` is one of ``"hash mismatch"`` (a record's content was
    changed), ``"prev_hash mismatch"`` (a record does not link to the one
    before it), ``"sequence gap"`` (records missing from the middle) and
    ``"head mismatch"`` (records missing from, or added past, the end);
    ``first_bad_sequence`` is the first sequence at which the log differs
    from what was written. ``detail`` explains it in Chinese.
    """

    ok: bool
    checked: int
    first_bad_sequence: int | None = None
    reason: str | None = None
    detail: str = ""


def audit_target(obj: models.Model) -> str:
    """Return the ``target`` text for a model instance, e.g. ``"catalog.ServiceItem:42"``."""
    return f"{obj._meta.label}:{obj.pk}"


def _text(value: str, max_length: int) -> str:
    # PostgreSQL refuses NUL in text; an audited value (a URL, a typed name)
    # must never make the audit write, and so the action, fail.
    return value.replace("\x00", "\ufffd")[:max_length]


def _canonical_detail(value: Any, path: str = "detail") -> Any:
    """Copy ``value`` as plain JSON whose canonical form survives a database round trip unchanged."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        # 1e16 comes back from jsonb as 10000000000000000: the hash would no
        # longer verify. Amounts and measures go in as strings or integers.
        raise TypeError(f"{path} 不能包含浮点数，请使用字符串或整数")
    if isinstance(value, Mapping):
        copy = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path} 的键必须是字符串")
            copy[key.replace("\x00", "\ufffd")] = _canonical_detail(item, f"{path}.{key}")
        return copy
    if isinstance(value, list | tuple):
        return [_canonical_detail(item, f"{path}[{i}]") for i, item in enumerate(value)]
    raise TypeError(f"{path} 只能包含 JSON 值（字符串、整数、布尔、null、列表、对象），不能是 {type(value).__name__}")


def canonical_json(value: Any) -> str:
    """The canonical JSON the hashes are computed over: sorted keys, UTF-8 text, no spaces."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _normalise_ip(ip: Any) -> str | None:
    if ip is None or ip == "":
        return None
    return str(ipaddress.ip_address(str(ip).strip()))


def _iso_utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def event_hash(record: AuditEvent) -> str:
    """Return the SM3 hash (hex) a record should carry, from its ``prev_hash`` and content."""
    content = {
        "sequence": record.sequence,
        "occurred_at": _iso_utc(record.occurred_at),
        "actor_id": record.actor_id,
        "actor_label": record.actor_label,
        "on_behalf_of_person_id": record.on_behalf_of_person_id,
        "on_behalf_of_label": record.on_behalf_of_label,
        "event": record.event,
        "target": record.target,
        "ip": _normalise_ip(record.ip),
        "detail": record.detail,
    }
    return hashlib.new("sm3", (record.prev_hash + canonical_json(content)).encode("utf-8")).hexdigest()


def _actor_and_label(actor: Any, actor_label: str | None) -> tuple[Any, str]:
    if actor is None:
        return None, actor_label or ""
    if not getattr(actor, "is_authenticated", False):  # AnonymousUser from request.user
        return None, actor_label or "anonymous"
    return actor, actor_label or f"user:{actor.pk} {actor.get_username()}"


def _locked_head() -> AuditChainHead:
    # The migration creates the head; it is missing only after a flush (test
    # databases) or tampering. Create it with INSERT … ON CONFLICT DO NOTHING
    # rather than deciding from a read that it is missing: another writer may
    # have created it, and appended, in an uncommitted transaction that our
    # read cannot see. The insert waits for that transaction, then does
    # nothing; the locking read after it sees the committed head.
    head = AuditChainHead.objects.select_for_update().filter(pk=AuditChainHead.SINGLETON_PK).first()
    if head is None:
        AuditChainHead.objects.bulk_create([AuditChainHead(pk=AuditChainHead.SINGLETON_PK)], ignore_conflicts=True)
        head = AuditChainHead.objects.select_for_update().get(pk=AuditChainHead.SINGLETON_PK)
    # Only now, holding the lock, is the head current: every committed record
    # moved it past 0 in the record's own transaction. A head at 0 over a
    # non-empty log was deleted or reset; starting afresh would launder a
    # truncated tail into a "valid" chain.
    if head.sequence == 0 and AuditEvent.objects.exists():
        raise AuditChainBroken("审计链头记录缺失而审计日志不为空，已拒绝追加；请运行 yiwang audit verify 并调查")
    return head


def record_event(
    event: str,
    *,
    actor: Any = None,
    on_behalf_of_person_id: int | None = None,
    on_behalf_of_label: str = "",
    target: str = "",
    ip: str | None = None,
    detail: Mapping[str, Any] | None = None,
    actor_label: str | None = None,
) -> AuditEvent:
    """Append one record to the audit log and return it.

    ``event`` is a code such as ``"auth.login"`` (see :class:`Events`);
    ``actor`` a user (``request.user`` is fine: an anonymous user is recorded
    as ``"anonymous"``) or None for the system; ``actor_label`` overrides the
    default ``"user:<id> <username>"`` (e.g. ``"system:pii-rotate"``).
    ``on_behalf_of_*`` name the person an agent acts for; the label must be
    masked already (``"person:123 张*"``). ``target`` names the object
    (:func:`audit_target`); ``detail`` is a small JSON object without floats,
    and must never hold unmasked personal data.

    The record joins the caller's transaction: it is rolled back with the
    action it describes. While that transaction is open the chain head stays
    locked, so call this as the last step of a transaction; record denials
    and failures outside the transaction that is being rolled back.
    """
    if len(event) > 64 or not EVENT_CODE_RE.fullmatch(event):
        raise ValueError(f"审计事件代码应形如 area.action：{event[:80]!r}")
    actor, label = _actor_and_label(actor, actor_label)
    clean_detail = _canonical_detail(dict(detail or {}))
    if len(canonical_json(clean_detail).encode("utf-8")) > MAX_DETAIL_BYTES:
        raise ValueError(f"审计详情过大（上限 {MAX_DETAIL_BYTES} 字节）")
    record = AuditEvent(
        actor=actor,
        actor_label=_text(label, 200),
        on_behalf_of_person_id=on_behalf_of_person_id,
        on_behalf_of_label=_text(on_behalf_of_label, 200),
        event=event,
        target=_text(target, 200),
        ip=_normalise_ip(ip),
        detail=clean_detail,
    )
    with transaction.atomic():
        head = _locked_head()
        record.sequence = head.sequence + 1
        record.prev_hash = head.hash
        # Taken under the lock, so times rise with sequence numbers.
        record.occurred_at = timezone.now()
        record.hash = event_hash(record)
        record._appending = True
        record.save()
        AuditChainHead.objects.filter(pk=head.pk).update(sequence=record.sequence, hash=record.hash)
    return record


def verify_chain(*, chunk_size: int = 2000) -> VerifyResult:
    """Recompute the whole chain and compare it with the head; name the first bad record, if any.

    Safe to run while records are being appended: it checks the records up
    to the head it read first, then that nothing lies past the head.
    """
    head = AuditChainHead.objects.filter(pk=AuditChainHead.SINGLETON_PK).first()
    head_sequence = head.sequence if head else 0
    expected, previous, checked = 1, GENESIS_HASH, 0
    records = AuditEvent.objects.filter(sequence__lte=head_sequence).order_by("sequence")
    for record in records.iterator(chunk_size=chunk_size):
        if record.sequence != expected:
            missing = f"{expected}" if record.sequence == expected + 1 else f"{expected}至{record.sequence - 1}"
            return VerifyResult(False, checked, expected, "sequence gap", f"缺少序号 {missing} 的记录（已被删除）")
        if record.prev_hash != previous:
            return VerifyResult(
                False,
                checked,
                record.sequence,
                "prev_hash mismatch",
                f"序号 {record.sequence} 的 prev_hash 与上一条记录的哈希不符（记录被替换或插入）",
            )
        if event_hash(record) != record.hash:
            changed = f"序号 {record.sequence} 的内容与其哈希不符（已被改动）"
            return VerifyResult(False, checked, record.sequence, "hash mismatch", changed)
        previous, expected, checked = record.hash, expected + 1, checked + 1
    last = expected - 1
    if head is None:
        if AuditEvent.objects.exists():
            return VerifyResult(False, checked, 1, "head mismatch", "审计链头记录缺失")
        return VerifyResult(True, checked)
    if last < head.sequence:
        truncated = f"链头记到序号 {head.sequence}，但记录只到 {last}（末尾记录被删除）"
        return VerifyResult(False, checked, last + 1, "head mismatch", truncated)
    if previous != head.hash:
        return VerifyResult(False, checked, last, "head mismatch", f"序号 {last} 的哈希与链头不符（最后一条被替换）")
    # Read the largest sequence before the head again: an append committing
    # in between raises both together, so only rows written around
    # record_event can lie past the head.
    largest = AuditEvent.objects.aggregate(largest=models.Max("sequence"))["largest"] or 0
    current_head = AuditChainHead.objects.filter(pk=AuditChainHead.SINGLETON_PK).values_list("sequence", flat=True)
    if largest > max(current_head, default=0):
        return VerifyResult(
            False, checked, head.sequence + 1, "head mismatch", f"序号 {head.sequence} 之后有未经链头登记的记录"
        )
    return VerifyResult(True, checked)
