"""Fixtures for data sharing: the demo catalogue and services, provider rows for test people, staff."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.accounts.factories import full_number, make_staff
from yiwang.accounts.constants import Role
from yiwang.core import crypto
from yiwang.exchange import demo
from yiwang.exchange.models import HouseholdRecord, SocialInsuranceRecord
from yiwang.exchange.services import person_index


@pytest.fixture
def catalogue(db: None) -> None:
    demo.create_catalogue()
    demo.create_demo_records()


def _person_columns(person: Any) -> dict[str, Any]:
    number = full_number(person)
    return {
        "id_number_encrypted": crypto.encrypt(number),
        "id_number_index": person_index(number),
        "id_number_masked": crypto.mask_id_number(number),
        "name": person.name,
    }


def add_household(person: Any, *, address: str = "示范市幸福街道幸福路9号") -> HouseholdRecord:
    return HouseholdRecord.objects.create(
        **_person_columns(person),
        gender="男",
        ethnicity="汉族",
        birth_date=dt.date(1985, 1, 1),
        address=address,
        household_number="990102009001",
        household_head=person.name,
        relation_to_head="户主",
    )


def add_insurance(person: Any) -> SocialInsuranceRecord:
    return SocialInsuranceRecord.objects.create(
        **_person_columns(person),
        insurance_types="职工基本养老保险",
        status="正常参保",
        employer="示范市幸福餐饮有限公司",
        since=dt.date(2015, 3, 1),
        months_paid=100,
    )


@pytest.fixture
def police_reviewer(db: None) -> Any:
    return make_staff(Role.REVIEWER, "police")


@pytest.fixture
def market_reviewer(db: None) -> Any:
    return make_staff(Role.REVIEWER, "market")


from tests.cases.conftest import citizen, other_citizen  # noqa: E402, F401
