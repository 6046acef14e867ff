"""好差评 pages through Django's test client: rating a case, a counter visit and an SMS link, the operator's
entry, public results and comments, the supervisors' and departments' desks.

Who may open each page and API operation is checked with every other route in tests/test_access.py.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass
from typing import Any

import pytest
from django.db.models import F
from django.test import Client
from django.utils import timezone

from tests.accounts.factories import make_citizen, make_staff
from tests.cases.builders import apply
from tests.cases.conftest import FOOD_LICENCE, item_code
from tests.feedback.test_services import _materials_in_tmp, closed_case  # noqa: F401  (autouse fixture)
from yiwang.accounts.constants import Role
from yiwang.catalog.models import Window
from yiwang.feedback import services, suspicion
from yiwang.feedback.constants import AppealStatus, RatingChannel, RatingStatus
from yiwang.feedback.models import Appeal, DepartmentDayTally, Invitation, Rating, Tally
from yiwang.feedback.services import _keyed_hash
from yiwang.hotline import services as hotline_services
from yiwang.hotline.constants import Satisfaction, WorkOrderState

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def page_text(response: Any) -> str:
    return html.unescape(response.content.decode())


def market_window() -> Window:
    window = Window.objects.filter(department__code="market").order_by("pk").first()
    assert window is not None
    return window


def police_window() -> Window:
    window = Window.objects.filter(department__code="police").order_by("pk").first()
    assert window is not None
    return window


def handle_rectification(rating: Rating) -> None:
    """The department acknowledges, calls the rater back and reports: the order closes."""
    staff = make_staff(Role.REVIEWER, "market")
    order = hotline_services.perform(rating.rectification_order, "acknowledge", actor=staff)
    order = hotline_services.perform(
        order, "record_callback", actor=staff, satisfaction=Satisfaction.BASICALLY, note="已电话回访"
    )
    hotline_services.perform(order, "reply", actor=staff, reply="已增设引导员")


@dataclass
class World:
    users: dict[str, Any]
    ids: dict[str, Any]


@pytest.fixture
def world() -> World:
    applicant = make_citizen("评价申请人")
    clerk = make_staff(Role.COUNTER_CLERK, "market")
    users: dict[str, Any] = {
        "anonymous": None,
        "applicant": applicant,
        "other_citizen": make_citizen("旁观群众"),
        "clerk": clerk,
        "other_clerk": make_staff(Role.COUNTER_CLERK, "police"),
        "operator": make_staff(Role.HOTLINE_OPERATOR),
        "market_admin": make_staff(Role.DEPARTMENT_ADMIN, "market"),
        "police_admin": make_staff(Role.DEPARTMENT_ADMIN, "police"),
        "supervisor": make_staff(Role.SUPERVISOR),
    }
    unrated = closed_case(applicant)
    rated_case = closed_case(applicant)
    web = services.Origin(RatingChannel.WEB, device="world-device", address="10.0.0.9")
    bad = services.rate_case(
        user=applicant, number=rated_case.number, level=1, scores={}, comment="窗口让我跑了三次", origin=web
    )
    handle_rectification(bad)
    appealed_case = closed_case(applicant)
    appealed = services.rate_case(
        user=applicant, number=appealed_case.number, level=2, scores={}, comment="不满意", origin=web
    )
    appeal = services.file_appeal(staff=users["market_admin"], rating_id=appealed.pk, reason="与本部门无关")
    visit = services.open_visit(clerk=clerk, window_id=market_window().pk)
    suspect = services.rate_visit(
        token=services.open_visit(clerk=clerk, window_id=market_window().pk).token,
        user=None,
        level=5,
        scores={},
        comment="好",
        origin=services.Origin(RatingChannel.QR, device="suspect-phone"),
    )
    # Flagging takes a burst of ratings; a flagged rating is all the desk needs here. A flagged rating is out
    # of the results, so it leaves its tallies as the services would have taken it out.
    Rating.objects.filter(pk=suspect.pk).update(status=RatingStatus.SUSPECT, flags=["praise_burst"])
    for tally in (Tally, DepartmentDayTally):
        tally.objects.filter(day=suspect.day, department_id=suspect.department_id, level_5__gt=0).filter(
            **({"window_id": suspect.window_id} if tally is Tally else {})
        ).update(level_5=F("level_5") - 1)
    invitation = services.invite_for_case(unrated.pk)
    return World(
        users=users,
        ids={
            "case": unrated.number,
            "rated_case": rated_case.number,
            "rating": bad.pk,
            "bad_rating": appealed.pk,
            "appeal": appeal.pk,
            "visit": visit.token,
            "suspect": suspect.pk,
            "invitation": invitation.token,
        },
    )


# --- rating a case from its page ------------------------------------------------------------------


def test_a_finished_case_offers_the_rating_and_the_applicant_rates_it_once() -> None:
    applicant = make_citizen("页面评价人")
    case = closed_case(applicant)
    client = client_for(applicant)
    case_page = page_text(client.get(f"/cases/{case.number}/"))
    assert f'href="/ratings/case/{case.number}/"' in case_page and "服务评价（好差评）" in case_page

    form_page = client.get(f"/ratings/case/{case.number}/")
    text = page_text(form_page)
    for label in ["总体评价", "非常满意", "非常不满意", "办事效率", "办事指南准确性", "办理便捷程度", "系统易用性"]:
        assert label in text, label
    assert "服务态度" not in text  # a counter dimension
    cookie = form_page.cookies["yw_device"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and len(cookie.value) >= 20

    response = client.post(
        f"/ratings/case/{case.number}/",
        {"level": "5", "score_efficiency": "5", "score_ease_of_use": "4", "comment": "很方便，电话 13912345678"},
        REMOTE_ADDR="10.1.2.3",
    )
    assert response.status_code == 302 and response["Location"] == f"/ratings/case/{case.number}/"
    rating = Rating.objects.get(case=case)
    assert (rating.level, rating.scores, rating.channel) == (5, {"efficiency": 5, "ease_of_use": 4}, "web")
    assert rating.rater_user_id == applicant.pk and rating.real_name
    assert rating.device_hash == _keyed_hash(cookie.value, "device") and rating.address_hash == _keyed_hash(
        "10.1.2.3", "address"
    )
    shown = page_text(client.get(response["Location"]))
    assert "感谢您的评价" in shown and "我的评价" in shown and "很方便" in shown
    assert 'name="level"' not in shown  # no second form: 一事一评

    again = client.post(f"/ratings/case/{case.number}/", {"level": "1", "comment": "再评一次"})
    assert again.status_code == 409 and "已经评价过了" in page_text(again)
    assert Rating.objects.filter(case=case).count() == 1
    case_page = page_text(client.get(f"/cases/{case.number}/"))
    assert "我的评价" in case_page and f'href="/ratings/case/{case.number}/"' not in case_page


def test_a_case_still_being_handled_cannot_be_rated() -> None:
    applicant = make_citizen("未办结人")
    (running,) = apply(applicant, item_code=item_code(FOOD_LICENCE, "market"))
    client = client_for(applicant)
    assert "/ratings/case/" not in page_text(client.get(f"/cases/{running.number}/"))
    page = client.get(f"/ratings/case/{running.number}/")
    assert page.status_code == 200 and "办件办结后才能评价" in page_text(page)
    refused = client.post(f"/ratings/case/{running.number}/", {"level": "5"})
    assert refused.status_code == 400 and "办件办结后才能评价" in page_text(refused)
    assert not Rating.objects.exists()


@pytest.mark.parametrize(
    ("data", "field", "message", "status"),
    [
        ({"comment": "没选等级"}, "level", "请选择总体评价", 400),
        ({"level": "6", "comment": "等级越界"}, "level", "请选择评价等级", 400),
        ({"level": "x", "comment": "等级不是数字"}, "level", "请选择评价等级", 400),
        ({"level": "5", "score_efficiency": "0", "comment": "分项越界"}, "score_efficiency", "请选择评价等级", 400),
        ({"level": "1", "comment": "<script>alert('差评')</script>"}, "comment", "评价内容不能包含网页代码", 400),
        ({"level": "1", "comment": "差" * 501}, "comment", "评价内容不能超过500个字", 400),
    ],
)
def test_bad_input_is_refused_next_to_the_field_and_the_input_kept(
    data: dict[str, str], field: str, message: str, status: int
) -> None:
    applicant = make_citizen("填错的人")
    case = closed_case(applicant)
    response = client_for(applicant).post(f"/ratings/case/{case.number}/", data)
    assert response.status_code == status
    body = response.content.decode()
    text = html.unescape(body)
    # The message sits in the field's own error list, and what was typed is still there (escaped, never run).
    assert re.search(rf'<ul class="field-errors" id="id_{field}[_-]error">\s*<li>.*?{re.escape(message)}', text, re.S)
    assert "<script>alert" not in body
    assert data["comment"][:20] in text
    assert not Rating.objects.exists() and not Tally.objects.exists()


def test_a_dimension_of_another_mode_is_not_on_the_form_and_not_rated() -> None:
    applicant = make_citizen("多填的人")
    case = closed_case(applicant)
    response = client_for(applicant).post(f"/ratings/case/{case.number}/", {"level": "4", "score_attitude": "1"})
    assert response.status_code == 302
    assert Rating.objects.get(case=case).scores == {}


def test_a_rating_flood_from_one_browser_is_refused_with_429_and_the_input_kept() -> None:
    applicant = make_citizen("刷评的人")
    case = closed_case(applicant)
    clerk = make_staff(Role.COUNTER_CLERK, "market")
    client = client_for(applicant)
    client.get(f"/ratings/case/{case.number}/")
    device = client.cookies["yw_device"].value
    for _n in range(suspicion.FLOOD_COUNT):
        visit = services.open_visit(clerk=clerk, window_id=market_window().pk)
        services.rate_visit(
            token=visit.token,
            user=None,
            level=5,
            scores={},
            comment="",
            origin=services.Origin(RatingChannel.QR, device=device),
        )
    response = client.post(f"/ratings/case/{case.number}/", {"level": "3", "comment": "第二十一次"})
    assert response.status_code == 429
    text = page_text(response)
    assert "评价过于频繁" in text and "第二十一次" in text
    assert not Rating.objects.filter(case=case).exists()


def test_someone_elses_case_answers_404_and_nothing_is_rated() -> None:
    applicant, stranger = make_citizen("本人"), make_citizen("他人")
    case = closed_case(applicant)
    client = client_for(stranger)
    assert client.get(f"/ratings/case/{case.number}/").status_code == 404
    assert client.post(f"/ratings/case/{case.number}/", {"level": "1"}).status_code == 404
    assert client.get("/ratings/case/NO-SUCH-CASE/").status_code == 404
    assert "/ratings/case/" not in page_text(client_for(applicant).get("/cases/"))  # no stray links elsewhere
    assert not Rating.objects.exists()


def test_a_bad_real_name_rating_shows_its_rectification_and_the_rater_confirms_the_result() -> None:
    applicant = make_citizen("差评跟进人")
    case = closed_case(applicant)
    client = client_for(applicant)
    client.post(f"/ratings/case/{case.number}/", {"level": "1", "comment": "排队两小时"})
    rating = Rating.objects.get(case=case)
    order = rating.rectification_order
    assert order is not None
    page = page_text(client.get(f"/ratings/case/{case.number}/"))
    assert "差评整改进度" in page and order.number in page and "待签收" in page
    assert "请确认整改结果" not in page  # not before the department has closed it

    # Confirming too early is refused by the hotline, next to the form, with the note kept.
    early = client.post(
        f"/ratings/case/{case.number}/resolution/", {"resolution-resolved": "yes", "resolution-note": "先确认"}
    )
    assert early.status_code == 409 and "不能执行" in page_text(early)

    handle_rectification(rating)
    case_page = page_text(client.get(f"/cases/{case.number}/"))
    assert "已增设引导员" in case_page and "已办结" in case_page and "请确认整改结果" in case_page

    missing = client.post(f"/ratings/case/{case.number}/resolution/", {"resolution-note": "忘了选"})
    assert missing.status_code == 400 and "请选择问题是否已经解决" in page_text(missing)
    assert "忘了选" in page_text(missing)

    response = client.post(
        f"/ratings/case/{case.number}/resolution/",
        {"resolution-resolved": "no", "resolution-note": "还是要排队", "next": f"/cases/{case.number}/#resolution"},
    )
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.number}/#resolution"
    order.refresh_from_db()
    assert order.state == WorkOrderState.DISPATCHED and order.reopen_count == 1
    assert "已转回责任部门继续整改" in page_text(client.get(f"/ratings/case/{case.number}/"))

    handle_rectification(rating)
    client.post(f"/ratings/case/{case.number}/resolution/", {"resolution-resolved": "yes"})
    rating.refresh_from_db()
    order.refresh_from_db()
    assert rating.resolved is True and order.state == WorkOrderState.CALLED_BACK
    assert "您已确认问题已经解决" in page_text(client.get(f"/ratings/case/{case.number}/"))


def test_an_unsafe_next_after_confirming_stays_on_the_site() -> None:
    applicant = make_citizen("跳转人")
    case = closed_case(applicant)
    client = client_for(applicant)
    client.post(f"/ratings/case/{case.number}/", {"level": "2"})
    handle_rectification(Rating.objects.get(case=case))
    response = client.post(
        f"/ratings/case/{case.number}/resolution/", {"resolution-resolved": "yes", "next": "https://evil.example/"}
    )
    assert response.status_code == 302 and response["Location"] == f"/ratings/case/{case.number}/"


# --- the SMS link ---------------------------------------------------------------------------------------


def test_the_sms_link_asks_for_a_login_then_rates_through_the_sms_channel() -> None:
    applicant = make_citizen("短信评价人")
    case = closed_case(applicant)
    invitation = services.invite_for_case(case.pk)
    url = f"/ratings/i/{invitation.token}/"
    anonymous = Client().get(url)
    assert anonymous.status_code == 200 and "请登录后评价" in page_text(anonymous)
    assert f'href="/accounts/login/?next=%2Fratings%2Fi%2F{invitation.token}%2F"' in anonymous.content.decode()
    assert case.number not in page_text(anonymous)  # the link holder learns nothing before signing in
    assert Client().post(url, {"level": "5"}).status_code == 200 and not Rating.objects.exists()

    client = client_for(applicant)
    assert "系统易用性" in page_text(client.get(url))
    response = client.post(url, {"level": "4", "comment": "短信提醒很及时"})
    assert response.status_code == 302 and response["Location"] == f"/ratings/case/{case.number}/"
    rating = Rating.objects.get(case=case)
    assert rating.channel == RatingChannel.SMS and rating.rater_user_id == applicant.pk
    assert client.get(url)["Location"] == f"/ratings/case/{case.number}/"  # already rated: shown, not rated again
    invitation.refresh_from_db()
    assert invitation.used_at is not None

    stranger = client_for(make_citizen("拿到链接的人"))
    assert stranger.get(url).status_code == 404
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert client.get(url).status_code == 404
    assert client.get("/ratings/i/not-a-token/").status_code == 404
    assert client.get(f"/ratings/i/{'x' * 200}/").status_code == 404


# --- a counter visit -----------------------------------------------------------------------------------


def test_the_clerk_opens_a_visit_and_the_person_rates_it_anonymously_from_the_qr_code() -> None:
    clerk = make_staff(Role.COUNTER_CLERK, "market")
    staff = client_for(clerk)
    page = page_text(staff.get("/ratings/counter/"))
    assert market_window().name in page and police_window().name not in page

    refused = staff.post("/ratings/counter/", {"window": str(police_window().pk), "item_code": "X1"})
    assert refused.status_code == 400 and "X1" in page_text(refused)
    unknown_case = staff.post("/ratings/counter/", {"window": str(market_window().pk), "case_number": "NO-SUCH"})
    assert unknown_case.status_code == 400 and "办件不存在" in page_text(unknown_case)

    citizen = make_citizen("窗口办事人")
    case = closed_case(citizen)
    response = staff.post("/ratings/counter/", {"window": str(market_window().pk), "case_number": case.number.lower()})
    assert response.status_code == 302
    token = response["Location"].rstrip("/").rsplit("/", 1)[1]
    qr_page = staff.get(response["Location"])
    body = qr_page.content.decode()
    assert qr_page.status_code == 200 and "<svg" in body and f"http://testserver/ratings/v/{token}/" in body
    assert "等待评价" in page_text(qr_page)
    assert client_for(make_staff(Role.COUNTER_CLERK, "market")).get(response["Location"]).status_code == 404

    person = Client()
    form = page_text(person.get(f"/ratings/v/{token}/"))
    assert "业务能力" in form and "服务态度" in form and "系统易用性" not in form and "登录后实名评价" in form
    rated = person.post(f"/ratings/v/{token}/", {"level": "2", "score_attitude": "1", "comment": "态度冷淡"})
    assert rated.status_code == 302
    rating = Rating.objects.get(visit__token=token)
    assert rating.channel == RatingChannel.QR and not rating.real_name and rating.rater_user_id is None
    assert rating.window_id == market_window().pk and rating.clerk_id == clerk.pk and rating.case_id == case.pk
    assert rating.rectification_order is None  # anonymous bad ratings are counted, not rectified
    assert "已经评价过了" in page_text(person.get(f"/ratings/v/{token}/"))
    again = person.post(f"/ratings/v/{token}/", {"level": "5"})
    assert again.status_code == 409 and "一次一评" in page_text(again)
    assert "已评价" in page_text(staff.get("/ratings/counter/"))


def test_a_signed_in_person_rates_a_visit_under_their_real_name_and_bad_input_is_kept() -> None:
    clerk = make_staff(Role.COUNTER_CLERK, "market")
    visit = services.open_visit(clerk=clerk, window_id=market_window().pk)
    citizen = make_citizen("实名窗口评价人")
    client = client_for(citizen)
    assert "本次为实名评价" in page_text(client.get(f"/ratings/v/{visit.token}/"))
    bad = client.post(f"/ratings/v/{visit.token}/", {"level": "1", "score_ease_of_use": "1", "comment": "javascript:x"})
    assert bad.status_code == 400 and "javascript:x" in page_text(bad)
    assert client.post(f"/ratings/v/{visit.token}/", {"level": "1", "comment": "没人理"}).status_code == 302
    rating = Rating.objects.get(visit=visit)
    assert rating.real_name and rating.rater_user_id == citizen.pk and rating.rectification_order is not None


def test_a_wrong_or_expired_visit_code_answers_404() -> None:
    clerk = make_staff(Role.COUNTER_CLERK, "market")
    visit = services.open_visit(clerk=clerk, window_id=market_window().pk)
    type(visit).objects.filter(pk=visit.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    for path in [f"/ratings/v/{visit.token}/", "/ratings/v/nope/", f"/ratings/v/{'a' * 100}/"]:
        response = Client().get(path)
        assert response.status_code == 404 and "评价码无效或已过期" in page_text(response)
        assert Client().post(path, {"level": "5"}).status_code == 404
    assert not Rating.objects.exists()


# --- the 12345 operator -----------------------------------------------------------------------------------


def test_the_operator_enters_a_callers_rating_with_the_receipt() -> None:
    citizen = make_citizen("来电人")
    case = closed_case(citizen)
    client = client_for(make_staff(Role.HOTLINE_OPERATOR))
    wrong = client.post("/ratings/phone/", {"number": case.number, "code": "ZZZZZZ", "level": "4", "comment": "还行"})
    assert wrong.status_code == 400
    assert re.search(r'id="id_code-error">\s*<li>.*?办件编号或查询码不正确', page_text(wrong), re.S)
    assert "还行" in page_text(wrong)
    response = client.post(
        "/ratings/phone/",
        {"number": case.number, "code": case.verification_code, "level": "4", "score_efficiency": "5"},
    )
    assert response.status_code == 302 and response["Location"] == "/ratings/phone/"
    rating = Rating.objects.get(case=case)
    assert rating.channel == RatingChannel.HOTLINE and rating.real_name and rating.scores == {"efficiency": 5}
    assert f"已录入来电人对办件 {case.number} 的评价" in page_text(client.get("/ratings/phone/"))
    again = client.post("/ratings/phone/", {"number": case.number, "code": case.verification_code, "level": "1"})
    assert again.status_code == 409 and "已经评价过了" in page_text(again)


# --- supervisors and departments ------------------------------------------------------------------------


def test_the_supervisor_reviews_suspect_ratings_with_a_note_on_the_record(world: World) -> None:
    client = client_for(world.users["supervisor"])
    suspect = world.ids["suspect"]
    page = page_text(client.get("/ratings/supervision/"))
    assert suspicion.RULES["praise_burst"] in page and f'action="/ratings/supervision/ratings/{suspect}/"' in page
    window_id = Rating.objects.get(pk=suspect).window_id
    before = sum(Tally.objects.filter(window_id=window_id).values_list("level_5", flat=True))

    no_note = client.post(f"/ratings/supervision/ratings/{suspect}/", {f"review-{suspect}-decision": "exclude"})
    assert no_note.status_code == 400 and "请填写核查意见" in page_text(no_note)
    response = client.post(
        f"/ratings/supervision/ratings/{suspect}/",
        {f"review-{suspect}-decision": "exclude", f"review-{suspect}-note": "同一时段集中好评"},
    )
    assert response.status_code == 302
    rating = Rating.objects.get(pk=suspect)
    assert rating.status == RatingStatus.EXCLUDED and rating.review_note == "同一时段集中好评"
    # It was out of the results while flagged and stays out.
    assert sum(Tally.objects.filter(window_id=window_id).values_list("level_5", flat=True)) == before
    # Decided already: the same form again is refused, with the message shown above the lists.
    twice = client.post(
        f"/ratings/supervision/ratings/{suspect}/",
        {f"review-{suspect}-decision": "clear", f"review-{suspect}-note": "再次核查"},
    )
    assert twice.status_code == 400 and "不在待核查之列" in page_text(twice)


def test_the_department_appeals_a_bad_rating_and_the_supervisor_decides(world: World) -> None:
    applicant = world.users["applicant"]
    case = closed_case(applicant)
    rating = services.rate_case(
        user=applicant,
        number=case.number,
        level=1,
        scores={},
        comment="随便评的 13800138000",
        origin=services.Origin(RatingChannel.WEB),
    )
    admin = client_for(world.users["market_admin"])
    page = page_text(admin.get("/ratings/department/"))
    assert "13800138000" not in page and "随便评的" in page and rating.rectification_order.number in page
    empty = admin.post(f"/ratings/department/ratings/{rating.pk}/appeal/", {})
    assert empty.status_code == 400 and "请填写申诉理由" in page_text(empty)
    filed = admin.post(f"/ratings/department/ratings/{rating.pk}/appeal/", {f"appeal-{rating.pk}-reason": "系误评"})
    assert filed.status_code == 302
    twice = admin.post(f"/ratings/department/ratings/{rating.pk}/appeal/", {f"appeal-{rating.pk}-reason": "再申诉"})
    assert twice.status_code == 409 and "已有待裁定的申诉" in page_text(twice)
    police = client_for(world.users["police_admin"])
    assert "随便评的" not in page_text(police.get("/ratings/department/"))

    appeal = Appeal.objects.get(rating=rating, status=AppealStatus.PENDING)
    supervisor = client_for(world.users["supervisor"])
    assert "系误评" in page_text(supervisor.get("/ratings/supervision/"))
    no_reason = supervisor.post(
        f"/ratings/supervision/appeals/{appeal.pk}/", {f"appeal-{appeal.pk}-decision": "uphold"}
    )
    assert no_reason.status_code == 400 and "请填写裁定理由" in page_text(no_reason)
    decided = supervisor.post(
        f"/ratings/supervision/appeals/{appeal.pk}/",
        {f"appeal-{appeal.pk}-decision": "uphold", f"appeal-{appeal.pk}-reason": "经核实为误评"},
    )
    assert decided.status_code == 302
    rating.refresh_from_db()
    assert rating.status == RatingStatus.EXCLUDED
    assert "经核实为误评" in page_text(admin.get("/ratings/department/"))


# --- public results and comments ---------------------------------------------------------------------------


def test_results_pages_show_the_tallies_and_comments_without_personal_data(world: World) -> None:
    applicant = world.users["applicant"]
    case = closed_case(applicant)
    services.rate_case(
        user=applicant,
        number=case.number,
        level=5,
        scores={},
        comment="办事快，我的电话13800138000，身份证110101199003071234，邮箱a.b@example.cn",
        origin=services.Origin(RatingChannel.WEB),
    )
    client = Client()
    page = page_text(client.get("/ratings/results/"))
    assert "示范市市场监督管理局" in page and 'href="/ratings/results/market/"' in page
    since = (timezone.localdate() - dt.timedelta(days=400)).isoformat()
    drill_page = client.get(f"/ratings/results/market/?from={since}")
    assert drill_page.status_code == 200
    drill = page_text(drill_page)
    assert "食品经营许可" in drill and "网站办件页" in drill and market_window().name in drill
    comments = page_text(client.get("/ratings/comments/?department=market"))
    assert "办事快" in comments
    for secret in ["13800138000", "110101199003071234", "a.b@example.cn", "评价申请人", applicant.username]:
        assert secret not in comments, secret
    assert "窗口让我跑了三次" in comments  # counted bad ratings are published too
    assert client.get("/ratings/results/nowhere/").status_code == 404
    wrong = client.get("/ratings/results/?from=2026-05-01&to=2026-04-01")
    assert wrong.status_code == 400 and "开始日期不能晚于结束日期" in page_text(wrong)
    assert client.get("/ratings/results/?from=yesterday").status_code == 400
    assert client.get("/ratings/comments/?department=nowhere").status_code == 400
    assert client.get("/ratings/comments/?page=999").status_code == 200


def test_the_results_page_figures_come_from_the_tallies() -> None:
    from yiwang.directory.models import Department

    market = Department.objects.get(code="market")
    today = timezone.localdate()
    counts = {"level_5": 7, "level_4": 1, "level_1": 2, "rectification_due": 2, "rectified_on_time": 1}
    Tally.objects.create(day=today, department=market, item_code="", channel="web", mode="online", **counts)
    DepartmentDayTally.objects.create(day=today, department=market, **counts)
    page = page_text(Client().get("/ratings/results/"))
    row = re.search(r"示范市市场监督管理局</a></th>(.*?)</tr>", page, re.S)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    assert [re.sub(r"<[^>]+>", "", c).strip() for c in cells] == ["10", "80.0%", "2", "20.0%", "4.10", "50.0% （1/2）"]
