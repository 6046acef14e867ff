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
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

import jieba
import numpy as np
from django.utils.translation import gettext as _
from scipy import sparse  # type: ignore[import-untyped]  # scipy and scikit-learn ship no types
from sklearn.feature_extraction import FeatureHasher  # type: ignore[import-untyped]
from sklearn.feature_extraction.text import TfidfTransformer  # type: ignore[import-untyped]

from yiwang.core import text as core_text

# --- Text features -------------------------------------------------------------------------------

# Only the start of a long message is read: the problem and the place come first, and the rest
# is mostly pleading that all complaints share.
BODY_CHARS = 400
# A title word or pair counts this many times one from the body.
TITLE_WEIGHT = 2.0
# Hashed feature space: large enough that distinct character pairs rarely collide, and no
# vocabulary to grow or rebuild as messages come in.
HASHED_FEATURES = 2**20
# The document frequencies are recomputed when the collection has grown or shrunk by this share
# since they were last computed (and for the first few hundred messages at every change).
IDF_REFRESH_SHARE = 0.25
IDF_ALWAYS_REFRESH_BELOW = 200

# --- Duplicate thresholds (cosine of TF-IDF vectors without place names), chosen on hot_messages.csv

# Same estate, village, school …: a reworded report of the same problem scores above this, while a
# different problem at the same 小区 (noise vs cracked walls vs school places) stays below.
DUPLICATE_SIMILARITY_SAME_SITE = 0.15
# Same road or area only: many unrelated problems share one road, so more text must agree.
DUPLICATE_SIMILARITY_SAME_AREA = 0.30
# No place in common known: only near-copies count (reposts, form letters from one group).
DUPLICATE_SIMILARITY_PLACE_UNKNOWN = 0.50
# Without a shared place a match is less certain: its score is scaled down by this factor.
PLACE_UNKNOWN_SCORE_FACTOR = 0.8

# --- Hot-issue linking thresholds ------------------------------------------------------------------

CLUSTER_SIMILARITY_SAME_SITE = 0.10
CLUSTER_SIMILARITY_SAME_AREA = 0.25
CLUSTER_SIMILARITY_PLACE_UNKNOWN = 0.35
# Messages at different named places are never linked, however alike: the data has one letter
# posted word for word about two estates, and each estate needs its own answer.

# --- Hot-issue ranking -----------------------------------------------------------------------------

DEFAULT_WINDOW_DAYS = 30
DEFAULT_HALF_LIFE_DAYS = 7.0
DEFAULT_TOP = 10
# Each like (点赞) adds a little weight to its message, with diminishing returns.
LIKES_WEIGHT = 0.1
LABEL_KEYWORDS = 3
# A message without a title is labelled by the start of its text.
LABEL_CHARS = 40
_LONGER_WORD_SHARE = 0.6

_CJK = "\u3400-\u9fff"
_LATIN_RUN_RE = re.compile(r"[A-Z0-9]{2,}")
# Zero-width and direction marks would split names and character pairs.
_INVISIBLE_RE = re.compile("[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]")


def _words(*lines: str) -> tuple[str, ...]:
    """Space-separated words, so that long word lists stay readable."""
    return tuple(" ".join(lines).split())


# --- Places -----------------------------------------------------------------------------------------


class PlaceLevel(StrEnum):
    """How precise a place is: a district narrows a problem down far less than a 小区 does."""

    AREA = "area"  # province, city, district, county
    SITE = "site"  # estate, road, street, town, village, school, hospital …


# Place words end a place name. Longer words are tried first, so 小区 wins over 区.
_SITE_WORDS = _words(
    # housing
    "小区 社区 居民区 花园 家园 公寓 新城 新村 山庄 庄园 公馆 华庭 华府 名苑 雅苑 苑 府 湾 郡 城 楼盘"
    # roads and transport
    " 大道 大街 步行街 路 街 巷 高速 大桥 桥 隧道 立交 国道 省道 高架 地铁站 汽车站 火车站 高铁站 车站 站 号线 线"
    " 机场 码头"
    # administrative areas below a district
    " 街道 镇 乡 村 片区 园区 工业园 产业园 开发区 经开区 高新区 新区"
    # institutions and public places
    " 学校 小学 中学 大学 学院 幼儿园 医院 卫生院 公园 广场 市场 商场 大厦 酒店 中心 体育馆 图书馆 派出所"
)
# Districts are grouped by level: two messages in different districts of one level are at
# different places, while a city and a district in it are not.
_AREA_LEVELS = {"省": "province", "市": "city", "区": "district", "县": "district"}

# Characters after a place word that make it part of an ordinary word (路灯, 村民, 城管, 市场价 …).
_NOT_AFTER = {
    "路": "灯面段边况网费政由人过上基牌标障径程子途",
    "街": "头边面坊",
    "村": "民委里组级干庄口支务集镇",
    "镇": "长",
    "乡": "村镇下亲",
    "城": "市区管乡建际投中里镇",
    "站": "点台长",
    "线": "上下路索条",
    "桥": "梁",
    "市": "场民政区内里委级容值",
    "区": "域别分间块委政级内",
    "县": "城级委里",
    "省": "级内会钱事心略时力去份委直",
    "湾": "区",
    "府": "办东西南北路街大前后院",
    "中心": "城",
    "市场": "监价化主经",
    "小学": "生",
    "中学": "生",
    "大学": "生",
}

# A place name starts after any of these: verbs, function words and nouns that come before a place.
# Words that jieba's dictionary tags as verbs, adverbs, conjunctions, prepositions or pronouns
# are added to them (see :func:`_dictionary_words`).
_NAME_BREAKS = frozenset(
    _words(
        "反映 投诉 举报 咨询 建议 关于 位于 地处 靠近 居住在 住在 请问 希望 要求 业主 居民 市民 村民 本人 购买"
        " 入住 附近 旁边 周边 对面 门口 以及 还有 就是 所在 我们 你们 他们 这个 那个 一个 整个 各个 这里 那里"
        " 什么 如何 怎么 问题 领导 您好 你好 一下 影响 设置 地址 部门 单位 公司 政府 开发商 物业 业委会 商品房"
        " 安置房 房子 请 的 在 了 是 我 你 他 她 和 与 及 或 到 从 对 向 给 把 被 将 为 于 这 那 该 本 此 有 无"
        " 不 没 也 都 就 还 又 很 太 要 能 会 可 让 使 由 经 去 来 往 至 即 因 其 所 各 每 某 个 座 号 栋 过 而"
        " 但 并 且 却 则 若 如 等 多 辖区 东边 西边 南边 北边 东侧 西侧 南侧 北侧 目前 现在 今天 去年 今年 明年"
        " 最近 近期 以前 之前 以后 之后 当时 同时 平时 条 里面 外面 上面 下面 前面 后面 起"
    )
)
# Verbs: a break too, except that a road name cut to one character keeps them (see _ROAD_WORDS).
_VERB_BREAKS = frozenset(_words("住 买 卖 租 搬 拆 修 建 离 近 靠 旁 沿"))
_DICTIONARY_BREAK_TAGS = frozenset(_words("v vd vi d ad c p r u y e o f"))
_DICTIONARY_BREAK_MIN_FREQ = 50
# A facility named by one common word alone (实验学校, 国际广场, 老年大学, 人民医院) is a kind
# of place, not a place. Proper names (tagged ns, nr, nz, nt) are not common words.
_DICTIONARY_COMMON_TAGS = frozenset(_words("n vn a an b t m f s z j"))
_DICTIONARY_COMMON_MIN_FREQ = 200
_DICTIONARY_LINE_RE = re.compile(rf"^([{_CJK}]{{2,4}}) (\d+) ([a-z]+)$", re.MULTILINE)
_LONGEST_BREAK = 4
# A number with its unit ends whatever came before: 2018年8月起福满新城, 3栋2单元.
_NUMBER_BREAK_RE = re.compile(r"\d+[年月日号栋楼层室米元万个次期组]")
# Road names often contain a verb (解放路, 建设北路): a road name that a break would cut to one
# character keeps the break word.
_ROAD_WORDS = frozenset(_words("路 街 大道 大街 巷 线 号线"))
# Facilities whose name is often only a common word: 实验学校, 国际广场, 人民医院, 斑马线.
_FACILITY_WORDS = frozenset(
    _words("学校 小学 中学 大学 学院 幼儿园 医院 卫生院 公园 广场 市场 商场 大厦 酒店 中心 体育馆 图书馆 派出所 站 线")
)
# Roads and areas are shared by many unrelated problems; an estate, a village, a school or a
# hospital by few. A shared broad place is weaker evidence that two messages are one problem.
_BROAD_WORDS = _ROAD_WORDS | frozenset(
    _words("步行街 高速 大桥 桥 隧道 立交 国道 省道 高架 街道 镇 乡 片区 园区 工业园 产业园 开发区 经开区 高新区 新区")
)

# Whole words that end in a place word but name no particular place.
_GENERIC_PLACES = frozenset(
    _words(
        "城市道路 农村公路 乡村道路 住宅区 居民区 商业区 功能区 示范区 保护区 服务区 风景区 生活区 办公区"
        " 工业区 老城区 主城区 中心城区 新城区 城区 城市 都市 全市 本市 我市 该市 全区 本区 我区 该区 全县 本县"
        " 我县 该县 全省 本省 我省 农贸市场 菜市场 农村 乡村 新农村 城乡 县城 学校 小学 中学 大学 医院 公园"
        " 广场 市场 商场 车站 地铁站 公交站 中心 服务中心 政务中心 政务服务中心 小区 社区 新小区 老小区 新城"
        " 新区 高新区 开发区 园区 片区 工业园 卫生院 幼儿园 学院 高速 高速公路 国道 省道 大道 大街 步行街"
        " 搅拌站 垃圾站 中转站 垃圾中转站 加油站 充电站 变电站 收费站 污水处理站 高压线 生产线 地铁线"
        " 高架桥 综合医院 专科医院 眼科医院 中心医院 人民医院 私立医院 公立医院 民办学校 公办学校"
        " 斑马线 人行横道线 人行天桥 过街天桥 天桥 十字路 普惠型幼儿园 普惠幼儿园 配套幼儿园 配套小学 配套学校"
        " 文明城市 卫生城市 园林城市 中心城市 国家中心城市 市属中学 市属学校 水泥路 柏油路 沥青路 石子路 泥巴路"
    )
)
# Two-character endings that make an ordinary word of a name: 道路, 热线, 政府, 加油站 …
_GENERIC_ENDINGS = frozenset(
    _words(
        "道路 马路 公路 铁路 线路 出路 思路 电路 走路 修路 上路 土路 山路 水路 小路 大路 热线 专线 在线 一线"
        " 底线 电线 红线 管线 光线 航线 路线 界线 政府 拌站 圾站 油站 电站 转站 基站 泵站 网站 县城 省城 进城"
        " 全城 满城 京城 港湾 海湾 跑路 老乡 字路 灯路 天桥 直线 走线 布线 接线 视线 临街"
    )
)
# Suffixes dropped when two place names are compared: 丽发新城小区 and 丽发新城 are one place.
_COMPARE_SUFFIXES = ("居民区", "小区", "社区", "楼盘")
_AREA_CODE_TAIL_RE = re.compile(r"(?<![A-Z0-9])[A-Z]\d{0,2}$")
_CJK_ONLY_RE = re.compile(f"^[{_CJK}]+$")
# Shorter names must match exactly; longer ones may be contained in one another (魅力之城 in 万科魅力之城).
_MIN_CONTAINED_KEY = 3
_MAX_NAME_CHARS = 10

_PLACE_WORD_RE = re.compile(
    "|".join(
        f"{re.escape(word)}(?![{_NOT_AFTER[word]}])" if word in _NOT_AFTER else re.escape(word)
        for word in sorted((*_SITE_WORDS, *_AREA_LEVELS), key=len, reverse=True)
    )
)
_RUN_SPLIT_RE = re.compile(f"[^0-9A-Z{_CJK}]+")


@dataclass(frozen=True)
class _Place:
    """One place mention: as shown, the key it is compared by, its level, and its district if written."""

    shown: str
    key: str
    level: PlaceLevel
    area: str = ""
    broad: bool = False


@dataclass
class _Mention:
    start: int
    end: int
    word: str
    level: PlaceLevel
    area: _Mention | None = None


def _comparison_key(name: str) -> str:
    for suffix in _COMPARE_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


@dataclass(frozen=True)
class _DictionaryWords:
    breaks: frozenset[str]  # verbs, adverbs, conjunctions … : a name starts after them
    common: frozenset[str]  # common nouns and adjectives: not a name on their own


@functools.cache
def _dictionary_words() -> _DictionaryWords:
    """Words of two to four characters from jieba's dictionary, by what they say about a place name.

    Read once per process straight from the dictionary file: a regular
    expression over it takes a fraction of the time jieba.posseg needs to load.
    """
    path = Path(jieba.__file__).resolve().parent / "dict.txt"
    breaks: set[str] = set()
    common: set[str] = set()
    for word, freq, tag in _DICTIONARY_LINE_RE.findall(path.read_text(encoding="utf-8")):
        if tag in _DICTIONARY_BREAK_TAGS and int(freq) >= _DICTIONARY_BREAK_MIN_FREQ:
            breaks.add(word)
        elif tag in _DICTIONARY_COMMON_TAGS and int(freq) >= _DICTIONARY_COMMON_MIN_FREQ:
            common.add(word)
    return _DictionaryWords(breaks=frozenset(breaks), common=frozenset(common))


def _name_start(run: str, start: int, end: int, *, road: bool) -> int:
    """Where the place name in ``run[start:end]`` begins: after the last word that cannot be part of one."""
    start = max(start, end - _MAX_NAME_CHARS)
    for number in _NUMBER_BREAK_RE.finditer(run, start, end):
        start = number.end()
    while start < end and run[start].isdigit():
        start += 1
    dictionary = _dictionary_words().breaks
    # From the end backwards: the first break found is the last one, and names are short.
    for break_end in range(end, start, -1):
        verb_start = None
        for length in range(min(_LONGEST_BREAK, break_end - start), 0, -1):
            word = run[break_end - length : break_end]
            if word in _NAME_BREAKS:
                return break_end
            if verb_start is None and (word in _VERB_BREAKS or (length > 1 and word in dictionary)):
                verb_start = break_end - length
        if verb_start is not None:
            return verb_start if road and end - break_end < 2 else break_end
    return start


def _area_name_start(run: str, start: int, end: int) -> int | None:
    """Where a district name before ``end`` begins, or None when there is none.

    Districts are codes in anonymised data (A2区, written anywhere: 开发商A市) and two to
    four Chinese characters in real names (岳麓区).
    """
    code = _AREA_CODE_TAIL_RE.search(run, start, end)
    if code is not None:
        return code.start()
    name_start = _name_start(run, start, end, road=False)
    name = run[name_start:end]
    if 2 <= len(name) <= 4 and _CJK_ONLY_RE.match(name):
        return name_start
    return None


def _mentions(run: str) -> list[_Mention]:
    """Place mentions in one run of letters, digits and Chinese characters."""
    mentions: list[_Mention] = []
    name_from = 0  # names do not reach back over an accepted mention
    for word_match in _PLACE_WORD_RE.finditer(run):
        word = word_match.group()
        start, end = word_match.span()
        level = PlaceLevel.AREA if word in _AREA_LEVELS else PlaceLevel.SITE
        previous = mentions[-1] if mentions else None
        if level is PlaceLevel.AREA:
            area_start = _area_name_start(run, name_from, start)
            name_start = start if area_start is None else area_start
        else:
            name_start = _name_start(run, name_from, start, road=word in _ROAD_WORDS)
        name = run[name_start:start]
        if not name:
            # A place word right after a site belongs to it: 黄兴路 + 步行街, 丽发新城 + 小区, 城南路 + 街道.
            if previous is not None and previous.end == start and previous.level is level is PlaceLevel.SITE:
                previous.end = end
                previous.word = word
                name_from = end
            continue
        whole = name + word
        valid = (
            whole not in _GENERIC_PLACES
            and name[-1] + word[0] not in _GENERIC_ENDINGS
            and (
                level is PlaceLevel.AREA
                or (len(name) >= 2 and (word not in _FACILITY_WORDS or name not in _dictionary_words().common))
            )
        )
        if not valid:
            # Not consumed: the word may still be part of a longer name (城 in 城南路).
            continue
        area = previous if previous is not None and previous.level is PlaceLevel.AREA else None
        if area is not None and area.end != name_start:
            area = None
        mentions.append(_Mention(start=name_start, end=end, word=word, level=level, area=area))
        name_from = end
    return mentions


def _extract_places(text: str) -> list[_Place]:
    """Place mentions in normalised, upper-cased text, each once, in order of first mention.

    A place written several ways (吉龙湾小区, A市吉龙湾小区, A5区吉龙湾小区) is shown
    the most precise way: with a district rather than the city in front, and rather than nothing.
    """
    found: dict[tuple[str, PlaceLevel], _Place] = {}
    for run in _RUN_SPLIT_RE.split(text):
        if not run:
            continue
        mentions = _mentions(run)
        # Districts written in front of a site are part of that mention (A市A2区丽发新城小区).
        prefixes: set[int] = set()
        for mention in mentions:
            link = mention.area if mention.level is PlaceLevel.SITE else None
            while link is not None:
                prefixes.add(id(link))
                link = link.area
        for mention in mentions:
            bare = run[mention.start : mention.end]
            if mention.level is PlaceLevel.AREA:
                if id(mention) in prefixes:
                    continue
                place = _Place(bare, bare, PlaceLevel.AREA)
            else:
                if bare in _GENERIC_PLACES:
                    continue
                nearest, first = mention.area, mention.area
                while first is not None and first.area is not None:
                    first = first.area
                prefix = run[first.start : mention.start] if first is not None else ""
                area = run[nearest.start : nearest.end] if nearest is not None else ""
                place = _Place(
                    prefix + bare, _comparison_key(bare), PlaceLevel.SITE, area, mention.word in _BROAD_WORDS
                )
            known = found.setdefault((place.key, place.level), place)
            if _precision(place) > _precision(known):
                found[(place.key, place.level)] = place
    return list(found.values())


def _precision(place: _Place) -> tuple[bool, bool, int]:
    return (_AREA_LEVELS.get(place.area[-1:]) == "district", bool(place.area), len(place.shown))


def _clean(text: str) -> str:
    """NFKC (full-width letters and digits become ASCII), Traditional → Simplified, Latin in upper case.

    Not the catalogue's ``normalise``: that one also screens every character
    for private-use code points and caches what it returns, which suits short
    queries but took a third of the time over thousands of long messages.
    """
    text = _INVISIBLE_RE.sub("", unicodedata.normalize("NFKC", text))
    return core_text.to_simplified(text).upper()


def places(title: str, text: str = "") -> list[str]:
    """The places a message names, in order of first mention, each once.

    Sites (小区, roads, 街道, towns, villages, schools, hospitals …) carry the
    district written in front of them ("A2区丽发新城小区"); a district named
    on its own ("A7县") is returned as it is.
    """
    return [place.shown for place in _extract_places(_clean(f"{title}。{text}"))]


def _site_keys_match(a: str, b: str) -> bool:
    if a == b:
        return True
    shorter, longer = (a, b) if len(a) <= len(b) else (b, a)
    return len(shorter) >= _MIN_CONTAINED_KEY and shorter in longer


# --- Messages and their comparison -------------------------------------------------------------------


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
class DuplicateMatch:
    """An open message that a new one probably repeats, with the score and the reason."""

    key: str
    score: float
    similarity: float
    relation: PlaceRelation
    shared_places: tuple[str, ...]
    reason: str


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


@dataclass(frozen=True)
class _Profile:
    """What comparison needs of one message, computed once."""

    message: Message
    features: dict[str, float]
    places: tuple[_Place, ...]
    site_keys: frozenset[str]
    areas: dict[str, frozenset[str]] = field(default_factory=dict)


def _profile(message: Message) -> _Profile:
    title = _clean(message.title)
    text = _clean(message.text[:BODY_CHARS])
    given = _clean(message.place).strip()
    found = _extract_places(f"{given}。{title}。{text}")
    if given and not any(p.level is PlaceLevel.SITE for p in found):
        found.insert(0, _Place(given, _comparison_key(given), PlaceLevel.SITE))

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
            areas.setdefault(_AREA_LEVELS[area[-1]], set()).add(area)
    return _Profile(
        message=message,
        features=dict(features),
        places=tuple(found),
        site_keys=frozenset(p.key for p in found if p.level is PlaceLevel.SITE),
        areas={level: frozenset(names) for level, names in areas.items()},
    )


@dataclass(frozen=True)
class _Comparison:
    relation: PlaceRelation
    shared: tuple[str, ...] = ()  # as the first message shows them
    precise: bool = False  # an estate, village, school … in common, not only a road or an area


def _compare_places(a: _Profile, b: _Profile) -> _Comparison:
    """How the places of two messages relate."""
    shared = [
        place
        for place in a.places
        if place.level is PlaceLevel.SITE and any(_site_keys_match(place.key, key) for key in b.site_keys)
    ]
    if shared:
        return _Comparison(PlaceRelation.SAME, tuple(p.shown for p in shared), precise=any(not p.broad for p in shared))
    if a.site_keys and b.site_keys:
        return _Comparison(PlaceRelation.DIFFERENT)
    for level, names in a.areas.items():
        others = b.areas.get(level)
        if others and not names & others:
            return _Comparison(PlaceRelation.DIFFERENT)
    return _Comparison(PlaceRelation.UNKNOWN)


# --- Vectors ----------------------------------------------------------------------------------------


class _Collection:
    """Messages with their TF-IDF vectors; rows are appended, and removed ones only masked.

    Vectors are hashed (no vocabulary to grow or rebuild) and weighted by
    document frequencies over the live messages (scikit-learn's smoothed
    IDF, sublinear term frequency, unit length), recomputed when the
    collection has changed enough (see IDF_REFRESH_SHARE).
    """

    def __init__(self) -> None:
        self.profiles: list[_Profile] = []
        self.alive: list[bool] = []
        self.live_count = 0
        self._hasher = FeatureHasher(n_features=HASHED_FEATURES, input_type="dict", alternate_sign=False)
        self._counts: sparse.csr_matrix | None = None
        self._vectors: sparse.csr_matrix | None = None
        self._idf: np.ndarray | None = None
        self._weighted_size = 0

    def add(self, profiles: Sequence[_Profile]) -> range:
        """Append messages; return their row numbers."""
        first = len(self.profiles)
        if not profiles:
            return range(first, first)
        counts = self._count(profiles)
        self.profiles.extend(profiles)
        self.alive.extend([True] * len(profiles))
        self.live_count += len(profiles)
        self._counts = counts if self._counts is None else sparse.vstack([self._counts, counts], format="csr")
        if self._vectors is not None and not self._weights_stale():
            self._vectors = sparse.vstack([self._vectors, self._weigh(counts)], format="csr")
        else:
            self._vectors = None  # reweighted on next use
        return range(first, len(self.profiles))

    def remove(self, row: int) -> None:
        if self.alive[row]:
            self.alive[row] = False
            self.live_count -= 1

    def vectors(self) -> sparse.csr_matrix:
        """TF-IDF rows of every message added (removed ones too: callers mask them)."""
        if self._counts is None:
            return sparse.csr_matrix((0, HASHED_FEATURES))
        if self._vectors is None or self._weights_stale():
            live = np.flatnonzero(self.alive)
            fitted = TfidfTransformer(sublinear_tf=True).fit(self._counts[live] if len(live) else self._counts)
            self._idf = fitted.idf_
            self._weighted_size = len(live)
            self._vectors = self._weigh(self._counts)
        return self._vectors

    def similarities(self, profile: _Profile) -> np.ndarray:
        """Cosine similarity of a message (in the collection or not) to every row."""
        vectors = self.vectors()
        query = self._weigh(self._count([profile]))
        # A dense query multiplies fastest: one pass over the stored rows, no transposes.
        dense = np.zeros(HASHED_FEATURES)
        dense[query.indices] = query.data
        return np.asarray(vectors @ dense).ravel()

    def _count(self, profiles: Sequence[_Profile]) -> sparse.csr_matrix:
        return self._hasher.transform(p.features for p in profiles).tocsr()

    def _weigh(self, counts: sparse.csr_matrix) -> sparse.csr_matrix:
        """Sublinear term frequency times IDF, each row scaled to unit length."""
        if self._idf is None:
            self.vectors()
        assert self._idf is not None
        weighted = counts.astype(np.float64)
        weighted.data = (1.0 + np.log(weighted.data)) * self._idf[weighted.indices]
        rows = np.repeat(np.arange(weighted.shape[0]), np.diff(weighted.indptr))
        norms = np.sqrt(np.bincount(rows, weights=weighted.data**2, minlength=weighted.shape[0]))
        weighted.data /= np.where(norms > 0, norms, 1.0)[rows]
        return weighted

    def _weights_stale(self) -> bool:
        live = self.live_count
        if live == self._weighted_size:
            return False
        if live < IDF_ALWAYS_REFRESH_BELOW:
            return True
        return abs(live - self._weighted_size) > IDF_REFRESH_SHARE * max(self._weighted_size, 1)


# --- Duplicates -------------------------------------------------------------------------------------


def _is_duplicate(similarity: float, places: _Comparison) -> bool:
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
        self._collection = _Collection()
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
        rows = self._collection.add([_profile(m) for m in latest.values()])
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
        profile = _profile(message)
        similarities = self._collection.similarities(profile)
        lowest = min(DUPLICATE_SIMILARITY_SAME_SITE, DUPLICATE_SIMILARITY_SAME_AREA, DUPLICATE_SIMILARITY_PLACE_UNKNOWN)
        matches: list[DuplicateMatch] = []
        for row in np.flatnonzero(similarities >= lowest):
            candidate = self._collection.profiles[row]
            if not self._collection.alive[row] or candidate.message.key == message.key:
                continue
            similarity = float(similarities[row])
            places = _compare_places(profile, candidate)
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
        self._collection = _Collection()
        rows = self._collection.add(live)
        self._rows = {profile.message.key: row for profile, row in zip(live, rows, strict=True)}


# --- Hot issues -------------------------------------------------------------------------------------


def _linked(similarity: float, places: _Comparison) -> bool:
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
        self._collection = _Collection()
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
        rows = self._collection.add([_profile(m) for m in fresh.values()])
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
                places = _compare_places(self._collection.profiles[row], self._collection.profiles[column])
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
    return any(_site_keys_match(x, y) for x in a for y in b)


def _weight(message: Message, *, now: datetime, half_life_days: float) -> float:
    """What one message adds to its issue's score: halved every half-life, lifted a little by likes."""
    age_days = max((now - message.created_at).total_seconds(), 0.0) / 86400
    return float(0.5 ** (age_days / half_life_days) * (1 + LIKES_WEIGHT * math.log1p(max(message.likes, 0))))


def _common_places(profiles: Sequence[_Profile], limit: int = 3) -> tuple[str, ...]:
    """The sites most members name (at least two of them, or the only member), districts if no site."""
    counts: Counter[tuple[str, PlaceLevel]] = Counter()
    shown: dict[tuple[str, PlaceLevel], _Place] = {}
    for profile in profiles:
        for place in profile.places:
            identity = (place.key, place.level)
            counts[identity] += 1
            if identity not in shown or _precision(place) > _precision(shown[identity]):
                shown[identity] = place
    needed = 1 if len(profiles) == 1 else 2
    ranked = sorted(counts.items(), key=lambda item: (item[0][1] is not PlaceLevel.SITE, -item[1], item[0][0]))
    chosen: list[_Place] = []
    for identity, count in ranked:
        if count < needed or len(chosen) >= limit:
            break
        place = shown[identity]
        # One place written two ways (伊景园滨河苑, 滨河苑) is shown once.
        if not any(other.level is place.level and _site_keys_match(other.key, place.key) for other in chosen):
            chosen.append(place)
    return tuple(place.shown for place in chosen)


def _common_words(profiles: Sequence[_Profile], limit: int = LABEL_KEYWORDS) -> tuple[str, ...]:
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
                if len(word) >= 2 and _CJK_ONLY_RE.match(word) and not any(word in name for name in place_names)
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
