"""Sealing finished cases and paid fees into the archive, and ``yiwang archive verify`` finding any change."""

from __future__ import annotations

import json
import os
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tests.cases.conftest import Staff
from tests.licences.archive_fixtures import awaiting_payment, closed_case, rejected_case, run_worker
from yiwang.cases import payments, sandbox_gateway
from yiwang.cases.models import PaymentOrder
from yiwang.licences import merkle, services
from yiwang.licences.archive_checks import archive_log_intact
from yiwang.licences.archive_store import level_path
from yiwang.licences.archive_verify import verify_archive
from yiwang.licences.models import ArchiveEntry, ArchiveLog, TreeHead
from yiwang.licences.services import archive as archive_services

pytestmark = pytest.mark.django_db


def verify() -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("archive", "verify", stdout=out, stderr=err)
    except CommandError as error:
        return error.returncode, out.getvalue(), err.getvalue() + str(error)
    return 0, out.getvalue(), err.getvalue()


@pytest.fixture
def two_cases(archive_env: Path, citizen: Any, market: Staff) -> list[ArchiveEntry]:
    closed = closed_case(citizen, market)
    rejected = rejected_case(citizen, market)
    run_worker()
    return [ArchiveEntry.objects.get(ref=closed.number), ArchiveEntry.objects.get(ref=rejected.number)]


def test_a_finished_case_is_sealed_once_with_its_record(two_cases: list[ArchiveEntry], archive_env: Path) -> None:
    closed, rejected = two_cases
    assert [closed.leaf_index, rejected.leaf_index] == [0, 1]
    data = (archive_env / closed.package_path).read_bytes()
    assert merkle.sm3(data).hex() == closed.package_digest
    package = json.loads(data)
    assert package["case"]["number"] == closed.ref and package["case"]["state"] == "closed"
    assert [e["action"] for e in package["events"]] == [
        "submit",
        "accept",
        "complete_task",
        "approve",
        "issue_certificate",
        "close",
    ]
    assert package["materials"] and all(len(m["sm3"]) == 64 for m in package["materials"])
    assert data == archive_services.canonical_json(package)  # canonical: the same record, the same bytes
    # Sealing again (a second event, the sweep) changes nothing.
    assert services.archive_case(closed.case_id) == closed
    assert services.archive_finished_cases() == []
    assert ArchiveEntry.objects.count() == 2
    log = ArchiveLog.objects.get()
    assert log.size == 2
    head = TreeHead.objects.order_by("-tree_size").first()
    assert head is not None and head.tree_size == 2 and head.root_hash == log.root_hash
    assert archive_services.tree_head_signature_valid(head)


def test_an_open_case_is_not_sealed(archive_env: Path, citizen: Any, market: Staff) -> None:
    from tests.cases import builders
    from tests.cases.conftest import FOOD_LICENCE, item_code

    (case,) = builders.apply(citizen, item_code=item_code(FOOD_LICENCE, "market"))
    run_worker()
    assert services.archive_case(case.pk) is None
    assert services.archive_case(10**9) is None
    assert not ArchiveEntry.objects.exists()


def test_a_confirmed_payment_is_sealed_as_an_e_receipt(archive_env: Path, citizen: Any, police: Staff) -> None:
    case = awaiting_payment(citizen, police)
    order = PaymentOrder.objects.get(case=case)
    body = sandbox_gateway.notice_body(
        notify_id="n-1",
        order_number=order.order_number,
        trade_no=sandbox_gateway.trade_number(order.order_number),
        amount=order.amount,
        status="SUCCESS",
        paid_at=timezone.now(),
    )
    assert payments.handle_callback("sandbox", body, sandbox_gateway.sign(body)) == "confirmed"
    run_worker()
    receipt = ArchiveEntry.objects.get(kind="receipt")
    order.refresh_from_db()
    assert receipt.ref == order.order_number and receipt.case_id == case.pk
    package = json.loads((archive_env / receipt.package_path).read_bytes())
    assert package["receipt"]["amount"] == str(order.amount)
    assert package["receipt"]["trade_number"] == order.provider_trade_number
    assert services.archive_receipts(case.pk) == [receipt]
    assert verify()[0] == 0


def test_verify_passes_on_an_intact_archive(two_cases: list[ArchiveEntry]) -> None:
    code, out, err = verify()
    assert code == 0, err
    assert "电子档案完整" in out and "检查条目 2 项" in out


def test_one_changed_byte_of_a_package_is_found_and_named(two_cases: list[ArchiveEntry], archive_env: Path) -> None:
    target = two_cases[1]
    path = archive_env / target.package_path
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    code, _out, err = verify()
    assert code == 1
    assert f"办件 {target.ref}（叶子 #1）：档案包内容已被改动" in err
    assert two_cases[0].ref not in err


def test_a_deleted_package_is_named(two_cases: list[ArchiveEntry], archive_env: Path) -> None:
    (archive_env / two_cases[0].package_path).unlink()
    code, _out, err = verify()
    assert code == 1 and f"办件 {two_cases[0].ref}（叶子 #0）：档案包文件缺失" in err


def test_one_changed_byte_of_the_leaf_file_is_named(two_cases: list[ArchiveEntry], archive_env: Path) -> None:
    path = level_path(archive_env / "log", 0)
    data = bytearray(path.read_bytes())
    data[32 + 5] ^= 0x40  # inside leaf 1
    path.write_bytes(bytes(data))
    code, _out, err = verify()
    assert code == 1
    assert f"办件 {two_cases[1].ref}（叶子 #1）：日志文件中的叶子哈希已被改动" in err
    assert "由叶子重算的根哈希与最新签名树头不符" in err


def test_a_changed_inner_node_breaks_the_proofs_and_consistency(archive_env: Path, citizen: Any, market: Staff) -> None:
    for _ in range(4):
        closed_case(citizen, market)
    run_worker()
    path = level_path(archive_env / "log", 1)
    data = bytearray(path.read_bytes())
    data[0] ^= 0x01  # the node over leaves 0 and 1: on the paths of leaves 2 and 3, not of 0 and 1
    path.write_bytes(bytes(data))
    code, _out, err = verify()
    assert code == 1
    assert "（叶子 #2）：包含证明不能对签名树头（大小 4）验证通过" in err
    assert "（叶子 #3）：包含证明不能对签名树头（大小 4）验证通过" in err
    assert "（叶子 #0）" not in err and "（叶子 #1）" not in err
    assert "签名树头（大小 4）：与前一个树头（大小 3）的一致性证明不成立" in err


def test_a_truncated_log_is_found_and_the_lost_entry_named(two_cases: list[ArchiveEntry], archive_env: Path) -> None:
    os.truncate(level_path(archive_env / "log", 0), 32 + 20)
    code, _out, err = verify()
    assert code == 1
    assert "第 0 层日志文件应有 64 字节，实有 52 字节（已截断）" in err
    assert f"办件 {two_cases[1].ref}（叶子 #1）：日志文件中缺少此叶子（日志被截断）" in err


def test_an_edited_tree_head_signature_is_found(two_cases: list[ArchiveEntry]) -> None:
    head = TreeHead.objects.get(tree_size=1)
    signature = bytearray(bytes.fromhex(head.signature))
    signature[-3] ^= 0x01
    TreeHead.objects.filter(pk=head.pk).update(signature=signature.hex())
    code, _out, err = verify()
    assert code == 1 and "签名树头（大小 1）：SM2 签名无效" in err


def test_an_edited_tree_head_root_is_found(two_cases: list[ArchiveEntry]) -> None:
    head = TreeHead.objects.get(tree_size=2)
    TreeHead.objects.filter(pk=head.pk).update(root_hash="00" * 32)
    code, _out, err = verify()
    assert code == 1
    assert "签名树头（大小 2）：SM2 签名无效" in err
    assert "包含证明不能对签名树头" in err


def test_an_edited_entry_record_is_named(two_cases: list[ArchiveEntry]) -> None:
    entry = two_cases[0]
    ArchiveEntry.objects.filter(pk=entry.pk).update(entry=entry.entry.replace('"size":', '"size":1'))
    code, _out, err = verify()
    assert code == 1 and f"办件 {entry.ref}（叶子 #0）：叶子哈希与日志条目不符" in err


def test_an_uncommitted_tail_is_noted_not_failed_and_cut_by_the_next_append(
    two_cases: list[ArchiveEntry], archive_env: Path, citizen: Any, market: Staff
) -> None:
    with open(level_path(archive_env / "log", 0), "ab") as out:
        out.write(b"\x01" * 40)  # a crashed append: one record and a partial one
    code, out_text, _err = verify()
    assert code == 0 and "未提交的数据" in out_text
    closed_case(citizen, market)
    run_worker()
    assert ArchiveLog.objects.get().size == 3
    assert level_path(archive_env / "log", 0).stat().st_size == 96
    assert verify()[0] == 0


def test_a_rotated_key_keeps_old_tree_heads_verifiable(
    two_cases: list[ArchiveEntry], citizen: Any, market: Staff
) -> None:
    old_key = TreeHead.objects.get(tree_size=2).key_id
    services.rotate_log_key()
    closed_case(citizen, market)
    run_worker()
    assert TreeHead.objects.get(tree_size=3).key_id != old_key
    assert verify()[0] == 0


def test_the_sweep_seals_cases_finished_before_the_worker_ran(archive_env: Path, citizen: Any, market: Staff) -> None:
    case = closed_case(citizen, market)
    made = services.archive_finished_cases()
    assert [e.ref for e in made] == [case.number]
    out = StringIO()
    call_command("archive", "seal", stdout=out)
    assert "新归档 0 项" in out.getvalue()
    run_worker()  # the events arrive late: nothing is sealed twice
    assert ArchiveEntry.objects.count() == 1


def test_a_case_number_that_cannot_name_a_file_is_refused(archive_env: Path) -> None:
    with pytest.raises(services.ArchiveError):
        archive_services._write_package("case", "../escape", b"{}")


def test_an_empty_archive_verifies(archive_env: Path) -> None:
    report = verify_archive()
    assert report.ok and report.size == 0


def test_a_rejected_case_is_sealed_through_the_outbox(archive_env: Path, citizen: Any, market: Staff) -> None:
    case = rejected_case(citizen, market)
    # Sealing happens after the case's transaction, through the outbox, never inside the case service.
    assert not ArchiveEntry.objects.exists()
    run_worker()
    assert ArchiveEntry.objects.get().ref == case.number


def test_a_crash_between_the_log_write_and_the_commit_leaves_nothing_behind(
    two_cases: list[ArchiveEntry], archive_env: Path, citizen: Any, market: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = closed_case(citizen, market)

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("power cut")

    # The leaf and its nodes are written and synced, then the transaction dies before it commits.
    monkeypatch.setattr(archive_services, "_sign_tree_head", crash)
    with pytest.raises(RuntimeError):
        services.archive_case(case.pk)
    assert ArchiveLog.objects.get().size == 2 and not ArchiveEntry.objects.filter(ref=case.number).exists()
    assert level_path(archive_env / "log", 0).stat().st_size == 96  # the uncommitted leaf is on disk
    assert [m.id for m in archive_log_intact()] == ["licences.W002"]
    assert verify()[0] == 0  # never read: the log is whole at its committed size
    monkeypatch.undo()
    entry = services.archive_case(case.pk)
    assert entry is not None and entry.leaf_index == 2
    assert archive_log_intact() == []
    assert verify()[0] == 0


def test_the_start_up_check_reports_a_damaged_log(two_cases: list[ArchiveEntry], archive_env: Path) -> None:
    assert archive_log_intact() == []
    os.truncate(level_path(archive_env / "log", 0), 40)
    (message,) = archive_log_intact()
    assert message.id == "licences.W001" and "damaged" in message.msg


def test_a_damaged_archive_does_not_hold_back_the_applicants_notifications(
    two_cases: list[ArchiveEntry], archive_env: Path, citizen: Any, market: Staff
) -> None:
    from yiwang.core.models import Notification, OutboxEvent

    os.truncate(level_path(archive_env / "log", 0), 10)
    case = closed_case(citizen, market)
    run_worker()
    closing = case.events.get(action="close")
    assert Notification.objects.filter(dedupe_key__startswith=f"case-event:{closing.pk}:").exists()
    assert not OutboxEvent.objects.filter(topic="case.event", processed_at__isnull=True).exists()
    failed = OutboxEvent.objects.get(topic="archive.seal_case", payload__case_id=case.pk)
    assert failed.processed_at is None and "LogDamaged" in failed.last_error
    assert not ArchiveEntry.objects.filter(ref=case.number).exists()


def test_a_deleted_entry_record_is_named_by_its_leaf(two_cases: list[ArchiveEntry]) -> None:
    ArchiveEntry.objects.filter(pk=two_cases[0].pk).delete()
    code, _out, err = verify()
    assert code == 1
    assert "日志：叶子 #0 没有档案记录" in err
    assert "叶子 #1" not in err
