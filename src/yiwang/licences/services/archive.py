"""The e-archive (电子档案): sealing closed cases and paid fees into packages appended to the Merkle log.

A package is the case's record as canonical JSON (UTF-8, keys sorted, no
insignificant whitespace), so the same record always gives the same bytes
and the same SM3 digest. It is written under the archive directory, and a
log entry naming it (kind, number, SM3 digest, size) becomes a leaf of the
append-only log (:mod:`yiwang.licences.merkle`,
:mod:`yiwang.licences.archive_store`). Every append ends in a tree head
signed with SM2 by the platform's log key from the key store.

One package per case and one per paid order: archiving again returns the
entry already made. Appends are serialised by a row lock on the one
:class:`~yiwang.licences.models.ArchiveLog` row; the log files are written
and synced before the transaction that raises the committed size commits
(ADR 0018).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from yiwang.cases import selectors as cases_selectors
from yiwang.cases.constants import FINAL_CASE_STATES, PaymentStatus
from yiwang.core import keystore, sm2
from yiwang.core.audit import record_event
from yiwang.core.problems import ServiceError
from yiwang.core.uploads.storage import open_stored
from yiwang.licences import merkle
from yiwang.licences.archive_store import LogFiles, open_log
from yiwang.licences.models import ArchiveEntry, ArchiveKind, ArchiveLog, ArchiveLogKey, SealedDocument, TreeHead

logger = logging.getLogger("yiwang.licences.archive")

PACKAGE_FORMAT = "yiwang-archive-package/1"
ENTRY_FORMAT = "yiwang-archive-entry/1"
TREE_HEAD_FORMAT = "yiwang-archive-tree-head/1"
LOG_KEY_PREFIX = "archive-log-"
_REF_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class ArchiveError(ServiceError):
    """A refusal of the e-archive (a number that cannot name a package, a damaged log)."""

    status = 400


# --- places and bytes ----------------------------------------------------------------------


def archive_dir() -> Path:
    """Where packages and log files live: ``YIWANG_ARCHIVE_DIR`` (default ``VAR_DIR/archive``)."""
    return Path(getattr(settings, "YIWANG_ARCHIVE_DIR", None) or Path(settings.VAR_DIR) / "archive")


def log_dir() -> Path:
    return archive_dir() / "log"


def package_file(entry: ArchiveEntry) -> Path:
    return archive_dir() / entry.package_path


def canonical_json(value: Any) -> bytes:
    """The one serialisation of packages and entries: sorted keys, compact, UTF-8 (no ASCII escapes)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _moment(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _day(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _plain(value: Any) -> Any:
    """JSON-able copy of stored JSON detail (decimals and dates as text)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return _moment(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


# --- packages ------------------------------------------------------------------------------


def _material_sm3(storage_name: str) -> str | None:
    """SM3 of a stored material, read in chunks; None when the file is gone (the package says so)."""
    digest = hashlib.new("sm3")
    try:
        with open_stored(storage_name) as stream:
            for chunk in iter(lambda: stream.read(1 << 16), b""):
                digest.update(chunk)
    except (FileNotFoundError, OSError, ValueError):
        return None
    return str(digest.hexdigest())


def case_package(case: Any) -> dict[str, Any]:
    """The archive package of a finished case: record, events, tasks, corrections, materials, fees, decision, and
    the sealed documents."""
    events = [
        {
            "action": e.action,
            "from": e.from_state,
            "to": e.to_state,
            "actor": e.actor_label,
            "on_behalf_of": e.on_behalf_of,
            "reason": e.reason,
            "detail": _plain(e.detail),
            "attachments": _plain(e.attachments),
            "public": e.public,
            "at": _moment(e.created_at),
        }
        for e in cases_selectors.timeline(case, for_staff=True)
    ]
    tasks = [
        {
            "stage": t.stage,
            "kind": t.kind,
            "name": t.name,
            "department": t.department.code,
            "role": t.role,
            "status": t.status,
            "due": _day(t.due),
            "completed_at": _moment(t.completed_at),
            "opinion": t.opinion,
        }
        for t in cases_selectors.case_tasks(case)
    ]
    materials = [
        {
            "material": f.material_key,
            "name": f.original_name,
            "content_type": f.content_type,
            "size": f.size,
            "sha256": f.sha256,
            "sm3": _material_sm3(f.storage_name),
            "uploaded_at": _moment(f.uploaded_at),
            "superseded_at": _moment(f.superseded_at),
        }
        for f in case.application.files.order_by("id")
    ]
    corrections = [
        {
            "items": _plain(c.items),
            "due": _day(c.due),
            "at": _moment(c.created_at),
            "resolved_at": _moment(c.resolved_at),
        }
        for c in case.corrections.order_by("id")
    ]
    payments = [
        {
            "order": p.order_number,
            "amount": str(p.amount),
            "description": p.description,
            "status": p.status,
            "paid_at": _moment(p.paid_at),
        }
        for p in case.payments.order_by("id")
    ]
    decisions = [e for e in events if e["action"] in {"approve", "refuse", "reject", "withdraw", "close"}]
    # The sealed documents as issued (受理回执, 补正告知书, 决定书 …): their content, digest and seal.
    sealed = [
        {
            "id": d.claims.get("id", ""),
            "kind": d.kind,
            "sequence": d.sequence,
            "title": d.title,
            "claims": _plain(d.claims),
            "digest_sm3": d.digest,
            "signer_key_id": d.signer_key_id,
            "sealed_structure": d.signature,
        }
        for d in SealedDocument.objects.filter(case_number=case.number).order_by("id")
    ]
    return {
        "format": PACKAGE_FORMAT,
        "kind": ArchiveKind.CASE.value,
        "case": {
            "number": case.number,
            "item_code": case.item_code,
            "item_name": case.item_name,
            "item_kind": case.item.kind,
            "department": {"code": case.department.code, "name": case.department.name},
            "state": case.state,
            "outcome": case.outcome,
            "channel": case.channel,
            "applicant_name": case.applicant_name,
            "assisted_basis": case.assisted_basis,
            "form_data": _plain(case.application.form_data),
            "situation_answers": _plain(case.application.situation_answers),
            "submitted_at": _moment(case.submitted_at),
            "accepted_at": _moment(case.accepted_at),
            "decided_at": _moment(case.decided_at),
            "closed_at": _moment(case.closed_at),
            "statutory_due": _day(case.statutory_due),
            "promised_due": _day(case.promised_due),
        },
        "events": events,
        "tasks": tasks,
        "corrections": corrections,
        "materials": materials,
        "payments": payments,
        # The decision events the documents record, and the sealed documents themselves.
        "decisions": decisions,
        "documents": sealed,
    }


def receipt_package(order: Any) -> dict[str, Any]:
    """The e-receipt (电子票据) of a paid fee: who paid what for which case, and the provider's trade."""
    case = order.case
    return {
        "format": PACKAGE_FORMAT,
        "kind": ArchiveKind.RECEIPT.value,
        "receipt": {
            "order": order.order_number,
            "amount": str(order.amount),
            "currency": "CNY",
            "description": order.description,
            "provider": order.provider,
            "trade_number": order.provider_trade_number,
            "paid_at": _moment(order.paid_at),
            "payer": case.applicant_name,
            "payee": {"code": case.department.code, "name": case.department.name},
            "case": case.number,
            "item_name": case.item_name,
        },
    }


# --- the log key and tree heads -----------------------------------------------------------


def tree_head_message(tree_size: int, root_hash_hex: str, timestamp_ms: int) -> bytes:
    """The bytes a tree head's SM2 signature covers (documented in ADR 0018)."""
    return f"{TREE_HEAD_FORMAT}\n{tree_size}\n{root_hash_hex}\n{timestamp_ms}\n".encode("ascii")


def _active_log_key() -> tuple[ArchiveLogKey, bytes]:
    """The signing key of the log: the newest active one, made on first use (private half in the key store)."""
    store = keystore.get_key_store()
    key = ArchiveLogKey.objects.filter(retired_at__isnull=True).order_by("-id").first()
    if key is not None and store.has(LOG_KEY_PREFIX + key.key_id):
        return key, store.get(LOG_KEY_PREFIX + key.key_id)
    return rotate_log_key()


def rotate_log_key() -> tuple[ArchiveLogKey, bytes]:
    """Retire the active log key (if any) and make a new one; old tree heads stay verifiable by their key."""
    private = sm2.generate_private_key()
    public = sm2.public_key_der(private)
    key_id = sm2.key_id(public)
    keystore.get_key_store().put(LOG_KEY_PREFIX + key_id, private)
    with transaction.atomic():
        ArchiveLogKey.objects.filter(retired_at__isnull=True).update(retired_at=timezone.now())
        key = ArchiveLogKey.objects.create(key_id=key_id, public_key=public.hex())
        record_event("archive.log_key_rotated", actor_label="system:archive", target=f"licences.ArchiveLogKey:{key_id}")
    return key, private


def tree_head_signature_valid(head: TreeHead, public_key_hex: str | None = None) -> bool:
    """Whether the tree head's SM2 signature verifies under its key (looked up by key id unless given)."""
    if public_key_hex is None:
        key = ArchiveLogKey.objects.filter(key_id=head.key_id).first()
        if key is None:
            return False
        public_key_hex = key.public_key
    try:
        public = bytes.fromhex(public_key_hex)
        signature = bytes.fromhex(head.signature)
    except ValueError:
        return False
    return sm2.verify(public, tree_head_message(head.tree_size, head.root_hash, head.timestamp_ms), signature)


def _sign_tree_head(size: int, root: bytes) -> TreeHead:
    key, private = _active_log_key()
    timestamp_ms = int(time.time() * 1000)
    signature = sm2.sign(private, tree_head_message(size, root.hex(), timestamp_ms))
    return TreeHead.objects.create(
        tree_size=size, root_hash=root.hex(), timestamp_ms=timestamp_ms, key_id=key.key_id, signature=signature.hex()
    )


# --- appending -----------------------------------------------------------------------------


def _locked_log() -> ArchiveLog:
    ArchiveLog.objects.get_or_create(pk=1)
    return ArchiveLog.objects.select_for_update().get(pk=1)


def _write_package(kind: str, ref: str, data: bytes) -> str:
    """Write the package durably (temporary file, fsync, rename); return its path relative to the archive."""
    if not _REF_RE.fullmatch(ref):
        raise ArchiveError("bad_reference", _("编号格式不能用于归档：%(ref)s") % {"ref": ref[:64]})
    relative = f"packages/{kind}/{ref}.json"
    target = archive_dir() / relative
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = target.with_suffix(".json.tmp")
    # Packages hold personal data (the applicant's name and form): readable by the platform's user only.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, target)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return relative


def _append(kind: str, ref: str, package: dict[str, Any], *, case_id: int | None) -> ArchiveEntry:
    """Seal one package into the log: write it, append its entry, sign the new tree head. Idempotent per (kind, ref)."""
    with transaction.atomic():
        log = _locked_log()
        existing = ArchiveEntry.objects.filter(kind=kind, ref=ref).first()
        if existing is not None:
            return existing
        data = canonical_json(package)
        digest = merkle.sm3(data).hex()
        relative = _write_package(kind, ref, data)
        entry_bytes = canonical_json(
            {"format": ENTRY_FORMAT, "kind": kind, "ref": ref, "sm3": digest, "size": len(data)}
        )
        leaf = merkle.leaf_hash(entry_bytes)
        with open_log(log_dir(), log.size) as files:
            tail = files.repair_tail()
            if not tail.clean:
                logger.warning("archive log: cut an uncommitted tail before appending: %s", tail.extra_bytes)
            index = files.size
            files.append(leaf)
            root = merkle.root_hash(files, files.size)
        entry = ArchiveEntry.objects.create(
            leaf_index=index,
            kind=kind,
            ref=ref,
            case_id=case_id,
            entry=entry_bytes.decode(),
            leaf_hash=leaf.hex(),
            package_digest=digest,
            package_size=len(data),
            package_path=relative,
        )
        ArchiveLog.objects.filter(pk=log.pk).update(size=index + 1, root_hash=root.hex(), updated_at=timezone.now())
        _sign_tree_head(index + 1, root)
        record_event(
            "archive.sealed",
            actor_label="system:archive",
            target=f"licences.ArchiveEntry:{index}",
            detail={"kind": kind, "ref": ref, "sm3": digest},
        )
    return entry


def archive_case(case_id: int) -> ArchiveEntry | None:
    """Seal a finished case into the archive (once); None for a missing case or one still being handled."""
    case = cases_selectors.case_by_id(case_id)
    if case is None or case.state not in FINAL_CASE_STATES:
        return None
    existing = ArchiveEntry.objects.filter(kind=ArchiveKind.CASE, ref=case.number).first()
    if existing is not None:
        return existing
    return _append(ArchiveKind.CASE, case.number, case_package(case), case_id=case.pk)


def archive_receipts(case_id: int) -> list[ArchiveEntry]:
    """Seal an e-receipt for every paid order of the case that has none yet; return all its receipts' entries."""
    case = cases_selectors.case_by_id(case_id)
    if case is None:
        return []
    entries = []
    for order in case.payments.filter(status=PaymentStatus.PAID).order_by("id"):
        existing = ArchiveEntry.objects.filter(kind=ArchiveKind.RECEIPT, ref=order.order_number).first()
        entries.append(
            existing or _append(ArchiveKind.RECEIPT, order.order_number, receipt_package(order), case_id=case.pk)
        )
    return entries


def archive_finished_cases() -> list[ArchiveEntry]:
    """Seal every finished case and paid order not archived yet (the demo seed, or catching up after an outage)."""
    size_before = committed_state().size
    archived = set(ArchiveEntry.objects.filter(kind=ArchiveKind.CASE).values_list("ref", flat=True))
    for case in cases_selectors.finished_cases():
        if case.number not in archived:
            archive_case(case.pk)
        if case.payments.filter(status=PaymentStatus.PAID).exists():
            archive_receipts(case.pk)
    return list(ArchiveEntry.objects.filter(leaf_index__gte=size_before).order_by("leaf_index"))


@dataclass(frozen=True)
class LogState:
    size: int
    root: bytes


def committed_state() -> LogState:
    """The log's committed size and root as the database records them."""
    log = ArchiveLog.objects.filter(pk=1).first()
    if log is None or log.size == 0:
        return LogState(0, merkle.EMPTY_ROOT)
    return LogState(log.size, bytes.fromhex(log.root_hash))


def open_committed_log() -> LogFiles:
    """The log files opened at the committed size (the caller closes them)."""
    return LogFiles(log_dir(), committed_state().size)
