"""Published comments: only the scrubbed ``public_comment`` of counted ratings, never the raw comment or who rated."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

from django.db.models import QuerySet

from yiwang.feedback.constants import Level, RatingChannel, RatingStatus
from yiwang.feedback.models import Rating
from yiwang.feedback.selectors.results import Period, department_ids

# Published comments are listed back to the latest this many: a public page, not an archive to crawl.
COMMENTS_LIMIT = 1000


@dataclass(frozen=True)
class PublishedComment:
    """A rating's comment as the public sees it: scrubbed text, no rater, no raw comment."""

    day: dt.date
    level: int
    level_label: str
    department: str
    item_name: str
    channel: str
    channel_label: str
    comment: str


_PUBLIC_FIELDS = ("day", "level", "department__name", "item_name", "channel", "public_comment")


class PublishedComments(Sequence[PublishedComment]):
    """The latest published comments, newest first, at most :data:`COMMENTS_LIMIT` of them.

    Reads only the public columns (``values()``), so the raw comment and the
    rater never leave the database. Read it a page (a slice) at a time, as
    Django's ``Paginator`` does.
    """

    def __init__(self, rows: QuerySet[Rating]) -> None:
        self._rows = rows.order_by("-created_at", "-id").values(*_PUBLIC_FIELDS)

    def count(self) -> int:  # type: ignore[override]  # Paginator asks count() first, as of a QuerySet
        # Capped: counting every comment of ten million ratings would read them all.
        return self._rows[:COMMENTS_LIMIT].count()

    def __len__(self) -> int:
        return self.count()

    def __iter__(self) -> Iterator[PublishedComment]:
        return iter(self[0:COMMENTS_LIMIT])

    @overload
    def __getitem__(self, index: int) -> PublishedComment: ...

    @overload
    def __getitem__(self, index: slice) -> list[PublishedComment]: ...

    def __getitem__(self, index: int | slice) -> PublishedComment | list[PublishedComment]:
        if isinstance(index, int):
            if not 0 <= index < COMMENTS_LIMIT:
                raise IndexError(index)
            found = self[index : index + 1]
            if not found:
                raise IndexError(index)
            return found[0]
        if index.step not in (None, 1):
            raise ValueError("published comments are read in order")
        start = max(0, min(index.start or 0, COMMENTS_LIMIT))
        stop = max(start, min(COMMENTS_LIMIT if index.stop is None else index.stop, COMMENTS_LIMIT))
        return [_published(row) for row in self._rows[start:stop]]


def _published(row: dict[str, Any]) -> PublishedComment:
    channel = row["channel"]
    return PublishedComment(
        day=row["day"],
        level=row["level"],
        level_label=str(Level(row["level"]).label),
        department=row["department__name"],
        item_name=row["item_name"],
        channel=channel,
        channel_label=str(RatingChannel(channel).label) if channel in RatingChannel.values else channel,
        comment=row["public_comment"],
    )


def published_comments(*, department_code: str | None = None, period: Period | None = None) -> PublishedComments:
    """Counted ratings with a comment, newest first: suspect and excluded ones are never published."""
    rows = Rating.objects.filter(status=RatingStatus.COUNTED).exclude(public_comment="")
    if department_code:
        rows = rows.filter(department_id__in=department_ids(department_code))
    if period is not None:
        rows = rows.filter(day__gte=period.start, day__lte=period.end)
    return PublishedComments(rows)
