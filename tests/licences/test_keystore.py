"""The file key store: private keys encrypted at rest, behind the KeyStore protocol."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from yiwang.core import keystore, sm2
from yiwang.core.crypto import KeyConfigurationError

MASTER = bytes(range(7, 23))


def test_put_get_has_round_trip_and_nothing_in_clear(tmp_path: Path) -> None:
    store = keystore.FileKeyStore(tmp_path, MASTER)
    private = sm2.generate_private_key()
    kid = sm2.key_id(sm2.public_key_der(private))
    assert not store.has(kid)
    store.put(kid, private)
    assert store.has(kid)
    assert store.get(kid) == private
    text = (tmp_path / f"{kid}.key").read_bytes()
    assert private not in text and private.hex().encode() not in text
    assert text.startswith(b"ks1:")
    store.put(kid, private)  # the same key again: harmless
    with pytest.raises(keystore.KeyStoreError):
        store.put(kid, sm2.generate_private_key())
    assert isinstance(store, keystore.KeyStore)


def test_missing_tampered_and_wrong_master_key(tmp_path: Path) -> None:
    store = keystore.FileKeyStore(tmp_path, MASTER)
    with pytest.raises(keystore.KeyNotFound):
        store.get("abc")
    store.put("abc", b"secret key bytes")
    path = tmp_path / "abc.key"
    with pytest.raises(keystore.KeyStoreError):
        keystore.FileKeyStore(tmp_path, bytes(range(40, 56))).get("abc")
    # A file copied under another id does not decrypt: the id is authenticated.
    (tmp_path / "xyz.key").write_text(path.read_text())
    with pytest.raises(keystore.KeyStoreError):
        store.get("xyz")
    text = path.read_text()
    path.write_text(text[:10] + ("A" if text[10] != "A" else "B") + text[11:])
    with pytest.raises(keystore.KeyStoreError):
        store.get("abc")
    with pytest.raises(keystore.KeyStoreError):
        store.get("../etc/passwd")


def test_development_generates_a_master_key_and_production_refuses(settings: Any, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv(keystore.KEY_STORE_KEY_ENV, raising=False)
    monkeypatch.delenv(keystore.KEY_STORE_DIR_ENV, raising=False)
    settings.VAR_DIR = tmp_path
    store = keystore.FileKeyStore()
    store.put("k1", b"abc")
    assert (tmp_path / keystore.KEY_STORE_KEY_FILE).exists()
    assert keystore.FileKeyStore().get("k1") == b"abc"  # the same generated key next time
    settings.PRODUCTION = True
    with pytest.raises(KeyConfigurationError):
        keystore.FileKeyStore()
    assert keystore.key_store_problems("")
    assert keystore.key_store_problems("c2hvcnQ=")
    assert not keystore.key_store_problems("q7Lw2Zx9Vb1Nc4Md8Fg3Hj==")


class MemoryStore:
    """What an HSM adapter looks like to the platform."""

    def __init__(self) -> None:
        self.keys: dict[str, bytes] = {}

    def put(self, key_id: str, private_key: bytes) -> None:
        self.keys[key_id] = private_key

    def get(self, key_id: str) -> bytes:
        return self.keys[key_id]

    def has(self, key_id: str) -> bool:
        return key_id in self.keys


def test_the_setting_chooses_the_store(settings: Any) -> None:
    settings.YIWANG_KEY_STORE = "tests.licences.test_keystore.MemoryStore"
    keystore.reset_key_store()
    try:
        assert isinstance(keystore.get_key_store(), MemoryStore)
        settings.YIWANG_KEY_STORE = "tests.licences.test_keystore.MASTER"
        keystore.reset_key_store()
        with pytest.raises((KeyConfigurationError, TypeError)):
            keystore.get_key_store()
    finally:
        keystore.reset_key_store()
