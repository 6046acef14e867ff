"""Fixtures of the e-archive tests: an archive directory and a key store of the test's own, finished cases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cases import builders
from tests.cases.conftest import FOOD_LICENCE, ID_CARD_REISSUE, Staff, item_code
from yiwang.cases import services as case_services
from yiwang.core import keystore, outbox


class MemoryKeyStore:
    """A key store that forgets everything with the test (the real one writes under VAR_DIR)."""

    keys: dict[str, bytes] = {}

    def put(self, key_id: str, private_key: bytes) -> None:
        self.keys[key_id] = private_key

    def get(self, key_id: str) -> bytes:
        try:
            return self.keys[key_id]
        except KeyError:
            raise keystore.KeyNotFound(key_id) from None

    def has(self, key_id: str) -> bool:
        return key_id in self.keys


@pytest.fixture
def archive_env(settings: Any, tmp_path: Path) -> Iterator[Path]:
    """The archive, the materials and the log key of this test alone, under its tmp_path."""
    settings.YIWANG_ARCHIVE_DIR = tmp_path / "archive"
    storages = dict(settings.STORAGES)
    storages["materials"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "materials")},
    }
    settings.STORAGES = storages
    settings.YIWANG_KEY_STORE = "tests.licences.archive_fixtures.MemoryKeyStore"
    MemoryKeyStore.keys = {}
    keystore.reset_key_store()
    yield tmp_path / "archive"
    keystore.reset_key_store()


def run_worker() -> int:
    """Handle every due outbox event, as ``yiwang worker`` would, until none is left."""
    handled = 0
    for _round in range(20):
        done = outbox.process_batch("test-worker")
        if not done:
            return handled
        handled += done
    raise AssertionError("the outbox never ran dry")


def closed_case(citizen: Any, market: Staff) -> Any:
    """A food licence applied for online and carried through to 办结."""
    (case,) = builders.apply(citizen, item_code=item_code(FOOD_LICENCE, "market"))
    case_services.perform(case, "accept", actor=market.clerk)
    case_services.perform(case, "complete_task", actor=market.reviewer, reason="材料齐全")
    case_services.perform(case, "approve", actor=market.approver, reason="符合许可条件")
    case_services.perform(case, "issue_certificate", actor=market.clerk)
    return case_services.perform(case, "close", actor=market.clerk)


def rejected_case(citizen: Any, market: Staff) -> Any:
    (case,) = builders.apply(citizen, item_code=item_code(FOOD_LICENCE, "market"))
    return case_services.perform(
        case, "reject", actor=market.clerk, reason="已在他处取得同类许可", legal_basis="《行政许可法》第三十二条"
    )


def awaiting_payment(citizen: Any, police: Staff) -> Any:
    (case,) = builders.apply_at_counter(police.clerk, citizen, item_code=item_code(ID_CARD_REISSUE, "police"))
    case_services.perform(case, "accept", actor=police.clerk)
    case_services.perform(case, "complete_task", actor=police.reviewer, reason="挂失信息与人口信息一致")
    return case_services.perform(case, "approve", actor=police.approver, reason="准予补领")
