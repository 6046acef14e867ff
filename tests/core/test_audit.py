"""The audit log: hash-chained, append-only in the ORM and the database, verifiable."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from yiwang.core import audit
from yiwang.core.audit import AuditChainBroken, Events, event_hash, record_event, verify_chain
from yiwang.core.models import GENESIS_HASH, AuditChainHead, AuditEvent, AuditLogAppendOnly

from .audit_support import drop_append_only_triggers, execute, purge_audit_log

pytestmark = pytest.mark.django_db


def _head() -> AuditChainHead:
    return AuditChainHead.objects.get(pk=1)


def _append(count: int, **kwargs: Any) -> list[AuditEvent]:
    return [
        record_event(Events.PII_READ, target=f"accounts.Person:{n}", detail={"n": n}, **kwargs) for n in range(count)
    ]


@pytest.fixture
def user() -> Any:
    return get_user_model().objects.create_user(username="auditor-test", password="x-Long-enough-1")


# --- the chain ---------------------------------------------------------------


def test_records_link_into_a_chain(user: Any) -> None:
    start = AuditChainHead.objects.filter(pk=1).values_list("sequence", flat=True).first() or 0
    first = record_event(
        Events.LOGIN,
        actor=user,
        ip="2001:0db8:0000:0000:0000:0000:0000:0001",
        detail={"method": "password", "nested": {"b": [1, True, None], "a": "中文"}},
    )
    second = record_event(
        Events.ROLE_GRANTED,
        actor=user,
        on_behalf_of_person_id=123,
        on_behalf_of_label="person:123 张*",
        target="accounts.Person:123",
    )
    assert (first.sequence, second.sequence) == (start + 1, start + 2)
    assert second.prev_hash == first.hash
    assert len(first.hash) == 64 and int(first.hash, 16) >= 0
    assert _head().sequence == second.sequence and _head().hash == second.hash
    assert first.ip == "2001:db8::1"  # normalised before hashing
    assert first.actor_label == f"user:{user.pk} auditor-test"
    # What comes back from the database hashes to what was stored.
    for stored in AuditEvent.objects.filter(pk__in=[first.pk, second.pk]):
        assert event_hash(stored) == stored.hash
    result = verify_chain()
    assert result.ok and result.checked == start + 2 and result.first_bad_sequence is None


def test_hash_is_sm3_over_prev_hash_and_canonical_json(user: Any) -> None:
    import hashlib

    record = record_event(Events.LOGIN, actor=user, ip="10.0.0.1", detail={"z": 1, "a": "中"})
    occurred = record.occurred_at.astimezone(audit.dt.UTC).isoformat(timespec="microseconds")
    # Written out by hand: sorted keys, no spaces, UTF-8 characters as they are.
    canonical = (
        f'{{"actor_id":{user.pk},"actor_label":"user:{user.pk} auditor-test","detail":{{"a":"中","z":1}},'
        f'"event":"auth.login","ip":"10.0.0.1","occurred_at":"{occurred}","on_behalf_of_label":"",'
        f'"on_behalf_of_person_id":null,"sequence":{record.sequence},"target":""}}'
    )
    assert record.hash == hashlib.new("sm3", (record.prev_hash + canonical).encode()).hexdigest()


def test_actor_labels() -> None:
    assert record_event(Events.LOGIN_FAILED, actor=AnonymousUser()).actor_label == "anonymous"
    assert record_event(Events.LOGIN_FAILED, actor=AnonymousUser()).actor_id is None
    assert record_event(Events.DATA_EXPORT).actor_label == ""
    assert record_event(Events.DATA_EXPORT, actor_label="system:pii-rotate").actor_label == "system:pii-rotate"


def test_actor_label_survives_a_rename_and_the_user_cannot_be_deleted(user: Any) -> None:
    record = record_event(Events.LOGIN, actor=user)
    user.username = "renamed"
    user.save()
    record = AuditEvent.objects.get(pk=record.pk)
    assert record.actor_label.endswith("auditor-test")
    with pytest.raises(ProtectedError):
        user.delete()


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"event": "login"}, ValueError),
        ({"event": "auth.login\n"}, ValueError),
        ({"event": "Auth.Login"}, ValueError),
        ({"event": "auth." + "x" * 70}, ValueError),
        ({"event": "auth.login", "detail": {"amount": 1.5}}, TypeError),
        ({"event": "auth.login", "detail": {1: "x"}}, TypeError),
        ({"event": "auth.login", "detail": {"when": object()}}, TypeError),
        ({"event": "auth.login", "detail": {"blob": "x" * 20_000}}, ValueError),
        ({"event": "auth.login", "ip": "not an address"}, ValueError),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(kwargs: dict[str, Any], error: type[Exception]) -> None:
    before = AuditEvent.objects.count()
    event = kwargs.pop("event")
    with pytest.raises(error):
        record_event(event, **kwargs)
    assert AuditEvent.objects.count() == before


def test_awkward_text_is_stored_so_that_it_still_verifies() -> None:
    record = record_event(
        Events.PERMISSION_DENIED,
        target="catalog.ServiceItem:1\x00; DROP TABLE" + "长" * 300,
        on_behalf_of_label="person:1 买*****",
        detail={"path": "/a\x00b", "list": ("t", 1), "big": 2**62},
    )
    assert "\x00" not in record.target and len(record.target) == 200
    stored = AuditEvent.objects.get(pk=record.pk)
    assert stored.detail == {"path": "/a\ufffdb", "list": ["t", 1], "big": 2**62}
    assert event_hash(stored) == stored.hash
    assert verify_chain().ok


def test_audit_target() -> None:
    head = _head()
    assert audit.audit_target(head) == "core.AuditChainHead:1"


# --- append-only -------------------------------------------------------------


def test_orm_updates_and_deletes_are_refused() -> None:
    record = record_event(Events.PII_READ, target="accounts.Person:1")
    record.target = "accounts.Person:2"
    with pytest.raises(AuditLogAppendOnly):
        record.save()
    with pytest.raises(AuditLogAppendOnly):
        record.delete()
    with pytest.raises(AuditLogAppendOnly):
        AuditEvent.objects.filter(pk=record.pk).update(target="x")
    with pytest.raises(AuditLogAppendOnly):
        AuditEvent.objects.filter(pk=record.pk).delete()
    with pytest.raises(AuditLogAppendOnly):
        AuditEvent.objects.all().delete()
    with pytest.raises(AuditLogAppendOnly):
        AuditEvent.objects.bulk_update([record], ["target"])
    assert AuditEvent.objects.get(pk=record.pk).target == "accounts.Person:1"
    assert verify_chain().ok


def test_writing_around_record_event_is_refused() -> None:
    fields = {"sequence": 10**9, "occurred_at": timezone.now(), "event": "auth.login", "prev_hash": "0", "hash": "0"}
    with pytest.raises(AuditLogAppendOnly):
        AuditEvent.objects.create(**fields)
    with pytest.raises(AuditLogAppendOnly):
        AuditEvent(**fields).save()
    with pytest.raises(AuditLogAppendOnly):
        AuditEvent.objects.bulk_create([AuditEvent(**fields)])
    with pytest.raises(AuditLogAppendOnly):
        AuditEvent.objects.get_or_create(**fields)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE core_auditevent SET target = 'forged' WHERE sequence = %s",
        "DELETE FROM core_auditevent WHERE sequence = %s",
    ],
)
def test_raw_sql_updates_and_deletes_are_refused_by_the_database(sql: str) -> None:
    record = record_event(Events.PII_READ, target="accounts.Person:1")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        execute(sql, [record.sequence])
    assert AuditEvent.objects.get(pk=record.pk).target == "accounts.Person:1"


# --- verification after tampering (triggers dropped, as a DBA could) ----------


def test_verify_names_an_edited_record(capsys: pytest.CaptureFixture) -> None:
    records = _append(5)
    drop_append_only_triggers()
    execute("UPDATE core_auditevent SET target = 'accounts.Person:999' WHERE sequence = %s", [records[2].sequence])
    result = verify_chain()
    assert not result.ok
    assert (result.first_bad_sequence, result.reason) == (records[2].sequence, "hash mismatch")
    assert result.checked == records[2].sequence - 1
    with pytest.raises(CommandError, match=f"序号为 {records[2].sequence}（hash mismatch）") as raised:
        call_command("audit", "verify")
    assert raised.value.returncode == 1


@pytest.mark.parametrize(
    ("column", "value"),
    [("detail", '{"n": 99}'), ("occurred_at", "2000-01-01 00:00:00"), ("ip", "10.9.9.9"), ("actor_label", "x")],
)
def test_any_edited_column_is_detected(column: str, value: str) -> None:
    records = _append(3)
    drop_append_only_triggers()
    execute(f"UPDATE core_auditevent SET {column} = %s WHERE sequence = %s", [value, records[1].sequence])
    result = verify_chain()
    assert (result.ok, result.first_bad_sequence, result.reason) == (False, records[1].sequence, "hash mismatch")


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link() -> None:
    records = _append(4)
    forged = AuditEvent.objects.get(pk=records[1].pk)
    forged.target = "accounts.Person:999"
    drop_append_only_triggers()
    execute(
        "UPDATE core_auditevent SET target = %s, hash = %s WHERE sequence = %s",
        [forged.target, event_hash(forged), forged.sequence],
    )
    result = verify_chain()
    assert (result.ok, result.first_bad_sequence, result.reason) == (False, records[2].sequence, "prev_hash mismatch")


def test_verify_names_a_gap_after_a_middle_record_is_deleted() -> None:
    records = _append(5)
    drop_append_only_triggers()
    execute("DELETE FROM core_auditevent WHERE sequence IN (%s, %s)", [records[1].sequence, records[2].sequence])
    result = verify_chain()
    assert (result.ok, result.first_bad_sequence, result.reason) == (False, records[1].sequence, "sequence gap")
    assert f"{records[1].sequence}至{records[2].sequence}" in result.detail
    with pytest.raises(CommandError, match=f"序号为 {records[1].sequence}（sequence gap）"):
        call_command("audit", "verify")


def test_verify_notices_a_deleted_tail() -> None:
    records = _append(3)
    drop_append_only_triggers()
    execute("DELETE FROM core_auditevent WHERE sequence = %s", [records[-1].sequence])
    result = verify_chain()
    assert (result.ok, result.first_bad_sequence, result.reason) == (False, records[-1].sequence, "head mismatch")


def test_verify_notices_a_replaced_last_record() -> None:
    records = _append(3)
    forged = AuditEvent.objects.get(pk=records[-1].pk)
    forged.target = "accounts.Person:999"
    drop_append_only_triggers()
    execute(
        "UPDATE core_auditevent SET target = %s, hash = %s WHERE id = %s",
        [forged.target, event_hash(forged), forged.pk],
    )
    result = verify_chain()
    assert (result.ok, result.first_bad_sequence, result.reason) == (False, records[-1].sequence, "head mismatch")


def test_verify_notices_records_written_past_the_head() -> None:
    last = _append(2)[-1]
    execute(
        "INSERT INTO core_auditevent (sequence, occurred_at, actor_label, on_behalf_of_label, event, target, detail,"
        " prev_hash, hash) VALUES (%s, %s, '', '', 'auth.login', '', '{}', %s, %s)",
        [last.sequence + 1, last.occurred_at, last.hash, "0" * 64],
    )
    result = verify_chain()
    assert (result.ok, result.first_bad_sequence, result.reason) == (False, last.sequence + 1, "head mismatch")


def test_a_missing_head_with_records_stops_appends_and_fails_verification() -> None:
    _append(1)
    AuditChainHead.objects.all().delete()
    with pytest.raises(AuditChainBroken):
        record_event(Events.LOGIN)
    result = verify_chain()
    assert (result.ok, result.reason) == (False, "head mismatch")


def test_an_empty_log_without_a_head_starts_afresh() -> None:
    drop_append_only_triggers()
    execute("DELETE FROM core_auditevent")
    AuditChainHead.objects.all().delete()
    assert verify_chain().ok
    first = record_event(Events.LOGIN)
    assert (first.sequence, first.prev_hash) == (1, GENESIS_HASH)
    assert verify_chain() == audit.VerifyResult(ok=True, checked=1)


def test_verify_command_on_an_intact_chain(capsys: pytest.CaptureFixture) -> None:
    _append(3)
    call_command("audit", "verify")
    assert f"已校验 {_head().sequence} 条记录" in capsys.readouterr().out


# --- admin -------------------------------------------------------------------


def test_admin_is_read_only_even_for_superusers(admin_client: Any) -> None:
    record = record_event(Events.DATA_EXPORT, target="catalog.ServiceItem:42", actor_label="editor-li")
    changelist = "/admin/core/auditevent/"
    response = admin_client.get(changelist, {"event": Events.DATA_EXPORT, "q": "ServiceItem:42"})
    assert response.status_code == 200 and b"catalog.ServiceItem:42" in response.content
    assert b"/admin/core/auditevent/add/" not in response.content
    assert admin_client.get(changelist + "add/").status_code == 403
    detail = admin_client.get(f"{changelist}{record.pk}/change/")
    assert detail.status_code == 200 and b'name="_save"' not in detail.content
    assert admin_client.post(f"{changelist}{record.pk}/change/", {"target": "x"}).status_code == 403
    assert admin_client.get(f"{changelist}{record.pk}/delete/").status_code == 403
    assert AuditEvent.objects.get(pk=record.pk).target == "catalog.ServiceItem:42"


# --- concurrency -------------------------------------------------------------


@pytest.fixture
def clean_audit_log() -> Iterator[None]:
    yield
    purge_audit_log()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("clean_audit_log")
def test_concurrent_appends_never_fork_the_chain() -> None:
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip("threads cannot write one in-memory SQLite test database; SQLite serialises writers anyway")
    threads_count, per_thread = 4, 25
    barrier = threading.Barrier(threads_count)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                record_event(Events.PII_READ, target=f"accounts.Person:{n}", detail={"i": i})
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    sequences = list(AuditEvent.objects.values_list("sequence", flat=True))
    assert sequences == list(range(1, threads_count * per_thread + 1))
    result = verify_chain()
    assert result.ok and result.checked == threads_count * per_thread


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("clean_audit_log")
def test_a_head_created_by_an_uncommitted_append_is_waited_for_not_reported_missing() -> None:
    """Issue 12 item 23: the interleaving behind the rare ``AuditChainBroken`` under ``-n 2``.

    The log is empty and has no head (as after a flush). Writer A creates the
    head and appends in a transaction still open when writer B looks for the
    head; A commits before B looks at the records. B must wait for A's head,
    not conclude from its first read that the head is missing over a
    non-empty log.
    """
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip("threads cannot write one in-memory SQLite test database; SQLite serialises writers anyway")
    purge_audit_log()
    a_appended, b_looked_for_head, a_committed = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []
    b_thread: list[threading.Thread] = []
    real_exists = AuditEvent.objects.exists

    def exists_after_a_commits() -> bool:
        # Writer B has read the head by the time it asks whether records
        # exist: hold it there until A's append is committed.
        if threading.current_thread() in b_thread:
            b_looked_for_head.set()
            a_committed.wait(timeout=10)
        return real_exists()

    def writer_a() -> None:
        try:
            with transaction.atomic():
                record_event(Events.LOGIN, actor_label="writer-a")
                a_appended.set()
                # Without the fix B reads the head now; with it B waits for this transaction.
                b_looked_for_head.wait(timeout=0.5)
            a_committed.set()
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            a_appended.set()
            a_committed.set()
            connections.close_all()

    def writer_b() -> None:
        try:
            a_appended.wait(timeout=10)
            record_event(Events.LOGIN, actor_label="writer-b")
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer_a), threading.Thread(target=writer_b)]
    b_thread.append(threads[1])
    with mock.patch.object(AuditEvent.objects, "exists", exists_after_a_commits):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    labels = list(AuditEvent.objects.order_by("sequence").values_list("actor_label", flat=True))
    assert labels == ["writer-a", "writer-b"]
    assert verify_chain().ok


def test_a_head_reset_to_zero_over_records_stops_appends() -> None:
    _append(2)
    AuditChainHead.objects.filter(pk=1).update(sequence=0, hash=GENESIS_HASH)
    with pytest.raises(AuditChainBroken):
        record_event(Events.LOGIN)
    assert AuditEvent.objects.count() == 2
