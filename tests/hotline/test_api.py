"""The 12345 hotline API: problem details for every refusal, what each viewer sees, the flows.

Who may call each operation is checked with every other route in tests/test_access.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.accounts.factories import make_citizen
from yiwang.hotline import page_data, services
from yiwang.hotline.constants import Satisfaction, WorkOrderKind, WorkOrderState
from yiwang.hotline.models import WorkOrder
from yiwang.hotline.services import intake

from .conftest import handler
from .test_views import (
    INSIDE_XINGFU,
    NOISE,
    NOISE_TEXT,
    World,
    build_world,
    client_for,
    load_grid,
    phone_order,
    unsure_suggestions,
    web_complaint,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rules", "no_model")]
BASE = "/api/v1/hotline"


@pytest.fixture(autouse=True)
def _suggestions(monkeypatch: pytest.MonkeyPatch) -> None:
    # Registering looks ``suggest`` up in its own module; the suggestions endpoint through the package.
    monkeypatch.setattr(intake, "suggest", unsure_suggestions)
    monkeypatch.setattr(services, "suggest", unsure_suggestions)


@pytest.fixture
def world(caller: Any, operator: Any, supervisor: Any) -> World:
    return build_world(caller, operator, supervisor)


def post(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.post(f"{BASE}{path}", body, content_type="application/json")


GRID_REPORT = {
    "title": "人行道井盖缺失",
    "content": "幸福小学门口人行道井盖缺失",
    "category": "市政设施",
    "longitude": INSIDE_XINGFU[0],
    "latitude": INSIDE_XINGFU[1],
}

# --- filing --------------------------------------------------------------------------------------------------


def test_filing_online_and_by_phone(caller: Any, operator: Any) -> None:
    mine = post(client_for(caller), "/orders", {"kind": "complaint", "title": NOISE, "content": NOISE_TEXT})
    assert mine.status_code == 201
    body = mine.json()
    assert body["state"] == "registered" and body["source"] == "web" and body["verification_code"]
    assert body["caller"] is None and body["suggestions"] == []  # the caller sees neither
    assert body["actions"] == []

    not_an_operator = post(
        client_for(caller), "/orders", {"kind": "complaint", "source": "phone", "title": NOISE, "content": NOISE_TEXT}
    )
    assert not_an_operator.status_code == 403 and not_an_operator.json()["code"] == "operators_only"
    assert not_an_operator["Content-Type"] == "application/problem+json"

    phoned = post(
        client_for(operator),
        "/orders",
        {
            "kind": "complaint",
            "source": "phone",
            "title": NOISE,
            "content": NOISE_TEXT,
            "caller_name": "李来电",
            "caller_phone": "13800138000",
        },
    ).json()
    assert phoned["source"] == "phone" and phoned["caller"] == {"name": "李来电", "phone_masked": "138****8000"}
    assert [s["category"] for s in phoned["suggestions"]] == ["城乡建设", "环境保护"]
    assert {"dispatch", "merge"} <= set(phoned["actions"]) and "answer" not in phoned["actions"]
    assert phoned["verification_code"] is None


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"kind": "rectification", "title": "t", "content": "c"}, 400, "bad_kind"),
        ({"kind": "complaint", "title": "  ", "content": "c"}, 400, "field_required"),
        ({"kind": "complaint", "title": "t", "content": "c", "anonymous": True}, 400, "anonymous_not_allowed"),
        ({"kind": "complaint", "title": "t", "content": "c", "longitude": 200, "latitude": 23}, 400, "bad_location"),
        ({"kind": "complaint", "title": "长" * 201, "content": "c"}, 422, "invalid_parameters"),
        ({"kind": "complaint", "title": "t", "content": "c", "source": "fax"}, 422, "invalid_parameters"),
        ({"kind": "complaint", "title": "t"}, 422, "invalid_parameters"),
    ],
)
def test_filing_refuses_bad_input(caller: Any, body: dict[str, Any], status: int, code: str) -> None:
    response = post(client_for(caller), "/orders", body)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert not WorkOrder.objects.exists()


def test_my_orders_are_paginated_and_mine_only(caller: Any) -> None:
    for _n in range(3):
        web_complaint(caller)
    web_complaint(make_citizen("吴路人"))
    client = client_for(caller)
    page = client.get(f"{BASE}/orders", {"limit": 2}).json()
    assert page["count"] == 3 and len(page["items"]) == 2
    rest = client.get(f"{BASE}/orders", {"limit": 2, "offset": 2}).json()
    assert len(rest["items"]) == 1
    assert client.get(f"{BASE}/orders", {"limit": 0}).status_code == 422


# --- reading and acting ---------------------------------------------------------------------------------------


def test_what_each_viewer_sees_of_an_order(world: World) -> None:
    number = world.ids["order"]
    as_caller = client_for(world.users["caller"]).get(f"{BASE}/orders/{number}").json()
    assert as_caller["verification_code"] == world.ids["code"] and as_caller["assignments"] == []
    assert all(event["actor"] is None and event["reason"] is None for event in as_caller["events"])
    as_handler = client_for(world.users["handler"]).get(f"{BASE}/orders/{number}").json()
    assert as_handler["verification_code"] is None and as_handler["caller"]["name"] == "孙来电"
    assert as_handler["assignments"][0]["department"] == "housing" and as_handler["suggestions"] == []
    assert set(as_handler["actions"]) == {"acknowledge", "send_back"}
    missing = client_for(world.users["other_handler"]).get(f"{BASE}/orders/{number}")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert client_for(world.users["handler"]).get(f"{BASE}/orders/12345-00000000-000000").status_code == 404


def test_an_anonymous_report_keeps_the_reporter_from_the_department(caller: Any, operator: Any) -> None:
    order = web_complaint(caller, kind=WorkOrderKind.REPORT, caller=services.CallerDetails(user=caller, anonymous=True))
    services.perform(order, "dispatch", actor=operator, department="market")
    seen = client_for(handler("market")).get(f"{BASE}/orders/{order.number}").json()
    assert seen["caller"] is None and "孙来电" not in str(seen)
    assert client_for(operator).get(f"{BASE}/orders/{order.number}").json()["caller"]["name"] == "孙来电"


def test_the_operator_to_department_flow_through_the_api(operator: Any) -> None:
    desk = client_for(operator)
    order = post(
        desk,
        "/orders",
        {"kind": "complaint", "source": "phone", "title": NOISE, "content": NOISE_TEXT, "caller_phone": "13800138000"},
    ).json()
    number = order["number"]
    best = order["suggestions"][0]

    def act(client: Client, action: str, version: int, reason: str = "", **params: Any) -> Any:
        return post(
            client,
            f"/orders/{number}/actions/{action}",
            {"expected_version": version, "reason": reason, "params": params},
        )

    order = act(
        desk, "dispatch", order["version"], department=best["department_code"], category=best["category"]
    ).json()
    assert order["state"] == "dispatched" and order["department"] == "housing"
    housing = client_for(handler("housing"))
    no_reason = act(housing, "send_back", order["version"])
    assert no_reason.status_code == 400 and no_reason.json()["code"] == "field_required"
    assert no_reason.json()["field"] == "reason"
    order = act(housing, "send_back", order["version"], reason="不属于住建部门职责").json()
    assert order["state"] == "registered"

    unknown = act(desk, "dispatch", order["version"], department="nowhere")
    assert unknown.status_code == 400 and unknown.json()["code"] == "unknown_department"
    order = act(desk, "dispatch", order["version"], department="urban_management", assisting=["ecology"]).json()
    urban = client_for(handler("urban_management"))
    order = act(urban, "acknowledge", order["version"]).json()
    stale = act(urban, "reply", order["version"] - 1, reply="已处理")
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    order = act(urban, "reply", order["version"], reply="已责令夜间停工").json()
    order = act(desk, "close", order["version"]).json()
    order = act(desk, "record_callback", order["version"], satisfaction=Satisfaction.SATISFIED, note="满意").json()
    assert order["state"] == WorkOrderState.CALLED_BACK and order["satisfaction"] == "satisfied"
    assert [e["action"] for e in order["events"]][-3:] == ["reply", "close", "record_callback"]


def test_actions_refuse_unknown_actions_and_parameters(world: World) -> None:
    number, version = world.ids["order"], world.ids["version"]
    client = client_for(world.users["operator"])
    unknown = post(client, f"/orders/{number}/actions/approve_all", {"expected_version": version})
    assert unknown.status_code == 400 and unknown.json()["code"] == "unknown_action"
    # Parameters the action does not take (here, choosing the assignee) never reach the service.
    sneaky = post(
        client,
        f"/orders/{number}/actions/transfer",
        {"expected_version": version, "reason": "改派", "params": {"department": "market", "assignee": 1}},
    )
    assert sneaky.status_code == 422 and sneaky.json()["code"] == "unknown_parameter"
    assert "department" in sneaky.json()["allowed"]
    system_only = post(client, f"/orders/{number}/actions/escalate", {"expected_version": version})
    assert system_only.status_code == 403
    bad_shape = post(client, f"/orders/{number}/actions/transfer", {"params": {"department": {"a": 1}}})
    assert bad_shape.status_code == 422
    order = WorkOrder.objects.get(number=number)
    assert order.version == version and order.department.code == "housing"


# --- tracking, grid, suggestions --------------------------------------------------------------------------------


def test_tracking_shows_no_caller_and_is_throttled(world: World, client: Client) -> None:
    number, code = world.ids["order"], world.ids["code"]
    found = client.get(f"{BASE}/track", {"number": number, "code": code})
    assert found.status_code == 200
    body = found.json()
    assert body["state"] == "dispatched" and body["reply"] == "" and "孙来电" not in str(body)
    assert [step["label"] for step in body["steps"]][:1] == ["登记"]
    wrong = client.get(f"{BASE}/track", {"number": number, "code": "ZZZZZZ"})
    assert wrong.status_code == 404 and wrong.json()["code"] == "not_found"
    for _attempt in range(page_data.TRACK_FAILURE_LIMIT):
        client.get(f"{BASE}/track", {"number": number, "code": "WRONG1"})
    locked = client.get(f"{BASE}/track", {"number": number, "code": code})
    assert locked.status_code == 429 and locked.json()["code"] == "too_many_attempts"


def test_grid_reports_and_cells(caller: Any) -> None:
    worker = load_grid()
    client = client_for(caller)
    report = post(client, "/grid/reports", GRID_REPORT)
    assert report.status_code == 201
    body = report.json()
    assert body["kind"] == "grid" and body["grid_cell"] == "SF-01-001" and body["state"] == "dispatched"
    assert WorkOrder.objects.get(number=body["number"]).assignee_id == worker.pk
    outside = post(client, "/grid/reports", {**GRID_REPORT, "longitude": 100, "latitude": 30})
    assert outside.status_code == 400 and outside.json()["code"] == "outside_grid"
    off_earth = post(client, "/grid/reports", {**GRID_REPORT, "longitude": 500})
    assert off_earth.status_code == 400 and off_earth.json()["code"] == "bad_location"
    not_a_number = post(client, "/grid/reports", {**GRID_REPORT, "latitude": "北纬"})
    assert not_a_number.status_code == 422

    cells = Client().get(f"{BASE}/grid/cells").json()
    assert cells["type"] == "FeatureCollection" and len(cells["features"]) == 18
    first = cells["features"][0]
    assert first["geometry"]["type"] in {"Polygon", "MultiPolygon"}
    assert set(first["properties"]) == {"code", "name", "division", "department"}
    assert "grid-worker" not in str(cells)


def test_suggestions_for_operators(operator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    client = client_for(operator)
    found = client.get(f"{BASE}/suggest", {"title": NOISE, "content": NOISE_TEXT}).json()
    assert found["note"] == "" and found["suggestions"][0]["department_code"] == "housing"
    assert client.get(f"{BASE}/suggest").status_code == 422

    def untrained(title: str, content: str, *, top: int = 3) -> tuple[list[services.Suggestion], str]:
        return [], "分类模型尚未训练（yiwang hotline train），请人工选择分类和部门"

    monkeypatch.setattr(services, "suggest", untrained)
    none = client.get(f"{BASE}/suggest", {"title": NOISE}).json()
    assert none["suggestions"] == [] and "yiwang hotline train" in none["note"]


def test_phone_orders_by_the_operator_show_in_the_operator_queue(operator: Any) -> None:
    order = phone_order(operator)
    as_operator = client_for(operator).get(f"{BASE}/orders/{order.number}").json()
    assert as_operator["state"] == "registered" and as_operator["caller"]["phone_masked"] == "138****8000"
