"""Every change to assistant conversations: asking, consent, hand-off to staff, staff replies, work orders.

The answer itself is computed by :mod:`yiwang.assistant.dialogue` (reads only); this module keeps the
conversation: the question masked (:mod:`yiwang.assistant.masking`), the reply with its sources and the
dialogue's context for the next turn. A conversation kept with the person's consent stays until they
delete it; any other expires ``UNKEPT_MINUTES`` after its last turn and is purged.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.assistant import dialogue, policy
from yiwang.assistant.constants import (
    QUESTION_MAX,
    REPLY_MAX,
    UNKEPT_MINUTES,
    Channel,
    ConversationStatus,
    Sender,
)
from yiwang.assistant.masking import mask
from yiwang.assistant.models import Conversation, Turn
from yiwang.core import audit
from yiwang.core.problems import ServiceError
from yiwang.hotline import services as hotline_services
from yiwang.hotline.constants import Source as HotlineSource
from yiwang.hotline.constants import WorkOrderKind
from yiwang.knowledge import services as knowledge_services

# Hotline channels for the assistant's channels (the API files as the web does).
_HOTLINE_SOURCES = {
    Channel.WEB: HotlineSource.WEB,
    Channel.MOBILE: HotlineSource.MOBILE,
    Channel.KIOSK: HotlineSource.KIOSK,
    Channel.API: HotlineSource.WEB,
}


class AssistantError(ServiceError):
    """A request the assistant refuses."""

    statuses = {"empty_question": 422, "question_too_long": 422, "empty_reply": 422, "reply_too_long": 422}
    concealed = frozenset({"no_conversation"})


class ConversationStateError(AssistantError):
    status = 409


class NotAllowed(AssistantError):
    status = 403


@dataclass(frozen=True)
class Exchange:
    """One question and what came back: the assistant's reply, or nothing while staff answer."""

    conversation: Conversation
    question: Turn
    reply: Turn | None
    result: dialogue.Reply | None


def clean_question(question: Any) -> str:
    """The question stripped; refused when empty or longer than ``QUESTION_MAX`` characters."""
    text = str(question or "").strip()
    if not text:
        raise AssistantError("empty_question", _("请输入您要咨询的问题"), field="q")
    if len(text) > QUESTION_MAX:
        raise AssistantError(
            "question_too_long", _("问题不能超过%(max)d个字，请简要描述") % {"max": QUESTION_MAX}, field="q"
        )
    return text


def answer_question(question: str, context: dict[str, Any] | None = None, *, choice: str = "") -> dialogue.Reply:
    """The reply to one question, nothing stored (personal data masked before it is read)."""
    return dialogue.respond(mask(clean_question(question)), context, choice=choice)


def _expiry(kept: bool) -> dt.datetime | None:
    return None if kept else timezone.now() + dt.timedelta(minutes=UNKEPT_MINUTES)


def start_conversation(*, user: Any, channel: str = Channel.WEB, keep: bool = False) -> Conversation:
    """A new conversation; kept only with consent, and only for a signed-in person (there is no one else to
    keep it for: an anonymous visitor's conversation lives as long as the visit)."""
    signed_in = user is not None and getattr(user, "is_authenticated", False)
    kept = bool(keep and signed_in)
    purge_expired()
    return Conversation.objects.create(
        reference=secrets.token_urlsafe(16),
        user=user if signed_in else None,
        channel=channel if channel in Channel.values else Channel.WEB,
        kept=kept,
        expires_at=_expiry(kept),
    )


def set_consent(conversation: Conversation, *, actor: Any, keep: bool) -> Conversation:
    """Keep the conversation (consent given) or let it expire with the visit (consent withdrawn)."""
    if keep and conversation.user_id is None:
        raise NotAllowed("login_required", _("登录后才能保存咨询记录"))
    conversation.kept = keep
    conversation.expires_at = _expiry(keep)
    conversation.save(update_fields=["kept", "expires_at", "updated_at"])
    return conversation


def ask(conversation: Conversation, question: Any, *, choice: str = "") -> Exchange:
    """Add a question to ``conversation`` and, while the assistant answers it, the assistant's reply.

    Once handed to staff, the question waits for them. A declined question is recorded for the knowledge
    base's editors (masked), so that it can be answered next time.
    """
    text = mask(clean_question(question))
    if conversation.status == ConversationStatus.CLOSED:
        raise ConversationStateError("conversation_closed", _("本次咨询已结束，请开始新的咨询"))
    result = None
    if conversation.status == ConversationStatus.ASSISTANT:
        result = dialogue.respond(text, conversation.context, choice=choice)
    with transaction.atomic():
        asked = Turn.objects.create(conversation=conversation, sender=Sender.CITIZEN, text=text)
        reply = None
        if result is not None:
            reply = Turn.objects.create(
                conversation=conversation,
                sender=Sender.ASSISTANT,
                text=result.text,
                answered=result.answered,
                aspect=result.aspect or "",
                sources=[source.as_dict() for source in result.sources],
                choices=result.choices,
            )
            conversation.context = result.context
        if not conversation.title:
            conversation.title = text[:100]
        if not conversation.kept:
            conversation.expires_at = _expiry(False)
        conversation.save(update_fields=["context", "title", "expires_at", "updated_at"])
    if result is not None and result.kind == "decline" and not result.needs_subject:
        _record_unanswered(text, conversation)
    return Exchange(conversation, asked, reply, result)


def _record_unanswered(text: str, conversation: Conversation) -> None:
    """The knowledge base's editors see what citizens asked that nobody could answer (masked, nobody named)."""
    knowledge_services.record_unanswered_question(
        text, channel=conversation.channel, conversation_reference=conversation.reference
    )


def hand_off(conversation: Conversation, *, actor: Any) -> Conversation:
    """Hand the conversation to staff (转人工): it waits on the live-chat desk with everything said so far."""
    if conversation.status != ConversationStatus.ASSISTANT:
        raise ConversationStateError("already_handed_off", _("已经转人工客服，请稍候"))
    with transaction.atomic():
        conversation.status = ConversationStatus.WAITING
        conversation.handed_off_at = timezone.now()
        conversation.save(update_fields=["status", "handed_off_at", "updated_at"])
        Turn.objects.create(
            conversation=conversation,
            sender=Sender.SYSTEM,
            text=_("已为您转接人工客服，工作人员将看到本次对话内容，请稍候。"),
        )
    return conversation


def claim(conversation: Conversation, *, staff: Any) -> Conversation:
    """A live-chat agent takes a waiting conversation (接入)."""
    if not policy.may_answer_live_chats(staff):
        raise NotAllowed("not_an_agent", _("只有人工客服坐席可以接入会话"))
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if locked.status != ConversationStatus.WAITING:
            raise ConversationStateError("not_waiting", _("该会话已被接入或已结束"))
        locked.status = ConversationStatus.LIVE
        locked.staff = staff
        locked.save(update_fields=["status", "staff", "updated_at"])
        Turn.objects.create(conversation=locked, sender=Sender.SYSTEM, text=_("人工客服已接入。"))
        audit.record_event("assistant.claim", actor=staff, target=f"assistant.conversation:{locked.pk}")
    return locked


def staff_reply(conversation: Conversation, *, staff: Any, text: Any) -> Turn:
    """The agent's answer in a live chat they hold."""
    if not policy.may_reply(staff, conversation):
        raise NotAllowed("not_your_chat", _("只有接入该会话的人工客服可以回复"))
    body = str(text or "").strip()
    if not body:
        raise AssistantError("empty_reply", _("请输入回复内容"), field="text")
    if len(body) > REPLY_MAX:
        raise AssistantError("reply_too_long", _("回复不能超过%(max)d个字") % {"max": REPLY_MAX}, field="text")
    with transaction.atomic():
        turn = Turn.objects.create(conversation=conversation, sender=Sender.STAFF, text=mask(body))
        if not conversation.kept:
            conversation.expires_at = _expiry(False)
        conversation.save(update_fields=["expires_at", "updated_at"])
        audit.record_event("assistant.reply", actor=staff, target=f"assistant.conversation:{conversation.pk}")
    return turn


def close(conversation: Conversation, *, actor: Any) -> Conversation:
    """End a conversation (the person or the agent holding it)."""
    if conversation.status == ConversationStatus.CLOSED:
        return conversation
    with transaction.atomic():
        conversation.status = ConversationStatus.CLOSED
        conversation.save(update_fields=["status", "updated_at"])
        Turn.objects.create(conversation=conversation, sender=Sender.SYSTEM, text=_("本次咨询已结束。"))
    return conversation


def transcript(conversation: Conversation) -> str:
    """The conversation as text (masked as stored), for a work order."""
    lines = []
    for turn in conversation.turns.exclude(sender=Sender.SYSTEM).order_by("id"):
        lines.append(f"{turn.get_sender_display()}：{turn.text}")
    return "\n".join(lines)


def to_work_order(conversation: Conversation, *, actor: Any) -> str:
    """File the conversation as a 12345 consultation (咨询) work order in the person's name; its number.

    The hotline's own rules apply: filed online, it needs a signed-in person (to call them back).
    """
    if conversation.work_order_number:
        raise ConversationStateError("already_filed", _("本次咨询已提交为12345工单"))
    questions = list(conversation.turns.filter(sender=Sender.CITIZEN).order_by("id").values_list("text", flat=True))
    if not questions:
        raise ConversationStateError("nothing_asked", _("还没有可以提交的问题"))
    title = _("智能客服转办：%(question)s") % {"question": questions[-1]}
    content = transcript(conversation)
    order = hotline_services.register(
        actor=actor,
        kind=WorkOrderKind.CONSULT,
        source=_HOTLINE_SOURCES.get(Channel(conversation.channel), HotlineSource.WEB),
        title=title[: hotline_services.TITLE_MAX],
        content=content[-hotline_services.CONTENT_MAX :],
        caller=hotline_services.CallerDetails(user=actor if getattr(actor, "is_authenticated", False) else None),
    )
    with transaction.atomic():
        conversation.work_order_number = order.number
        conversation.save(update_fields=["work_order_number", "updated_at"])
        Turn.objects.create(
            conversation=conversation,
            sender=Sender.SYSTEM,
            text=_("已提交12345工单 %(number)s，办理结果将通过消息通知您。") % {"number": order.number},
        )
    return order.number


def delete_conversation(conversation: Conversation, *, actor: Any) -> None:
    """Delete a conversation and all it holds (its owner's right)."""
    with transaction.atomic():
        audit.record_event("assistant.delete", actor=actor, target=f"assistant.conversation:{conversation.pk}")
        conversation.delete()


def purge_expired(*, now: dt.datetime | None = None) -> int:
    """Delete the conversations kept without consent whose visit is over; how many."""
    moment = now or timezone.now()
    _total, counts = Conversation.objects.filter(kept=False, expires_at__lt=moment).delete()
    return counts.get(Conversation._meta.label, 0)
