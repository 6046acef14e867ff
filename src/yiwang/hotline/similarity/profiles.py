"""Messages as comparison sees them: text features without the place names, and how two messages' places relate."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from yiwang.core import text as core_text
from yiwang.hotline.similarity.places import (
    AREA_LEVELS,
    Place,
    PlaceLevel,
    clean,
    comparison_key,
    extract_places,
    site_keys_match,
)

# Only the start of a long message is read: the problem and the place come first, and the rest
# is mostly pleading that all complaints share.
BODY_CHARS = 400

# A title word or pair counts this many times one from the body.
TITLE_WEIGHT = 2.0

_LATIN_RUN_RE = re.compile(r"[A-Z0-9]{2,}")


@dataclass(frozen=True)
class Message:
    """One citizen message or work order, as far as comparison needs it.

    ``key`` is opaque (a work-order number, a message id). ``place`` is a
    place given apart from the text, such as a form's address field; places
    named in the title and text are found without it. ``likes`` (点赞数)
    adds weight in the hot-issue ranking.
    """

    key: str
    title: str
    text: str
    created_at: datetime
    place: str = ""
    likes: int = 0


class PlaceRelation(StrEnum):
    """Whether two messages are about the same place, as far as their texts say."""

    SAME = "same"  # a named site in common
    DIFFERENT = "different"  # both name sites (or districts of one level) and none is shared
    UNKNOWN = "unknown"  # one of them names no site


@dataclass(frozen=True)
class Profile:
    """What comparison needs of one message, computed once."""

    message: Message
    features: dict[str, float]
    places: tuple[Place, ...]
    site_keys: frozenset[str]
    areas: dict[str, frozenset[str]] = field(default_factory=dict)


def profile_of(message: Message) -> Profile:
    title = clean(message.title)
    text = clean(message.text[:BODY_CHARS])
    given = clean(message.place).strip()
    found = extract_places(f"{given}。{title}。{text}")
    if given and not any(p.level is PlaceLevel.SITE for p in found):
        found.insert(0, Place(given, comparison_key(given), PlaceLevel.SITE))

    body = text
    # Place names are compared as places; left in the text they would make every complaint about
    # one 小区 look alike whatever its problem.
    for name in sorted({n for p in found for n in (p.key, p.shown)}, key=len, reverse=True):
        title = title.replace(name, "|")
        body = body.replace(name, "|")
    features: defaultdict[str, float] = defaultdict(float)
    for gram in core_text.bigrams(title):
        features[gram] += TITLE_WEIGHT
    for gram in core_text.bigrams(body):
        features[gram] += 1.0
    for token in _LATIN_RUN_RE.findall(title):
        features["L:" + token] += TITLE_WEIGHT
    for token in _LATIN_RUN_RE.findall(body):
        features["L:" + token] += 1.0

    areas: dict[str, set[str]] = {}
    for place in found:
        area = place.key if place.level is PlaceLevel.AREA else place.area
        if area:
            areas.setdefault(AREA_LEVELS[area[-1]], set()).add(area)
    return Profile(
        message=message,
        features=dict(features),
        places=tuple(found),
        site_keys=frozenset(p.key for p in found if p.level is PlaceLevel.SITE),
        areas={level: frozenset(names) for level, names in areas.items()},
    )


@dataclass(frozen=True)
class Comparison:
    relation: PlaceRelation
    shared: tuple[str, ...] = ()  # as the first message shows them
    precise: bool = False  # an estate, village, school … in common, not only a road or an area


def compare_places(a: Profile, b: Profile) -> Comparison:
    """How the places of two messages relate."""
    shared = [
        place
        for place in a.places
        if place.level is PlaceLevel.SITE and any(site_keys_match(place.key, key) for key in b.site_keys)
    ]
    if shared:
        return Comparison(PlaceRelation.SAME, tuple(p.shown for p in shared), precise=any(not p.broad for p in shared))
    if a.site_keys and b.site_keys:
        return Comparison(PlaceRelation.DIFFERENT)
    for level, names in a.areas.items():
        others = b.areas.get(level)
        if others and not names & others:
            return Comparison(PlaceRelation.DIFFERENT)
    return Comparison(PlaceRelation.UNKNOWN)
