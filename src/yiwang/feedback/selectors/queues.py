"""The desks' queues: suspected brushing and appeals for supervisors, bad ratings for their departments."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from yiwang.feedback import policy, suspicion
from yiwang.feedback.constants import BAD_LEVELS, AppealStatus, RatingStatus
from yiwang.feedback.models import Appeal, Rating


def _scoped(rows: QuerySet[Any], scope: set[str] | None, field: str) -> QuerySet[Any]:
    if scope is None:
        return rows
    return rows.filter(**{f"{field}__in": scope}) if scope else rows.none()


@dataclass(frozen=True)
class SuspectRow:
    """A suspect rating with the rules it tripped, in words."""

    rating: Rating
    reasons: list[str]


def suspect_ratings(user: Any) -> QuerySet[Rating]:
    """Ratings flagged by the rules and waiting for a supervisor, oldest first, within the supervisor's scope."""
    rows = Rating.objects.filter(status=RatingStatus.SUSPECT).select_related("department", "window")
    return _scoped(rows, policy.supervised_departments(user), "department__code").order_by("created_at", "id")


def suspect_rows(ratings: Iterable[Rating]) -> list[SuspectRow]:
    """The supervisor's rows: each rating with the descriptions of its flags."""
    return [SuspectRow(r, suspicion.describe(list(r.flags or []))) for r in ratings]


def pending_appeals(user: Any) -> QuerySet[Appeal]:
    """Appeals waiting for a supervisor's decision, oldest first, within the supervisor's scope."""
    rows = Appeal.objects.filter(status=AppealStatus.PENDING).select_related(
        "rating", "rating__department", "department", "filed_by"
    )
    return _scoped(rows, policy.supervised_departments(user), "rating__department__code").order_by("created_at", "id")


@dataclass(frozen=True)
class BadRatingRow:
    """A bad rating on the department's desk: its rectification order and its latest appeal."""

    rating: Rating
    order_number: str
    order_state_label: str
    order_due: dt.date | None
    latest_appeal: Appeal | None
    # No appeal pending and the rating still counts.
    may_appeal: bool


def department_bad_ratings(user: Any) -> QuerySet[Rating]:
    """Bad ratings of the departments ``user`` answers for (administrators and approvers), newest first."""
    rows = (
        Rating.objects.filter(level__in=sorted(BAD_LEVELS))
        .select_related("department", "rectification_order", "window")
        .prefetch_related(Prefetch("appeals", queryset=Appeal.objects.order_by("-created_at", "-id")))
    )
    return _scoped(rows, policy.appeal_departments(user), "department__code").order_by("-created_at", "-id")


def bad_rating_rows(ratings: Iterable[Rating]) -> list[BadRatingRow]:
    """The department's rows (appeals prefetched by :func:`department_bad_ratings`)."""
    rows = []
    for rating in ratings:
        appeals = list(rating.appeals.all())
        latest = appeals[0] if appeals else None
        order = rating.rectification_order
        pending = any(a.status == AppealStatus.PENDING for a in appeals)
        rows.append(
            BadRatingRow(
                rating=rating,
                order_number=order.number if order is not None else "",
                order_state_label=order.get_state_display() if order is not None else "",
                order_due=order.due if order is not None else None,
                latest_appeal=latest,
                may_appeal=not pending and rating.status != RatingStatus.EXCLUDED,
            )
        )
    return rows


def get_department_rating(user: Any, rating_id: int) -> Rating:
    """A bad rating of the user's departments; 404 otherwise."""
    rating = department_bad_ratings(user).filter(pk=rating_id).first()
    if rating is None:
        raise Http404(_("评价不存在"))
    return rating


def get_suspect(user: Any, rating_id: int) -> Rating:
    """A rating the supervisor oversees; 404 otherwise (its status is the service's business)."""
    rating = Rating.objects.select_related("department").filter(pk=rating_id).first()
    if rating is None or not policy.supervises(user, rating):
        raise Http404(_("评价不存在"))
    return rating


def get_appeal(user: Any, appeal_id: int) -> Appeal:
    """An appeal against a rating the supervisor oversees; 404 otherwise."""
    appeal = Appeal.objects.select_related("rating__department").filter(pk=appeal_id).first()
    if appeal is None or not policy.supervises(user, appeal.rating):
        raise Http404(_("申诉不存在"))
    return appeal
