"""12345 hotline pages through Django's test client: callers, the public, the operator and department desks,
grid reports and supervision; bad input, stale versions and whole flows. Who may open each page is checked
with every other route in tests/test_access.py.

The browser walk is in tests/e2e/; the service rules themselves are in test_services.py.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.accounts.factories import make_citizen, make_staff
from yiwang.accounts.constants import Role
from yiwang.core.audit import AuditEvent
from yiwang.directory.models import Department
from yiwang.hotline import page_data, services
from yiwang.hotline.constants import AssignmentState, Satisfaction, Source, WorkOrderKind, WorkOrderState
from yiwang.hotline.geometry.geojson import DEMO_GRID_PATH
from yiwang.hotline.models import WorkOrder
from yiwang.hotline.services import intake

from .conftest import handler

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rules", "no_model")]

NOISE = "小区旁工地夜间施工噪音扰民"
NOISE_TEXT = "和平路幸福小区旁的工地每天晚上十一点以后还在施工，噪音很大，影响居民休息。"
INSIDE_XINGFU = (113.265, 23.125)  # in 幸福街道第一网格 (SF-01-001), whose grid worker is "grid-worker"


# --- the world every access test acts on ----------------------------------------------------------------


def unsure_suggestions(title: str, content: str, *, top: int = 3) -> tuple[list[services.Suggestion], str]:
    """A classifier that is not sure enough to dispatch on its own: the operator decides."""
    housing = Department.objects.get(code="housing")
    ecology = Department.objects.get(code="ecology")
    return [
        services.Suggestion("城乡建设", 0.62, housing.code, housing.name),
        services.Suggestion("环境保护", 0.21, ecology.code, ecology.name),
    ], ""


@pytest.fixture(autouse=True)
def _suggestions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(intake, "suggest", unsure_suggestions)


@dataclass
class World:
    users: dict[str, Any]
    ids: dict[str, Any] = field(default_factory=dict)


def load_grid() -> Any:
    """The demo city's grid, with its grid worker; returns the worker."""
    worker = make_staff(Role.GRID_WORKER, "xingfu_street", username="grid-worker")
    services.load_grid(DEMO_GRID_PATH.read_bytes(), department_code="urban_management")
    return worker


def web_complaint(user: Any, **overrides: Any) -> WorkOrder:
    fields: dict[str, Any] = {
        "actor": user,
        "kind": WorkOrderKind.COMPLAINT,
        "source": Source.WEB,
        "title": NOISE,
        "content": NOISE_TEXT,
        "caller": services.CallerDetails(user=user),
    }
    fields.update(overrides)
    return services.register(**fields)


def phone_order(operator: Any, **overrides: Any) -> WorkOrder:
    fields: dict[str, Any] = {
        "actor": operator,
        "kind": WorkOrderKind.COMPLAINT,
        "source": Source.PHONE,
        "title": NOISE,
        "content": NOISE_TEXT,
        "caller": services.CallerDetails(name="李来电", phone="13800138000"),
    }
    fields.update(overrides)
    return services.register(**fields)


def build_world(caller: Any, operator: Any, supervisor: Any) -> World:
    """The caller's web complaint, dispatched by the operator to housing (待签收); the demo grid loaded."""
    users = {
        "anonymous": None,
        "caller": caller,
        "other_citizen": make_citizen("吴路人"),
        "operator": operator,
        "handler": handler("housing"),
        "other_handler": handler("market"),
        "supervisor": supervisor,
    }
    order = web_complaint(caller)
    order = services.perform(order, "dispatch", actor=operator, department="housing", category="城乡建设")
    load_grid()
    return World(users, {"order": order.number, "code": order.verification_code, "version": order.version})


@pytest.fixture
def world(caller: Any, operator: Any, supervisor: Any) -> World:
    return build_world(caller, operator, supervisor)


def client_for(user: Any) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def page_text(response: Any) -> str:
    return html.unescape(response.content.decode())


# --- filing and following one's own orders ---------------------------------------------------------------


def test_a_person_files_a_complaint_and_follows_it(caller: Any) -> None:
    client = client_for(caller)
    form = page_text(client.get("/hotline/new/?kind=complaint"))
    assert 'name="kind"' in form and "csrfmiddlewaretoken" in form and 'value="complaint"' in form
    response = client.post(
        "/hotline/new/",
        {"kind": "complaint", "title": NOISE, "content": NOISE_TEXT, "location": "和平路幸福小区"},
    )
    order = WorkOrder.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/hotline/mine/{order.number}/"
    assert (order.source, order.caller_user_id, order.location_text) == (Source.WEB, caller.pk, "和平路幸福小区")
    page = page_text(client.get(response["Location"]))
    assert order.number in page and order.verification_code in page and "待派单" in page
    assert "登记" in page  # the public timeline
    listing = page_text(client.get("/hotline/mine/"))
    assert order.number in listing and NOISE in listing
    assert order.number not in page_text(client_for(make_citizen("吴路人")).get("/hotline/mine/"))


def test_filing_refuses_bad_input_and_keeps_what_was_typed(caller: Any) -> None:
    client = client_for(caller)
    empty = client.post("/hotline/new/", {})
    assert empty.status_code == 400
    assert "请修改下面标出的内容" in page_text(empty)

    long_title = client.post("/hotline/new/", {"kind": "complaint", "title": "长" * 201, "content": "内容"})
    assert long_title.status_code == 400 and 'aria-invalid="true"' in long_title.content.decode()

    not_a_report = client.post(
        "/hotline/new/", {"kind": "complaint", "title": "标题<script>", "content": NOISE_TEXT, "anonymous": "on"}
    )
    page = not_a_report.content.decode()
    assert not_a_report.status_code == 400
    assert "只有举报可以匿名" in html.unescape(page)
    # The message sits with the anonymous box, and what was typed is still there (escaped).
    assert 'id="id_anonymous_error"' in page
    assert "标题&lt;script&gt;" in page and "<script>" not in page
    assert NOISE_TEXT in html.unescape(page)
    assert not WorkOrder.objects.exists()

    report = client.post(
        "/hotline/new/", {"kind": "report", "title": "无证经营", "content": "某店无证经营", "anonymous": "on"}
    )
    assert report.status_code == 302
    assert WorkOrder.objects.get().anonymous


def test_the_track_page_shows_progress_without_the_caller(client: Client, world: World) -> None:
    order = WorkOrder.objects.get(number=world.ids["order"])
    found = page_text(client.post("/hotline/track/", {"number": order.number, "code": order.verification_code.lower()}))
    assert "待签收" in found and NOISE in found and "派单" in found
    progress = found.split('id="progress-title"')[1]
    assert "孙来电" not in progress and "138" not in progress
    wrong = client.post("/hotline/track/", {"number": order.number, "code": "ZZZZZZ"})
    assert wrong.status_code == 400 and "工单编号或查询码不正确" in page_text(wrong)
    assert "待签收" not in page_text(wrong)
    assert client.post("/hotline/track/", {}).status_code == 400


def test_the_track_page_is_throttled_after_too_many_wrong_guesses(client: Client, world: World) -> None:
    order = WorkOrder.objects.get(number=world.ids["order"])
    for _attempt in range(page_data.TRACK_FAILURE_LIMIT):
        client.post("/hotline/track/", {"number": order.number, "code": "WRONG1"})
    response = client.post("/hotline/track/", {"number": order.number, "code": order.verification_code})
    assert response.status_code == 429 and "查询失败次数过多" in page_text(response)


# --- the operator and department desks: the whole flow -----------------------------------------------------


def test_operator_takes_a_call_accepts_the_suggestion_department_sends_back_and_it_closes(
    operator: Any, client: Client
) -> None:
    desk = client_for(operator)
    intake = desk.post(
        "/hotline/desk/intake/",
        {"kind": "complaint", "title": NOISE, "content": NOISE_TEXT, "caller_name": "李来电", "phone": "138 0013 8000"},
    )
    order = WorkOrder.objects.get()
    assert intake.status_code == 302 and intake["Location"] == f"/hotline/desk/{order.number}/"
    assert order.source == Source.PHONE and order.state == WorkOrderState.REGISTERED

    page = page_text(desk.get(intake["Location"]))
    assert "派单建议" in page and "城乡建设" in page and "置信度 62%" in page
    assert "李来电" in page and "138****8000" in page and "13800138000" not in page
    assert order.number in page_text(desk.get("/hotline/desk/"))

    # One click: the best suggestion.
    accepted = desk.post(
        f"/hotline/desk/{order.number}/actions/dispatch/",
        {"dispatch-expected_version": order.version, "dispatch-department": "housing", "dispatch-category": "城乡建设"},
    )
    assert accepted.status_code == 302
    order.refresh_from_db()
    assert order.state == WorkOrderState.DISPATCHED and order.department.code == "housing"

    housing = client_for(handler("housing"))
    assert order.number in page_text(housing.get("/hotline/desk/"))
    housing_page = page_text(housing.get(f"/hotline/desk/{order.number}/"))
    assert "签收" in housing_page and "退回" in housing_page and "派单建议" not in housing_page
    assert 'action="/hotline/desk/' + order.number + '/actions/dispatch/"' not in housing_page
    no_reason = housing.post(
        f"/hotline/desk/{order.number}/actions/send_back/", {"send_back-expected_version": order.version}
    )
    assert no_reason.status_code == 400
    sent_back = housing.post(
        f"/hotline/desk/{order.number}/actions/send_back/",
        {"send_back-expected_version": order.version, "send_back-reason": "夜间施工噪音由城管执法部门查处"},
    )
    assert sent_back.status_code == 302
    order.refresh_from_db()
    assert order.state == WorkOrderState.REGISTERED and order.department is None

    # Re-dispatched with the chooser, ecology assisting (joint handling).
    redispatch = desk.post(
        f"/hotline/desk/{order.number}/actions/dispatch/",
        {
            "dispatch-expected_version": order.version,
            "dispatch-department": "urban_management",
            "dispatch-category": "城乡建设",
            "dispatch-assisting": ["ecology"],
            "dispatch-reason": "按退回理由改派城管",
        },
    )
    assert redispatch.status_code == 302
    order.refresh_from_db()
    assert order.department.code == "urban_management"
    assert set(order.assignments.filter(state=AssignmentState.DISPATCHED).values_list("department__code", "role")) == {
        ("urban_management", "lead"),
        ("ecology", "assist"),
    }

    urban = client_for(handler("urban_management"))
    ecology = client_for(handler("ecology"))
    steps: list[tuple[Client, str, dict[str, str]]] = [
        (urban, "acknowledge", {}),
        (ecology, "acknowledge", {}),
        (ecology, "contribute", {"opinion": "生态环境部门已到场监测，夜间噪音超标"}),
        (urban, "reply", {"reply": "已责令工地夜间停工，并加强巡查。"}),
        (desk, "close", {}),
        (desk, "record_callback", {"satisfaction": Satisfaction.SATISFIED, "note": "来电人表示已无噪音，满意"}),
    ]
    for who, action, fields in steps:
        order.refresh_from_db()
        page = page_text(who.get(f"/hotline/desk/{order.number}/"))
        assert f'id="action-{action}"' in page, action
        response = who.post(
            f"/hotline/desk/{order.number}/actions/{action}/",
            {f"{action}-expected_version": order.version, **{f"{action}-{k}": v for k, v in fields.items()}},
        )
        assert response.status_code == 302, page_text(response)
    order.refresh_from_db()
    assert order.state == WorkOrderState.CALLED_BACK and order.satisfaction == Satisfaction.SATISFIED

    # The caller, who phoned in, follows it by number and code.
    tracked = page_text(client.post("/hotline/track/", {"number": order.number, "code": order.verification_code}))
    assert "已回访" in tracked and "已责令工地夜间停工" in tracked and "李来电" not in tracked
    history = page_text(desk.get(f"/hotline/desk/{order.number}/"))
    assert "夜间施工噪音由城管执法部门查处" in history and "按退回理由改派城管" in history


def test_intake_refuses_bad_input_next_to_the_field(operator: Any) -> None:
    desk = client_for(operator)
    typed = {"kind": "complaint", "title": NOISE, "content": NOISE_TEXT, "caller_name": "李来电", "phone": "12345"}
    response = desk.post("/hotline/desk/intake/", typed)
    page = response.content.decode()
    assert response.status_code == 400 and 'id="id_phone_error"' in page and "联系电话格式不正确" in html.unescape(page)
    assert 'value="李来电"' in page and 'value="12345"' in page
    # The hint and the message are tied to the control for screen readers.
    assert 'aria-describedby="id_phone_helptext id_phone_error"' in page and 'aria-invalid="true"' in page
    no_phone = desk.post("/hotline/desk/intake/", {**typed, "phone": ""})
    assert no_phone.status_code == 400 and "请留下联系电话" in page_text(no_phone)
    bad_point = desk.post("/hotline/desk/intake/", {**typed, "phone": "13800138000", "longitude": "500"})
    assert bad_point.status_code == 400
    assert not WorkOrder.objects.exists()


def test_department_actions_refuse_bad_input_and_unknown_departments(world: World, operator: Any) -> None:
    housing = client_for(world.users["handler"])
    number = world.ids["order"]
    order = WorkOrder.objects.get(number=number)
    assert housing.post(f"/hotline/desk/{number}/actions/no_such_action/", {}).status_code == 404
    # The operator may not acknowledge; the refusal is shown on the page, nothing changes.
    refused = client_for(operator).post(
        f"/hotline/desk/{number}/actions/acknowledge/", {"acknowledge-expected_version": order.version}
    )
    assert refused.status_code == 403 and "您无权对该工单执行" in page_text(refused)

    services.perform(number, "acknowledge", actor=world.users["handler"])
    order.refresh_from_db()
    too_long = housing.post(
        f"/hotline/desk/{number}/actions/request_extension/",
        {
            "request_extension-expected_version": order.version,
            "request_extension-days": "99",
            "request_extension-reason": "需第三方检测",
        },
    )
    assert too_long.status_code == 400 and "需第三方检测" in page_text(too_long)
    transfer = client_for(operator).post(
        f"/hotline/desk/{number}/actions/transfer/",
        {"transfer-expected_version": order.version, "transfer-department": "nowhere", "transfer-reason": "改派"},
    )
    assert transfer.status_code == 400
    order.refresh_from_db()
    assert order.department.code == "housing" and order.state == WorkOrderState.HANDLING


def test_a_stale_version_keeps_what_was_typed_and_shows_the_latest_state(world: World) -> None:
    staff = world.users["handler"]
    number = world.ids["order"]
    order = services.perform(number, "acknowledge", actor=staff)
    seen = order.version
    services.perform(number, "supervise", actor=world.users["supervisor"], reason="请加快办理")
    housing = client_for(staff)
    reply = "已现场核查，工地已停止夜间施工。"
    stale = housing.post(
        f"/hotline/desk/{number}/actions/reply/", {"reply-expected_version": seen, "reply-reply": reply}
    )
    page = stale.content.decode()
    assert stale.status_code == 409
    assert "工单已被他人处理" in html.unescape(page) and reply in html.unescape(page)
    order.refresh_from_db()
    assert re.search(rf'name="reply-expected_version" value="{order.version}"', page)
    assert order.state == WorkOrderState.HANDLING and not order.reply
    again = housing.post(
        f"/hotline/desk/{number}/actions/reply/", {"reply-expected_version": order.version, "reply-reply": reply}
    )
    assert again.status_code == 302
    order.refresh_from_db()
    assert order.state == WorkOrderState.REPLIED and order.reply == reply


def test_an_anonymous_report_hides_the_reporter_from_the_department(caller: Any, operator: Any) -> None:
    order = web_complaint(
        caller, kind=WorkOrderKind.REPORT, title="无证经营", caller=services.CallerDetails(user=caller, anonymous=True)
    )
    services.perform(order, "dispatch", actor=operator, department="market", category="商贸旅游")
    market = page_text(client_for(handler("market")).get(f"/hotline/desk/{order.number}/"))
    assert "孙来电" not in market and "匿名举报" in market and "举报人" in market
    operator_page = page_text(client_for(operator).get(f"/hotline/desk/{order.number}/"))
    assert "孙来电" in operator_page


def test_the_operator_answers_a_consultation_from_the_knowledge_base(
    operator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.knowledge.fakes import use_fake_embeddings
    from yiwang.knowledge import services as knowledge_services

    use_fake_embeddings(monkeypatch)
    writer, publisher = make_staff(Role.REVIEWER, "police"), make_staff(Role.DEPARTMENT_ADMIN, "police")
    draft = knowledge_services.create_entry(
        actor=writer,
        department_code="police",
        content=knowledge_services.EntryContent(
            kind="answer",
            questions=["身份证丢了怎么补办"],
            answer="携带户口簿到户籍所在地派出所办理，也可在网上申请补领。",
            source_text="《居民身份证法》第十一条",
        ),
    )
    knowledge_services.submit_for_review(draft, actor=writer)
    entry = knowledge_services.publish_version(draft, actor=publisher)
    order = phone_order(operator, kind=WorkOrderKind.CONSULT, title="身份证丢失如何补办", content="身份证丢了")
    desk = client_for(operator)
    page = page_text(desk.get(f"/hotline/desk/{order.number}/"))
    assert "知识库" in page and entry.title in page and f"use=kb%3A{entry.entry_id}" in page
    prefilled = page_text(desk.get(f"/hotline/desk/{order.number}/", {"use": f"kb:{entry.entry_id}"}))
    assert entry.answer in prefilled and entry.source_text in prefilled
    searched = page_text(desk.get(f"/hotline/desk/{order.number}/", {"kb": "护照"}))
    assert "办事指南" in searched or "没有找到可用的答复依据" in searched
    answered = desk.post(
        f"/hotline/desk/{order.number}/actions/answer/",
        {"answer-expected_version": order.version, "answer-answer": entry.answer, "answer-source": entry.source_text},
    )
    assert answered.status_code == 302
    order.refresh_from_db()
    assert order.state == WorkOrderState.CLOSED and order.answer_source == entry.source_text
    # A complaint offers no direct answer at all.
    complaint = phone_order(operator)
    assert 'id="action-answer"' not in page_text(desk.get(f"/hotline/desk/{complaint.number}/"))


def test_an_item_guide_prefills_the_answer_with_its_source(operator: Any) -> None:
    from yiwang.catalog import selectors as catalog_selectors

    item = catalog_selectors.published_items().first()
    assert item is not None
    order = phone_order(operator, kind=WorkOrderKind.CONSULT, title=item.name, content="怎么办理")
    page = page_text(client_for(operator).get(f"/hotline/desk/{order.number}/", {"use": f"item:{item.code}"}))
    assert f"办事指南：{item.name}（{item.code}）" in page and f"/items/{item.code}/" in page


def test_merging_a_duplicate_from_the_desk(operator: Any) -> None:
    first, second = phone_order(operator), phone_order(operator)
    desk = client_for(operator)
    missing = desk.post(
        f"/hotline/desk/{second.number}/actions/merge/",
        {"merge-expected_version": second.version, "merge-into": "12345-00000000-000000"},
    )
    assert missing.status_code == 400 and "请选择要合并到的另一张工单" in page_text(missing)
    merged = desk.post(
        f"/hotline/desk/{second.number}/actions/merge/",
        {"merge-expected_version": second.version, "merge-into": first.number},
    )
    assert merged.status_code == 302
    second.refresh_from_db()
    assert second.state == WorkOrderState.MERGED and second.duplicate_of_id == first.pk
    assert second.number in page_text(desk.get(f"/hotline/desk/{first.number}/"))


def test_the_merge_form_offers_open_orders_about_the_same_problem(operator: Any) -> None:
    first = phone_order(
        operator,
        title="A市丽发新城小区旁搅拌站噪音扰民",
        content="丽发新城小区旁的搅拌站每天夜里作业，噪音和粉尘很大。",
    )
    other_place = phone_order(
        operator, title="A市金桥小区旁搅拌站噪音扰民", content="金桥小区旁的搅拌站每天夜里作业，噪音很大。"
    )
    second = phone_order(
        operator,
        title="丽发新城小区搅拌站夜间噪音",
        content="A市丽发新城小区附近搅拌站夜间施工，噪音粉尘严重，影响休息。",
    )
    desk = client_for(operator)
    assert "?duplicates=1#action-merge" in page_text(desk.get(f"/hotline/desk/{second.number}/"))
    merge_panel = page_text(desk.get(f"/hotline/desk/{second.number}/", {"duplicates": "1"}))
    merge_panel = merge_panel.split('id="action-merge"')[1]
    merge_panel = merge_panel.split("</section>")[0]
    assert f'name="merge-into" value="{first.number}"' in merge_panel
    assert other_place.number not in merge_panel
    merged = desk.post(
        f"/hotline/desk/{second.number}/actions/merge/",
        {"merge-expected_version": second.version, "merge-into": first.number},
    )
    assert merged.status_code == 302
    second.refresh_from_db()
    assert second.state == WorkOrderState.MERGED and second.duplicate_of_id == first.pk


def test_extension_requested_by_the_department_and_decided_by_a_supervisor(world: World) -> None:
    number = world.ids["order"]
    staff, supervisor = world.users["handler"], world.users["supervisor"]
    order = services.perform(number, "acknowledge", actor=staff)
    due = order.due
    response = client_for(staff).post(
        f"/hotline/desk/{number}/actions/request_extension/",
        {
            "request_extension-expected_version": order.version,
            "request_extension-days": "5",
            "request_extension-reason": "需要第三方噪音检测",
        },
    )
    assert response.status_code == 302
    board = page_text(client_for(supervisor).get("/hotline/supervision/"))
    assert number in board.split('id="extensions-title"')[1].split("</section>")[0]
    order.refresh_from_db()
    decided = client_for(supervisor).post(
        f"/hotline/desk/{number}/actions/decide_extension/",
        {"decide_extension-expected_version": order.version, "decide_extension-decision": "approve"},
    )
    assert decided.status_code == 302
    order.refresh_from_db()
    assert order.extension_status == "approved" and order.due is not None and due is not None and order.due > due


def test_a_rectification_is_called_back_reported_and_confirmed_by_the_rater(caller: Any) -> None:
    order = services.open_rectification(
        rating_id=1,
        department_id=Department.objects.get(code="housing").pk,
        person_user=caller,
        title="差评整改：窗口服务态度差",
        content="评价人反映窗口人员态度差。",
    )
    housing = client_for(handler("housing"))
    mine = client_for(caller)
    for action, fields in (
        ("acknowledge", {}),
        ("record_callback", {"satisfaction": Satisfaction.BASICALLY, "note": "已致电评价人说明整改"}),
        ("reply", {"reply": "已对窗口人员批评教育并调整岗位。"}),
    ):
        order.refresh_from_db()
        response = housing.post(
            f"/hotline/desk/{order.number}/actions/{action}/",
            {f"{action}-expected_version": order.version, **{f"{action}-{k}": v for k, v in fields.items()}},
        )
        assert response.status_code == 302, page_text(response)
    order.refresh_from_db()
    assert order.state == WorkOrderState.CLOSED
    page = page_text(mine.get(f"/hotline/mine/{order.number}/"))
    assert "确认整改结果" in page and "已对窗口人员批评教育" in page
    assert mine.post(f"/hotline/mine/{order.number}/confirm/", {"confirm-resolved": "maybe"}).status_code == 400
    stale = mine.post(
        f"/hotline/mine/{order.number}/confirm/", {"confirm-expected_version": 1, "confirm-resolved": "yes"}
    )
    assert stale.status_code == 409 and "工单已有新的进展" in page_text(stale)
    confirmed = mine.post(
        f"/hotline/mine/{order.number}/confirm/",
        {"confirm-expected_version": order.version, "confirm-resolved": "yes"},
    )
    assert confirmed.status_code == 302
    order.refresh_from_db()
    assert order.state == WorkOrderState.CALLED_BACK


# --- grid reports -------------------------------------------------------------------------------------------


def test_a_grid_report_from_the_map_goes_to_the_grid_worker(caller: Any) -> None:
    worker = load_grid()
    client = client_for(caller)
    form = client.get("/hotline/grid/report/").content.decode()
    assert "<svg" in form and 'data-min-lon="' in form and 'data-lon-factor="' in form and "data-map-picker" in form
    assert 'name="longitude"' in form and 'step="any"' in form
    response = client.post(
        "/hotline/grid/report/",
        {
            "category": "市政设施",
            "title": "人行道井盖缺失",
            "content": "幸福小学门口人行道井盖缺失，孩子上下学很危险。",
            "longitude": str(INSIDE_XINGFU[0]),
            "latitude": str(INSIDE_XINGFU[1]),
        },
    )
    order = WorkOrder.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/hotline/mine/{order.number}/"
    assert order.grid_cell.code == "SF-01-001" and order.assignee_id == worker.pk
    assert order.state == WorkOrderState.DISPATCHED
    assert order.number in page_text(client_for(worker).get("/hotline/desk/"))
    public = page_text(Client().get("/hotline/grid/"))
    assert order.number in public and "市政设施" in public and "幸福街道第一网格" in public
    assert "井盖缺失" not in public and "孙来电" not in public
    assert "grid-cell--highlight" in public


def test_a_grid_report_outside_the_city_is_refused_next_to_the_coordinates(caller: Any) -> None:
    load_grid()
    typed = {
        "category": "环境卫生",
        "title": "垃圾堆放",
        "content": "路口垃圾三天未清运",
        "longitude": "100",
        "latitude": "30",
    }
    response = client_for(caller).post("/hotline/grid/report/", typed)
    page = response.content.decode()
    assert response.status_code == 400 and 'id="id_longitude_error"' in page
    assert "不在本市网格范围内" in html.unescape(page) and "路口垃圾三天未清运" in html.unescape(page)
    not_numbers = client_for(caller).post("/hotline/grid/report/", {**typed, "longitude": "东经", "latitude": ""})
    assert not_numbers.status_code == 400
    assert not WorkOrder.objects.exists()


def test_grid_pages_work_before_any_grid_is_loaded(caller: Any) -> None:
    report = client_for(caller).get("/hotline/grid/report/")
    assert report.status_code == 200 and "<svg" not in report.content.decode()
    assert "网格数据尚未导入" in page_text(report) and 'name="longitude"' in page_text(report)
    public = Client().get("/hotline/grid/")
    assert public.status_code == 200 and "网格数据尚未导入" in page_text(public)
    refused = client_for(caller).post(
        "/hotline/grid/report/",
        {"category": "其他", "title": "t", "content": "c", "longitude": "113.265", "latitude": "23.125"},
    )
    assert refused.status_code == 400 and "不在本市网格范围内" in page_text(refused)


def test_a_grid_report_sent_back_by_the_worker_waits_for_a_supervisor(caller: Any, supervisor: Any) -> None:
    worker = load_grid()
    order = services.report_grid_problem(
        actor=caller,
        title="井盖缺失",
        content="人行道井盖缺失",
        category="市政设施",
        longitude=INSIDE_XINGFU[0],
        latitude=INSIDE_XINGFU[1],
    )
    response = client_for(worker).post(
        f"/hotline/desk/{order.number}/actions/send_back/",
        {"send_back-expected_version": order.version, "send_back-reason": "井盖属供水公司，不属网格处置范围"},
    )
    # The worker no longer sees the order: back to the desk.
    assert response.status_code == 302 and response["Location"] == "/hotline/desk/"
    board = page_text(client_for(supervisor).get("/hotline/supervision/"))
    assert order.number in board.split('id="unrouted-title"')[1]
    order.refresh_from_db()
    dispatched = client_for(supervisor).post(
        f"/hotline/desk/{order.number}/actions/dispatch/",
        {"dispatch-expected_version": order.version, "dispatch-department": "water"},
    )
    assert dispatched.status_code == 302
    order.refresh_from_db()
    assert order.state == WorkOrderState.DISPATCHED and order.department.code == "water"


# --- no N+1 on the lists --------------------------------------------------------------------------------------


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        assert client.get(url).status_code == 200
    return len(context.captured_queries)


def test_the_operator_desk_reads_a_fixed_number_of_queries(operator: Any, django_assert_max_num_queries: Any) -> None:
    staff = handler("housing")

    def orders_in_every_list(count: int) -> None:
        for _n in range(count):
            phone_order(operator)  # to dispatch
            for last in ("reply", "close"):  # a reply to review; a callback due
                order = services.perform(phone_order(operator), "dispatch", actor=operator, department="housing")
                services.perform(order.number, "acknowledge", actor=staff)
                services.perform(order.number, "reply", actor=staff, reply="已处理")
                if last == "close":
                    services.perform(order.number, "close", actor=operator)

    desk = client_for(operator)
    orders_in_every_list(1)
    # The first page a worker process renders may fill a per-process cache (one query, once, whichever test
    # renders first): what must not grow with the orders is the count after that.
    _queries(desk, "/hotline/desk/")
    few = _queries(desk, "/hotline/desk/")
    orders_in_every_list(3)
    assert _queries(desk, "/hotline/desk/") == few
    with django_assert_max_num_queries(12):
        page = page_text(desk.get("/hotline/desk/"))
    assert page.count("已答复") >= 3 and page.count("待派单") >= 4


def test_the_department_queue_reads_a_fixed_number_of_queries(
    operator: Any, django_assert_max_num_queries: Any
) -> None:
    staff = handler("housing")
    housing = client_for(staff)

    def dispatched(count: int) -> None:
        for _n in range(count):
            services.perform(phone_order(operator), "dispatch", actor=operator, department="housing")

    dispatched(2)
    few = _queries(housing, "/hotline/desk/")
    dispatched(8)
    assert _queries(housing, "/hotline/desk/") == few
    with django_assert_max_num_queries(12):
        housing.get("/hotline/desk/")


def test_denied_desk_visits_are_audited(caller: Any) -> None:
    assert client_for(caller).get("/hotline/desk/").status_code == 403
    assert AuditEvent.objects.filter(event="permission.denied", detail__page="hotline.desk").exists()


def test_every_form_post_needs_the_csrf_token(world: World) -> None:
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(world.users["handler"])
    number = world.ids["order"]
    page = strict.get(f"/hotline/desk/{number}/").content.decode()
    assert page.count('name="csrfmiddlewaretoken"') >= page.count('method="post"') > 0
    refused = strict.post(f"/hotline/desk/{number}/actions/acknowledge/", {"acknowledge-expected_version": "2"})
    assert refused.status_code == 403
    api = strict.post(
        f"/api/v1/hotline/orders/{number}/actions/acknowledge", {"expected_version": 2}, content_type="application/json"
    )
    assert api.status_code == 403
    assert WorkOrder.objects.get(number=number).state == WorkOrderState.DISPATCHED


def test_hot_issue_page_lists_the_cluster(world: World) -> None:
    operator = world.users["operator"]
    for n in range(3):
        services.register(
            actor=operator,
            kind=WorkOrderKind.COMPLAINT,
            source=Source.PHONE,
            title=f"丽发新城小区搅拌站噪音{n}",
            content="A市丽发新城小区附近搅拌站夜间施工噪音严重。",
            caller=services.CallerDetails(name="李", phone="13800138000"),
        )
    response = client_for(operator).get("/hotline/hot/?days=7")
    assert response.status_code == 200
    body = response.content.decode()
    assert "丽发新城" in body and "<td>3</td>" in body
    assert client_for(operator).get("/hotline/hot/?days=abc").status_code == 200
