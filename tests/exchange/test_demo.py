"""The demo catalogue and provider rows: idempotent, and about the demo people of accounts.demo."""

from __future__ import annotations

import pytest

from yiwang.accounts import demo as accounts_demo
from yiwang.accounts.models import User
from yiwang.exchange import demo, services
from yiwang.exchange.models import DataService, HouseholdRecord, Resource

pytestmark = pytest.mark.django_db


def test_loading_twice_changes_nothing() -> None:
    demo.create_catalogue()
    demo.create_demo_records()
    counts = (Resource.objects.count(), DataService.objects.count(), HouseholdRecord.objects.count())
    demo.create_catalogue()
    demo.create_demo_records()
    assert (Resource.objects.count(), DataService.objects.count(), HouseholdRecord.objects.count()) == counts
    assert counts[1] == 6


def test_the_demo_citizen_is_found_in_the_providers_tables() -> None:
    accounts_demo.create_demo_accounts()
    demo.create_catalogue()
    demo.create_demo_records()
    zhang = User.objects.get(username="citizen-demo")
    elder = User.objects.get(username="elder-demo")
    services.give_consent(actor=zhang, service_code="marriage", days=30, purpose="办理公共租赁住房申请")
    clerk = User.objects.get(username="counter-clerk")  # 政务服务中心综合窗口, market
    answer = services.request_data(
        actor=clerk,
        consumer_code="market",
        service_code="marriage",
        subject=services.subject_for_person(zhang.person),
        fields=["status", "spouse_name"],
        purpose="核验婚姻状况",
    )
    assert answer.data == {"status": "已婚", "spouse_name": "王芳"}
    row = HouseholdRecord.objects.get(id_number_index=elder.person.document_number_index)
    assert (row.name, row.relation_to_head) == ("李秀英", "母亲")


def test_the_demo_citizen_reaches_real_name_level_3_online() -> None:
    """ADR 0030 with the demo data: 张三's name and resident ID are in the demo household register."""
    from yiwang.accounts import services as accounts_services

    accounts_demo.create_demo_accounts()
    demo.create_catalogue()
    demo.create_demo_records()
    zhang = User.objects.get(username="citizen-demo")
    record = accounts_services.verify_by_household_register(actor=zhang, consent=True)
    zhang.person.refresh_from_db()
    assert zhang.person.assurance_level == 3 and record.exchange_id.startswith("EX")
