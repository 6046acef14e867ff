"""前置库 batch exchange: checks, idempotent loads, quarantine, retries, the schedule, the desk and the command."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError
from django.test import Client, override_settings
from django.utils import timezone

from tests.accounts.factories import PASSWORD, make_citizen, make_staff
from yiwang.accounts.constants import Role
from yiwang.core import outbox
from yiwang.core.identifiers import make_credit_code, make_resident_id
from yiwang.exchange import batch_formats, batches, demo, sources
from yiwang.exchange.constants import Backend, SubjectKind
from yiwang.exchange.models import Batch, BatchSchedule, CreditRecord, HouseholdRecord
from yiwang.exchange.services import person_index

pytestmark = pytest.mark.django_db

HOUSEHOLD_COLUMNS = batch_formats.SCHEMAS[Backend.HOUSEHOLD].names
NEW_PERSON = make_resident_id("990102", "19800202", "031")
OTHER_PERSON = make_resident_id("990102", "19810303", "042")


@pytest.fixture
def front(tmp_path: Path, catalogue: None) -> Iterator[Path]:
    with override_settings(YIWANG_EXCHANGE_FRONT_DIR=str(tmp_path)):
        yield tmp_path


def resident(
    number: str, name: str, *, address: str = "示范市幸福街道幸福路8号2单元301", **extra: str
) -> dict[str, str]:
    row = {
        "id_number": number,
        "name": name,
        "gender": "男",
        "ethnicity": "汉族",
        "birth_date": f"{number[6:10]}-{number[10:12]}-{number[12:14]}",
        "address": address,
        "household_number": "990102008301",
        "household_head": "张三",
        "relation_to_head": "户主" if name == "张三" else "兄弟",
    }
    row.update(extra)
    return row


def drop(front: Path, sequence: int, rows: list[dict[str, str]], **options: Any) -> Path:
    options.setdefault("columns", HOUSEHOLD_COLUMNS)
    options.setdefault("department", "police")
    options.setdefault("resource", "RES-POLICE-0001")
    name = options.pop("name", f"household-{sequence:06d}")
    return batch_formats.write_batch(front / "inbox", name, sequence=sequence, rows=rows, **options)


def run(front: Path, capture: Any) -> list[Batch]:
    with capture(execute=True):
        return batches.run(front)


def household(number: str) -> dict[str, str] | None:
    return sources.lookup(Backend.HOUSEHOLD, sources.Subject(SubjectKind.PERSON, person_index(number), ""))


def test_a_good_batch_is_loaded_into_the_table_the_data_service_reads(
    front: Path, django_capture_on_commit_callbacks: Any
) -> None:
    before = HouseholdRecord.objects.count()
    drop(
        front,
        1,
        [
            resident(demo.ZHANG_SAN, "张三", address="示范市幸福街道新华路1号"),
            resident(NEW_PERSON, "张四"),
            resident(OTHER_PERSON, "张五"),
        ],
    )

    (batch,) = run(front, django_capture_on_commit_callbacks)

    assert batch.status == Batch.Status.LOADED
    assert (batch.rows_total, batch.rows_inserted, batch.rows_updated, batch.rows_unchanged) == (3, 2, 1, 0)
    assert batch.department is not None and batch.department.code == "police"
    assert batch.sequence == 1 and batch.verified_at is not None and batch.finished_at is not None
    assert HouseholdRecord.objects.count() == before + 2
    assert household(demo.ZHANG_SAN)["address"] == "示范市幸福街道新华路1号"  # type: ignore[index]
    answer = household(NEW_PERSON)
    assert answer is not None and answer["name"] == "张四" and answer["birth_date"] == "1980-02-02"
    assert answer["id_number"] != NEW_PERSON and "*" in answer["id_number"]
    stored = HouseholdRecord.objects.get(id_number_index=person_index(NEW_PERSON))
    assert NEW_PERSON not in stored.id_number_encrypted
    # The files leave the inbox for done/, where the batch's token names them.
    assert not list((front / "inbox").iterdir())
    assert (front / "done" / batch.token / "household-000001.csv").is_file()


def test_the_same_batch_twice_changes_nothing(front: Path, django_capture_on_commit_callbacks: Any) -> None:
    rows = [resident(NEW_PERSON, "张四"), resident(OTHER_PERSON, "张五")]
    drop(front, 1, rows)
    (first,) = run(front, django_capture_on_commit_callbacks)
    stamp = HouseholdRecord.objects.get(id_number_index=person_index(NEW_PERSON)).updated_at
    count = HouseholdRecord.objects.count()

    drop(front, 1, rows)  # dropped again, as it was
    (again,) = run(front, django_capture_on_commit_callbacks)
    drop(front, 2, rows)  # the same rows under the next number
    (same_rows,) = run(front, django_capture_on_commit_callbacks)

    assert first.status == Batch.Status.LOADED
    assert again.status == Batch.Status.DUPLICATE and again.reason_code == "duplicate"
    assert (again.rows_inserted, again.rows_updated) == (0, 0)
    assert same_rows.status == Batch.Status.LOADED
    assert (same_rows.rows_inserted, same_rows.rows_updated, same_rows.rows_unchanged) == (0, 0, 2)
    assert HouseholdRecord.objects.count() == count
    assert HouseholdRecord.objects.get(id_number_index=person_index(NEW_PERSON)).updated_at == stamp


def test_a_reused_sequence_number_with_other_content_is_rejected(
    front: Path, django_capture_on_commit_callbacks: Any
) -> None:
    drop(front, 1, [resident(NEW_PERSON, "张四")])
    run(front, django_capture_on_commit_callbacks)
    drop(front, 1, [resident(NEW_PERSON, "张四", address="别处")])

    (batch,) = run(front, django_capture_on_commit_callbacks)

    assert batch.status == Batch.Status.REJECTED and batch.reason_code == "sequence_reused"
    assert household(NEW_PERSON)["address"] != "别处"  # type: ignore[index]


def test_a_bad_checksum_quarantines_the_batch_with_the_reason(
    front: Path, django_capture_on_commit_callbacks: Any
) -> None:
    drop(front, 1, [resident(NEW_PERSON, "张四")])
    data = front / "inbox" / "household-000001.csv"
    data.write_text(data.read_text(encoding="utf-8").replace("张四", "李四"), encoding="utf-8")

    (batch,) = run(front, django_capture_on_commit_callbacks)

    assert batch.status == Batch.Status.REJECTED and batch.reason_code == "bad_checksum"
    assert "household-000001.csv" in batch.reason and "SM3" in batch.reason
    assert household(NEW_PERSON) is None
    reason = (front / "quarantine" / batch.token / "REASON.txt").read_text(encoding="utf-8")
    assert "SM3" in reason
    assert (front / "quarantine" / batch.token / "household-000001.csv").is_file()


def test_wrong_columns_are_named(front: Path, django_capture_on_commit_callbacks: Any) -> None:
    row = resident(NEW_PERSON, "张四")
    row["nation"] = row.pop("ethnicity")
    columns = [("nation" if column == "ethnicity" else column) for column in HOUSEHOLD_COLUMNS]
    drop(front, 1, [row], columns=columns)

    (batch,) = run(front, django_capture_on_commit_callbacks)

    assert batch.status == Batch.Status.REJECTED and batch.reason_code == "wrong_columns"
    assert "缺少列 ethnicity" in batch.reason and "多出列 nation" in batch.reason
    assert household(NEW_PERSON) is None


def test_a_sequence_gap_is_rejected_and_nothing_of_it_is_loaded(
    front: Path, django_capture_on_commit_callbacks: Any
) -> None:
    drop(front, 1, [resident(NEW_PERSON, "张四")])
    run(front, django_capture_on_commit_callbacks)
    drop(front, 3, [resident(OTHER_PERSON, "张五")])

    (batch,) = run(front, django_capture_on_commit_callbacks)

    assert batch.status == Batch.Status.REJECTED and batch.reason_code == "sequence_gap"
    assert "第2批" in batch.reason and "第3批" in batch.reason
    assert household(OTHER_PERSON) is None


def test_the_first_batch_of_a_resource_is_number_one(front: Path, django_capture_on_commit_callbacks: Any) -> None:
    drop(front, 2, [resident(NEW_PERSON, "张四")])

    (batch,) = run(front, django_capture_on_commit_callbacks)

    assert batch.reason_code == "sequence_gap" and "第1批" in batch.reason


def test_batches_dropped_out_of_order_load_in_sequence(front: Path, django_capture_on_commit_callbacks: Any) -> None:
    drop(front, 2, [resident(NEW_PERSON, "张四", address="第二批地址")], name="a-second")
    drop(front, 1, [resident(NEW_PERSON, "张四", address="第一批地址")], name="b-first")

    done = run(front, django_capture_on_commit_callbacks)

    assert [(b.sequence, b.status) for b in done] == [(1, Batch.Status.LOADED), (2, Batch.Status.LOADED)]
    assert household(NEW_PERSON)["address"] == "第二批地址"  # type: ignore[index]


def test_a_batch_waits_while_its_predecessor_is_still_being_taken_in(
    front: Path, django_capture_on_commit_callbacks: Any
) -> None:
    drop(front, 1, [resident(NEW_PERSON, "张四")], name="a-first")
    drop(front, 2, [resident(OTHER_PERSON, "张五")], name="b-second")
    with django_capture_on_commit_callbacks(execute=True):
        first_id, second_id = batches.scan(front)
        second = batches.load(second_id)

    assert second is not None and second.status == Batch.Status.RECEIVED
    assert "waiting for batch 1" in second.last_error and second.next_attempt_at > timezone.now()
    assert second.attempts == 0 and household(OTHER_PERSON) is None

    with django_capture_on_commit_callbacks(execute=True):
        batches.load(first_id)
    Batch.objects.filter(pk=second_id).update(next_attempt_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        second = batches.load(second_id)
    assert second is not None and second.status == Batch.Status.LOADED


def test_one_invalid_id_number_rejects_the_whole_batch_with_its_line(
    front: Path, django_capture_on_commit_callbacks: Any
) -> None:
    bad = NEW_PERSON[:17] + ("0" if NEW_PERSON[17] != "0" else "1")
    drop(front, 1, [resident(OTHER_PERSON, "张五"), resident(bad, "张四")])

    (batch,) = run(front, django_capture_on_commit_callbacks)

    assert batch.status == Batch.Status.REJECTED and batch.reason_code == "invalid_row"
    assert "household-000001.csv 第3行" in batch.reason and "id_number" in batch.reason and "校验位" in batch.reason
    assert bad not in batch.reason  # the reason names the line, never the number
    assert household(OTHER_PERSON) is None  # the good row before it is not loaded either
    assert (batch.rows_inserted, batch.rows_updated) == (0, 0)


def test_a_row_count_other_than_the_manifest_says_is_rejected(
    front: Path, django_capture_on_commit_callbacks: Any
) -> None:
    manifest_path = drop(front, 1, [resident(NEW_PERSON, "张四")])
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["files"][0]["rows"] = 2
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")

    (batch,) = run(front, django_capture_on_commit_callbacks)

    assert batch.reason_code == "row_count_mismatch"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"department": "market"}, "department_mismatch"),
        ({"resource": "RES-NOPE-0001"}, "unknown_resource"),
        ({"format": "csv"}, "bad_manifest"),
        ({"sequence": 0}, "bad_manifest"),
    ],
)
def test_a_manifest_that_does_not_fit_is_rejected(
    front: Path, django_capture_on_commit_callbacks: Any, change: dict[str, Any], code: str
) -> None:
    manifest_path = drop(front, 1, [resident(NEW_PERSON, "张四")])
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest.update(change)
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")

    (batch,) = run(front, django_capture_on_commit_callbacks)

    assert batch.status == Batch.Status.REJECTED and batch.reason_code == code
    assert household(NEW_PERSON) is None


def test_json_lines_with_sha256_load_credit_entries_of_people_and_organisations(
    front: Path, django_capture_on_commit_callbacks: Any
) -> None:
    company = make_credit_code("91", "990100", "MA3XY777")
    columns = batch_formats.SCHEMAS[Backend.CREDIT].names
    entry = {
        "name": "示范市某某贸易有限公司",
        "list_name": "严重违法失信名单",
        "reason": "拒不履行行政处罚决定",
        "listed_by": "示范市市场监督管理局",
        "listed_on": "2025-01-02",
        "removed_on": None,
    }
    rows = [
        {"subject_kind": "organisation", "subject": company, **entry},
        {"subject_kind": "person", "subject": NEW_PERSON, **entry, "name": "张四", "list_name": "失信被执行人名单"},
    ]
    batch_formats.write_batch(
        front / "inbox",
        "credit-1",
        department="market",
        resource="RES-MARKET-0002",
        sequence=1,
        rows=rows,
        columns=columns,
        file_format="jsonl",
        algorithm="sha256",
    )

    (batch,) = run(front, django_capture_on_commit_callbacks)

    assert batch.status == Batch.Status.LOADED and batch.rows_inserted == 2
    answer = sources.lookup(Backend.CREDIT, sources.Subject(SubjectKind.ORGANISATION, company, company))
    assert answer is not None and answer["listed"] == "是"
    person = CreditRecord.objects.get(subject_kind=SubjectKind.PERSON)
    assert person.subject_index == person_index(NEW_PERSON) and NEW_PERSON not in person.subject_masked


def test_a_transient_failure_is_retried_with_backoff(
    front: Path, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    drop(front, 1, [resident(NEW_PERSON, "张四")])
    real = batches._upsert

    def locked(*args: Any) -> Any:
        raise OperationalError("database is locked")

    monkeypatch.setattr(batches, "_upsert", locked)
    (batch,) = run(front, django_capture_on_commit_callbacks)

    assert batch.status != Batch.Status.LOADED and batch.finished_at is None
    assert batch.attempts == 1 and "database is locked" in batch.last_error
    assert batch.next_attempt_at >= timezone.now() + dt.timedelta(seconds=25)
    assert household(NEW_PERSON) is None
    assert run(front, django_capture_on_commit_callbacks) == []  # not due yet

    monkeypatch.setattr(batches, "_upsert", real)
    Batch.objects.filter(pk=batch.pk).update(next_attempt_at=timezone.now())
    (batch,) = run(front, django_capture_on_commit_callbacks)
    assert batch.status == Batch.Status.LOADED and household(NEW_PERSON) is not None


def test_a_batch_that_keeps_failing_is_given_up_and_quarantined(
    front: Path, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    drop(front, 1, [resident(NEW_PERSON, "张四")])

    def locked(*args: Any) -> Any:
        raise OperationalError("database is locked")

    monkeypatch.setattr(batches, "_upsert", locked)
    run(front, django_capture_on_commit_callbacks)
    batch = Batch.objects.get()
    for _attempt in range(20):
        Batch.objects.filter(pk=batch.pk).update(next_attempt_at=timezone.now())
        with django_capture_on_commit_callbacks(execute=True):
            batch = batches.load(batch.pk)  # type: ignore[assignment]
        if batch.status == Batch.Status.FAILED:
            break

    assert batch.status == Batch.Status.FAILED and batch.reason_code == "gave_up"
    assert batch.attempts == 10
    assert (front / "quarantine" / batch.token / "REASON.txt").is_file()


def test_the_worker_scans_on_a_schedule_and_loads_each_batch_on_its_own_event(
    front: Path, django_capture_on_commit_callbacks: Any
) -> None:
    schedule = batches.ensure_scheduled()
    assert schedule is not None
    drop(front, 1, [resident(NEW_PERSON, "张四")])

    with django_capture_on_commit_callbacks(execute=True):
        while outbox.process_batch("batch-test"):
            pass

    batch = Batch.objects.get()
    assert batch.status == Batch.Status.LOADED and household(NEW_PERSON) is not None
    schedule.refresh_from_db()
    assert schedule.last_scan_at is not None and schedule.next_scan_at > timezone.now()


def test_restarting_the_schedule_leaves_one_chain(front: Path, django_capture_on_commit_callbacks: Any) -> None:
    batches.ensure_scheduled()
    batches.ensure_scheduled()

    with django_capture_on_commit_callbacks(execute=True):
        while outbox.process_batch("batch-test"):
            pass

    schedule = BatchSchedule.objects.get()
    assert schedule.last_scan_at is not None
    # Both events were handled; only the current chain scheduled a next scan.
    from yiwang.core.models import OutboxEvent

    pending = OutboxEvent.objects.filter(topic=batches.SCAN_TOPIC, processed_at__isnull=True)
    assert [event.payload["token"] for event in pending] == [schedule.token]


def test_no_front_directory_means_no_schedule(db: None) -> None:
    with override_settings(YIWANG_EXCHANGE_FRONT_DIR=""):
        assert batches.ensure_scheduled() is None
        assert batches.run() == []


# --- the desk -----------------------------------------------------------------------------------------


def _client(user: Any) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_the_desk_shows_a_department_its_own_batches_only(front: Path, django_capture_on_commit_callbacks: Any) -> None:
    bad = NEW_PERSON[:17] + ("0" if NEW_PERSON[17] != "0" else "1")
    drop(front, 1, [resident(bad, "张四")])
    run(front, django_capture_on_commit_callbacks)
    police = make_staff(Role.REVIEWER, "police")
    market = make_staff(Role.REVIEWER, "market")

    for url in ("/exchange/desk/", "/exchange/desk/batches/"):
        page = _client(police).get(url).content.decode()
        assert "前置库" in page and "invalid_row" in page and "第2行" in page
        other = _client(market).get(url)
        assert other.status_code == 200 and "invalid_row" not in other.content.decode()


def test_the_batches_page_is_for_staff(front: Path) -> None:
    assert _client(make_citizen()).get("/exchange/desk/batches/").status_code == 403
    anonymous = Client().get("/exchange/desk/batches/")
    assert anonymous.status_code == 302 and "login" in anonymous["Location"]


# --- the command --------------------------------------------------------------------------------------


def test_the_command_loads_the_front_directory(
    front: Path, django_capture_on_commit_callbacks: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    drop(front, 1, [resident(NEW_PERSON, "张四")])
    drop(front, 3, [resident(OTHER_PERSON, "张五")])

    with django_capture_on_commit_callbacks(execute=True):
        call_command("exchange", "load-batches", "--front-dir", str(front))

    out = capsys.readouterr().out
    assert "RES-POLICE-0001#1 loaded rows=1 inserted=1" in out
    assert "RES-POLICE-0001#3 rejected" in out and "[sequence_gap]" in out
    assert "2 batch(es) looked at" in out


def test_the_command_needs_a_front_directory(db: None) -> None:
    with override_settings(YIWANG_EXCHANGE_FRONT_DIR=""), pytest.raises(CommandError, match="front directory"):
        call_command("exchange", "load-batches")


def test_migrate_starts_the_schedule_when_a_front_directory_is_configured(front: Path) -> None:
    batches.start_schedule_after_migrate(using="default")

    schedule = BatchSchedule.objects.get()
    from yiwang.core.models import OutboxEvent

    assert OutboxEvent.objects.filter(topic=batches.SCAN_TOPIC, payload__token=schedule.token).exists()


def test_a_batch_for_another_departments_resource_is_filed_under_the_sender(
    front: Path, django_capture_on_commit_callbacks: Any
) -> None:
    drop(front, 1, [resident(NEW_PERSON, "张四")], department="market")

    (batch,) = run(front, django_capture_on_commit_callbacks)

    assert batch.reason_code == "department_mismatch"
    assert batch.department is not None and batch.department.code == "market"
    assert "police" in batch.reason


def test_a_symbolic_link_is_not_read_as_a_data_file(front: Path, django_capture_on_commit_callbacks: Any) -> None:
    drop(front, 1, [resident(NEW_PERSON, "张四")])
    data = front / "inbox" / "household-000001.csv"
    elsewhere = front / "elsewhere.csv"
    data.rename(elsewhere)
    data.symlink_to(elsewhere)

    (batch,) = run(front, django_capture_on_commit_callbacks)

    assert batch.reason_code == "missing_file" and household(NEW_PERSON) is None
    assert (front / "inbox" / "household-000001.csv").is_symlink()  # left behind, not taken in


def test_a_file_without_its_header_row_does_not_show_the_data_in_the_reason(
    front: Path, django_capture_on_commit_callbacks: Any
) -> None:
    manifest_path = drop(front, 1, [resident(NEW_PERSON, "张四"), resident(OTHER_PERSON, "张五")])
    data = front / "inbox" / "household-000001.csv"
    data.write_text("\n".join(data.read_text(encoding="utf-8").splitlines()[1:]) + "\n", encoding="utf-8")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["files"][0]["sm3"] = batch_formats.file_checksum(data, "sm3")
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")

    (batch,) = run(front, django_capture_on_commit_callbacks)

    assert batch.reason_code == "wrong_columns" and "第1列（不像列名）" in batch.reason
    assert NEW_PERSON not in batch.reason and "张四" not in batch.reason
