"""Hot issues (热点问题): messages linked into issues by similar text at the same place, ranked by recent weight."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from yiwang.core import text as core_text
from yiwang.hotline.similarity.places import CJK_ONLY_RE, Place, PlaceLevel, place_precision, site_keys_match
from yiwang.hotline.similarity.profiles import Comparison, Message, PlaceRelation, Profile, compare_places, profile_of
from yiwang.hotline.similarity.vectors import HASHED_FEATURES, Collection

# Linking thresholds (cosine of TF-IDF vectors without place names), chosen on hot_messages.csv.
CLUSTER_SIMILARITY_SAME_SITE = 0.10
CLUSTER_SIMILARITY_SAME_AREA = 0.25
CLUSTER_SIMILARITY_PLACE_UNKNOWN = 0.35
# Messages at different named places are never linked, however alike: the data has one letter
# posted word for word about two estates, and each estate needs its own answer.

# Ranking.
DEFAULT_WINDOW_DAYS = 30
DEFAULT_HALF_LIFE_DAYS = 7.0
DEFAULT_TOP = 10

# Each like (点赞) adds a little weight to its message, with diminishing returns.
LIKES_WEIGHT = 0.1
LABEL_KEYWORDS = 3

# A message without a title is labelled by the start of its text.
LABEL_CHARS = 40
_LONGER_WORD_SHARE = 0.6


@dataclass(frozen=True)
class HotIssue:
    """A cluster of messages about one problem, ranked by :attr:`score`.

    ``keys`` are the members inside the ranking window, newest first;
    ``label`` is the title of the member closest to the cluster's centre.
    """

    label: str
    keys: tuple[str, ...]
    size: int
    first_at: datetime
    last_at: datetime
    places: tuple[str, ...]
    keywords: tuple[str, ...]
    likes: int
    score: float


def _linked(similarity: float, places: Comparison) -> bool:
    if places.relation is PlaceRelation.SAME:
        return similarity >= (CLUSTER_SIMILARITY_SAME_SITE if places.precise else CLUSTER_SIMILARITY_SAME_AREA)
    if places.relation is PlaceRelation.UNKNOWN:
        return similarity >= CLUSTER_SIMILARITY_PLACE_UNKNOWN
    return False


_LOWEST_LINK = min(CLUSTER_SIMILARITY_SAME_SITE, CLUSTER_SIMILARITY_SAME_AREA, CLUSTER_SIMILARITY_PLACE_UNKNOWN)
# Rows compared at once when linking: bounds the memory of one block of similarities.
_LINK_BLOCK_ROWS = 512


class HotIssueTracker:
    """Messages grouped into issues as they arrive; :meth:`hot_issues` ranks the groups.

    Every message is linked to each earlier one it is similar enough to
    (same rule as duplicates, lower thresholds); issues are the connected
    groups. Adding is incremental: a new message is compared once with all
    kept messages and never re-clustered.
    """

    def __init__(self, messages: Iterable[Message] = ()) -> None:
        self._collection = Collection()
        self._parent: list[int] = []
        # Site keys named in each issue (by root row): a link through a message without a named
        # site may not join two issues at different sites.
        self._issue_sites: dict[int, frozenset[str]] = {}
        self._keys: set[str] = set()
        self.add_all(messages)

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, message: Message) -> None:
        """Add one message; a key already added is ignored."""
        self.add_all([message])

    def add_all(self, messages: Iterable[Message]) -> None:
        """Add messages and link them to each other and to those added before."""
        fresh: dict[str, Message] = {}
        for message in messages:
            if message.key not in self._keys:
                fresh.setdefault(message.key, message)
        if not fresh:
            return
        rows = self._collection.add([profile_of(m) for m in fresh.values()])
        self._keys.update(fresh)
        self._parent.extend(rows)
        for row in rows:
            self._issue_sites[row] = self._collection.profiles[row].site_keys
        vectors = self._collection.vectors()
        for block_start in range(rows.start, rows.stop, _LINK_BLOCK_ROWS):
            block = range(block_start, min(block_start + _LINK_BLOCK_ROWS, rows.stop))
            # Each new row against every row before it: each pair is looked at once.
            if len(block) == 1:
                # One message (the usual incremental case): a dense query avoids transposing everything.
                dense = np.zeros(HASHED_FEATURES)
                row_vector = vectors[block.start]
                dense[row_vector.indices] = row_vector.data
                earlier = np.asarray(vectors[: block.start] @ dense).ravel()
                columns = np.flatnonzero(earlier >= _LOWEST_LINK)
                pairs = zip([block.start] * len(columns), columns, earlier[columns], strict=True)
            else:
                similarities = (vectors[block.start : block.stop] @ vectors[: block.stop].T).tocoo()
                keep = similarities.data >= _LOWEST_LINK
                pairs = zip(
                    similarities.row[keep] + block.start, similarities.col[keep], similarities.data[keep], strict=True
                )
            for row, column, similarity in pairs:
                if column >= row:
                    continue
                places = compare_places(self._collection.profiles[row], self._collection.profiles[column])
                if _linked(float(similarity), places):
                    self._union(int(row), int(column), checked=places.relation is PlaceRelation.UNKNOWN)

    def hot_issues(
        self,
        *,
        now: datetime,
        window_days: float = DEFAULT_WINDOW_DAYS,
        half_life_days: float = DEFAULT_HALF_LIFE_DAYS,
        top: int = DEFAULT_TOP,
        min_size: int = 2,
    ) -> list[HotIssue]:
        """The ``top`` issues by score among messages of the last ``window_days`` before ``now``.

        Score: each member in the window counts ``0.5 ** (age_days / half_life_days)``,
        times ``1 + LIKES_WEIGHT * ln(1 + likes)``; so a message from one
        half-life ago counts half, and likes matter only at scale. Issues with
        fewer than ``min_size`` members in the window are left out. Ties go to
        the larger, then the more recent issue. ``now`` and the messages'
        times must be alike (all aware, or all naive).
        """
        if half_life_days <= 0:
            raise ValueError("half_life_days must be positive")
        start = now - timedelta(days=window_days)
        groups: dict[int, list[int]] = {}
        for row, profile in enumerate(self._collection.profiles):
            created_at = profile.message.created_at
            if start < created_at <= now:
                groups.setdefault(self._find(row), []).append(row)
        ranked: list[tuple[float, int, datetime, str, list[int]]] = []
        for members in groups.values():
            if len(members) < max(min_size, 1):
                continue
            messages = [self._collection.profiles[row].message for row in members]
            score = sum(_weight(message, now=now, half_life_days=half_life_days) for message in messages)
            last_at = max(message.created_at for message in messages)
            ranked.append((round(score, 4), len(members), last_at, min(m.key for m in messages), members))
        # Labels, places and keywords are worked out only for the issues shown.
        ranked.sort(key=lambda issue: (-issue[0], -issue[1], -issue[2].timestamp(), issue[3]))
        return [self._issue(members, score=score) for score, *_, members in ranked[: max(top, 0)]]

    def _issue(self, members: list[int], *, score: float) -> HotIssue:
        profiles = [self._collection.profiles[row] for row in members]
        messages = [p.message for p in profiles]
        # The representative is the member most similar to all the others (the medoid).
        vectors = self._collection.vectors()[members]
        closeness = np.asarray((vectors @ vectors.T).sum(axis=1)).ravel()
        representative = profiles[int(np.argmax(closeness))].message
        newest_first = sorted(messages, key=lambda m: (m.created_at, m.key), reverse=True)
        return HotIssue(
            label=representative.title.strip() or representative.text.strip()[:LABEL_CHARS],
            keys=tuple(m.key for m in newest_first),
            size=len(messages),
            first_at=min(m.created_at for m in messages),
            last_at=max(m.created_at for m in messages),
            places=_common_places(profiles),
            keywords=_common_words(profiles),
            likes=sum(max(m.likes, 0) for m in messages),
            score=score,
        )

    def _find(self, row: int) -> int:
        root = row
        while self._parent[root] != root:
            root = self._parent[root]
        while self._parent[row] != root:
            self._parent[row], row = root, self._parent[row]
        return root

    def _union(self, a: int, b: int, *, checked: bool) -> None:
        root_a, root_b = self._find(a), self._find(b)
        if root_a == root_b:
            return
        sites_a, sites_b = self._issue_sites[root_a], self._issue_sites[root_b]
        if checked and sites_a and sites_b and not _sites_overlap(sites_a, sites_b):
            return
        # The older message stays the root, so issues keep a stable identity as they grow.
        root, child = min(root_a, root_b), max(root_a, root_b)
        self._parent[child] = root
        self._issue_sites[root] = sites_a | sites_b
        del self._issue_sites[child]


def _sites_overlap(a: frozenset[str], b: frozenset[str]) -> bool:
    if a & b:
        return True
    return any(site_keys_match(x, y) for x in a for y in b)


def _weight(message: Message, *, now: datetime, half_life_days: float) -> float:
    """What one message adds to its issue's score: halved every half-life, lifted a little by likes."""
    age_days = max((now - message.created_at).total_seconds(), 0.0) / 86400
    return float(0.5 ** (age_days / half_life_days) * (1 + LIKES_WEIGHT * math.log1p(max(message.likes, 0))))


def _common_places(profiles: Sequence[Profile], limit: int = 3) -> tuple[str, ...]:
    """The sites most members name (at least two of them, or the only member), districts if no site."""
    counts: Counter[tuple[str, PlaceLevel]] = Counter()
    shown: dict[tuple[str, PlaceLevel], Place] = {}
    for profile in profiles:
        for place in profile.places:
            identity = (place.key, place.level)
            counts[identity] += 1
            if identity not in shown or place_precision(place) > place_precision(shown[identity]):
                shown[identity] = place
    needed = 1 if len(profiles) == 1 else 2
    ranked = sorted(counts.items(), key=lambda item: (item[0][1] is not PlaceLevel.SITE, -item[1], item[0][0]))
    chosen: list[Place] = []
    for identity, count in ranked:
        if count < needed or len(chosen) >= limit:
            break
        place = shown[identity]
        # One place written two ways (伊景园滨河苑, 滨河苑) is shown once.
        if not any(other.level is place.level and site_keys_match(other.key, place.key) for other in chosen):
            chosen.append(place)
    return tuple(place.shown for place in chosen)


def _common_words(profiles: Sequence[Profile], limit: int = LABEL_KEYWORDS) -> tuple[str, ...]:
    """Title words most members share, besides place names: what the issue is about.

    A longer word replaces a shorter one inside it when most members that use the short one
    use the long one too (搅拌站 over 搅拌).
    """
    place_names = {place.shown for profile in profiles for place in profile.places}
    counts: Counter[str] = Counter()
    for profile in profiles:
        title = core_text.normalise(profile.message.title)
        counts.update(
            {
                word
                for word in core_text.segment(title)
                if len(word) >= 2 and CJK_ONLY_RE.match(word) and not any(word in name for name in place_names)
            }
        )
    needed = 1 if len(profiles) == 1 else 2
    chosen: list[str] = []
    for word, count in sorted(counts.items(), key=lambda item: (-item[1], -len(item[0]), item[0])):
        if count < needed:
            break
        if any(word in other for other in chosen):
            continue
        inside = [other for other in chosen if other in word and count >= _LONGER_WORD_SHARE * counts[other]]
        if inside:
            chosen[chosen.index(inside[0])] = word
            chosen = [other for other in chosen if other == word or other not in word]
            continue
        if len(chosen) < limit:
            chosen.append(word)
    return tuple(chosen)


def hot_issues(
    messages: Iterable[Message],
    *,
    now: datetime,
    window_days: float = DEFAULT_WINDOW_DAYS,
    half_life_days: float = DEFAULT_HALF_LIFE_DAYS,
    top: int = DEFAULT_TOP,
    min_size: int = 2,
) -> list[HotIssue]:
    """Cluster the messages of the last ``window_days`` before ``now`` and rank the clusters.

    See :meth:`HotIssueTracker.hot_issues` for the score. Messages outside
    the window are not clustered at all; for a running view keep a
    :class:`HotIssueTracker` instead.
    """
    start = now - timedelta(days=window_days)
    recent = [message for message in messages if start < message.created_at <= now]
    tracker = HotIssueTracker(recent)
    return tracker.hot_issues(
        now=now, window_days=window_days, half_life_days=half_life_days, top=top, min_size=min_size
    )
