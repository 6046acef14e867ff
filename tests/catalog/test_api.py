"""The catalogue API: shapes, filters, pagination and problem details for bad input."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["code"] == code
    assert body["detail"] and any("\u4e00" <= ch <= "\u9fff" for ch in body["detail"])
    return body


def test_openapi_document(client: Client) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/catalog/search" in schema["paths"]
    assert "/api/v1/catalog/items/{code}" in schema["paths"]


def test_search_answers_the_documented_shape(client: Client) -> None:
    body = client.get("/api/v1/catalog/search", {"q": "开饭店要办什么证"}).json()
    assert body["total"] >= 1
    first = body["results"][0]
    assert set(first) >= {"type", "code", "name", "department", "score"}
    assert set(first["department"]) == {"code", "name"}
    names = [r["name"] for r in body["results"][:2]]
    assert "食品经营许可" in names


def test_search_filters(client: Client) -> None:
    # A department filter includes the departments under it (交管局 is under 公安局).
    body = client.get(
        "/api/v1/catalog/search", {"q": "登记", "department": "police", "type": "item", "limit": 50}
    ).json()
    codes = {r["department"]["code"] for r in body["results"]}
    assert codes == {"police", "traffic_police"}
    body = client.get("/api/v1/catalog/search", {"q": "登记", "department": "traffic_police", "limit": 50}).json()
    assert {r["department"]["code"] for r in body["results"]} == {"traffic_police"}
    bundles = client.get("/api/v1/catalog/search", {"q": "出生", "type": "bundle"}).json()
    assert bundles["results"] and {r["type"] for r in bundles["results"]} == {"bundle"}
    kinds = client.get("/api/v1/catalog/search", {"q": "许可", "kind": "licensing", "limit": 50}).json()
    assert {r["kind"] for r in kinds["results"]} == {"licensing"}


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        # Issue 11: a URI past the API's limit is refused before the search sees it.
        ({"q": "x" * 10_000_000}, 414, "uri_too_long"),
        ({"q": "x" * 1_000}, 400, "query_too_long"),
        ({"q": "驾" * 101}, 400, "query_too_long"),
        ({"q": ""}, 400, "query_empty"),
        ({"q": "\x00\x01\x02\u200b"}, 400, "query_empty"),
        ({"q": "护照", "limit": "abc"}, 422, "invalid_parameters"),
        ({"q": "护照", "limit": "0"}, 422, "invalid_parameters"),
        ({"q": "护照", "limit": "100000"}, 422, "invalid_parameters"),
        ({"q": "护照", "level": "galactic"}, 422, "invalid_parameters"),
    ],
)
def test_search_refuses_bad_input_cleanly(client: Client, params: dict, status: int, code: str) -> None:
    assert_problem(client.get("/api/v1/catalog/search", params), status, code)


@pytest.mark.parametrize(
    "query",
    [
        "' OR 1=1 --",
        "护照'; DROP TABLE catalog_serviceitem; --",
        "<script>alert(1)</script>",
        "%%%___",
        "\\",
        "身份证\x07补办",
    ],
)
def test_hostile_queries_are_just_text(client: Client, query: str) -> None:
    response = client.get("/api/v1/catalog/search", {"q": query})
    assert response.status_code == 200
    assert "results" in response.json()


def test_items_list_paginates_and_filters(client: Client) -> None:
    page = client.get("/api/v1/catalog/items", {"limit": 5, "offset": 5, "audience": "person"}).json()
    assert len(page["items"]) == 5 and page["count"] > 100 and page["offset"] == 5
    assert all(i["audience"] in ("person", "both") for i in page["items"])
    assert_problem(client.get("/api/v1/catalog/items", {"offset": "-1"}), 422, "invalid_parameters")
    assert_problem(client.get("/api/v1/catalog/items", {"kind": "nonsense"}), 422, "invalid_parameters")


def test_item_detail_and_versions(client: Client) -> None:
    code = client.get("/api/v1/catalog/search", {"q": "食品经营许可"}).json()["results"][0]["code"]
    detail = client.get(f"/api/v1/catalog/items/{code}").json()
    assert detail["name"] == "食品经营许可" and detail["materials"] and detail["steps"]
    assert detail["status"] == "published" and detail["effective_date"]
    versions = client.get(f"/api/v1/catalog/items/{code}/versions").json()
    assert versions[0]["version"] == detail["version"]
    assert_problem(client.get("/api/v1/catalog/items/NO-SUCH-CODE"), 404, "not_found")
    assert_problem(client.get("/api/v1/catalog/items/NO-SUCH-CODE/versions"), 404, "not_found")
    assert_problem(client.get(f"/api/v1/catalog/items/{code}", {"version": "x"}), 422, "invalid_parameters")


def test_departments_themes_and_bundles(client: Client) -> None:
    departments = client.get("/api/v1/catalog/departments", {"limit": 100}).json()
    assert departments["count"] >= 20
    traffic = client.get("/api/v1/catalog/departments/traffic_police").json()
    assert traffic["parent"] == "police" and len(traffic["credit_code"]) == 18
    assert_problem(client.get("/api/v1/catalog/departments/nowhere"), 404, "not_found")
    themes = client.get("/api/v1/catalog/themes").json()
    assert {t["audience"] for t in themes} == {"person", "organisation"}
    bundles = client.get("/api/v1/catalog/bundles").json()
    assert "开餐馆一件事" in {b["name"] for b in bundles}
    restaurant = client.get("/api/v1/catalog/bundles/open-restaurant").json()
    assert len(restaurant["members"]) >= 4 and restaurant["materials"]
    assert {m["choice_group"] for m in restaurant["members"]} >= {"主体登记（二选一）"}
    assert_problem(client.get("/api/v1/catalog/bundles/nothing"), 404, "not_found")


def test_unknown_api_path_is_a_problem_not_a_page(client: Client) -> None:
    response = client.get("/api/v1/catalog/nothing-here")
    assert response.status_code == 404
