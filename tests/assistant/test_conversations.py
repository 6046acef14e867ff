"""Conversations: the no-JS chat, the API, consent and retention, masking, hand-offs, permissions."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tests.accounts.factories import make_citizen, make_staff
from yiwang.accounts.constants import Role
from yiwang.assistant import services
from yiwang.assistant.constants import ConversationStatus, Sender
from yiwang.assistant.models import Conversation, Turn
from yiwang.hotline.models import WorkOrder
from yiwang.knowledge.models import UnansweredQuestion

pytestmark = pytest.mark.django_db


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def ask_page(client: Client, question: str, conversation: str = "", **extra: str) -> Any:
    data = {"q": question, **({"conversation": conversation} if conversation else {}), **extra}
    return client.post("/assistant/ask/", data)


# --- the page without JavaScript ------------------------------------------------------------------------


def test_the_chat_works_as_plain_forms_question_follow_up_and_hand_off() -> None:
    client = Client()
    page = client.get("/assistant/")
    assert page.status_code == 200 and 'action="/assistant/ask/"' in page.content.decode()
    response = ask_page(client, "办身份证要带啥")
    assert response.status_code == 302
    conversation = Conversation.objects.get()
    assert response["Location"].startswith(f"/assistant/c/{conversation.reference}/")
    shown = client.get(f"/assistant/c/{conversation.reference}/").content.decode()
    assert "居民户口簿" in shown and "居民身份证首次申领" in shown  # the answer and its cited guide
    ask_page(client, "那要多少钱", conversation.reference)
    shown = client.get(f"/assistant/c/{conversation.reference}/").content.decode()
    assert "工本费" in shown
    assert [t.sender for t in conversation.turns.order_by("id")] == ["citizen", "assistant"] * 2


def test_a_clarifying_question_offers_buttons_and_the_button_answers() -> None:
    client = Client()
    ask_page(client, "身份证")
    conversation = Conversation.objects.get()
    shown = client.get(f"/assistant/c/{conversation.reference}/").content.decode()
    assert 'name="choice"' in shown and "居民身份证补领" in shown
    code = next(c["code"] for c in conversation.turns.last().choices if c["name"] == "居民身份证补领")
    ask_page(client, "居民身份证补领", conversation.reference, choice=code)
    last = conversation.turns.order_by("id").last()
    assert last.answered and last.sources[0]["code"] == code


def test_bad_questions_on_the_page_show_the_reason() -> None:
    client = Client()
    response = ask_page(client, "   ")
    assert response.status_code == 302 and response["Location"] == "/assistant/"
    assert "请输入" in client.get("/assistant/").content.decode()
    assert not Conversation.objects.exists()


# --- the API ----------------------------------------------------------------------------------------------


def test_api_answers_with_aspect_text_and_sources_and_follows_up(first_id_card: str) -> None:
    client = Client()
    body = client.get("/api/v1/assistant/answer", {"q": "办身份证要带啥"}).json()
    assert body["answered"] is True and body["aspect"] == "materials"
    assert body["sources"][0] == {
        "type": "item",
        "name": "居民身份证首次申领",
        "url": f"/items/{first_id_card}/",
        "code": first_id_card,
    }
    follow = client.get("/api/v1/assistant/answer", {"q": "那要多少钱？", "conversation": body["conversation"]}).json()
    assert follow["aspect"] == "fees" and follow["sources"][0]["code"] == first_id_card


def test_api_declines_off_topic_questions_and_records_them_for_the_knowledge_base() -> None:
    body = Client().get("/api/v1/assistant/answer", {"q": "明天天气怎么样 我手机13812345678"}).json()
    assert body["answered"] is False and body["kind"] == "decline" and body["aspect"] is None
    assert body["sources"] == []
    recorded = UnansweredQuestion.objects.get()
    assert "13812345678" not in recorded.text


@pytest.mark.parametrize(("q", "code"), [("", "empty_question"), ("问" * 201, "question_too_long")])
def test_api_refuses_empty_and_overlong_questions_with_a_422_problem(q: str, code: str) -> None:
    response = Client().get("/api/v1/assistant/answer", {"q": q})
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code


def test_api_conversation_of_someone_else_is_missing() -> None:
    owner = signed_in(make_citizen("甲"))
    body = owner.get("/api/v1/assistant/answer", {"q": "办身份证要带啥"}).json()
    reference = body["conversation"]
    assert owner.get(f"/api/v1/assistant/conversations/{reference}").status_code == 200
    for stranger in (Client(), signed_in(make_citizen("乙"))):
        assert stranger.get(f"/api/v1/assistant/conversations/{reference}").status_code == 404
        follow = stranger.get("/api/v1/assistant/answer", {"q": "那要多少钱", "conversation": reference})
        assert follow.status_code == 404
        assert stranger.get(f"/assistant/c/{reference}/").status_code == 404


def test_an_anonymous_conversation_belongs_to_its_visit() -> None:
    visitor = Client()
    reference = visitor.get("/api/v1/assistant/answer", {"q": "护照在哪里办"}).json()["conversation"]
    assert visitor.get(f"/api/v1/assistant/conversations/{reference}").status_code == 200
    assert Client().get(f"/api/v1/assistant/conversations/{reference}").status_code == 404


# --- masking, consent, retention, deletion -------------------------------------------------------------


def test_personal_numbers_typed_into_questions_are_masked_in_what_is_stored() -> None:
    client = Client()
    ask_page(client, "我的身份证号110101199003071234，手机13812345678，护照在哪里办")
    stored = Turn.objects.get(sender=Sender.CITIZEN).text
    assert "110101199003071234" not in stored and "13812345678" not in stored
    assert "110***********1234" in stored and "138****5678" in stored


def test_without_consent_a_conversation_expires_with_the_visit_and_is_purged() -> None:
    user = make_citizen()
    conversation = services.start_conversation(user=user, keep=False)
    services.ask(conversation, "护照在哪里办")
    assert conversation.expires_at is not None and not conversation.kept
    later = timezone.now() + dt.timedelta(hours=3)
    assert services.purge_expired(now=later) == 1
    assert not Conversation.objects.exists() and not Turn.objects.exists()


def test_with_consent_a_conversation_is_kept_listed_and_deletable_by_its_owner() -> None:
    user = make_citizen()
    client = signed_in(user)
    ask_page(client, "护照在哪里办", keep="1")
    conversation = Conversation.objects.get()
    assert conversation.kept and conversation.expires_at is None and conversation.user == user
    assert services.purge_expired(now=timezone.now() + dt.timedelta(days=400)) == 0
    assert conversation.title in client.get("/assistant/mine/").content.decode()
    # Someone else cannot delete it (404), its owner can.
    assert signed_in(make_citizen("乙")).post(f"/assistant/c/{conversation.reference}/delete/").status_code == 404
    assert client.post(f"/assistant/c/{conversation.reference}/delete/").status_code == 302
    assert not Conversation.objects.exists()


def test_anonymous_visitors_cannot_keep_a_conversation() -> None:
    conversation = services.start_conversation(user=None, keep=True)
    assert not conversation.kept and conversation.expires_at is not None
    with pytest.raises(services.NotAllowed):
        services.set_consent(conversation, actor=None, keep=True)


def test_consent_can_be_given_and_withdrawn_later() -> None:
    user = make_citizen()
    client = signed_in(user)
    ask_page(client, "护照在哪里办")
    conversation = Conversation.objects.get()
    assert not conversation.kept
    client.post(f"/assistant/c/{conversation.reference}/consent/", {"keep": "1"})
    conversation.refresh_from_db()
    assert conversation.kept and conversation.expires_at is None
    client.post(f"/assistant/c/{conversation.reference}/consent/", {"keep": "0"})
    conversation.refresh_from_db()
    assert not conversation.kept and conversation.expires_at is not None


# --- hand-offs ----------------------------------------------------------------------------------------------


def test_live_chat_hand_off_operator_reply_reaches_the_citizen() -> None:
    citizen = Client()
    ask_page(citizen, "明天天气怎么样 我的手机13812345678")
    conversation = Conversation.objects.get()
    citizen.post(f"/assistant/c/{conversation.reference}/handoff/")
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.WAITING

    operator = make_staff(Role.HOTLINE_OPERATOR)
    desk = signed_in(operator)
    listing = desk.get("/assistant/desk/").content.decode()
    assert conversation.reference in listing
    page = desk.get(f"/assistant/desk/{conversation.reference}/").content.decode()
    assert "明天天气怎么样" in page and "13812345678" not in page  # carried over, masked
    desk.post(f"/assistant/desk/{conversation.reference}/claim/")
    desk.post(f"/assistant/desk/{conversation.reference}/reply/", {"text": "明天晴，气温15到22度。"})
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.LIVE and conversation.staff == operator

    # The citizen sees it on reloading the page, and through the API the script polls.
    assert "明天晴" in citizen.get(f"/assistant/c/{conversation.reference}/").content.decode()
    turns = citizen.get(f"/api/v1/assistant/conversations/{conversation.reference}").json()["turns"]
    assert turns[-1]["sender"] == "staff" and "明天晴" in turns[-1]["text"]
    # While staff answer, questions wait for them (no assistant reply).
    body = citizen.get("/api/v1/assistant/answer", {"q": "后天呢", "conversation": conversation.reference}).json()
    assert body["kind"] == "waiting"


def test_only_the_agent_holding_a_chat_replies() -> None:
    conversation = services.start_conversation(user=None)
    services.ask(conversation, "明天天气怎么样")
    services.hand_off(conversation, actor=None)
    first, second = make_staff(Role.HOTLINE_OPERATOR), make_staff(Role.HOTLINE_OPERATOR)
    services.claim(conversation, staff=first)
    with pytest.raises(services.ConversationStateError):
        services.claim(conversation, staff=second)
    with pytest.raises(services.NotAllowed):
        services.staff_reply(conversation, staff=second, text="你好")
    # Held by another agent: not on the second one's desk at all.
    assert signed_in(second).get(f"/assistant/desk/{conversation.reference}/").status_code == 404


def test_staff_of_another_role_cannot_open_the_desk() -> None:
    for role, department in ((Role.COUNTER_CLERK, "market"), (Role.SUPERVISOR, None), (Role.REVIEWER, "police")):
        assert signed_in(make_staff(role, department)).get("/assistant/desk/").status_code == 403
    assert signed_in(make_citizen()).get("/assistant/desk/").status_code == 403
    assert Client().get("/assistant/desk/")["Location"].startswith("/accounts/login/")


def test_a_conversation_not_handed_off_is_not_on_the_desk() -> None:
    conversation = services.start_conversation(user=None)
    services.ask(conversation, "护照在哪里办")
    operator = signed_in(make_staff(Role.HOTLINE_OPERATOR))
    assert operator.get(f"/assistant/desk/{conversation.reference}/").status_code == 404


def test_a_signed_in_person_turns_the_conversation_into_a_12345_work_order() -> None:
    user = make_citizen()
    client = signed_in(user)
    ask_page(client, "小区门口的路灯坏了一个星期了找谁修")
    conversation = Conversation.objects.get()
    response = client.post(f"/assistant/c/{conversation.reference}/work-order/")
    assert response.status_code == 302
    conversation.refresh_from_db()
    order = WorkOrder.objects.get(number=conversation.work_order_number)
    assert order.kind == "consult" and order.caller_user == user
    assert "路灯" in order.title and "路灯" in order.content
    # Once is enough.
    with pytest.raises(services.ConversationStateError):
        services.to_work_order(conversation, actor=user)


def test_an_anonymous_visitor_is_asked_to_sign_in_before_a_work_order() -> None:
    client = Client()
    ask_page(client, "小区门口的路灯坏了找谁修")
    conversation = Conversation.objects.get()
    response = client.post(f"/assistant/c/{conversation.reference}/work-order/")
    assert response["Location"].startswith("/accounts/login/")
    assert not WorkOrder.objects.exists()


def test_the_script_gets_json_turns_from_the_form_address() -> None:
    client = Client()
    ask_page(client, "办身份证要带啥")
    reference = Conversation.objects.get().reference
    response = client.post(
        "/assistant/ask/", {"q": "那要多少钱", "conversation": reference}, HTTP_ACCEPT="application/json"
    )
    body = json.loads(response.content)
    assert [t["sender"] for t in body["turns"]] == ["citizen", "assistant"]
    assert body["turns"][1]["aspect"] == "fees"
