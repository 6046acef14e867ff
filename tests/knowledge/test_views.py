"""The knowledge base's pages: who gets which page, and the staff flows through them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tests.accounts.factories import make_staff
from yiwang.accounts.constants import Role
from yiwang.core.desks import desks_for
from yiwang.knowledge import services
from yiwang.knowledge.constants import VersionStatus
from yiwang.knowledge.models import EntryVersion, UnansweredQuestion

from .conftest import content, published

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def page_text(response: Any) -> str:
    return response.content.decode()


STAFF_PAGES = ["/knowledge/desk/", "/knowledge/desk/new/", "/knowledge/desk/unanswered/"]


@pytest.mark.parametrize("path", [*STAFF_PAGES, "/knowledge/desk/review/"])
def test_staff_pages_send_visitors_to_log_in_and_refuse_citizens(path: str, citizen: Any) -> None:
    anonymous = Client().get(path)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    assert client_for(citizen).get(path).status_code == 403
    assert client_for(make_staff(Role.COUNTER_CLERK, "police")).get(path).status_code == 403


@pytest.mark.parametrize("path", STAFF_PAGES)
def test_drafters_have_the_desk(path: str, police_writer: Any, operator: Any) -> None:
    assert client_for(police_writer).get(path).status_code == 200
    assert client_for(operator).get(path).status_code == 200


def test_the_review_queue_is_for_administrators(police_writer: Any, police_admin: Any, operator: Any) -> None:
    assert client_for(police_writer).get("/knowledge/desk/review/").status_code == 403
    assert client_for(operator).get("/knowledge/desk/review/").status_code == 403
    assert client_for(police_admin).get("/knowledge/desk/review/").status_code == 200


def test_the_staff_home_lists_the_desk_for_drafters_only(police_writer: Any, citizen: Any) -> None:
    assert any(label == "知识库" for _url, label in desks_for(police_writer))
    assert not any(label == "知识库" for _url, label in desks_for(citizen))
    assert not any(label == "知识库" for _url, label in desks_for(make_staff(Role.GRID_WORKER, "xingfu_street")))


def test_a_draft_is_written_submitted_and_published_through_the_pages(
    police_writer: Any, police_admin: Any, market_admin: Any
) -> None:
    writer = client_for(police_writer)
    form = {
        "department": "police",
        "kind": "answer",
        "questions": "户口迁移要多久\n迁户口几天能办好",
        "answer": "材料齐全的，一般5个工作日办结。",
        "source_text": "",
        "source_url": "",
        "valid_from": "",
        "valid_until": "",
        "change_note": "",
    }
    refused = writer.post("/knowledge/desk/new/", {**form, "department": "market"})
    assert refused.status_code == 400
    bad = writer.post("/knowledge/desk/new/", {**form, "source_url": "ftp://x"})
    assert bad.status_code == 400 and "依据链接应为" in page_text(bad)
    created = writer.post("/knowledge/desk/new/", form)
    assert created.status_code == 302
    version = EntryVersion.objects.get()
    entry_page = f"/knowledge/desk/{version.entry_id}/"
    assert created["Location"] == entry_page
    assert "户口迁移要多久" in page_text(writer.get("/knowledge/desk/?q=户口"))
    edit = writer.post(f"{entry_page}edit/", {**form, "answer": "材料齐全的，一般3个工作日办结。"})
    assert edit.status_code == 302
    assert writer.post(f"{entry_page}actions/submit/").status_code == 302
    # Another department's administrator does not even see it; the writer may not publish.
    assert client_for(market_admin).get(entry_page).status_code == 404
    assert client_for(market_admin).post(f"{entry_page}actions/publish/").status_code == 404
    assert writer.post(f"{entry_page}actions/publish/").status_code == 403
    admin = client_for(police_admin)
    queue = page_text(admin.get("/knowledge/desk/review/"))
    assert "户口迁移要多久" in queue and "3个工作日" in queue
    assert admin.post(f"{entry_page}actions/publish/", {"next": "review"})["Location"] == "/knowledge/desk/review/"
    assert EntryVersion.objects.get().status == VersionStatus.PUBLISHED
    public = Client().get(f"/knowledge/{version.entry_id}/")
    assert public.status_code == 200 and "3个工作日" in page_text(public) and "迁户口几天能办好" in page_text(public)
    assert admin.post(f"{entry_page}actions/nonsense/").status_code == 404


def test_the_history_page_shows_the_diff_between_versions(police_writer: Any, police_admin: Any) -> None:
    first = published(police_writer, police_admin)
    writer = client_for(police_writer)
    entry_page = f"/knowledge/desk/{first.entry_id}/"
    assert writer.post(f"{entry_page}actions/new_version/", {"change_note": "工本费调整"}).status_code == 302
    draft = EntryVersion.objects.get(status=VersionStatus.DRAFT)
    services.update_draft(draft, actor=police_writer, content=content(answer="补领需交纳工本费40元。"))
    page = page_text(writer.get(entry_page))
    assert "第2版与第1版相比的修改" in page and "40元" in page and "<del>" in page
    assert "第1版" in page and "已发布" in page
    older = page_text(writer.get(f"{entry_page}?v=1&against=2"))
    assert "第1版与第2版相比的修改" in older
    # A draft exists: another new version is refused (409) and the page says why.
    again = writer.post(f"{entry_page}actions/new_version/")
    assert again.status_code == 409 and "已有未发布的草稿" in page_text(again)


def test_returning_needs_a_reason_on_the_page(police_writer: Any, police_admin: Any) -> None:
    draft = services.create_entry(actor=police_writer, department_code="police", content=content())
    services.submit_for_review(draft, actor=police_writer)
    admin = client_for(police_admin)
    entry_page = f"/knowledge/desk/{draft.entry_id}/"
    assert admin.post(f"{entry_page}actions/return/", {"reason": ""}).status_code == 400
    assert admin.post(f"{entry_page}actions/return/", {"reason": "请补充办理地点"}).status_code == 302
    page = page_text(client_for(police_writer).get(f"{entry_page}edit/"))
    assert "审核退回：请补充办理地点" in page


def test_public_pages_serve_only_published_valid_entries(police_writer: Any, police_admin: Any) -> None:
    draft = services.create_entry(actor=police_writer, department_code="police", content=content())
    assert Client().get(f"/knowledge/{draft.entry_id}/").status_code == 404
    expired = published(police_writer, police_admin, valid_until=timezone.localdate() - dt.timedelta(days=1))
    assert Client().get(f"/knowledge/{expired.entry_id}/").status_code == 404
    assert Client().get("/knowledge/999999/").status_code == 404


def test_unanswered_questions_become_drafts_or_are_dismissed_on_the_page(police_writer: Any, operator: Any) -> None:
    services.record_unanswered_question("护照加急要多久，电话13812345678", channel="assistant")
    services.record_unanswered_question("你们几点下班", channel="web")
    writer = client_for(police_writer)
    page = page_text(writer.get("/knowledge/desk/unanswered/"))
    assert "护照加急要多久" in page and "13812345678" not in page and "智能帮办" in page
    assert "/dismiss/" not in page  # dismissing is the operators' and administrators' call
    assert "/dismiss/" in page_text(client_for(operator).get("/knowledge/desk/unanswered/"))
    passport = UnansweredQuestion.objects.get(text__startswith="护照")
    form = page_text(writer.get(f"/knowledge/desk/new/?question={passport.pk}"))
    assert "回答未解答的问题" in form and "护照加急要多久" in form
    created = writer.post(
        f"/knowledge/desk/new/?question={passport.pk}",
        {"department": "police", "kind": "answer", "questions": "护照加急要多久", "answer": "加急5个工作日。"},
    )
    assert created.status_code == 302
    assert "护照加急要多久" not in page_text(writer.get("/knowledge/desk/unanswered/"))
    hours = UnansweredQuestion.objects.get(text="你们几点下班")
    assert writer.post(f"/knowledge/desk/unanswered/{hours.pk}/dismiss/").status_code == 403
    assert client_for(operator).post(f"/knowledge/desk/unanswered/{hours.pk}/dismiss/").status_code == 302
    assert "你们几点下班" not in page_text(writer.get("/knowledge/desk/unanswered/"))
    assert client_for(operator).post("/knowledge/desk/unanswered/999999/dismiss/").status_code == 404
