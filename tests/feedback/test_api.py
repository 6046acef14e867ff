"""好差评 API: rating a case and a visit, public results and comments, confirming a rectification.

Who may call each operation is in the access table of tests/feedback/test_views.py; here: what they answer,
problem details for every refusal, and the CSRF rule for ratings given under a signed-in session.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client

from tests.accounts.factories import make_citizen, make_staff
from tests.feedback.test_services import _materials_in_tmp, closed_case  # noqa: F401  (autouse fixture)
from tests.feedback.test_views import handle_rectification, market_window
from yiwang.accounts.constants import Role
from yiwang.core import calendar
from yiwang.feedback import services, suspicion
from yiwang.feedback.models import Rating, Tally
from yiwang.hotline.constants import WorkOrderState

pytestmark = pytest.mark.django_db


def client_for(user: Any, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    if user is not None:
        client.force_login(user)
    return client


def post(client: Client, url: str, body: Any, **headers: Any) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


def problem(response: Any) -> dict[str, Any]:
    assert response["Content-Type"] == "application/problem+json", response.content
    return json.loads(response.content)


def test_the_applicant_rates_a_case_once_and_sees_the_rectification() -> None:
    applicant = make_citizen("接口评价人")
    case = closed_case(applicant)
    client = client_for(applicant)
    response = post(
        client,
        f"/api/v1/ratings/cases/{case.number}",
        {"level": 2, "scores": {"efficiency": 1}, "comment": "等了很久", "channel": "mobile"},
        HTTP_X_DEVICE_ID="phone-123",
    )
    assert response.status_code == 201, response.content
    body = json.loads(response.content)
    assert body["level"] == 2 and body["level_label"] == "不满意" and body["scores"] == {"efficiency": 1}
    assert body["channel"] == "mobile" and body["real_name"] and body["counted"]
    assert body["rectification"]["state"] == WorkOrderState.DISPATCHED and body["resolved"] is None
    rating = Rating.objects.get(pk=body["id"])
    assert rating.device_hash == services._keyed_hash("phone-123", "device")

    again = post(client, f"/api/v1/ratings/cases/{case.number}", {"level": 5})
    assert again.status_code == 409 and problem(again)["code"] == "already_rated"
    assert problem(again)["detail"] == "该办件已经评价过了（一事一评）"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"level": 6}, 400, "bad_level"),
        ({"level": 0}, 400, "bad_level"),
        ({"level": "x"}, 422, "invalid_parameters"),
        ({}, 422, "invalid_parameters"),
        ({"level": 5, "scores": {"attitude": 5}}, 400, "bad_dimension"),
        ({"level": 5, "scores": {"efficiency": 9}}, 400, "bad_level"),
        ({"level": 1, "comment": "<img src=x onerror=alert(1)>"}, 400, "markup_in_comment"),
        ({"level": 1, "comment": "差" * 501}, 400, "field_too_long"),
        ({"level": 1, "comment": "差" * 5001}, 422, "invalid_parameters"),
        ({"level": 5, "channel": "hotline"}, 422, "invalid_parameters"),
    ],
)
def test_bad_ratings_are_refused_as_problem_details(body: dict[str, Any], status: int, code: str) -> None:
    applicant = make_citizen("接口填错人")
    case = closed_case(applicant)
    response = post(client_for(applicant), f"/api/v1/ratings/cases/{case.number}", body)
    assert response.status_code == status
    assert problem(response)["code"] == code
    assert not Rating.objects.exists() and not Tally.objects.exists()


def test_someone_elses_or_a_missing_case_answers_404_and_no_session_401() -> None:
    applicant = make_citizen("本人甲")
    case = closed_case(applicant)
    stranger = client_for(make_citizen("他人乙"))
    for url in [f"/api/v1/ratings/cases/{case.number}", "/api/v1/ratings/cases/NO-SUCH"]:
        response = post(stranger, url, {"level": 1})
        assert response.status_code == 404 and problem(response)["code"] == "not_found"
    assert post(Client(), f"/api/v1/ratings/cases/{case.number}", {"level": 1}).status_code == 401
    assert not Rating.objects.exists()


def test_a_flood_from_one_device_answers_429() -> None:
    clerk = make_staff(Role.COUNTER_CLERK, "market")
    client = Client()
    for _n in range(suspicion.FLOOD_COUNT):
        token = services.open_visit(clerk=clerk, window_id=market_window().pk).token
        assert post(client, f"/api/v1/ratings/visits/{token}", {"level": 5}, HTTP_X_DEVICE_ID="bot").status_code == 201
    token = services.open_visit(clerk=clerk, window_id=market_window().pk).token
    response = post(client, f"/api/v1/ratings/visits/{token}", {"level": 5}, HTTP_X_DEVICE_ID="bot")
    assert response.status_code == 429 and problem(response)["code"] == "too_many_ratings"
    assert Rating.objects.count() == suspicion.FLOOD_COUNT


def test_a_visit_is_rated_anonymously_or_under_a_real_name_with_the_csrf_check() -> None:
    clerk = make_staff(Role.COUNTER_CLERK, "market")
    anonymous = Client(enforce_csrf_checks=True)  # an app or kiosk without a session needs no CSRF token
    token = services.open_visit(clerk=clerk, window_id=market_window().pk).token
    response = post(anonymous, f"/api/v1/ratings/visits/{token}", {"level": 3, "scores": {"attitude": 3}})
    assert response.status_code == 201
    body = json.loads(response.content)
    assert body["mode"] == "counter" and not body["real_name"] and body["channel"] == "qr"
    again = post(anonymous, f"/api/v1/ratings/visits/{token}", {"level": 3})
    assert again.status_code == 409 and problem(again)["code"] == "already_rated"

    citizen = make_citizen("实名扫码人")
    token = services.open_visit(clerk=clerk, window_id=market_window().pk).token
    # Another site cannot make a signed-in person's browser rate in their name: no CSRF token, no rating.
    forged = post(client_for(citizen, enforce_csrf_checks=True), f"/api/v1/ratings/visits/{token}", {"level": 1})
    assert forged.status_code == 403 and not Rating.objects.filter(visit__token=token).exists()
    signed_in = post(client_for(citizen), f"/api/v1/ratings/visits/{token}", {"level": 1, "comment": "没人理"})
    assert signed_in.status_code == 201 and json.loads(signed_in.content)["real_name"]
    assert json.loads(signed_in.content)["rectification"] is not None

    for wrong in ["nope", "x" * 65]:
        response = post(Client(), f"/api/v1/ratings/visits/{wrong}", {"level": 5})
        assert response.status_code in (404, 422)
    assert problem(post(Client(), "/api/v1/ratings/visits/nope", {"level": 5}))["code"] == "bad_visit"
    bad_dimension = post(
        Client(),
        f"/api/v1/ratings/visits/{services.open_visit(clerk=clerk, window_id=market_window().pk).token}",
        {"level": 5, "scores": {"ease_of_use": 5}},
    )
    assert bad_dimension.status_code == 400 and problem(bad_dimension)["code"] == "bad_dimension"


def test_the_rater_confirms_the_rectification_result() -> None:
    applicant = make_citizen("接口确认人")
    case = closed_case(applicant)
    client = client_for(applicant)
    rating_id = json.loads(post(client, f"/api/v1/ratings/cases/{case.number}", {"level": 1}).content)["id"]
    early = post(client, f"/api/v1/ratings/{rating_id}/resolution", {"resolved": True})
    assert early.status_code == 409 and problem(early)["code"] == "illegal_transition"
    handle_rectification(Rating.objects.get(pk=rating_id))
    stranger = post(client_for(make_citizen("他人丙")), f"/api/v1/ratings/{rating_id}/resolution", {"resolved": True})
    assert stranger.status_code == 404
    assert post(client, "/api/v1/ratings/999999/resolution", {"resolved": True}).status_code == 404
    assert post(client, f"/api/v1/ratings/{rating_id}/resolution", {"resolved": "maybe"}).status_code == 422
    response = post(client, f"/api/v1/ratings/{rating_id}/resolution", {"resolved": True, "note": "已解决"})
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["resolved"] is True and body["rectification"]["state"] == WorkOrderState.CALLED_BACK


def test_results_and_comments_are_public_computed_from_tallies_and_scrubbed() -> None:
    applicant = make_citizen("结果接口人")
    for level, comment in [(5, "很快 13800138000"), (4, ""), (1, "太慢了 身份证 11010119900307123X")]:
        case = closed_case(applicant)
        services.rate_case(
            user=applicant, number=case.number, level=level, scores={}, comment=comment, origin=services.Origin("web")
        )
    client = Client()
    body = json.loads(client.get("/api/v1/ratings/results").content)
    assert body["group_by"] == "department" and body["count"] == 1
    (market,) = body["items"]
    assert (
        market["key"] == "market"
        and market["total"] == 3
        and market["levels"]
        == {
            "1": 1,
            "2": 0,
            "3": 0,
            "4": 1,
            "5": 1,
        }
    )
    assert market["satisfaction_rate"] == 0.6667 and market["bad_share"] == 0.3333
    # The bad rating's rectification is open and not yet due: it is not in the on-time share yet.
    assert market["average_score"] == round(10 / 3, 3) and market["rectification_due"] == 0
    assert market["rectified_on_time_share"] is None
    assert body["total"]["total"] == 3

    by_channel = json.loads(client.get("/api/v1/ratings/results?group_by=channel&department=market").content)
    assert [(row["key"], row["label"], row["total"]) for row in by_channel["items"]] == [("web", "网站办件页", 3)]
    since = (calendar.today_local() - dt.timedelta(days=400)).isoformat()
    by_item = json.loads(client.get(f"/api/v1/ratings/results?group_by=item&from={since}").content)
    assert by_item["items"][0]["label"] == "食品经营许可" and by_item["from"] == since
    windows = json.loads(client.get("/api/v1/ratings/results?group_by=window").content)
    assert windows["items"][0]["key"] == "0" and windows["items"][0]["total"] == 3
    empty = json.loads(client.get("/api/v1/ratings/results?from=2020-01-01&to=2020-01-31").content)
    assert empty["count"] == 0 and empty["total"]["satisfaction_rate"] is None

    assert problem(client.get("/api/v1/ratings/results?from=2026-02-01&to=2026-01-01"))["code"] == "bad_period"
    assert problem(client.get("/api/v1/ratings/results?from=2020-01-01&to=2026-01-01"))["code"] == "bad_period"
    assert client.get("/api/v1/ratings/results?group_by=rater").status_code == 422
    assert client.get("/api/v1/ratings/results?department=nowhere").status_code == 404
    assert client.get("/api/v1/ratings/results?department=../x").status_code == 422
    assert client.get("/api/v1/ratings/results?from=someday").status_code == 422

    comments = json.loads(client.get("/api/v1/ratings/comments?limit=2").content)
    assert comments["count"] == 2 and len(comments["items"]) == 2
    text = json.dumps(comments, ensure_ascii=False)
    assert "13800138000" not in text and "11010119900307123X" not in text and "结果接口人" not in text
    assert set(comments["items"][0]) == {
        "day",
        "level",
        "level_label",
        "department",
        "item_name",
        "channel",
        "channel_label",
        "comment",
    }
    second = json.loads(client.get("/api/v1/ratings/comments?limit=1&offset=1").content)
    assert second["items"][0]["comment"] == comments["items"][1]["comment"]
    assert client.get("/api/v1/ratings/comments?limit=1000").status_code == 422
    assert client.get("/api/v1/ratings/comments?offset=5000").status_code == 422


def test_the_ratings_operations_are_documented() -> None:
    schema = json.loads(Client().get("/api/v1/openapi.json").content)
    paths = {path for path in schema["paths"] if path.startswith("/api/v1/ratings/")}
    assert paths == {
        "/api/v1/ratings/cases/{number}",
        "/api/v1/ratings/visits/{token}",
        "/api/v1/ratings/results",
        "/api/v1/ratings/comments",
        "/api/v1/ratings/{rating_id}/resolution",
    }
    parameters = {p["name"] for p in schema["paths"]["/api/v1/ratings/results"]["get"]["parameters"]}
    assert {"from", "to", "department", "group_by"} <= parameters
