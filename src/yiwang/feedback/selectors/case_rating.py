"""A case's rating as its applicant and the case's staff see it, with the rectification of a bad one."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from yiwang.feedback import policy
from yiwang.feedback.constants import Dimension, Level, RatingStatus
from yiwang.feedback.models import Rating
from yiwang.feedback.services import RATEABLE_CASE_STATES
from yiwang.hotline.constants import WorkOrderState


@dataclass(frozen=True)
class Rectification:
    """The rectification order (差评整改) of a bad real-name rating, as the rater follows it."""

    number: str
    state: str
    state_label: str
    reply: str
    due: dt.date | None
    # Closed and waiting for the rater to say whether the problem was resolved.
    awaiting_confirmation: bool


@dataclass(frozen=True)
class RatingSummary:
    """A rating as its rater sees it (their own comment included)."""

    id: int
    level: int
    level_label: str
    scores: list[tuple[str, str]]  # (dimension label, level label)
    comment: str
    channel_label: str
    created_at: dt.datetime
    real_name: bool
    excluded: bool
    resolved: bool | None


@dataclass(frozen=True)
class CaseRating:
    """What the case page and the rating page show about rating one case."""

    case_number: str
    # Handling has ended and nobody has rated the case yet.
    rateable: bool
    rating: RatingSummary | None
    rectification: Rectification | None
    # The viewer gave the rating and the rectification waits for their word.
    may_confirm: bool


def rating_of_case(case: Any) -> Rating | None:
    """The online rating (一事一评) of a case, with its rectification order."""
    return (
        Rating.objects.filter(case=case, visit__isnull=True)
        .select_related("rectification_order", "rectification_order__department")
        .first()
    )


def _summary(rating: Rating) -> RatingSummary:
    labels = dict(Dimension.choices)
    return RatingSummary(
        id=rating.pk,
        level=rating.level,
        level_label=str(Level(rating.level).label),
        scores=[
            (str(labels.get(name, name)), str(Level(value).label))
            for name, value in rating.scores.items()
            if value in Level.values
        ],
        comment=rating.comment,
        channel_label=rating.get_channel_display(),
        created_at=rating.created_at,
        real_name=rating.real_name,
        excluded=rating.status == RatingStatus.EXCLUDED,
        resolved=rating.resolved,
    )


def case_rating(user: Any, case: Any) -> CaseRating | None:
    """Rating state of ``case`` for its applicant side; None for anyone else (they see nothing of it)."""
    if not policy.may_rate_case(user, case):
        return None
    rating = rating_of_case(case)
    if rating is None:
        return CaseRating(case.number, case.state in RATEABLE_CASE_STATES, None, None, False)
    rectification = None
    order = rating.rectification_order
    if order is not None:
        awaiting = order.state == WorkOrderState.CLOSED
        rectification = Rectification(
            number=order.number,
            state=order.state,
            state_label=order.get_state_display(),
            reply=order.reply,
            due=order.due,
            awaiting_confirmation=awaiting,
        )
    may_confirm = rectification is not None and rectification.awaiting_confirmation and policy.is_rater(user, rating)
    return CaseRating(case.number, False, _summary(rating), rectification, may_confirm)
