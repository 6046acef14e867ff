"""Fixtures for case handling: an applicant and the staff of the departments that handle the test items."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.accounts.factories import make_citizen, make_staff
from yiwang.accounts.constants import Role

# A fee-free item of 市场监督管理局 with review, decision and certificate steps.
FOOD_LICENCE = "食品经营许可"
# An item that charges a fee (居民身份证 工本费).
ID_CARD_REISSUE = "居民身份证补领"
RESTAURANT_BUNDLE = "open-restaurant"


@dataclass
class Staff:
    clerk: Any
    reviewer: Any
    approver: Any


@pytest.fixture(autouse=True)
def _materials_in_tmp(settings: Any, tmp_path: Path) -> None:
    storages = dict(settings.STORAGES)
    storages["materials"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "materials")},
    }
    settings.STORAGES = storages


@pytest.fixture
def citizen(db: None) -> Any:
    return make_citizen("赵一")


@pytest.fixture
def other_citizen(db: None) -> Any:
    return make_citizen("钱二")


def staff_of(department: str) -> Staff:
    return Staff(
        clerk=make_staff(Role.COUNTER_CLERK, department),
        reviewer=make_staff(Role.REVIEWER, department),
        approver=make_staff(Role.APPROVER, department),
    )


@pytest.fixture
def market(db: None) -> Staff:
    return staff_of("market")


@pytest.fixture
def police(db: None) -> Staff:
    return staff_of("police")


def item_code(name: str, department: str | None = None) -> str:
    from yiwang.catalog.models import ServiceItem

    items = ServiceItem.objects.published().filter(name=name)
    if department:
        items = items.filter(department__code=department)
    return items.values_list("code", flat=True).first() or pytest.fail(f"seed item {name} missing")
