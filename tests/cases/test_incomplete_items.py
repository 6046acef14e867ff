"""Issue 12 item 20: an item whose guide is incomplete is not offered for online application."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from yiwang.cases import services
from yiwang.cases.models import Application
from yiwang.catalog.models import ServiceItem
from yiwang.catalog.transfer import import_catalog

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_search_index")]


@pytest.fixture
def incomplete_code() -> str:
    rows = (
        "department,main_item,name,itemCode,taskType,areaCode,deptCode,link\n"
        "区甲局,未分类,甲局许可事项,AAA001-511602000000-000-11511301008778183N-1-00,1,511602000000,dept-a,\n"
    )
    import_catalog(rows.encode(), "csv", mapping="sichuan")
    return ServiceItem.objects.published().get(code__startswith="AAA001").code


def test_service_refuses_an_online_application(citizen: Any, incomplete_code: str) -> None:
    with pytest.raises(services.CaseError) as excinfo:
        services.start_application(actor=citizen, applicant=services.applicant_for(citizen), item_code=incomplete_code)
    assert excinfo.value.code == "guide_incomplete" and "待完善" in excinfo.value.message
    assert not Application.objects.filter(item_code=incomplete_code).exists()


def test_apply_page_says_the_guide_is_incomplete(citizen: Any, incomplete_code: str) -> None:
    client = Client()
    client.force_login(citizen)
    for method in (client.get, client.post):
        response = method(reverse("cases:apply_item", args=[incomplete_code]))
        assert response.status_code == 403 and "信息待完善" in response.content.decode()
    assert not Application.objects.filter(item_code=incomplete_code).exists()
