"""好差评 API under /api/v1/ratings/: rate a case or a visit, public results and comments, confirm a rectification.

Rating a case and confirming a rectification need a session (CSRF checked on
writes). A counter visit is rated by whoever holds its code: anonymously, or
under the real name of a signed-in person (then with the CSRF check, so no
other site can rate in their name). Results and comments are public and are
computed from the tallies and the scrubbed comments only. Service refusals
become problem details with the refusal's own status (see ``yiwang.api``); a
case or rating that is not the user's answers 404, like a missing one.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from yiwang.cases import selectors as cases_selectors
from yiwang.core.api_access import SESSION, Access
from yiwang.core.http import client_address
from yiwang.core.problems import ServiceError, problems
from yiwang.feedback import policy, selectors, services
from yiwang.feedback.constants import Level, RatingStatus
from yiwang.feedback.models import Rating
from yiwang.feedback.selectors import Satisfaction
from yiwang.feedback.views import DEVICE_COOKIE

router = Router(tags=["好差评 ratings"], auth=SESSION)

DEVICE_HEADER = "X-Device-Id"
DEVICE_MAX = 64


# The signed-in user (with the CSRF check of session writes), or the anonymous visitor (AnonymousUser is
# truthy, so the operation runs for anyone).
session_or_anonymous = Access(anonymous=True)


class RatingIn(Schema):
    level: int
    # {dimension: level}; which dimensions a mode has is the service's rule (feedback.constants.DIMENSIONS).
    scores: Annotated[dict[Annotated[str, Field(max_length=32)], int], Field(max_length=10)] = {}
    # Large enough for the service to answer "too long" with its own message; larger is not a comment.
    comment: Annotated[str, Field(max_length=5000)] = ""


class CaseRatingIn(RatingIn):
    channel: Literal["web", "mobile", "kiosk"] = "web"


class VisitRatingIn(RatingIn):
    channel: Literal["qr", "pad", "kiosk"] = "qr"


class RectificationOut(Schema):
    number: str
    state: str
    state_label: str
    reply: str
    due: dt.date | None


class RatingOut(Schema):
    id: int
    mode: str
    level: int
    level_label: str
    scores: dict[str, int]
    channel: str
    real_name: bool
    counted: bool
    created_at: dt.datetime
    rectification: RectificationOut | None
    resolved: bool | None


class ResolutionIn(Schema):
    resolved: bool
    note: Annotated[str, Field(max_length=1000)] = ""


class SatisfactionOut(Schema):
    key: str
    label: str
    total: int
    levels: dict[str, int]
    satisfaction_rate: float | None
    bad_share: float | None
    average_score: float | None
    rectification_due: int
    rectified_on_time: int
    rectified_on_time_share: float | None


class ResultsParams(Schema):
    date_from: dt.date | None = Field(None, alias="from")
    date_to: dt.date | None = Field(None, alias="to")
    department: Annotated[str, Field(max_length=32, pattern=r"^[-a-zA-Z0-9_]*$")] = ""
    group_by: Literal["department", "item", "channel", "window"] = "department"
    limit: Annotated[int, Field(ge=1, le=200)] = 100
    offset: Annotated[int, Field(ge=0, le=100_000)] = 0


class ResultsOut(Schema):
    period_from: dt.date = Field(..., alias="from")
    period_to: dt.date = Field(..., alias="to")
    group_by: str
    department: str
    total: SatisfactionOut
    items: list[SatisfactionOut]
    count: int


class CommentParams(Schema):
    department: Annotated[str, Field(max_length=32, pattern=r"^[-a-zA-Z0-9_]*$")] = ""
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    offset: Annotated[int, Field(ge=0, le=selectors.COMMENTS_LIMIT)] = 0


class CommentOut(Schema):
    day: dt.date
    level: int
    level_label: str
    department: str
    item_name: str
    channel: str
    channel_label: str
    comment: str


class CommentPage(Schema):
    items: list[CommentOut]
    # Comments are listed back to the latest COMMENTS_LIMIT; the count stops there too.
    count: int


def _origin(request: HttpRequest, channel: str) -> services.Origin:
    device = request.headers.get(DEVICE_HEADER, "") or request.COOKIES.get(DEVICE_COOKIE, "")
    return services.Origin(channel=channel, device=device[:DEVICE_MAX], address=client_address(request) or "")


def _rating_out(rating: Rating) -> RatingOut:
    order = rating.rectification_order
    return RatingOut(
        id=rating.pk,
        mode=rating.mode,
        level=rating.level,
        level_label=str(Level(rating.level).label),
        scores={str(name): int(value) for name, value in rating.scores.items()},
        channel=rating.channel,
        real_name=rating.real_name,
        counted=rating.status != RatingStatus.EXCLUDED,
        created_at=rating.created_at,
        rectification=RectificationOut(
            number=order.number,
            state=order.state,
            state_label=order.get_state_display(),
            reply=order.reply,
            due=order.due,
        )
        if order is not None
        else None,
        resolved=rating.resolved,
    )


def _satisfaction_out(row: Satisfaction) -> SatisfactionOut:
    return SatisfactionOut(
        key=row.key,
        label=row.label,
        total=row.total,
        levels={str(level): count for level, count in enumerate(row.levels, start=1)},
        satisfaction_rate=None if row.satisfaction_rate is None else round(row.satisfaction_rate, 4),
        bad_share=None if row.bad_share is None else round(row.bad_share, 4),
        average_score=None if row.average_score is None else round(row.average_score, 3),
        rectification_due=row.rectification_due,
        rectified_on_time=row.rectified_on_time,
        rectified_on_time_share=None if row.rectified_on_time_share is None else round(row.rectified_on_time_share, 4),
    )


@router.post(
    "/cases/{number}",
    response={201: RatingOut, **problems(400, 401, 403, 404, 409, 422, 429)},
    summary="评价办件（一事一评，申请人本人）",
)
def rate_case(
    request: HttpRequest, number: Annotated[str, Field(max_length=64)], data: CaseRatingIn
) -> Status[RatingOut]:
    """Rate a finished case of one's own, once; a real-name bad rating opens its rectification."""
    case = cases_selectors.get_own_case(request.user, number.strip().upper())
    rating = services.rate_case(
        user=request.user,
        number=case.number,
        level=data.level,
        scores=data.scores,
        comment=data.comment,
        origin=_origin(request, data.channel),
    )
    return Status(201, _rating_out(rating))


@router.post(
    "/visits/{token}",
    response={201: RatingOut, **problems(400, 401, 403, 404, 409, 422, 429)},
    auth=session_or_anonymous,
    summary="评价窗口服务（一次一评，凭评价码；登录后为实名评价）",
)
def rate_visit(
    request: HttpRequest, token: Annotated[str, Field(max_length=selectors.TOKEN_MAX)], data: VisitRatingIn
) -> Status[RatingOut]:
    """Rate a counter visit with its one-time code: anonymously, or under the signed-in person's real name."""
    visit = selectors.visit_to_rate(token)
    if visit is None:
        raise ServiceError("bad_visit", _("评价码无效或已过期"), status=404)
    rating = services.rate_visit(
        token=visit.token,
        user=request.user,
        level=data.level,
        scores=data.scores,
        comment=data.comment,
        origin=_origin(request, data.channel),
    )
    return Status(201, _rating_out(rating))


@router.get(
    "/results",
    response={200: ResultsOut, **problems(400, 404, 422)},
    auth=None,
    by_alias=True,
    summary="好差评结果：按部门、事项、渠道或窗口统计满意度",
)
def rating_results(request: HttpRequest, params: Query[ResultsParams]) -> ResultsOut:
    """Satisfaction per group over the period (default: the last 30 days), summed from the tallies."""
    period = selectors.period_of(params.date_from, params.date_to)
    department = params.department or None
    rows = selectors.results(period, group_by=params.group_by, department_code=department)
    return ResultsOut(
        **{"from": period.start, "to": period.end},
        group_by=params.group_by,
        department=params.department,
        total=_satisfaction_out(selectors.total_of(rows)),
        items=[_satisfaction_out(row) for row in rows[params.offset : params.offset + params.limit]],
        count=len(rows),
    )


@router.get(
    "/comments",
    response={200: CommentPage, **problems(404, 422)},
    auth=None,
    summary="公开的评价内容（已去除个人信息，最新在前）",
)
def published_comments(request: HttpRequest, params: Query[CommentParams]) -> CommentPage:
    """The latest published comments, newest first, without personal data or who rated."""
    comments = selectors.published_comments(department_code=params.department or None)
    page = comments[params.offset : params.offset + params.limit]
    return CommentPage(items=[CommentOut(**row.__dict__) for row in page], count=comments.count())


@router.post(
    "/{rating_id}/resolution",
    response={200: RatingOut, **problems(400, 401, 403, 404, 409, 422)},
    summary="评价人确认差评整改结果（已解决／未解决）",
)
def confirm_resolution(request: HttpRequest, rating_id: int, data: ResolutionIn) -> RatingOut:
    """The rater says whether the rectification of their bad rating resolved the problem."""
    rating = Rating.objects.filter(pk=rating_id).first()
    if rating is None or not policy.is_rater(request.user, rating):
        raise Http404(_("评价不存在"))
    rating = services.confirm_resolution(user=request.user, rating_id=rating.pk, resolved=data.resolved, note=data.note)
    rating.refresh_from_db()
    return _rating_out(rating)
