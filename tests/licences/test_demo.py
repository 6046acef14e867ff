"""The demo licence types and the demo citizen's wallet."""

from __future__ import annotations

import pytest

from yiwang.accounts import demo as accounts_demo
from yiwang.accounts.models import User
from yiwang.licences import demo, selectors, services
from yiwang.licences.models import LicenceType

pytestmark = pytest.mark.django_db


def test_demo_types_seals_and_wallet_are_made_once() -> None:
    accounts_demo.create_demo_accounts()
    types = demo.create_licence_types()
    assert {t.name for t in types} >= {
        "食品经营许可证",
        "个体工商户营业执照",
        "居住证",
        "残疾人证",
        "结婚证",
        "居民身份证电子证照",
    }
    assert all(t.item_codes for t in types)  # each is issued by an item of the demo catalogue
    # Only the e-ID card proves its holder's identity (real-name level 4, ADR 0030).
    assert {t.name for t in types if t.proves_identity} == {"居民身份证电子证照"}
    lines = demo.create_demo_licences()
    assert len(lines) == 3
    citizen = User.objects.get(username="citizen-demo")
    entries = selectors.wallet_entries(citizen)
    assert {e.licence.licence_type.name for e in entries} == {"居住证", "个体工商户营业执照", "居民身份证电子证照"}
    assert all(e.licence.signature and services.seal_intact(e.licence) for e in entries)
    assert any(e.expires_soon for e in entries)  # the 居住证 expires within the reminder window
    # Again: nothing new.
    demo.create_licence_types()
    assert demo.create_demo_licences() == []
    assert LicenceType.objects.count() == len(types)
    assert len(selectors.wallet_entries(citizen)) == 3
    identity = selectors.identity_licences(citizen.person_id)
    assert [(licence.type_name, licence.valid) for licence in identity] == [("居民身份证电子证照", True)]
