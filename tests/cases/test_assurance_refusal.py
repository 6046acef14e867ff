"""An item that asks for a higher real-name level explains the way to reach it (ADR 0030)."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.test import Client

from tests.accounts.factories import full_number, make_staff
from tests.cases.conftest import FOOD_LICENCE, item_code
from yiwang.accounts import services as accounts_services
from yiwang.accounts.constants import Role
from yiwang.catalog.models import ServiceItem
from yiwang.core.identifiers import DocumentType

pytestmark = pytest.mark.django_db


def require(level: int) -> str:
    code = item_code(FOOD_LICENCE, "market")
    ServiceItem.objects.filter(code=code).update(min_assurance_level=level)
    return code


def text(response: Any) -> str:
    return html.unescape(response.content.decode())


def test_level_3_items_offer_the_household_match_and_the_counter(citizen: Any, client: Client) -> None:
    code = require(3)
    client.force_login(citizen)
    page = client.get(f"/apply/item/{code}/")
    body = text(page)
    assert page.status_code == 403 and "需要更高的实名认证等级" in body
    assert "“三级：身份信息核验”" in body and "您目前是“二级：实名手机号验证”" in body
    assert "在线比对户籍信息" in body and "到任一政务服务窗口当面核验" in body
    assert f'href="/accounts/real-name/?next=/apply/item/{code}/"' in body
    # Starting the draft anyway is refused by the service too.
    assert client.post(f"/apply/item/{code}/").status_code == 403


def test_level_4_items_explain_the_face_to_face_check_with_the_e_id(citizen: Any, client: Client) -> None:
    code = require(4)
    client.force_login(citizen)
    body = text(client.get(f"/apply/item/{code}/"))
    assert "“四级：当面核验并核验电子身份证照”" in body and "居民身份证电子证照" in body
    assert "在线比对户籍信息" not in body
    assert f'href="/accounts/real-name/?next=/apply/item/{code}/"' in body


def test_once_the_level_is_reached_the_item_opens(citizen: Any, client: Client) -> None:
    code = require(3)
    accounts_services.record_counter_check(
        actor=make_staff(Role.COUNTER_CLERK, "market"),
        document_type=DocumentType.RESIDENT_ID,
        document_number=full_number(citizen.person),
        original_checked=True,
    )
    client.force_login(citizen)
    assert client.get(f"/apply/item/{code}/").status_code == 200


def test_the_counter_intake_points_the_clerk_to_the_identity_check(citizen: Any, market: Any, client: Client) -> None:
    client.force_login(market.clerk)
    client.post(
        "/counter/",
        {
            "document_type": "resident_id",
            "document_number": full_number(citizen.person),
            "identity_checked_by": "document_inspected",
        },
    )
    page = text(client.get("/counter/"))
    assert "正在为 赵* 办理" in page and 'href="/staff/identity-checks/"' in page
