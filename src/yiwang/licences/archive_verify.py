"""Checking the whole e-archive (``yiwang archive verify``): packages, leaves, proofs, tree heads, signatures.

Every finding names what it is about — the case or order number and the
leaf index — so that an operator can go straight to it. Nothing here
writes: a damaged log is reported, never repaired.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from yiwang.licences import merkle
from yiwang.licences.archive_store import LogDamaged, LogFiles, TailReport
from yiwang.licences.models import ArchiveEntry, ArchiveLogKey, TreeHead
from yiwang.licences.services.archive import (
    ENTRY_FORMAT,
    committed_state,
    log_dir,
    package_file,
    tree_head_signature_valid,
)

CHUNK = 2000


@dataclass(frozen=True)
class Finding:
    """One thing wrong: about an entry (``leaf_index`` set), a tree head, or the log as a whole."""

    subject: str
    message: str
    leaf_index: int | None = None

    def __str__(self) -> str:
        return f"{self.subject}：{self.message}"


@dataclass
class VerifyReport:
    size: int = 0
    entries_checked: int = 0
    tree_heads_checked: int = 0
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


def _label(entry: ArchiveEntry) -> str:
    kind = _("办件") if entry.kind == "case" else _("电子票据")
    return _("%(kind)s %(ref)s（叶子 #%(index)s）") % {"kind": kind, "ref": entry.ref, "index": entry.leaf_index}


def _entries() -> Iterator[ArchiveEntry]:
    last = -1
    while True:
        chunk = list(ArchiveEntry.objects.filter(leaf_index__gt=last).order_by("leaf_index")[:CHUNK])
        if not chunk:
            return
        yield from chunk
        last = chunk[-1].leaf_index


def streamed_root(files: LogFiles) -> bytes:
    """The root recomputed from the leaf file alone, holding only one hash per level (O(log n) memory)."""
    stack: list[tuple[int, bytes]] = []
    for _index, leaf in files.iter_leaves():
        size, current = 1, leaf
        while stack and stack[-1][0] == size:
            left_size, left = stack.pop()
            current = merkle.node_hash(left, current)
            size += left_size
        stack.append((size, current))
    if not stack:
        return merkle.EMPTY_ROOT
    root = stack[-1][1]
    for _size, left in reversed(stack[:-1]):
        root = merkle.node_hash(left, root)
    return root


def _record_problems(entry: ArchiveEntry) -> list[str]:
    """What is wrong with the entry's record and its package file."""
    problems = []
    try:
        described = json.loads(entry.entry)
    except ValueError:
        described = {}
    if (
        not isinstance(described, dict)
        or described.get("format") != ENTRY_FORMAT
        or described.get("ref") != entry.ref
        or described.get("kind") != entry.kind
        or described.get("sm3") != entry.package_digest
    ):
        problems.append(_("日志条目与档案记录不一致"))
    try:
        data = package_file(entry).read_bytes()
    except OSError:
        problems.append(_("档案包文件缺失：%(path)s") % {"path": entry.package_path})
        return problems
    if len(data) != entry.package_size:
        problems.append(
            _("档案包大小不符（应为 %(want)s 字节，实为 %(got)s 字节）")
            % {"want": entry.package_size, "got": len(data)}
        )
    if merkle.sm3(data).hex() != entry.package_digest:
        problems.append(_("档案包内容已被改动（SM3 摘要不符）"))
    return problems


def _log_problems(entry: ArchiveEntry, files: LogFiles, head: TreeHead | None) -> list[str]:
    """What is wrong with the entry's leaf in the log files and its inclusion proof against ``head``."""
    entry_bytes = entry.entry.encode()
    leaf = merkle.leaf_hash(entry_bytes)
    problems = []
    if leaf.hex() != entry.leaf_hash:
        problems.append(_("叶子哈希与日志条目不符"))
    try:
        if files.leaf(entry.leaf_index) != leaf:
            problems.append(_("日志文件中的叶子哈希已被改动"))
    except (LogDamaged, IndexError):
        return [*problems, _("日志文件中缺少此叶子（日志被截断）")]
    if head is None or entry.leaf_index >= head.tree_size:
        return [*problems, _("没有包含此条目的签名树头")]
    try:
        proof = merkle.inclusion_proof(files, entry.leaf_index, head.tree_size)
    except (LogDamaged, IndexError):
        return [*problems, _("无法从日志文件生成包含证明（日志被截断）")]
    if not merkle.verify_inclusion(entry_bytes, entry.leaf_index, head.tree_size, proof, bytes.fromhex(head.root_hash)):
        problems.append(_("包含证明不能对签名树头（大小 %(size)s）验证通过") % {"size": head.tree_size})
    return problems


def _check_entry(entry: ArchiveEntry, files: LogFiles, head: TreeHead | None, report: VerifyReport) -> None:
    label = _label(entry)
    for problem in [*_record_problems(entry), *_log_problems(entry, files, head)]:
        report.findings.append(Finding(label, problem, entry.leaf_index))


def _check_heads(files: LogFiles, report: VerifyReport) -> None:
    keys = {k.key_id: k.public_key for k in ArchiveLogKey.objects.all()}
    previous: TreeHead | None = None
    for head in TreeHead.objects.order_by("tree_size").iterator(chunk_size=CHUNK):
        report.tree_heads_checked += 1
        subject = _("签名树头（大小 %(size)s）") % {"size": head.tree_size}
        key = keys.get(head.key_id)
        if key is None:
            report.findings.append(Finding(subject, _("签名密钥 %(key)s 未登记") % {"key": head.key_id}))
        elif not tree_head_signature_valid(head, key):
            report.findings.append(Finding(subject, _("SM2 签名无效")))
        if head.tree_size > files.size:
            report.findings.append(Finding(subject, _("树头大小超过日志的已提交大小 %(size)s") % {"size": files.size}))
            continue
        if previous is not None:
            if head.timestamp_ms < previous.timestamp_ms:
                report.findings.append(Finding(subject, _("时间戳早于前一个树头")))
            try:
                proof = merkle.consistency_proof(files, previous.tree_size, head.tree_size)
                consistent = merkle.verify_consistency(
                    previous.tree_size,
                    head.tree_size,
                    bytes.fromhex(previous.root_hash),
                    bytes.fromhex(head.root_hash),
                    proof,
                )
            except (LogDamaged, IndexError, ValueError):
                consistent = False
            if not consistent:
                report.findings.append(
                    Finding(
                        subject,
                        _("与前一个树头（大小 %(size)s）的一致性证明不成立") % {"size": previous.tree_size},
                    )
                )
        previous = head


# Past this many leaves without a record, the rest of a gap is summed up in one line.
MISSING_NAMED = 100


def _missing_records(start: int, end: int, report: VerifyReport) -> None:
    """Name each leaf in [start, end) that has no archive record (a deleted row)."""
    for index in range(start, min(end, start + MISSING_NAMED)):
        report.findings.append(Finding(_("日志"), _("叶子 #%(index)s 没有档案记录") % {"index": index}, index))
    if end - start > MISSING_NAMED:
        report.findings.append(
            Finding(_("日志"), _("另有 %(count)s 个叶子没有档案记录") % {"count": end - start - MISSING_NAMED})
        )


def verify_archive() -> VerifyReport:
    """Check every package, leaf and inclusion proof against the latest signed tree head, and every tree head."""
    state = committed_state()
    report = VerifyReport(size=state.size)
    head = TreeHead.objects.order_by("-tree_size").first()
    files = LogFiles(log_dir(), state.size)
    try:
        tail: TailReport | None = files.check_lengths()
    except LogDamaged as damaged:
        tail = None
        report.findings.append(Finding(_("日志文件"), str(damaged)))
    if tail is not None and not tail.clean:
        report.notes.append(
            _("日志文件末尾有未提交的数据（%(bytes)s），下次归档时将被截去")
            % {"bytes": ", ".join(f"L{level}: {size} B" for level, size in sorted(tail.extra_bytes.items()))}
        )
    try:
        if state.size and head is None:
            report.findings.append(
                Finding(_("日志"), _("日志有 %(size)s 个条目，但没有签名树头") % {"size": state.size})
            )
        if head is not None:
            if head.tree_size != state.size or head.root_hash != state.root.hex():
                report.findings.append(Finding(_("日志"), _("最新签名树头与日志的已提交状态不符")))
            if tail is not None:
                try:
                    if streamed_root(files) != bytes.fromhex(head.root_hash):
                        report.findings.append(Finding(_("日志"), _("由叶子重算的根哈希与最新签名树头不符")))
                except LogDamaged as damaged:
                    report.findings.append(Finding(_("日志文件"), str(damaged)))
        expected_index = 0
        for entry in _entries():
            _missing_records(expected_index, min(entry.leaf_index, state.size), report)
            _check_entry(entry, files, head, report)
            report.entries_checked += 1
            expected_index = entry.leaf_index + 1
        _missing_records(expected_index, state.size, report)
        _check_heads(files, report)
    finally:
        files.close()
    return report
