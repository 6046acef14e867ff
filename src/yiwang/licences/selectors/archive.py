"""Reads of the e-archive: a case's entries with their inclusion proofs, tree heads, and checking a proof.

A proof bundle (:func:`entry_proof_bundle`) is everything an outside party
needs to check an entry without us: the entry's bytes, its leaf index, the
audit path and the signed tree head (with the log key's public half). The
format is documented in ADR 0018; :func:`check_proof_bundle` is the check the
public verification page runs, trusting only the log keys registered here.
"""

from __future__ import annotations

import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from yiwang.cases import selectors as cases_selectors
from yiwang.licences import merkle
from yiwang.licences.models import ArchiveEntry, ArchiveLogKey, TreeHead
from yiwang.licences.services.archive import open_committed_log, tree_head_signature_valid

BUNDLE_FORMAT = "yiwang-archive-proof/1"
# A pasted bundle larger than this is not one (a proof at 10M entries is under 1 KiB of hashes).
MAX_BUNDLE_PROOF_LENGTH = 64


def latest_tree_head() -> TreeHead | None:
    return TreeHead.objects.order_by("-tree_size").first()


def public_log_keys() -> list[dict[str, Any]]:
    """Every log key ever used, newest first: id, public key (DER, hex), created and retired (ISO 8601)."""
    return [
        {
            "key_id": k.key_id,
            "public_key": k.public_key,
            "created_at": k.created_at.isoformat(),
            "retired_at": k.retired_at.isoformat() if k.retired_at else None,
        }
        for k in ArchiveLogKey.objects.order_by("-id")
    ]


def tree_head_document(head: TreeHead) -> dict[str, Any]:
    key = ArchiveLogKey.objects.filter(key_id=head.key_id).first()
    return {
        "tree_size": head.tree_size,
        "root_hash": head.root_hash,
        "timestamp_ms": head.timestamp_ms,
        "key_id": head.key_id,
        "public_key": key.public_key if key else None,
        "signature": head.signature,
    }


def archive_size() -> int:
    """How many entries the e-archive log holds (the next entry's leaf index)."""
    return ArchiveEntry.objects.count()


def archive_entries_from(leaf_index: int) -> list[ArchiveEntry]:
    """The log's entries from ``leaf_index`` on, in log order."""
    return list(ArchiveEntry.objects.filter(leaf_index__gte=leaf_index).order_by("leaf_index"))


def is_archived(case_id: int) -> bool:
    """Whether the case has been sealed into the e-archive (its package is in the log)."""
    return ArchiveEntry.objects.filter(case_id=case_id).exists()


def case_archive(user: Any, number: str) -> tuple[Any, list[ArchiveEntry]]:
    """The case (if ``user`` may see it; 404 otherwise, as for a missing one) and its archive entries."""
    case = cases_selectors.get_case(user, number)
    return case, list(ArchiveEntry.objects.filter(case_id=case.pk).order_by("leaf_index"))


def entry_proof_bundle(entry: ArchiveEntry, head: TreeHead | None = None) -> dict[str, Any] | None:
    """The entry's proof against ``head`` (default: the latest tree head); None when no head covers it yet."""
    head = head or latest_tree_head()
    if head is None or entry.leaf_index >= head.tree_size:
        return None
    files = open_committed_log()
    try:
        proof = merkle.inclusion_proof(files, entry.leaf_index, head.tree_size)
    finally:
        files.close()
    return {
        "format": BUNDLE_FORMAT,
        "hash": "SM3",
        "tree": "RFC 9162",
        "entry": entry.entry,
        "leaf_index": entry.leaf_index,
        "inclusion_proof": [node.hex() for node in proof],
        "tree_head": tree_head_document(head),
    }


@dataclass
class ProofCheck:
    valid: bool
    problems: list[str] = field(default_factory=list)
    entry: dict[str, Any] | None = None


def _hex(value: Any, length: int | None = None) -> bytes:
    if not isinstance(value, str):
        raise ValueError
    data = binascii.unhexlify(value)
    if length is not None and len(data) != length:
        raise ValueError
    return data


def check_proof_bundle(bundle: Any) -> ProofCheck:
    """Check a pasted proof bundle: the tree head's signature by one of our log keys, and the inclusion proof.

    Trusts no key the bundle carries: the signer must be a registered log key.
    Never raises on bad input; each problem is a sentence for the page.
    """
    if not isinstance(bundle, dict) or bundle.get("format") != BUNDLE_FORMAT:
        return ProofCheck(False, [_("不是电子档案证明（format 字段不符）")])
    head = bundle.get("tree_head")
    entry = bundle.get("entry")
    index = bundle.get("leaf_index")
    proof = bundle.get("inclusion_proof")
    if (
        not isinstance(head, dict)
        or not isinstance(entry, str)
        or not isinstance(index, int)
        or not isinstance(proof, list)
        or len(proof) > MAX_BUNDLE_PROOF_LENGTH
    ):
        return ProofCheck(False, [_("证明缺少必要字段")])
    try:
        nodes = [_hex(node, merkle.HASH_SIZE) for node in proof]
        root = _hex(head.get("root_hash"), merkle.HASH_SIZE)
        _hex(head.get("signature"))
        size = head.get("tree_size")
        timestamp = head.get("timestamp_ms")
        if not isinstance(size, int) or not isinstance(timestamp, int):
            raise ValueError
    except (ValueError, binascii.Error, TypeError):
        return ProofCheck(False, [_("证明中的哈希或签名格式错误")])
    problems = []
    key = ArchiveLogKey.objects.filter(key_id=str(head.get("key_id", ""))[:64]).first()
    claimed = TreeHead(
        tree_size=size,
        root_hash=root.hex(),
        timestamp_ms=timestamp,
        key_id=key.key_id if key else "",
        signature=head["signature"],
    )
    if key is None:
        problems.append(_("签名密钥不是本平台登记的档案日志密钥"))
    elif not tree_head_signature_valid(claimed, key.public_key):
        problems.append(_("签名树头的 SM2 签名无效"))
    if not merkle.verify_inclusion(entry.encode(), index, size, nodes, root):
        problems.append(_("包含证明不成立：条目不在该签名树头所代表的日志中"))
    try:
        described = json.loads(entry)
    except ValueError:
        described = None
    return ProofCheck(not problems, problems, described if isinstance(described, dict) else None)
