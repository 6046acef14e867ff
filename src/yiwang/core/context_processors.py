from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .selectors import unread_count


def portal(request: HttpRequest) -> dict[str, Any]:
    return {
        "elderly_mode": getattr(request, "elderly_mode", False),
        # The message centre's unread count in the header: lazy, so a page that never shows it does not query.
        "unread_message_count": SimpleLazyObject(lambda: unread_count(getattr(request, "user", None))),
    }
