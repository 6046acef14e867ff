"""Duplicate 12345 messages and hot issues: which messages are about the same problem.

Plain data in, plain data out: no database, so the work-order services can
call it with whatever they have loaded, and so can a command run over an
export.

Two messages are about the same problem when their texts are similar *and*
they concern the same place. Both halves matter: one 小区 gets complaints
about noise, cracked walls and school places, which must not be merged, and
one form letter ("小区附近搅拌站噪音扰民") is posted about many places,
which must not be merged either.

- Places are found by rules (:func:`places`): a name followed by a place
  word (小区, 路, 街道, 镇, 村, 学校, 医院 …), with the districts written in
  front of it (A市A2区丽发新城小区). jieba's dictionary tells where a name
  starts (after the last verb, adverb, pronoun …). Two messages *share* a
  place when a site of one is a site of the other (丽发新城 and A2区丽发新城
  小区 are one); a shared estate, village, school or hospital counts more
  than a shared road or 街道, which many unrelated problems have in common.
  Messages that both name sites (or districts) but none in common are at
  *different* places; otherwise the place is *unknown*.
- Text similarity is the cosine of TF-IDF vectors over the character pairs
  of the title (counted twice) and the first 400 characters of the text,
  with the place names taken out: the place is compared as a place, and left
  in the text it made every complaint about one 小区 look alike whatever its
  problem. Character pairs survive the typos and odd wording of colloquial
  messages, and need no segmentation, which is the slow part of jieba.
- Duplicates (:class:`DuplicateFinder`) need a shared place and enough
  text in common, or, with no place to go by, nearly the same text. At
  different places nothing is a duplicate, however alike the words.
- Hot issues (:func:`hot_issues`, :class:`HotIssueTracker`) link every
  pair of messages that passes the same test with lower thresholds (an issue
  gathers reports of one problem worded differently), take the connected
  groups as issues, and rank them by size with each message counted less the
  older it is.

Why rules and not ``jieba.posseg``'s place tags: tagging runs at about
20,000 characters a second here, so a few thousand messages would take more
than a minute, and it tags most housing-estate names as ordinary nouns anyway.

The thresholds below were chosen on the shared hot_messages.csv (4,288
messages): on groups read by hand (搅拌站 at 丽发新城, 车位 at 伊景园滨河苑,
油烟 and cracks and school places at 魅力之城 …) against each other.

One module per concern: ``places`` (finding place names), ``profiles``
(the features and places of one message, and how two compare), ``vectors``
(TF-IDF), ``duplicates`` (:class:`DuplicateFinder`) and ``clusters`` (hot
issues). The names below are the package's public face.
"""

from yiwang.hotline.similarity.clusters import (
    CLUSTER_SIMILARITY_PLACE_UNKNOWN,
    CLUSTER_SIMILARITY_SAME_AREA,
    CLUSTER_SIMILARITY_SAME_SITE,
    DEFAULT_HALF_LIFE_DAYS,
    DEFAULT_TOP,
    DEFAULT_WINDOW_DAYS,
    HotIssue,
    HotIssueTracker,
    hot_issues,
)
from yiwang.hotline.similarity.duplicates import (
    DUPLICATE_SIMILARITY_PLACE_UNKNOWN,
    DUPLICATE_SIMILARITY_SAME_AREA,
    DUPLICATE_SIMILARITY_SAME_SITE,
    DuplicateFinder,
    DuplicateMatch,
)
from yiwang.hotline.similarity.places import PlaceLevel, places
from yiwang.hotline.similarity.profiles import Message, PlaceRelation

__all__ = [
    "CLUSTER_SIMILARITY_PLACE_UNKNOWN",
    "CLUSTER_SIMILARITY_SAME_AREA",
    "CLUSTER_SIMILARITY_SAME_SITE",
    "DEFAULT_HALF_LIFE_DAYS",
    "DEFAULT_TOP",
    "DEFAULT_WINDOW_DAYS",
    "DUPLICATE_SIMILARITY_PLACE_UNKNOWN",
    "DUPLICATE_SIMILARITY_SAME_AREA",
    "DUPLICATE_SIMILARITY_SAME_SITE",
    "DuplicateFinder",
    "DuplicateMatch",
    "HotIssue",
    "HotIssueTracker",
    "Message",
    "PlaceLevel",
    "PlaceRelation",
    "hot_issues",
    "places",
]
