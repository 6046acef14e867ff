"""Reads of 跨省通办: the peers' items here, and a citizen's own forwarded applications (404 for anyone else's)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from .models import ForwardedApplication, IncomingApplication, RemoteItem, StatusUpdate


def remote_items(query: str = "") -> QuerySet[RemoteItem]:
    """The peers' items that take applications here, optionally matching ``query`` (name, code, department, place)."""
    items = RemoteItem.objects.filter(active=True)
    for word in (query or "").split()[:5]:
        items = items.filter(
            Q(name__icontains=word)
            | Q(code__icontains=word)
            | Q(department_name__icontains=word)
            | Q(peer_name__icontains=word)
        )
    return items.order_by("peer_code", "name", "code")


def get_remote_item(item_id: int) -> RemoteItem:
    item = RemoteItem.objects.filter(pk=item_id, active=True).first()
    if item is None:
        raise Http404("事项不存在或已停止跨省通办")
    return item


def my_applications(user: Any) -> QuerySet[ForwardedApplication]:
    """The applications the user made here for peers' items (as the applicant)."""
    person_id = getattr(user, "person_id", None)
    if person_id is None:
        return ForwardedApplication.objects.none()
    return ForwardedApplication.objects.filter(applicant_person_id=person_id).order_by("-submitted_at", "-id")


def get_my_application(user: Any, number: str) -> ForwardedApplication:
    """One of the user's forwarded applications; 404 for a missing one and for anyone else's alike."""
    application = my_applications(user).filter(number=number).first()
    if application is None:
        raise Http404("申请不存在")
    return application


def status_updates(application: ForwardedApplication) -> list[StatusUpdate]:
    """What the handling node reported, in its order."""
    return list(application.updates.order_by("sequence", "id"))


def incoming_for_case(case_id: int) -> IncomingApplication | None:
    """Where a case of this node came from, when a peer forwarded it (跨省通办)."""
    return IncomingApplication.objects.filter(case_id=case_id).first()
