"""The seals and private keys a process reuses between signatures: every change made anywhere is seen at once.

The changes below are written straight to the rows (``QuerySet.update``), as another process or the admin would
make them, so nothing in this process is told about them: the next lookup must find them by itself.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.licences.helpers import issue_food_licence
from yiwang.core import keystore, sm2
from yiwang.licences.models import Seal, SealStatus, SigningKey
from yiwang.licences.services import seals

pytestmark = pytest.mark.django_db
CONTENT = "食品经营许可证 JY14403000000001".encode()


def _signs_with(department_code: str = "market") -> str:
    return seals.seal_document(department_code=department_code, content=CONTENT).key_id


def test_an_unchanged_seal_costs_one_small_query_and_no_image(market_seal: Seal) -> None:
    _signs_with()  # the first lookup reads the seal
    with CaptureQueriesContext(connection) as queries:
        seal = seals.active_seal("market")
    assert seal is not None and seal.pk == market_seal.pk
    assert len(queries.captured_queries) == 1
    assert "image_png" not in queries.captured_queries[0]["sql"]


def test_a_key_revoked_elsewhere_stops_signing_at_once(market_seal: Seal) -> None:
    key = market_seal.current_key
    assert key is not None
    assert _signs_with() == key.key_id
    SigningKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now() - dt.timedelta(seconds=1))
    assert seals.active_seal("market") is None
    with pytest.raises(seals.SealError) as refused:
        _signs_with()
    assert refused.value.code == "no_seal"


def test_a_key_retired_or_detached_elsewhere_stops_signing_at_once(market_seal: Seal) -> None:
    key = market_seal.current_key
    assert key is not None
    _signs_with()
    SigningKey.objects.filter(pk=key.pk).update(retired_at=timezone.now() - dt.timedelta(seconds=1))
    assert seals.active_seal("market") is None
    SigningKey.objects.filter(pk=key.pk).update(retired_at=None)
    assert _signs_with() == key.key_id
    Seal.objects.filter(pk=market_seal.pk).update(current_key=None)
    assert seals.active_seal("market") is None


def test_a_rotation_elsewhere_signs_with_the_new_key_at_once(market_seal: Seal) -> None:
    old = _signs_with()
    new = seals.rotate_key(market_seal)
    assert new.key_id != old
    assert _signs_with() == new.key_id
    sealed = seals.seal_document(department_code="market", content=CONTENT)
    assert seals.verify_document(CONTENT, sealed).ok


def test_a_suspended_renamed_or_shortened_seal_is_seen_at_once(market_seal: Seal) -> None:
    _signs_with()
    Seal.objects.filter(pk=market_seal.pk).update(name="示范市市场监督管理局（新）")
    assert seals.seal_document(department_code="market", content=CONTENT).seal_name == "示范市市场监督管理局（新）"
    Seal.objects.filter(pk=market_seal.pk).update(valid_to=timezone.now() - dt.timedelta(seconds=1))
    assert seals.active_seal("market") is None
    Seal.objects.filter(pk=market_seal.pk).update(valid_to=market_seal.valid_to, status=SealStatus.SUSPENDED)
    assert seals.active_seal("market") is None
    Seal.objects.filter(pk=market_seal.pk).update(status=SealStatus.ACTIVE)
    assert seals.active_seal("market") is not None


def test_a_licence_issued_after_a_revocation_elsewhere_is_not_sealed_with_the_revoked_key(
    market_seal: Seal, citizen: Any
) -> None:
    key = market_seal.current_key
    assert key is not None
    first = issue_food_licence(citizen)
    assert first.signer_key_id == key.key_id and first.signature
    SigningKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    second = issue_food_licence(citizen)
    assert second.signer_key_id == "" and second.signature == "" and second.qr_payload == ""


MASTER = bytes(range(7, 23))


def test_the_file_store_reads_a_key_again_when_its_file_changes(tmp_path: Path) -> None:
    store = keystore.FileKeyStore(tmp_path, MASTER)
    first, second = sm2.generate_private_key(), sm2.generate_private_key()
    store.put("k1", first)
    assert store.get("k1") == first
    assert store.get("k1") == first  # remembered
    # The file replaced by another key's (as a restore from backup would): the new key is read.
    other = keystore.FileKeyStore(tmp_path / "other", MASTER)
    other.put("k1", second)
    os.replace(tmp_path / "other" / "k1.key", tmp_path / "k1.key")
    assert store.get("k1") == second
    # Damaged in place: refused, not answered from memory.
    path = tmp_path / "k1.key"
    text = path.read_text()
    path.write_text(text[:10] + ("A" if text[10] != "A" else "B") + text[11:])
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    with pytest.raises(keystore.KeyStoreError):
        store.get("k1")
    # Removed: not found, whatever was read before.
    path.unlink()
    with pytest.raises(keystore.KeyNotFound):
        store.get("k1")
    # Another master key never gets the remembered key.
    store.put("k2", first)
    assert store.get("k2") == first
    with pytest.raises(keystore.KeyStoreError):
        keystore.FileKeyStore(tmp_path, bytes(range(40, 56))).get("k2")
