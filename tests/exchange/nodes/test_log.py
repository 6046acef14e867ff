"""The message log: a hash chain with signed checkpoints; ``yiwang exchange verify-log`` names the first bad entry."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import CommandError, call_command

from yiwang.exchange.nodes import keys, log, services
from yiwang.exchange.nodes.models import Direction, LogCheckpoint, LogEntry, LogHead, MessageType

pytestmark = pytest.mark.django_db


def _message(number: int) -> log.Message:
    return log.Message(
        Direction.SENT, MessageType.REQUEST, "node-b", f"m{number}", "ping", "0" * 64, "base", "sig", "ok"
    )


def _fill(count: int) -> None:
    for number in range(count):
        log.append([_message(number)])


def test_an_intact_log_verifies_with_its_checkpoints(settings: Any) -> None:
    settings.YIWANG_EXCHANGE_CHECKPOINT_EVERY = 3
    _fill(10)
    log.append([_message(10), _message(11)])  # two at once, crossing 12
    assert list(LogCheckpoint.objects.values_list("sequence", flat=True).order_by("sequence")) == [3, 6, 9, 12]
    result = services.verify_log()
    assert (result.ok, result.checked, result.checkpoints) == (True, 12, 4)


def test_an_empty_log_verifies() -> None:
    assert services.verify_log().ok


def test_an_edited_row_is_named(settings: Any) -> None:
    _fill(6)
    LogEntry.objects.filter(sequence=4).update(outcome="replayed")
    result = services.verify_log()
    assert (result.ok, result.first_bad_sequence, result.checked) == (False, 4, 3)
    with pytest.raises(CommandError, match="log broken at entry 4"):
        call_command("exchange", "verify-log")


def test_a_deleted_row_is_named() -> None:
    _fill(5)
    LogEntry.objects.filter(sequence=2).delete()
    assert services.verify_log().first_bad_sequence == 2


def test_a_truncated_tail_is_caught_by_the_head() -> None:
    _fill(5)
    LogEntry.objects.filter(sequence__gte=4).delete()
    result = services.verify_log()
    assert (result.ok, result.first_bad_sequence) == (False, 4)


def test_a_rewritten_and_rehashed_tail_is_caught_by_its_checkpoint(settings: Any) -> None:
    settings.YIWANG_EXCHANGE_CHECKPOINT_EVERY = 4
    _fill(8)
    # Whoever rewrites entry 3 and recomputes every hash after it still cannot sign the checkpoint at 4.
    previous = LogEntry.objects.get(sequence=2).entry_hash
    for entry in LogEntry.objects.filter(sequence__gte=3).order_by("sequence"):
        if entry.sequence == 3:
            entry.outcome = "forged"
        fields = tuple(str(getattr(entry, name)) for name in log.HASHED_FIELDS)
        entry.prev_hash = previous
        entry.entry_hash = previous = log.entry_hash(previous, entry.sequence, log.iso(entry.logged_at), fields)
        entry.save()
    LogHead.objects.update(entry_hash=previous)
    result = services.verify_log()
    assert (result.ok, result.first_bad_sequence) == (False, 4)
    assert "检查点" in result.reason


def test_a_forged_checkpoint_signature_is_named(settings: Any) -> None:
    settings.YIWANG_EXCHANGE_CHECKPOINT_EVERY = 2
    _fill(4)
    LogCheckpoint.objects.filter(sequence=2).update(signature="AAAA")
    assert services.verify_log().first_bad_sequence == 2


def test_a_checkpoint_past_the_end_is_named(settings: Any) -> None:
    settings.YIWANG_EXCHANGE_CHECKPOINT_EVERY = 2
    _fill(4)
    LogEntry.objects.filter(sequence__gte=3).delete()
    LogHead.objects.update(sequence=2, entry_hash=LogEntry.objects.get(sequence=2).entry_hash)
    assert services.verify_log().first_bad_sequence == 4


def test_appending_refuses_over_a_reset_head() -> None:
    _fill(2)
    LogHead.objects.all().delete()
    with pytest.raises(RuntimeError):
        _fill(1)


def test_checkpoint_now_signs_the_head_once() -> None:
    assert services.checkpoint_log() is None
    _fill(3)
    assert services.checkpoint_log() == 3
    assert services.checkpoint_log() is None
    checkpoint = LogCheckpoint.objects.get()
    assert checkpoint.key_fingerprint == keys.signer().fingerprint and checkpoint.node_code == "node-a"


def test_the_command(capsys: Any, settings: Any) -> None:
    call_command("exchange", "identity")
    out = capsys.readouterr().out
    assert out.startswith("code node-a\nkey_id node-a:")
    public = out.split("public_key ")[1].strip()
    call_command("exchange", "add-peer", "node-b", "http://127.0.0.1:9/", public, "--name", "乙")
    call_command("exchange", "peers")
    assert "node-b\thttp://127.0.0.1:9\t" in capsys.readouterr().out
    with pytest.raises(CommandError, match="peer_unreachable"):
        call_command("exchange", "ping", "node-b")
    call_command("exchange", "checkpoint")
    call_command("exchange", "verify-log")
    assert capsys.readouterr().out.splitlines()[-1] == "ok: 1 entries, 1 signed checkpoints"
    call_command("exchange", "remove-peer", "node-b")
    with pytest.raises(CommandError):
        call_command("exchange", "remove-peer", "node-b")


def test_a_head_moved_by_another_process_is_read_again(settings: Any) -> None:
    """Each process guesses the head it left last; when another process appended since, the guess is refused
    by the conditional update and the chain continues from the real head, not from the guess."""
    from django.db import connection

    settings.YIWANG_EXCHANGE_CHECKPOINT_EVERY = 4
    _fill(2)
    stale = log._head_hint[connection.alias]
    _fill(3)  # "another process": the head moves on to 5
    log._head_hint[connection.alias] = stale
    [entry] = log.append([_message(99)])
    assert (entry.sequence, entry.prev_hash) == (6, LogEntry.objects.get(sequence=5).entry_hash)
    assert LogHead.objects.get().sequence == 6
    result = services.verify_log()
    assert (result.ok, result.checked, result.checkpoints) == (True, 6, 1)


def test_a_head_guess_from_another_log_is_not_trusted() -> None:
    """A guess that names a head this database never had (another database, a rolled-back append)."""
    from django.db import connection

    _fill(1)
    log._head_hint[connection.alias] = (1, "f" * 64)
    log.append([_message(1)])
    assert list(LogEntry.objects.order_by("sequence").values_list("sequence", flat=True)) == [1, 2]
    assert services.verify_log().ok
