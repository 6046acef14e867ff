"""Who may do what with assistant conversations: deny by default.

Live chats are answered by the city's 12345 operators (Role.HOTLINE_OPERATOR): the assistant is the
hotline's online door, and they answer the same questions by phone. They see what the hand-off carried
(the conversation's turns, personal data masked), never who the person is.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from yiwang.accounts import policy as accounts_policy
from yiwang.accounts.constants import Role
from yiwang.assistant.constants import ConversationStatus

if TYPE_CHECKING:
    from yiwang.assistant.models import Conversation

LIVE_CHAT_ROLES = frozenset({Role.HOTLINE_OPERATOR})


def _authenticated(user: Any) -> bool:
    return user is not None and bool(getattr(user, "is_authenticated", False)) and bool(user.is_active)


def may_answer_live_chats(user: Any) -> bool:
    """The live-chat desk (人工坐席) is the 12345 operators'."""
    return _authenticated(user) and accounts_policy.has_any_role(user, LIVE_CHAT_ROLES)


def is_participant(user: Any, conversation: Conversation, session_references: Collection[str] = ()) -> bool:
    """The person the conversation belongs to: its account, or (anonymous) the visit that started it."""
    if conversation.user_id is not None:
        return _authenticated(user) and conversation.user_id == user.pk
    return conversation.reference in session_references


def may_see_on_desk(user: Any, conversation: Conversation) -> bool:
    """Agents see conversations handed to staff (waiting, or held by one of them), not the assistant's others."""
    if not may_answer_live_chats(user) or conversation.handed_off_at is None:
        return False
    return conversation.status == ConversationStatus.WAITING or conversation.staff_id == user.pk


def may_reply(user: Any, conversation: Conversation) -> bool:
    return (
        may_answer_live_chats(user)
        and conversation.status == ConversationStatus.LIVE
        and conversation.staff_id == getattr(user, "pk", None)
    )
