"""Every change to 好差评: ratings from every channel, suspicion review, appeals, and the tallies.

A rating is one of five levels overall and per dimension, given once per
online case (一事一评) or once per counter visit (一次一评). Every real-name
bad rating opens a rectification work order through the hotline's services
in the same transaction; the tallies that public results read are updated
in that transaction too, so they never drift from the ratings.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.cases import selectors as cases_selectors
from yiwang.cases.constants import CaseState
from yiwang.catalog import selectors as catalog_selectors
from yiwang.core import calendar
from yiwang.core.audit import record_event
from yiwang.core.problems import ServiceError
from yiwang.directory import selectors as directory_selectors
from yiwang.feedback import policy, suspicion
from yiwang.feedback.constants import (
    BAD_LEVELS,
    DIMENSIONS,
    AppealStatus,
    Level,
    RatingChannel,
    RatingStatus,
    ServiceMode,
)
from yiwang.feedback.models import Appeal, DepartmentDayTally, Invitation, Rating, Tally, Visit
from yiwang.hotline import services as hotline_services

if TYPE_CHECKING:
    from yiwang.directory.models import Department

COMMENT_MAX = 500
# Cases can be rated once their handling has ended.
RATEABLE_CASE_STATES = frozenset({CaseState.CLOSED, CaseState.REFUSED, CaseState.REJECTED})
VISIT_LIFETIME = dt.timedelta(days=7)
INVITATION_LIFETIME = dt.timedelta(days=30)
_MARKUP = re.compile(r"<\s*[a-zA-Z/!?]|javascript\s*:", re.IGNORECASE)
_PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


class RatingError(ServiceError):
    """A rating request refused; ``code`` is stable, ``message`` is for people."""

    statuses = {"not_found": 404}
    # Someone else's case, another department's rating: answered like a missing one.
    concealed = frozenset({"not_your_case", "department_only"})


class RatingNotAllowed(RatingError):
    status = 403


class AlreadyRated(RatingError):
    status = 409


class RatingThrottled(RatingError):
    status = 429


@dataclass(frozen=True)
class Origin:
    """Where a rating came from: the channel and keyed hashes of the device and address (never raw)."""

    channel: str
    device: str = ""
    address: str = ""


def _keyed_hash(value: str, purpose: str) -> str:
    if not value:
        return ""
    key = hashlib.sha256(f"{settings.SECRET_KEY}:feedback:{purpose}".encode()).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def scrub(comment: str) -> str:
    """The comment as published: mobile numbers, ID numbers and e-mail addresses replaced by ＊."""
    text = _ID_NUMBER.sub("＊" * 6, comment)
    text = _PHONE.sub("＊" * 6, text)
    return _EMAIL.sub("＊" * 6, text)


def _text(value: Any, *, field: str, label: str, max_length: int, required: bool = True) -> str:
    try:
        return hotline_services.clean_text(value, field=field, label=label, max_length=max_length, required=required)
    except hotline_services.HotlineError as error:
        raise RatingError(error.code, error.message, **error.extra) from error


def _clean_comment(comment: Any) -> str:
    text = _text(comment, field="comment", label=_("评价内容"), max_length=COMMENT_MAX, required=False)
    if _MARKUP.search(text):
        raise RatingError("markup_in_comment", _("评价内容不能包含网页代码"), field="comment")
    return text


def _clean_levels(mode: str, level: Any, scores: Mapping[str, Any] | None) -> tuple[int, dict[str, int]]:
    def one(value: Any, field: str) -> int:
        try:
            number = int(value)
        except (TypeError, ValueError) as error:
            raise RatingError("bad_level", _("请选择评价等级（1到5）"), field=field) from error
        if number not in Level.values:
            raise RatingError("bad_level", _("请选择评价等级（1到5）"), field=field)
        return number

    overall = one(level, "level")
    given = dict(scores or {})
    unknown = set(given) - set(DIMENSIONS[mode])
    if unknown:
        raise RatingError("bad_dimension", _("未知的评价项：%(names)s") % {"names": "、".join(sorted(unknown))})
    return overall, {name: one(value, name) for name, value in given.items() if value not in (None, "")}


def _tally_rows(rating: Rating) -> list[tuple[type[Tally] | type[DepartmentDayTally], dict[str, Any]]]:
    """The tally rows a rating is counted in: its detailed row and its department's day."""
    day = {"day": rating.day, "department_id": rating.department_id}
    detail = {
        **day,
        "item_code": rating.item_code,
        "channel": rating.channel,
        "mode": rating.mode,
        "window_id": rating.window_id or 0,
    }
    return [(Tally, detail), (DepartmentDayTally, day)]


def _add(rating: Rating, **steps: int) -> None:
    """Add to (or, with negative steps, take from) the rating's tally rows, making a row on its first count."""
    for model, key in _tally_rows(rating):
        changes = {column: F(column) + step for column, step in steps.items()}
        rows: QuerySet[Any] = model._default_manager.filter(**key)
        if rows.update(**changes) == 0 and min(steps.values()) >= 0:
            try:
                with transaction.atomic():
                    model._default_manager.create(**key, **steps)
            except IntegrityError:  # a concurrent first rating of the key made the row
                rows.update(**changes)


def _count(rating: Rating, step: int) -> None:
    """Add (step=1) or remove (step=-1) a rating to or from its tally rows."""
    _add(rating, **{f"level_{rating.level}": step})


def count_rectification(rating: Rating, *, due: int = 0, on_time: int = 0) -> None:
    """Add to (or, with negative steps, remove from) the rating's tallies: a rectification come due, and on time."""
    _add(rating, rectification_due=due, rectified_on_time=on_time)


def settle_rectification(order_id: Any, *, on_time: bool) -> Rating | None:
    """Record, once, whether a bad rating's rectification met its deadline, and count it in the tally.

    Called when the rectification order first closes, or when it is found
    still open past its deadline (then ``on_time`` is False and a later close
    changes nothing). Idempotent, so a worker that runs it twice counts once;
    an excluded or flagged rating is recorded but not counted.
    """
    with transaction.atomic():
        rating = Rating.objects.select_for_update().filter(rectification_order_id=order_id).first()
        if rating is None or rating.rectified_on_time is not None:
            return None
        rating.rectified_on_time = on_time
        rating.save(update_fields=["rectified_on_time"])
        # A rating waiting for review is out of the results; clearing it brings its rectification in too.
        if rating.status == RatingStatus.COUNTED:
            count_rectification(rating, due=1, on_time=int(on_time))
    return rating


def _save_rating(rating: Rating) -> Rating:
    if suspicion.is_flood(rating):
        raise RatingThrottled("too_many_ratings", _("评价过于频繁，请稍后再试"))
    assessment = suspicion.assess(rating)
    rating.flags = assessment.flags
    if rating.flags:
        rating.status = RatingStatus.SUSPECT
    rating.public_comment = scrub(rating.comment)
    rating.day = calendar.today_local()
    rating.save()
    # A flagged rating is held out of the results until a supervisor clears it (a burst must not move
    # the public figures while it waits for review); a clear rating counts at once.
    if rating.status == RatingStatus.COUNTED:
        _count(rating, 1)
    _flag_earlier(assessment.earlier, burst_end=rating)
    if rating.mode == ServiceMode.ONLINE and rating.case_id is not None:
        # 一事一评: once the case is rated, by any channel, its SMS links are spent.
        Invitation.objects.filter(case_id=rating.case_id, used_at__isnull=True).update(used_at=timezone.now())
    record_event(
        "feedback.rate",
        actor=rating.rater_user or rating.entered_by,
        target=f"feedback.Rating:{rating.pk}",
        detail={"level": rating.level, "channel": rating.channel, "flags": rating.flags},
    )
    if rating.level in BAD_LEVELS and rating.real_name:
        _open_rectification(rating)
    return rating


def _take_into_results(rating: Rating, step: int) -> None:
    """Add (1) or take (-1) a rating to or from the results: its level and, once settled, its rectification."""
    _count(rating, step)
    if rating.rectified_on_time is not None:
        count_rectification(rating, due=step, on_time=step * int(rating.rectified_on_time))


def _flag_earlier(earlier: Mapping[str, list[int]], *, burst_end: Rating) -> None:
    """Flag the earlier ratings of a burst the new rating completed, so the supervisor sees all of it.

    Like the rating that completed the burst, they leave the results until a
    supervisor clears them (then they count again) or excludes them. Ratings a
    supervisor already excluded or cleared keep that decision.
    """
    for flag, ids in earlier.items():
        rows = Rating.objects.select_for_update().filter(pk__in=ids, reviewed_at__isnull=True)
        for rating in rows.exclude(status=RatingStatus.EXCLUDED).order_by("pk"):
            if flag not in rating.flags:
                rating.flags = [*rating.flags, flag]
            if rating.status == RatingStatus.COUNTED:
                _take_into_results(rating, -1)
            rating.status = RatingStatus.SUSPECT
            rating.save(update_fields=["flags", "status"])
            record_event(
                "feedback.flag",
                actor=None,
                target=f"feedback.Rating:{rating.pk}",
                detail={"flag": flag, "burst_end": burst_end.pk},
            )


def _open_rectification(rating: Rating) -> None:
    subject = rating.item_name or rating.department.name
    order = hotline_services.open_rectification(
        rating_id=rating.pk,
        department_id=rating.department_id,
        person_user=rating.rater_user,
        person_id=rating.rater_person_id,
        title=_("差评整改：%(subject)s") % {"subject": subject},
        content=_("评价等级：%(level)s。评价内容：%(comment)s")
        % {"level": rating.get_level_display(), "comment": rating.comment or _("（未填写）")},
    )
    rating.rectification_order = order
    rating.save(update_fields=["rectification_order"])


def rate_case(
    *, user: Any, number: str, level: Any, scores: Mapping[str, Any] | None, comment: Any, origin: Origin
) -> Rating:
    """Rate an online case once (一事一评), as its applicant; real-name when the account is verified.

    The SMS channel is the rating link of an invitation (:func:`invite_for_case`), opened by the signed-in applicant.
    """
    if origin.channel not in {RatingChannel.WEB, RatingChannel.MOBILE, RatingChannel.KIOSK, RatingChannel.SMS}:
        raise RatingError("bad_channel", _("未知的评价渠道"))
    try:
        case = cases_selectors.get_own_case(user, number)
    except Http404 as error:
        raise RatingNotAllowed("not_your_case", _("只能评价自己申请的办件")) from error
    return _rate(case=case, user=user, level=level, scores=scores, comment=comment, origin=origin)


def _rate(
    *,
    case: Any,
    user: Any,
    level: Any,
    scores: Mapping[str, Any] | None,
    comment: Any,
    origin: Origin,
    entered_by: Any = None,
) -> Rating:
    if case.state not in RATEABLE_CASE_STATES:
        raise RatingError("not_finished", _("办件办结后才能评价"))
    overall, dimension_levels = _clean_levels(ServiceMode.ONLINE, level, scores)
    text = _clean_comment(comment)
    rater_person_id = getattr(user, "person_id", None) if user is not None else case.applicant_person_id
    rating = Rating(
        mode=ServiceMode.ONLINE,
        case=case,
        level=overall,
        scores=dimension_levels,
        comment=text,
        channel=origin.channel,
        rater_user=user,
        rater_person_id=rater_person_id,
        real_name=rater_person_id is not None,
        entered_by=entered_by,
        department_id=case.department_id,
        item_code=case.item_code,
        item_name=case.item_name,
        device_hash=_keyed_hash(origin.device, "device"),
        address_hash=_keyed_hash(origin.address, "address"),
    )
    try:
        with transaction.atomic():
            return _save_rating(rating)
    except IntegrityError as error:
        raise AlreadyRated("already_rated", _("该办件已经评价过了（一事一评）")) from error


def rate_for_caller(
    *,
    operator: Any,
    number: str,
    code: str,
    level: Any,
    scores: Mapping[str, Any] | None,
    comment: Any,
) -> Rating:
    """A 12345 operator enters the rating a caller gives by phone, for the case on the caller's receipt."""
    if not policy.is_hotline_operator(operator):
        raise RatingNotAllowed("operators_only", _("电话代评由12345话务员录入"))
    case = cases_selectors.case_with_code(number, code)
    if case is None:
        raise RatingError("bad_case_code", _("办件编号或查询码不正确"))
    return _rate(
        case=case,
        user=None,
        level=level,
        scores=scores,
        comment=comment,
        origin=Origin(RatingChannel.HOTLINE),
        entered_by=operator,
    )


def open_visit(*, clerk: Any, window_id: int | None = None, item_code: str = "", case_number: str = "") -> Visit:
    """The clerk's end of a counter visit: a one-time rating code (QR) for the person just served."""
    if not policy.is_counter_clerk(clerk):
        raise RatingNotAllowed("clerks_only", _("窗口评价码由窗口工作人员生成"))
    scope = policy.clerk_departments(clerk)
    window = catalog_selectors.window_by_id(window_id) if window_id else None
    if window_id and window is None:
        raise RatingError("unknown_window", _("窗口不存在"))
    if window is not None and not policy.may_open_visit_at(clerk, window.department.code):
        raise RatingNotAllowed("not_your_window", _("只能为本部门的窗口生成评价码"))
    department = window.department if window is not None else _clerk_department(clerk, scope)
    case = None
    if case_number:
        case = cases_selectors.get_case(clerk, case_number)
    item_name = case.item_name if case is not None else ""
    with transaction.atomic():
        visit = Visit.objects.create(
            token=secrets.token_urlsafe(16),
            department=department,
            window=window,
            clerk=clerk,
            item_code=case.item_code if case is not None else item_code[:64],
            item_name=item_name,
            case=case,
            person_id=case.applicant_person_id if case is not None else None,
            expires_at=timezone.now() + VISIT_LIFETIME,
        )
        record_event("feedback.open_visit", actor=clerk, target=f"feedback.Visit:{visit.pk}")
    return visit


def _clerk_department(clerk: Any, scope: set[str] | None) -> Department:
    department = directory_selectors.departments().filter(code__in=sorted(scope or [])).order_by("code").first()
    if department is None:
        raise RatingError("window_required", _("请选择服务窗口"))
    return department


def rate_visit(
    *,
    token: str,
    user: Any,
    level: Any,
    scores: Mapping[str, Any] | None,
    comment: Any,
    origin: Origin,
) -> Rating:
    """Rate one counter visit (一次一评) from the QR code, the counter pad or the kiosk."""
    if origin.channel not in {RatingChannel.QR, RatingChannel.PAD, RatingChannel.KIOSK}:
        raise RatingError("bad_channel", _("未知的评价渠道"))
    visit = Visit.objects.select_related("department").filter(token=str(token)).first()
    if visit is None or visit.expires_at < timezone.now():
        raise RatingError("bad_visit", _("评价码无效或已过期"))
    overall, dimension_levels = _clean_levels(ServiceMode.COUNTER, level, scores)
    text = _clean_comment(comment)
    authenticated = user is not None and getattr(user, "is_authenticated", False)
    if authenticated and user.pk == visit.clerk_id:
        raise RatingNotAllowed("own_service", _("工作人员不能评价自己提供的服务"))
    rater_person_id = getattr(user, "person_id", None) if authenticated else None
    rating = Rating(
        mode=ServiceMode.COUNTER,
        visit=visit,
        case=visit.case,
        level=overall,
        scores=dimension_levels,
        comment=text,
        channel=origin.channel,
        rater_user=user if authenticated else None,
        rater_person_id=rater_person_id,
        real_name=rater_person_id is not None,
        department_id=visit.department_id,
        item_code=visit.item_code,
        item_name=visit.item_name,
        window_id=visit.window_id,
        clerk_id=visit.clerk_id,
        device_hash=_keyed_hash(origin.device, "device"),
        address_hash=_keyed_hash(origin.address, "address"),
    )
    try:
        with transaction.atomic():
            return _save_rating(rating)
    except IntegrityError as error:
        raise AlreadyRated("already_rated", _("这次服务已经评价过了（一次一评）")) from error


def invite_for_case(case_id: int, *, channel: str = RatingChannel.SMS) -> Invitation:
    """A rating link for a finished case (sent by SMS); one live invitation per case and channel."""
    existing = Invitation.objects.filter(case_id=case_id, channel=channel, used_at__isnull=True).first()
    if existing is not None:
        return existing
    return Invitation.objects.create(
        token=secrets.token_urlsafe(16),
        case_id=case_id,
        channel=channel,
        expires_at=timezone.now() + INVITATION_LIFETIME,
    )


# --- review of suspect ratings and appeals ----------------------------------------------


def _exclude(rating: Rating, *, actor: Any, note: str) -> None:
    if rating.status == RatingStatus.EXCLUDED:
        return
    was_counted = rating.status == RatingStatus.COUNTED  # a flagged one is already out of the results
    rating.status = RatingStatus.EXCLUDED
    rating.review_note = note
    rating.reviewed_by = actor
    rating.reviewed_at = timezone.now()
    rating.save(update_fields=["status", "review_note", "reviewed_by", "reviewed_at"])
    if was_counted:
        _take_into_results(rating, -1)


def review_suspect(*, supervisor: Any, rating_id: int, exclude: bool, note: Any) -> Rating:
    """A supervisor confirms a flagged rating as fake or malicious (excluded, reason kept) or clears it, which
    brings it into the results."""
    with transaction.atomic():
        rating = Rating.objects.select_for_update().select_related("department").filter(pk=rating_id).first()
        if rating is None:
            raise RatingError("not_found", _("评价不存在"))
        if not policy.supervises(supervisor, rating):
            raise RatingNotAllowed("supervisors_only", _("疑似刷评由监督人员核查"))
        if rating.status != RatingStatus.SUSPECT:
            raise RatingError("not_suspect", _("该评价不在待核查之列"))
        text = _text(note, field="note", label=_("核查意见"), max_length=1000)
        if exclude:
            _exclude(rating, actor=supervisor, note=text)
        else:
            rating.status = RatingStatus.COUNTED
            rating.review_note = text
            rating.reviewed_by = supervisor
            rating.reviewed_at = timezone.now()
            rating.save(update_fields=["status", "review_note", "reviewed_by", "reviewed_at"])
            _take_into_results(rating, 1)
        record_event(
            "feedback.review",
            actor=supervisor,
            target=f"feedback.Rating:{rating.pk}",
            detail={"excluded": exclude, "flags": rating.flags},
        )
    return rating


def file_appeal(*, staff: Any, rating_id: int, reason: Any) -> Appeal:
    """申诉: the rated department asks for a bad rating it believes mistaken or malicious to be excluded."""
    rating = Rating.objects.select_related("department").filter(pk=rating_id).first()
    if rating is None:
        raise RatingError("not_found", _("评价不存在"))
    if not policy.may_appeal_rating(staff, rating):
        raise RatingNotAllowed("department_only", _("只有被评价部门的负责人可以申诉"))
    if rating.level not in BAD_LEVELS:
        raise RatingError("appeal_bad_only", _("只有差评可以申诉"))
    if rating.status == RatingStatus.EXCLUDED:
        raise RatingError("already_excluded", _("该评价已被剔除"))
    text = _text(reason, field="reason", label=_("申诉理由"), max_length=2000)
    try:
        with transaction.atomic():
            appeal = Appeal.objects.create(rating=rating, department=rating.department, reason=text, filed_by=staff)
            record_event("feedback.appeal", actor=staff, target=f"feedback.Rating:{rating.pk}")
    except IntegrityError as error:
        raise AlreadyRated("appeal_pending", _("该差评已有待裁定的申诉")) from error
    return appeal


def decide_appeal(*, supervisor: Any, appeal_id: int, uphold: bool, reason: Any) -> Appeal:
    """A supervisor decides an appeal on the record; an upheld one excludes the rating, reason kept."""
    with transaction.atomic():
        appeal = Appeal.objects.select_for_update().select_related("rating__department").filter(pk=appeal_id).first()
        if appeal is None:
            raise RatingError("not_found", _("申诉不存在"))
        if not policy.supervises(supervisor, appeal.rating):
            raise RatingNotAllowed("supervisors_only", _("申诉由监督人员裁定"))
        if appeal.status != AppealStatus.PENDING:
            raise RatingError("already_decided", _("该申诉已经裁定"))
        if appeal.filed_by_id == supervisor.pk:
            raise RatingNotAllowed("own_appeal", _("不能裁定自己提出的申诉"))
        text = _text(reason, field="reason", label=_("裁定理由"), max_length=2000)
        appeal.status = AppealStatus.UPHELD if uphold else AppealStatus.DISMISSED
        appeal.decided_by = supervisor
        appeal.decision_reason = text
        appeal.decided_at = timezone.now()
        appeal.save(update_fields=["status", "decided_by", "decision_reason", "decided_at"])
        if uphold:
            rating = Rating.objects.select_for_update().get(pk=appeal.rating_id)
            _exclude(rating, actor=supervisor, note=_("申诉成立：%(reason)s") % {"reason": text})
        record_event(
            "feedback.decide_appeal",
            actor=supervisor,
            target=f"feedback.Rating:{appeal.rating_id}",
            detail={"upheld": uphold},
        )
    return appeal


def confirm_resolution(*, user: Any, rating_id: int, resolved: bool, note: Any = "") -> Rating:
    """The rater says whether the rectification resolved the problem; not resolved reopens the order."""
    rating = Rating.objects.filter(pk=rating_id, rater_user=user).select_related("rectification_order").first()
    if rating is None or rating.rectification_order is None:
        raise RatingError("not_found", _("没有需要确认的整改"))
    with transaction.atomic():
        hotline_services.perform(
            rating.rectification_order, "confirm", actor=user, reason=str(note or ""), resolved=resolved
        )
        rating.resolved = resolved
        rating.save(update_fields=["resolved"])
    return rating
