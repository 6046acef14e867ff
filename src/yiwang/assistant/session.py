"""Which conversations this visit started: an anonymous visitor has nothing else to hold them by."""

from __future__ import annotations

from django.http import HttpRequest

from yiwang.assistant.models import Conversation
from yiwang.assistant.selectors import SESSION_KEY, SESSION_LIMIT


def session_references(request: HttpRequest) -> list[str]:
    return list(request.session.get(SESSION_KEY, []))


def remember(request: HttpRequest, conversation: Conversation) -> None:
    """Note the conversation in the visit's session (saved with the response; the cookie then holds it)."""
    references = [r for r in session_references(request) if r != conversation.reference]
    request.session[SESSION_KEY] = [conversation.reference, *references][:SESSION_LIMIT]


def forget(request: HttpRequest, conversation: Conversation) -> None:
    request.session[SESSION_KEY] = [r for r in session_references(request) if r != conversation.reference]
