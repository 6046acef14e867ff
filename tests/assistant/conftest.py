from __future__ import annotations

import pytest

from tests.cases.conftest import item_code


@pytest.fixture
def first_id_card() -> str:
    return item_code("居民身份证首次申领", "police")


@pytest.fixture(autouse=True)
def _vectors_in_tmp(settings: pytest.FixtureRequest, tmp_path: object) -> None:
    # The packaged vectors cover the seed catalogue; anything else is cached per test, not in the repo's var dir.
    settings.VAR_DIR = tmp_path  # type: ignore[attr-defined]
