"""Reads of assistant conversations, already limited to what the caller may see."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from yiwang.assistant import policy
from yiwang.assistant.constants import ConversationStatus
from yiwang.assistant.models import Conversation, Turn

# Where a visit's conversations are remembered in the session (anonymous visitors have nothing else).
SESSION_KEY = "assistant_conversations"
# A visit remembers this many of its conversations.
SESSION_LIMIT = 20


def _live(conversations: QuerySet[Conversation]) -> QuerySet[Conversation]:
    # An expired conversation is gone for everyone, whether or not the purge has run yet.
    return conversations.filter(Q(expires_at__isnull=True) | Q(expires_at__gte=timezone.now()))


def own_conversation(user: Any, reference: str, session_references: Collection[str] = ()) -> Conversation:
    """The conversation ``reference`` of this person or visit; 404 for a missing one and someone else's alike."""
    conversation = _live(Conversation.objects.filter(reference=reference)).first()
    if conversation is None or not policy.is_participant(user, conversation, session_references):
        raise Http404("会话不存在")
    return conversation


def own_conversations(user: Any, session_references: Collection[str] = ()) -> QuerySet[Conversation]:
    """我的咨询: the signed-in person's conversations and this visit's, newest first."""
    mine = Q(reference__in=list(session_references), user__isnull=True)
    if user is not None and getattr(user, "is_authenticated", False):
        mine |= Q(user=user)
    return _live(Conversation.objects.filter(mine)).order_by("-updated_at")


def turns(conversation: Conversation, *, after: int = 0) -> list[Turn]:
    """The conversation's turns in order (those after turn id ``after`` only, for polling)."""
    return list(conversation.turns.filter(id__gt=after).order_by("id"))


def waiting_conversations() -> QuerySet[Conversation]:
    """Conversations handed to staff that nobody has taken yet, the longest waiting first."""
    return _live(Conversation.objects.filter(status=ConversationStatus.WAITING)).order_by("handed_off_at")


def held_conversations(staff: Any) -> QuerySet[Conversation]:
    """The live chats ``staff`` holds."""
    return _live(Conversation.objects.filter(status=ConversationStatus.LIVE, staff=staff)).order_by("-updated_at")


def desk_conversation(staff: Any, reference: str) -> Conversation:
    """A conversation on the live-chat desk, for an agent who may see it; 404 otherwise."""
    conversation = _live(Conversation.objects.filter(reference=reference)).first()
    if conversation is None or not policy.may_see_on_desk(staff, conversation):
        raise Http404("会话不存在")
    return conversation
