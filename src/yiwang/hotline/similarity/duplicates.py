"""Duplicate check: which open messages a new one probably repeats (similar text at the same place)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from django.utils.translation import gettext as _

from yiwang.hotline.similarity.profiles import Comparison, Message, PlaceRelation, compare_places, profile_of
from yiwang.hotline.similarity.vectors import Collection

# Thresholds: cosine of TF-IDF vectors without place names, chosen on hot_messages.csv.
# Same estate, village, school …: a reworded report of the same problem scores above this, while a
# different problem at the same 小区 (noise vs cracked walls vs school places) stays below.
DUPLICATE_SIMILARITY_SAME_SITE = 0.15

# Same road or area only: many unrelated problems share one road, so more text must agree.
DUPLICATE_SIMILARITY_SAME_AREA = 0.30

# No place in common known: only near-copies count (reposts, form letters from one group).
DUPLICATE_SIMILARITY_PLACE_UNKNOWN = 0.50

# Without a shared place a match is less certain: its score is scaled down by this factor.
PLACE_UNKNOWN_SCORE_FACTOR = 0.8


@dataclass(frozen=True)
class DuplicateMatch:
    """An open message that a new one probably repeats, with the score and the reason."""

    key: str
    score: float
    similarity: float
    relation: PlaceRelation
    shared_places: tuple[str, ...]
    reason: str


def _is_duplicate(similarity: float, places: Comparison) -> bool:
    if places.relation is PlaceRelation.SAME:
        needed = DUPLICATE_SIMILARITY_SAME_SITE if places.precise else DUPLICATE_SIMILARITY_SAME_AREA
        return similarity >= needed
    if places.relation is PlaceRelation.UNKNOWN:
        return similarity >= DUPLICATE_SIMILARITY_PLACE_UNKNOWN
    return False


def _reason(similarity: float, relation: PlaceRelation, shared_places: tuple[str, ...]) -> str:
    percent = round(similarity * 100)
    if relation is PlaceRelation.SAME:
        return _("同一地点（%(places)s），内容相似度 %(percent)d%%") % {
            "places": "、".join(shared_places),
            "percent": percent,
        }
    return _("内容高度相似（相似度 %(percent)d%%），但未能确认是同一地点") % {"percent": percent}


class DuplicateFinder:
    """The open messages, and which of them a new message probably repeats.

    Keep one per set of open work orders: :meth:`add` what is opened,
    :meth:`discard` what is closed, and :meth:`find` before opening a new one.
    """

    def __init__(self, open_messages: Iterable[Message] = ()) -> None:
        self._collection = Collection()
        self._rows: dict[str, int] = {}
        self.add_all(open_messages)

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    def add(self, message: Message) -> None:
        """Add one open message; a message with a key already present replaces it."""
        self.add_all([message])

    def add_all(self, messages: Iterable[Message]) -> None:
        """Add open messages (faster than one by one)."""
        latest = {message.key: message for message in messages}
        for key in latest.keys() & self._rows.keys():
            self.discard(key)
        rows = self._collection.add([profile_of(m) for m in latest.values()])
        self._rows.update(zip(latest, rows, strict=True))
        if len(self._collection.profiles) > 2 * len(self._rows) + 100:
            self._compact()

    def discard(self, key: str) -> None:
        """Forget a message (closed or merged); unknown keys are ignored."""
        row = self._rows.pop(key, None)
        if row is not None:
            self._collection.remove(row)

    def find(self, message: Message, *, limit: int = 5) -> list[DuplicateMatch]:
        """The open messages that ``message`` probably repeats, most likely first.

        A match needs similar text *and* a shared place, or, when either
        message names no site, nearly the same text (its score is then
        scaled down). Messages at different named places never match.
        """
        if not self._rows or limit <= 0:
            return []
        profile = profile_of(message)
        similarities = self._collection.similarities(profile)
        lowest = min(DUPLICATE_SIMILARITY_SAME_SITE, DUPLICATE_SIMILARITY_SAME_AREA, DUPLICATE_SIMILARITY_PLACE_UNKNOWN)
        matches: list[DuplicateMatch] = []
        for row in np.flatnonzero(similarities >= lowest):
            candidate = self._collection.profiles[row]
            if not self._collection.alive[row] or candidate.message.key == message.key:
                continue
            similarity = float(similarities[row])
            places = compare_places(profile, candidate)
            if not _is_duplicate(similarity, places):
                continue
            relation, shared = places.relation, places.shared
            score = similarity if relation is PlaceRelation.SAME else similarity * PLACE_UNKNOWN_SCORE_FACTOR
            matches.append(
                DuplicateMatch(
                    key=candidate.message.key,
                    score=round(score, 4),
                    similarity=round(similarity, 4),
                    relation=relation,
                    shared_places=shared,
                    reason=_reason(similarity, relation, shared),
                )
            )
        matches.sort(key=lambda match: (-match.score, match.key))
        return matches[:limit]

    def _compact(self) -> None:
        live = [self._collection.profiles[row] for row in sorted(self._rows.values())]
        self._collection = Collection()
        rows = self._collection.add(live)
        self._rows = {profile.message.key: row for profile, row in zip(live, rows, strict=True)}
