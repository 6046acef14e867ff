"""Reads of the shared kernel, already limited to what the caller may see."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from .models import AuditEvent, InAppMessage

# --- message centre (站内消息) ---


def inbox(user: Any) -> QuerySet[InAppMessage]:
    """The user's own in-app messages, newest first; none for an anonymous user."""
    if not getattr(user, "is_authenticated", False):
        return InAppMessage.objects.none()
    return InAppMessage.objects.filter(user_id=user.pk).order_by("-created_at", "-id")


def unread_count(user: Any) -> int:
    """How many of the user's messages are unread (0 for an anonymous user)."""
    return inbox(user).filter(read_at__isnull=True).count()


def get_own_message(user: Any, message_id: int) -> InAppMessage:
    """One of the user's messages; the same 404 for a missing message and another user's."""
    message = inbox(user).filter(pk=message_id).first()
    if message is None:
        raise Http404(_("消息不存在"))
    return message


# --- end of message centre ---


# --- audit log ---


def count_audit_events(event: str, *, actor_id: int, since: dt.datetime, exclude_person_id: int | None = None) -> int:
    """How many ``event`` records ``actor_id`` left since ``since`` (optionally not those about one person).

    Rate limits that must survive restarts and span processes count what the
    audit log already holds instead of keeping counters of their own.
    """
    records = AuditEvent.objects.filter(event=event, actor_id=actor_id, occurred_at__gte=since)
    if exclude_person_id is not None:
        records = records.exclude(on_behalf_of_person_id=exclude_person_id)
    return records.count()


# --- end of audit log ---
