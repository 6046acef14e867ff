"""The API's one error path: refusals, unknown paths, 405, 414 and the OpenAPI declarations (issue 11)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client, RequestFactory
from django.utils import translation

from yiwang.accounts.services import IdentityError
from yiwang.api import api
from yiwang.cases import services as cases_services
from yiwang.cases.definitions import Problem as FieldIssue
from yiwang.cases.services import CaseActionRefused, CaseError, CaseNotFound, CaseThrottled
from yiwang.catalog.services import CatalogError
from yiwang.core.problems import MAX_API_URI_BYTES, PROBLEM_CONTENT_TYPE, ServiceError
from yiwang.feedback.selectors import PeriodError
from yiwang.feedback.services import AlreadyRated, RatingError, RatingNotAllowed, RatingThrottled
from yiwang.hotline.services import ActionRefused, HotlineError, NotAllowed, WorkOrderNotFound


def _problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(PROBLEM_CONTENT_TYPE)
    body = json.loads(response.content)
    assert body["status"] == status and body["code"] == code
    assert body["type"] == f"/api/v1/problems/{code}"
    return body


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (CatalogError("not_draft", "只有草稿状态的事项可以提交审核"), 409),
        (CatalogError("reason_required", "退回修改需要说明理由"), 400),
        (IdentityError("agent_unknown", "未找到被授权人"), 400),
        (IdentityError("throttled", "尝试次数过多"), 429),
        (CaseError("item_required", "请选择事项"), 400),
        (CaseActionRefused("stale", "办件已被他人更新"), 409),
        (CaseNotFound("not_found", "办件不存在"), 404),
        (CaseThrottled("too_many_attempts", "查询失败次数过多"), 429),
        (HotlineError("bad_phone", "联系电话格式不正确"), 400),
        (ActionRefused("stale", "工单已被他人更新"), 409),
        (NotAllowed("lead_only", "延期由主办部门申请"), 403),
        (WorkOrderNotFound("not_found", "工单不存在"), 404),
        (RatingError("bad_level", "请选择评价等级"), 400),
        (RatingNotAllowed("own_service", "工作人员不能评价自己提供的服务"), 403),
        (AlreadyRated("already_rated", "已经评价过"), 409),
        (RatingThrottled("too_many_ratings", "评价过于频繁"), 429),
        (PeriodError("bad_period", "开始日期不能晚于结束日期"), 400),
    ],
)
def test_every_refusal_type_goes_through_the_one_handler(error: ServiceError, status: int) -> None:
    request = RequestFactory().get("/api/v1/somewhere")
    body = _problem(api.on_exception(request, error), status, error.code)
    assert body["detail"] == error.message
    assert body["instance"] == "/api/v1/somewhere"


def test_a_refusal_keeps_its_field_and_problems() -> None:
    request = RequestFactory().post("/api/v1/cases/applications/1/submit")
    incomplete = CaseError("application_incomplete", "申请尚未填写完整", problems=[FieldIssue("name", "请填写姓名")])
    body = _problem(api.on_exception(request, incomplete), 400, "application_incomplete")
    assert body["problems"] == [{"key": "name", "message": "请填写姓名", "kind": "field"}]

    body = _problem(api.on_exception(request, HotlineError("bad_phone", "格式不正确", field="phone")), 400, "bad_phone")
    assert body["field"] == "phone"


def test_a_forbidden_object_answers_exactly_like_a_missing_one() -> None:
    request = RequestFactory().post("/api/v1/accounts/roles/7/revoke")
    forbidden = api.on_exception(request, IdentityError("forbidden", "无权撤销该角色"))
    missing = api.on_exception(request, ServiceError("not_found", "请求的资源不存在", status=404))
    assert forbidden.status_code == missing.status_code == 404
    assert forbidden.content == missing.content
    assert "无权" not in forbidden.content.decode()


def test_another_departments_rating_reads_as_missing() -> None:
    request = RequestFactory().post("/api/v1/ratings/1/appeal")
    other = api.on_exception(request, RatingNotAllowed("department_only", "只有被评价部门的负责人可以申诉"))
    missing = api.on_exception(request, RatingError("not_found", "请求的资源不存在"))
    assert other.status_code == missing.status_code == 404
    assert other.content == missing.content


def test_a_status_given_on_the_instance_wins() -> None:
    assert ServiceError("x", "y").status == 400
    assert ServiceError("x", "y", status=422).status == 422
    assert IdentityError("not_found", "y").status == 404


@pytest.mark.django_db
def test_a_service_refusal_over_http_in_chinese_and_in_english(api_client: Client) -> None:
    for _ in range(cases_services.LOOKUP_FAILURE_LIMIT):
        cases_services.record_failed_lookup("127.0.0.1")
    params = {"number": "YW0000000000", "code": "AAAAAA"}

    chinese = _problem(api_client.get("/api/v1/cases/lookup", params), 429, "too_many_attempts")
    assert chinese["detail"] == "查询失败次数过多，请稍后再试"
    assert chinese["title"] == "请求过于频繁"

    english = _problem(
        api_client.get("/api/v1/cases/lookup", params, HTTP_ACCEPT_LANGUAGE="en"), 429, "too_many_attempts"
    )
    assert english["detail"] == "Too many failed lookups. Please try again later"
    translation.activate("zh-hans")


@pytest.mark.parametrize(
    "path", ["/api/v1/nowhere", "/api/v1/catalog/nowhere/at/all", "/api/v1/cases/applications/1/nowhere"]
)
def test_unknown_api_paths_answer_a_problem(api_client: Client, path: str) -> None:
    body = _problem(api_client.get(path), 404, "not_found")
    assert body["instance"] == path
    _problem(api_client.post(path, {}, content_type="application/json"), 404, "not_found")
    english = _problem(api_client.get(path, HTTP_ACCEPT_LANGUAGE="en"), 404, "not_found")
    assert (english["title"], english["detail"]) == ("Not found", "No such API endpoint")
    translation.activate("zh-hans")


@pytest.mark.django_db
def test_unknown_page_paths_keep_the_html_404(api_client: Client) -> None:
    response = api_client.get("/nowhere-at-all/")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith(PROBLEM_CONTENT_TYPE)


@pytest.mark.django_db
def test_a_wrong_method_answers_a_problem_with_allow(api_client: Client) -> None:
    response = api_client.delete("/api/v1/catalog/items")
    body = _problem(response, 405, "method_not_allowed")
    assert body["allowed"] == ["GET"]
    assert response["Allow"] == "GET"
    assert "DELETE" in body["detail"]


@pytest.mark.django_db
def test_an_over_long_uri_answers_414_before_the_operation_runs(api_client: Client) -> None:
    path = "/api/v1/catalog/search"
    room = MAX_API_URI_BYTES - len(path) - len("q=")
    fits = api_client.get(path, {"q": "x" * room})
    assert fits.status_code == 400 and fits.json()["code"] == "query_too_long"

    body = _problem(api_client.get(path, {"q": "x" * (room + 1)}), 414, "uri_too_long")
    assert str(MAX_API_URI_BYTES) in body["detail"]
    # Multibyte characters count in bytes, as they travel.
    _problem(api_client.get(path, {"q": "驾" * (MAX_API_URI_BYTES // 9 + 1)}), 414, "uri_too_long")


# --- the OpenAPI document --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def _operations(openapi: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = [
        (f"{method.upper()} {path}", operation)
        for path, operations in openapi["paths"].items()
        for method, operation in operations.items()
    ]
    assert len(found) > 40  # every router is in the document
    return found


def test_every_operation_declares_the_problems_it_can_produce(openapi: dict[str, Any]) -> None:
    missing = []
    for name, operation in _operations(openapi):
        declared = set(operation["responses"])
        takes_input = bool(operation.get("parameters")) or "requestBody" in operation
        if takes_input and "422" not in declared:
            missing.append(f"{name}: 422")
        if operation.get("security") and "401" not in declared:
            missing.append(f"{name}: 401")
    assert not missing, missing


def test_every_declared_error_is_a_problem_document(openapi: dict[str, Any]) -> None:
    problem = openapi["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "code", "detail"} <= set(problem["required"])
    for name, operation in _operations(openapi):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                schema = response["content"][PROBLEM_CONTENT_TYPE]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}, (name, status)


def test_the_walk_would_catch_an_undeclared_error() -> None:
    from ninja import NinjaAPI, Router

    router = Router()

    @router.get("/things/{thing_id}", response=dict[str, int])
    def thing(request: Any, thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    probe = NinjaAPI(urls_namespace="probe-api")
    probe.add_router("/", router)
    operation = probe.get_openapi_schema(path_prefix="")["paths"]["/things/{thing_id}"]["get"]
    assert operation["parameters"] and "422" not in operation["responses"]
