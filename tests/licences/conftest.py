"""Fixtures for the seals: a private key store per test, a market seal, an approver."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.accounts.factories import make_staff
from yiwang.accounts.constants import Role
from yiwang.core import keystore


class MemoryKeyStore:
    """An in-memory key store (what an HSM adapter looks like to the platform), shared per test."""

    keys: dict[str, bytes] = {}

    def put(self, key_id: str, private_key: bytes) -> None:
        if self.keys.get(key_id, private_key) != private_key:
            raise keystore.KeyStoreError("another key has this id")
        self.keys[key_id] = private_key

    def get(self, key_id: str) -> bytes:
        try:
            return self.keys[key_id]
        except KeyError:
            raise keystore.KeyNotFound(key_id) from None

    def has(self, key_id: str) -> bool:
        return key_id in self.keys


@pytest.fixture(autouse=True)
def memory_key_store(settings: Any) -> Iterator[type[MemoryKeyStore]]:
    settings.YIWANG_KEY_STORE = "tests.licences.conftest.MemoryKeyStore"
    MemoryKeyStore.keys = {}
    keystore.reset_key_store()
    yield MemoryKeyStore
    keystore.reset_key_store()


@pytest.fixture
def market_seal(db: None) -> Any:
    from yiwang.licences.services import seals

    return seals.create_seal("market", bottom_text="行政审批专用章")


@pytest.fixture
def approver(db: None) -> Any:
    return make_staff(Role.APPROVER, "market")


# The cases tests' people and staff, so that licences tests ask for them by the same names; the e-archive's
# fixtures live in archive_fixtures.py.
from tests.cases.conftest import citizen, market, police  # noqa: E402, F401
from tests.licences.archive_fixtures import archive_env  # noqa: E402, F401
