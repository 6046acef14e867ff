"""The 12345 hotline API: every operation as every kind of user, problem details for every refusal, the flows."""

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
    ACTORS,
    INSIDE_XINGFU,
    NOISE,
    NOISE_TEXT,
    SIGNED_IN,
    STAFF,
    World,
    build_world,
    client_for,
    load_grid,
    phone_order,
    run_matrix,
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


def expect(allowed: set[str], *, ok: int = 200, denied: int = 404, **special: int) -> dict[str, int]:
    outcome = {a: (401 if a == "anonymous" else ok if a in allowed else denied) for a in ACTORS}
    outcome.update(special)
    return outcome


def post(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.post(f"{BASE}{path}", body, content_type="application/json")


GRID_REPORT = {
    "title": "人行道井盖缺失",
    "content": "幸福小学门口人行道井盖缺失",
    "category": "市政设施",
    "longitude": INSIDE_XINGFU[0],
    "latitude": INSIDE_XINGFU[1],
}

# (operation, method, path, body, expected status per actor); the order is the caller's, dispatched to housing.
API_MATRIX: list[tuple[str, str, str, dict[str, Any] | None, dict[str, int]]] = [
    (
        "api-v1:hotline_file_order",
        "post",
        f"{BASE}/orders",
        {"kind": "help", "title": "路灯不亮", "content": "小区门口路灯坏了一周"},
        expect(SIGNED_IN, ok=201),
    ),
    ("api-v1:hotline_my_orders", "get", f"{BASE}/orders", None, expect(SIGNED_IN)),
    ("api-v1:hotline_get_order", "get", f"{BASE}/orders/{{order}}", None, expect(STAFF | {"caller"})),
    # Only housing's handler may acknowledge; those who see the order but may not are refused (403).
    (
        "api-v1:hotline_act",
        "post",
        f"{BASE}/orders/{{order}}/actions/acknowledge",
        {"expected_version": "{version}"},
        expect({"handler"}, caller=403, operator=403, supervisor=403),
    ),
    (
        "api-v1:hotline_track",
        "get",
        f"{BASE}/track?number={{order}}&code={{code}}",
        None,
        dict.fromkeys(ACTORS, 200),
    ),
    ("api-v1:hotline_report_grid_problem", "post", f"{BASE}/grid/reports", GRID_REPORT, expect(SIGNED_IN, ok=201)),
    ("api-v1:hotline_grid_cells", "get", f"{BASE}/grid/cells", None, dict.fromkeys(ACTORS, 200)),
    # The multipart twins of filing and grid reports refuse the JSON this matrix sends (422) to anyone signed in;
    # their real use, files included, is tested in test_attachments.py.
    ("api-v1:hotline_file_order_multipart", "post", f"{BASE}/orders/multipart", {}, expect(set(), denied=422)),
    (
        "api-v1:hotline_report_grid_problem_multipart",
        "post",
        f"{BASE}/grid/reports/multipart",
        {},
        expect(set(), denied=422),
    ),
    ("api-v1:hotline_suggest", "get", f"{BASE}/suggest?title=噪音", None, expect({"operator"}, denied=403)),
    # Issue 12 item 1: the caller's number only for those holding the open order (the 12345 desk, housing's
    # live assignment); the supervisor who sees it, and everyone else, get the same 404 as for a missing order.
    (
        "api-v1:hotline_reveal_caller",
        "post",
        f"{BASE}/orders/{{order}}/caller/reveal",
        {"purpose": "contact_caller"},
        expect({"operator", "handler"}),
    ),
]


@pytest.mark.parametrize(("name", "method", "path", "body", "expected"), API_MATRIX, ids=[row[0] for row in API_MATRIX])
def test_api_access(world: World, name: str, method: str, path: str, body: dict | None, expected: dict) -> None:
    if body and "expected_version" in body:
        body = {**body, "expected_version": world.ids["version"]}
    assert run_matrix(world, method, path, body) == expected


def test_every_hotline_operation_has_an_access_rule() -> None:
    from yiwang.hotline.api import router

    operations = {
        f"api-v1:{operation.view_func.__name__}"
        for path_view in router.path_operations.values()
        for operation in path_view.operations
    }
    assert len(operations) >= 8
    assert operations - {row[0] for row in API_MATRIX} == set(), "add these operations to API_MATRIX"


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
