"""Counter visits (一次一评) and invitations to rate: reading a rating code, a clerk's windows and recent visits."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.catalog import selectors as catalog_selectors
from yiwang.feedback import policy
from yiwang.feedback.models import Invitation, Rating, Visit

if TYPE_CHECKING:
    from yiwang.catalog.models import Window


TOKEN_MAX = 64


def visit_to_rate(token: str) -> Visit | None:
    """The visit of a rating code that is still valid (rated or not); None for a wrong or expired code."""
    if not token or len(token) > TOKEN_MAX:
        return None
    return (
        Visit.objects.select_related("department", "window").filter(token=token, expires_at__gte=timezone.now()).first()
    )


def is_rated(visit: Visit) -> bool:
    """Whether the visit has its rating (一次一评), whatever its status."""
    return Rating.objects.filter(visit=visit).exists()


def clerk_visit(user: Any, token: str) -> Visit:
    """A visit the clerk opened, for showing its code again; 404 for anyone else's."""
    visit = None
    if token and len(token) <= TOKEN_MAX:
        visit = Visit.objects.select_related("department", "window").filter(token=token).first()
    if visit is None or not policy.may_see_visit(user, visit):
        raise Http404(_("评价码不存在"))
    return visit


def counter_windows(user: Any) -> QuerySet[Window]:
    """The windows of the clerk's departments (none for anyone else)."""
    scope = policy.clerk_departments(user)
    if scope is None:
        return catalog_selectors.windows()
    return catalog_selectors.windows(scope) if scope else catalog_selectors.windows().none()


@dataclass(frozen=True)
class VisitRow:
    """One of a clerk's recent visits, for the counter page."""

    token: str
    created_at: dt.datetime
    window: str
    item_name: str
    rated: bool
    expired: bool


def recent_visits(user: Any, *, limit: int = 10) -> list[VisitRow]:
    """The clerk's latest visits and whether each was rated (not how: the clerk never sees the rating)."""
    if not policy.is_counter_clerk(user):
        return []
    now = timezone.now()
    visits = (
        Visit.objects.filter(clerk=user)
        .select_related("window")
        .annotate(rated=Exists(Rating.objects.filter(visit=OuterRef("pk"))))
        .order_by("-created_at", "-id")[:limit]
    )
    return [
        VisitRow(
            token=v.token,
            created_at=v.created_at,
            window=v.window.name if v.window is not None else "",
            item_name=v.item_name or v.item_code,
            rated=bool(getattr(v, "rated", False)),
            expired=v.expires_at < now,
        )
        for v in visits
    ]


def live_invitation(token: str) -> Invitation | None:
    """An unexpired invitation to rate a case; None otherwise (never saying which).

    A used one still opens: it leads its applicant to the rating they gave.
    """
    if not token or len(token) > TOKEN_MAX:
        return None
    return (
        Invitation.objects.select_related("case", "case__department", "case__application")
        .filter(token=token, case__isnull=False, expires_at__gte=timezone.now())
        .first()
    )
