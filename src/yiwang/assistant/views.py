"""Pages of the assistant: the chat (works as plain forms without JavaScript), 我的咨询, and the live-chat desk.

Every question is a POST that redirects to the conversation's page, which shows the whole conversation
again; assistant.js enhances it (questions sent without a reload, staff replies fetched by polling). A
conversation that is not the visitor's answers 404, like a missing one; the desk answers 403 to accounts
that are not live-chat agents.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from yiwang.assistant import policy, selectors, services
from yiwang.assistant.api import turn_out
from yiwang.assistant.constants import QUESTION_MAX, REPLY_MAX, Channel, ConversationStatus
from yiwang.assistant.models import Conversation
from yiwang.assistant.session import forget, remember, session_references
from yiwang.core.audit import record_event
from yiwang.core.http import client_address
from yiwang.core.problems import ServiceError


def _signed_in(request: HttpRequest) -> bool:
    return bool(request.user.is_authenticated)


def _own(request: HttpRequest, reference: str) -> Conversation:
    return selectors.own_conversation(request.user, reference, session_references(request))


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _chat_context(request: HttpRequest, conversation: Conversation | None) -> dict[str, Any]:
    turns = selectors.turns(conversation) if conversation else []
    last = next((t for t in reversed(turns) if t.sender == "assistant"), None)
    return {
        "conversation": conversation,
        "turns": turns,
        "last_turn_id": turns[-1].pk if turns else 0,
        "choices": last.choices if last is not None and turns[-1] is last else [],
        "question_max": QUESTION_MAX,
        "signed_in": _signed_in(request),
        "with_staff": conversation is not None
        and conversation.status in (ConversationStatus.WAITING, ConversationStatus.LIVE),
    }


@never_cache
@require_GET
def chat(request: HttpRequest) -> HttpResponse:
    """A new conversation: the question form and the notice about what is kept."""
    return render(request, "assistant/chat.html", _chat_context(request, None))


@never_cache
@require_GET
def conversation(request: HttpRequest, reference: str) -> HttpResponse:
    return render(request, "assistant/chat.html", _chat_context(request, _own(request, reference)))


@require_POST
def ask(request: HttpRequest) -> HttpResponse:
    """One question (or a choice) in a new or a continuing conversation; the page again, or JSON for the script."""
    reference = request.POST.get("conversation", "")
    found = _own(request, reference) if reference else None
    try:
        question = services.clean_question(request.POST.get("q"))
        if found is None:
            found = services.start_conversation(
                user=request.user, channel=Channel.WEB, keep=request.POST.get("keep") == "1"
            )
            remember(request, found)
        exchange = services.ask(found, question, choice=request.POST.get("choice", ""))
    except ServiceError as error:
        if _wants_json(request):
            return JsonResponse({"code": error.code, "detail": error.message}, status=error.status)
        messages.error(request, error.message)
        return redirect("assistant:conversation", found.reference) if found else redirect("assistant:chat")
    if _wants_json(request):
        turns = [exchange.question, *([exchange.reply] if exchange.reply else [])]
        return JsonResponse(
            {
                "conversation": found.reference,
                "status": found.status,
                "turns": [turn_out(t).dict() for t in turns],
            },
            json_dumps_params={"ensure_ascii": False},
        )
    return redirect(f"/assistant/c/{found.reference}/#latest")


def _act(request: HttpRequest, reference: str, action: Any, done: str) -> HttpResponse:
    found = _own(request, reference)
    try:
        action(found)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        if done:
            messages.success(request, done)
    return redirect("assistant:conversation", found.reference)


@require_POST
def hand_off(request: HttpRequest, reference: str) -> HttpResponse:
    """转人工: the conversation goes to the live-chat desk."""
    return _act(request, reference, lambda c: services.hand_off(c, actor=request.user), "")


@require_POST
def work_order(request: HttpRequest, reference: str) -> HttpResponse:
    """File the conversation as a 12345 work order; the hotline needs a signed-in person for that."""
    if not _signed_in(request):
        messages.info(request, _("提交12345工单需要先登录，以便工作人员回复您；您也可以直接拨打12345。"))
        return redirect(f"/accounts/login/?next=/assistant/c/{reference}/")
    return _act(request, reference, lambda c: services.to_work_order(c, actor=request.user), "")


@require_POST
def consent(request: HttpRequest, reference: str) -> HttpResponse:
    keep = request.POST.get("keep") == "1"
    done = _("已保存本次咨询记录，可在“我的咨询”中查看和删除。") if keep else _("本次咨询记录将在会话结束后删除。")
    return _act(request, reference, lambda c: services.set_consent(c, actor=request.user, keep=keep), done)


@require_POST
def delete(request: HttpRequest, reference: str) -> HttpResponse:
    found = _own(request, reference)
    services.delete_conversation(found, actor=request.user)
    forget(request, found)
    messages.success(request, _("咨询记录已删除。"))
    return redirect("assistant:mine")


@never_cache
@require_GET
def mine(request: HttpRequest) -> HttpResponse:
    """我的咨询: the person's kept conversations and this visit's."""
    rows = selectors.own_conversations(request.user, session_references(request))[:100]
    return render(request, "assistant/mine.html", {"rows": rows, "signed_in": _signed_in(request)})


# --- the live-chat desk (人工坐席) --------------------------------------------------------------------


def _agent(request: HttpRequest, page: str) -> Any:
    if not policy.may_answer_live_chats(request.user):
        record_event("permission.denied", actor=request.user, ip=client_address(request), detail={"page": page})
        raise PermissionDenied
    return request.user


@login_required
@never_cache
@require_GET
def desk(request: HttpRequest) -> HttpResponse:
    """Conversations waiting for an agent, the longest waiting first, and the agent's own live chats."""
    agent = _agent(request, "assistant.desk")
    return render(
        request,
        "assistant/desk.html",
        {"waiting": selectors.waiting_conversations()[:100], "held": selectors.held_conversations(agent)[:100]},
    )


@login_required
@never_cache
@require_GET
def desk_conversation(request: HttpRequest, reference: str) -> HttpResponse:
    agent = _agent(request, "assistant.desk_conversation")
    found = selectors.desk_conversation(agent, reference)
    turns = selectors.turns(found)
    return render(
        request,
        "assistant/desk_conversation.html",
        {
            "conversation": found,
            "turns": turns,
            "last_turn_id": turns[-1].pk if turns else 0,
            "may_reply": policy.may_reply(agent, found),
            "reply_max": REPLY_MAX,
        },
    )


def _desk_act(request: HttpRequest, reference: str, action: Any) -> HttpResponse:
    agent = _agent(request, "assistant.desk_action")
    found = selectors.desk_conversation(agent, reference)
    try:
        action(found, agent)
    except ServiceError as error:
        messages.error(request, error.message)
    return redirect("assistant:desk_conversation", found.reference)


@login_required
@require_POST
def claim(request: HttpRequest, reference: str) -> HttpResponse:
    return _desk_act(request, reference, lambda c, agent: services.claim(c, staff=agent))


@login_required
@require_POST
def reply(request: HttpRequest, reference: str) -> HttpResponse:
    return _desk_act(
        request, reference, lambda c, agent: services.staff_reply(c, staff=agent, text=request.POST.get("text"))
    )


@login_required
@require_POST
def desk_close(request: HttpRequest, reference: str) -> HttpResponse:
    def close(found: Conversation, agent: Any) -> None:
        if not policy.may_reply(agent, found):
            raise services.NotAllowed("not_your_chat", _("只有接入该会话的人工客服可以结束会话"))
        services.close(found, actor=agent)

    return _desk_act(request, reference, close)
