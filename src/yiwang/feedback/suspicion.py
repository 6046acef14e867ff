"""Rules that flag suspect ratings (刷好评, 恶意差评) for a supervisor to confirm.

A flag never excludes a rating by itself: a supervisor looks at it and
either excludes it (reason kept) or clears it. The thresholds are named
here so that a city can read, and tune, what counts as suspicious.

A burst from one account or device is only seen when its last rating
arrives, so the rules that find one also name the burst's earlier ratings:
they are flagged with it, for the supervisor to judge the burst as a whole.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from yiwang.feedback.models import Rating

# Many ratings from one account or one device in a short time.
BURST_WINDOW = dt.timedelta(minutes=10)
BURST_COUNT = 5
# The same rating (level, dimension scores and comment) this many times from one account or device in
# the burst window: a person rates each service they had on its own merits, a script repeats itself.
REPEAT_COUNT = 3
# Beyond this many in the burst window, a rating is refused outright (a flood, not a person).
FLOOD_COUNT = 20
# Many top ratings for one clerk within an hour: a queue of friends, or one person with many phones.
PRAISE_WINDOW = dt.timedelta(hours=1)
PRAISE_COUNT = 10
# The same comment, word for word, on several ratings within a week.
COPY_WINDOW = dt.timedelta(days=7)
COPY_COUNT = 2
COPY_MIN_CHARS = 8

RULES = {
    "rater_burst": "短时间内同一账户或设备多次评价",
    "rater_repeat": "短时间内同一账户或设备重复给出相同的评价",
    "not_party": "评价人不是被服务的办事人",
    "praise_burst": "短时间内集中出现对同一工作人员的好评",
    "copy_paste": "评价内容与其他评价雷同",
}

_SPACE_AND_PUNCTUATION = re.compile(r"[\s\W_]+", re.UNICODE)


def normalised_comment(comment: str) -> str:
    return _SPACE_AND_PUNCTUATION.sub("", unicodedata.normalize("NFKC", comment)).lower()


def _same_source(rating: Rating) -> Q | None:
    condition = Q(pk__in=[])
    matched = False
    if rating.rater_user_id is not None:
        condition |= Q(rater_user_id=rating.rater_user_id)
        matched = True
    if rating.device_hash:
        condition |= Q(device_hash=rating.device_hash)
        matched = True
    return condition if matched else None


def _from_same_source(rating: Rating, since: dt.datetime) -> QuerySet[Rating] | None:
    source = _same_source(rating)
    if source is None:
        return None
    return Rating.objects.filter(source, created_at__gte=since)


def recent_from_same_source(rating: Rating, *, now: dt.datetime | None = None) -> int:
    recent = _from_same_source(rating, (now or timezone.now()) - BURST_WINDOW)
    return 0 if recent is None else recent.count()


@dataclass
class Assessment:
    """What a new rating trips: rule names, and per rule the earlier ratings of the same burst (primary keys)."""

    flags: list[str] = field(default_factory=list)
    earlier: dict[str, list[int]] = field(default_factory=dict)

    def add(self, flag: str, earlier: list[int] | None = None) -> None:
        self.flags.append(flag)
        if earlier:
            self.earlier[flag] = earlier


def _source_bursts(rating: Rating, now: dt.datetime, assessment: Assessment) -> None:
    """Many ratings, or the same rating repeated, from the new rating's account or device."""
    recent = _from_same_source(rating, now - BURST_WINDOW)
    if recent is None:
        return
    # Fewer than FLOOD_COUNT rows: a source with more in the window is refused before it gets here.
    rows = list(recent.values_list("pk", "level", "scores", "comment"))
    if len(rows) >= BURST_COUNT - 1:
        assessment.add("rater_burst", [pk for pk, *_rest in rows])
    text = normalised_comment(rating.comment)
    repeats = [
        pk
        for pk, level, scores, comment in rows
        if level == rating.level and scores == rating.scores and normalised_comment(comment) == text
    ]
    if len(repeats) >= REPEAT_COUNT - 1:
        assessment.add("rater_repeat", repeats)


def assess(rating: Rating, *, now: dt.datetime | None = None) -> Assessment:
    """The rules a new (unsaved) rating trips, with the earlier ratings of any burst it completes."""
    now = now or timezone.now()
    assessment = Assessment()
    _source_bursts(rating, now, assessment)
    visit = rating.visit
    if visit is not None and visit.person_id and rating.rater_person_id and visit.person_id != rating.rater_person_id:
        assessment.add("not_party")
    if rating.clerk_id is not None and rating.level >= 4:
        praise = Rating.objects.filter(
            clerk_id=rating.clerk_id, level__gte=4, created_at__gte=now - PRAISE_WINDOW
        ).count()
        if praise >= PRAISE_COUNT - 1:
            assessment.add("praise_burst")
    if _copies(rating, now) >= COPY_COUNT:
        assessment.add("copy_paste")
    return assessment


def _copies(rating: Rating, now: dt.datetime) -> int:
    text = normalised_comment(rating.comment)
    if len(text) < COPY_MIN_CHARS:
        return 0
    recent = Rating.objects.filter(created_at__gte=now - COPY_WINDOW).exclude(comment="")
    # Compare normalised text in Python over the week's ratings that share the comment's opening.
    opening = rating.comment.strip()[:4]
    return sum(
        1
        for other in recent.filter(comment__contains=opening).values_list("comment", flat=True)[:500]
        if normalised_comment(other) == text
    )


def flags_for(rating: Rating, *, now: dt.datetime | None = None) -> list[str]:
    """The names of the rules a new (unsaved) rating trips."""
    return assess(rating, now=now).flags


def describe(flags: list[str]) -> list[str]:
    return [RULES.get(flag, flag) for flag in flags]


def is_flood(rating: Any) -> bool:
    return recent_from_same_source(rating) >= FLOOD_COUNT
