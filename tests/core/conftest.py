"""Fixtures for the shared kernel's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from yiwang.core import crypto

# Fixed keys for tests only: random bytes, base64-encoded.
KEY_1 = "k1:V7raBkCCW1RvtzAq2Ik9Gw=="
KEY_2 = "k2:sHVWkb4fqKu6RZYfc4Rc5g=="
BLIND_INDEX_KEY = "LUKIhycx0bXPIEac9r5MM+dn5pBRIcuphKw1KGg4wgM="


class KeyEnvironment:
    """Set the personal-data key variables for one test and reload the key ring."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch

    def use(self, pii_keys: str, blind_index_key: str = BLIND_INDEX_KEY) -> None:
        self.monkeypatch.setenv(crypto.PII_KEYS_ENV, pii_keys)
        self.monkeypatch.setenv(crypto.BLIND_INDEX_KEY_ENV, blind_index_key)
        crypto.reset_keys()


@pytest.fixture
def pii_keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[KeyEnvironment]:
    """Known keys (k1 active) for the test; the key ring is reset before and after."""
    keys = KeyEnvironment(monkeypatch)
    keys.use(KEY_1)
    yield keys
    monkeypatch.undo()
    crypto.reset_keys()
