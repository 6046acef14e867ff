"""The case API: problem details for every refusal, idempotent submission, scoped reads."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.test import Client

from tests.cases import builders
from tests.cases.conftest import FOOD_LICENCE, RESTAURANT_BUNDLE, Staff, item_code
from tests.multipart import post_multipart
from yiwang.cases import definitions, services
from yiwang.cases.models import ApplicationFile, BundleSubmission, Case
from yiwang.catalog.models import ServiceItem

pytestmark = pytest.mark.django_db
BASE = "/api/v1/cases"


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _draft(client: Client) -> dict[str, Any]:
    response = client.post(
        f"{BASE}/applications", {"item_code": item_code(FOOD_LICENCE, "market")}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_apply_through_the_api_with_an_idempotency_key(citizen: Any) -> None:
    client = _client(citizen)
    draft = _draft(client)
    assert {p["kind"] for p in draft["problems"]} == {"question"}

    definition = definitions.for_item(ServiceItem.objects.published().get(code=draft["item_code"]))
    answers = builders.answer_all(definition)
    fields = {f.key: builders.value_for(f) for f in definitions.applicable(definition, answers).fields}
    response = client.put(
        f"{BASE}/applications/{draft['id']}", {"answers": answers, "form_data": fields}, content_type="application/json"
    )
    assert response.status_code == 200
    missing = [p for p in response.json()["problems"] if p["kind"] == "material"]
    assert missing
    for problem in missing:
        upload = io.BytesIO(builders.pdf_bytes())
        upload.name = "材料.pdf"
        response = client.post(
            f"{BASE}/applications/{draft['id']}/files", {"material_key": problem["key"], "file": upload}
        )
        assert response.status_code == 201, response.content

    first = client.post(f"{BASE}/applications/{draft['id']}/submit", HTTP_IDEMPOTENCY_KEY="k-123")
    second = client.post(f"{BASE}/applications/{draft['id']}/submit", HTTP_IDEMPOTENCY_KEY="k-123")

    assert first.status_code == second.status_code == 200
    assert first.json()["cases"][0]["number"] == second.json()["cases"][0]["number"]
    assert Case.objects.count() == 1


UNSAFE_NAMES = [
    "../../etc/passwd.pdf",
    "..\\..\\windows\\win.ini.pdf",
    "&#47;etc&#47;passwd.pdf",  # Django unescapes entities: a slash all the same
    "invoice\u202efdp.pdf",  # right-to-left override: shows as "invoicepdf.pdf" reversed
    "报告\u2067.pdf",  # another bidi control (first strong isolate)
    "a\x00b.pdf",
    "a\x07b.pdf",
    "..",
    "材料/",
]


@pytest.mark.parametrize("name", UNSAFE_NAMES)
def test_a_dangerous_file_name_is_refused_not_cleaned(citizen: Any, name: str) -> None:
    """Issue 12 item 6: Django's parser would quietly keep "passwd.pdf"; the name as sent is what is checked."""
    client = _client(citizen)
    draft = _draft(client)
    key = definitions.for_item(ServiceItem.objects.published().get(code=draft["item_code"])).materials[0].key
    url = f"{BASE}/applications/{draft['id']}/files"
    response = post_multipart(client, url, {"material_key": key}, [("file", name, builders.pdf_bytes())])
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "unsafe_name" and "文件名不符合要求" in body["detail"]
    assert not ApplicationFile.objects.exists()


@pytest.mark.parametrize("name", ["营业执照 副本（2024）.pdf", "身份证　正面.pdf"])
def test_a_chinese_name_with_spaces_is_kept_as_sent(citizen: Any, name: str) -> None:
    client = _client(citizen)
    draft = _draft(client)
    key = definitions.for_item(ServiceItem.objects.published().get(code=draft["item_code"])).materials[0].key
    url = f"{BASE}/applications/{draft['id']}/files"
    response = post_multipart(client, url, {"material_key": key}, [("file", name, builders.pdf_bytes())])
    assert response.status_code == 201, response.content
    assert response.json()["name"] == name


def test_a_file_that_is_not_what_its_name_says_is_refused_with_a_problem(citizen: Any) -> None:
    client = _client(citizen)
    draft = _draft(client)
    key = definitions.for_item(ServiceItem.objects.published().get(code=draft["item_code"])).materials[0].key
    fake = io.BytesIO(b"MZ\x90\x00 this is a windows program")
    fake.name = "营业执照.pdf"
    response = client.post(f"{BASE}/applications/{draft['id']}/files", {"material_key": key, "file": fake})
    assert response.status_code == 400
    body = response.json()
    assert response["Content-Type"].startswith("application/problem+json")
    assert body["code"] in {"file_type_not_allowed", "file_type_mismatch"}
    assert body["detail"]


def test_submitting_an_incomplete_application_lists_the_problems(citizen: Any) -> None:
    client = _client(citizen)
    draft = _draft(client)
    response = client.post(f"{BASE}/applications/{draft['id']}/submit")
    assert response.status_code == 400
    assert response.json()["code"] == "application_incomplete"
    assert response.json()["problems"]


def test_another_citizen_sees_neither_application_nor_case(citizen: Any, other_citizen: Any) -> None:
    (case,) = builders.apply(citizen, item_code=item_code(FOOD_LICENCE, "market"))
    stranger = _client(other_citizen)
    assert stranger.get(f"{BASE}/applications/{case.application_id}").status_code == 404
    assert stranger.get(f"{BASE}/{case.number}").status_code == 404
    assert (
        stranger.post(
            f"{BASE}/{case.number}/actions/withdraw", {"reason": "捣乱"}, content_type="application/json"
        ).status_code
        == 404
    )
    assert stranger.get(f"{BASE}/").json()["count"] == 0


def test_staff_act_with_the_version_they_read(citizen: Any, market: Staff) -> None:
    (case,) = builders.apply(citizen, item_code=item_code(FOOD_LICENCE, "market"))
    clerk = _client(market.clerk)
    detail = clerk.get(f"{BASE}/{case.number}").json()
    assert detail["verification_code"] is None  # staff do not need the applicant's lookup code

    accepted = clerk.post(
        f"{BASE}/{case.number}/actions/accept", {"version": detail["version"]}, content_type="application/json"
    )
    assert accepted.status_code == 200
    assert accepted.json()["state"] == "in_review"

    stale = _client(market.approver).post(
        f"{BASE}/{case.number}/actions/suspend",
        {"version": detail["version"], "reason": "需要专家论证"},
        content_type="application/json",
    )
    assert stale.status_code == 409
    assert stale.json()["code"] == "stale_version"


def test_the_applicant_sees_the_timeline_and_what_is_expected(citizen: Any, market: Staff) -> None:
    (case,) = builders.apply(citizen, item_code=item_code(FOOD_LICENCE, "market"))
    services.perform(case, "accept", actor=market.clerk)
    material = next(m for m in definitions.for_item(case.item).materials if m.required and not m.from_source)
    services.perform(
        case,
        "request_correction",
        actor=market.reviewer,
        items=[{"kind": "material", "key": material.key, "problem": "缺少签字"}],
    )
    body = _client(citizen).get(f"{BASE}/{case.number}").json()
    assert [e["action"] for e in body["events"]] == ["submit", "accept", "request_correction"]
    assert body["expected"]["kind"] == "correction"
    assert body["expected"]["items"][0]["problem"] == "缺少签字"
    assert body["verification_code"] == case.verification_code


def test_public_lookup_shows_progress_without_personal_data_and_throttles_guessing(
    citizen: Any, api_client: Client
) -> None:
    (case,) = builders.apply(citizen, item_code=item_code(FOOD_LICENCE, "market"))
    found = api_client.get(f"{BASE}/lookup", {"number": case.number, "code": case.verification_code.lower()})
    assert found.status_code == 200
    assert found.json()["state"] == "submitted"
    assert citizen.person.name not in found.content.decode()

    wrong = api_client.get(f"{BASE}/lookup", {"number": case.number, "code": "AAAAAA"})
    assert wrong.status_code == 404
    assert wrong.json()["detail"] == "办件编号或查询码不正确"
    for _ in range(services.LOOKUP_FAILURE_LIMIT):
        api_client.get(f"{BASE}/lookup", {"number": case.number, "code": "AAAAAA"})
    throttled = api_client.get(f"{BASE}/lookup", {"number": case.number, "code": case.verification_code})
    assert throttled.status_code == 429


def test_a_bundle_is_looked_up_by_its_one_number_and_code(citizen: Any, api_client: Client) -> None:
    """Issue 12 item 12: the 一件事's number and code show every case of it, and nothing personal."""
    cases = builders.apply(citizen, bundle_code=RESTAURANT_BUNDLE)
    bundle = BundleSubmission.objects.get(application_id=cases[0].application_id)
    found = api_client.get(f"{BASE}/bundles/lookup", {"number": bundle.number, "code": bundle.verification_code})
    assert found.status_code == 200
    body = found.json()
    assert body["number"] == bundle.number
    assert sorted(c["number"] for c in body["cases"]) == sorted(c.number for c in cases)
    assert citizen.person.name not in found.content.decode()
    # A case's own code does not open the bundle.
    wrong = api_client.get(f"{BASE}/bundles/lookup", {"number": bundle.number, "code": cases[0].verification_code})
    assert wrong.status_code == 404


def test_the_workbench_lists_my_departments_tasks_overdue_first_in_fixed_queries(
    citizen: Any, market: Staff, police: Staff, django_assert_max_num_queries: Any
) -> None:
    cases = [builders.apply(citizen, item_code=item_code(FOOD_LICENCE, "market"))[0] for _ in range(3)]
    for case in cases:
        services.perform(case, "accept", actor=market.clerk)
    late = cases[1]
    late.tasks.filter(status="open").update(due="2020-01-02")
    reviewer = _client(market.reviewer)

    with django_assert_max_num_queries(8):
        body = reviewer.get(f"{BASE}/workbench").json()
    assert body["count"] == 3
    assert body["items"][0]["number"] == late.number
    assert reviewer.get(f"{BASE}/workbench", {"deadline": "overdue"}).json()["count"] == 1
    assert _client(police.reviewer).get(f"{BASE}/workbench").json()["count"] == 0
    assert _client(citizen).get(f"{BASE}/workbench").json()["count"] == 0
    assert reviewer.get(f"{BASE}/workbench", {"deadline": "whenever"}).status_code == 422
