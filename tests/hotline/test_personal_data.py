"""Issue 12 item 1: a caller's full number only for the staff holding the open order (回访, clarifying calls).

Operators hold every open order at the 12345 desk; a department holds an
order through its live assignment. Anyone else, a finished order, an
anonymous reporter hidden from the department and a made-up number answer
the same 404. Reads are recorded, in the caller's own list when they have
an account.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from yiwang.accounts.models import DataAccessRecord
from yiwang.core.models import AuditEvent
from yiwang.hotline import services
from yiwang.hotline.constants import Satisfaction, Source, WorkOrderKind
from yiwang.hotline.models import WorkOrder

from .conftest import handler

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rules", "no_model")]

PHONE = "13800138000"
CALLBACK = {"purpose": "callback"}


def _phone_order(operator: Any, **caller: Any) -> WorkOrder:
    return services.register(
        actor=operator,
        kind=caller.pop("kind", WorkOrderKind.COMPLAINT),
        source=Source.PHONE,
        title="小区旁工地夜间施工噪音扰民",
        content="工地每天晚上十一点以后还在施工，噪音很大。",
        caller=services.CallerDetails(**({"name": "李来电", "phone": PHONE} | caller)),
    )


def _reveal(user: Any, number: str, body: dict[str, Any] | None = None) -> Any:
    client = Client()
    client.force_login(user)
    return client.post(
        f"/api/v1/hotline/orders/{number}/caller/reveal", body or CALLBACK, content_type="application/json"
    )


def _closed(operator: Any) -> tuple[WorkOrder, Any]:
    order = _phone_order(operator)
    order = services.perform(order, "dispatch", actor=operator, department="housing", category="城乡建设")
    housing = handler("housing")
    order = services.perform(order, "acknowledge", actor=housing)
    order = services.perform(order, "reply", actor=housing, reply="已责令施工单位夜间停工")
    return services.perform(order, "close", actor=operator), housing


def test_the_operator_reads_the_number_for_the_callback_and_it_is_recorded(operator: Any) -> None:
    order, _housing = _closed(operator)

    response = _reveal(operator, order.number)

    assert response.status_code == 200, response.content
    assert response.json() == {"phone": PHONE}
    audit = AuditEvent.objects.get(event="pii.read", actor=operator)
    assert audit.detail == {"fields": ["mobile"], "purpose": "callback", "case": order.number}
    assert PHONE not in str(audit.detail)


def test_the_handling_department_reads_the_number_while_it_holds_the_assignment(operator: Any) -> None:
    order = _phone_order(operator)
    order = services.perform(order, "dispatch", actor=operator, department="housing", category="城乡建设")
    housing = handler("housing")
    assert _reveal(housing, order.number, {"purpose": "contact_caller"}).status_code == 200
    assert _reveal(handler("market"), order.number).status_code == 404


@pytest.mark.parametrize("who", ["department_after_reply", "operator_after_callback", "made_up"])
def test_reads_without_a_held_open_order_are_refused_alike(operator: Any, who: str) -> None:
    order, housing = _closed(operator)
    user, number = operator, order.number
    if who == "department_after_reply":
        user = housing  # its assignment is finished: the 回访 is the hotline's
    elif who == "operator_after_callback":
        services.perform(order, "record_callback", actor=operator, satisfaction=Satisfaction.SATISFIED, note="满意")
    else:
        number = "GD-20261206-99999"

    response = _reveal(user, number)

    assert response.status_code == 404
    assert response.json()["detail"] == "工单不存在"
    assert not AuditEvent.objects.filter(event="pii.read").exists()


def test_an_anonymous_reporter_stays_hidden_from_the_department(operator: Any) -> None:
    order = _phone_order(operator, kind=WorkOrderKind.REPORT, anonymous=True, name="", phone=PHONE)
    order = services.perform(order, "dispatch", actor=operator, department="market", category="商贸旅游")
    assert _reveal(handler("market"), order.number).status_code == 404


def test_an_online_caller_sees_the_read_in_their_own_list(operator: Any, caller: Any) -> None:
    order = services.register(
        actor=caller,
        kind=WorkOrderKind.HELP,
        source=Source.WEB,
        title="路灯不亮",
        content="和平路路灯坏了一周。",
        caller=services.CallerDetails(user=caller, phone=PHONE),
    )
    assert _reveal(operator, order.number, {"purpose": "contact_caller"}).status_code == 200
    record = DataAccessRecord.objects.get(person=caller.person)
    assert record.case_reference == order.number and record.purpose == "联系来电人核实诉求"


def test_the_desk_page_shows_the_number_to_the_operator(operator: Any) -> None:
    order, housing = _closed(operator)
    client = Client()
    client.force_login(operator)
    page = client.get(f"/hotline/desk/{order.number}/").content.decode()
    assert f'action="/hotline/desk/{order.number}/caller/"' in page and PHONE not in page

    shown = client.post(f"/hotline/desk/{order.number}/caller/", CALLBACK)

    assert shown.status_code == 200 and PHONE in shown.content.decode()
    assert "no-store" in shown["Cache-Control"]
    other = Client()
    other.force_login(housing)
    assert other.post(f"/hotline/desk/{order.number}/caller/", CALLBACK).status_code == 404
