"""Places named in a message (小区, 路, 街道, 村, 学校 …), found by rules and jieba's dictionary.

See :mod:`yiwang.hotline.similarity` for why rules and not part-of-speech tags.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import jieba

from yiwang.core import text as core_text

_CJK = "\u3400-\u9fff"

# Zero-width and direction marks would split names and character pairs.
_INVISIBLE_RE = re.compile("[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]")


def _words(*lines: str) -> tuple[str, ...]:
    """Space-separated words, so that long word lists stay readable."""
    return tuple(" ".join(lines).split())


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
AREA_LEVELS = {"省": "province", "市": "city", "区": "district", "县": "district"}

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

CJK_ONLY_RE = re.compile(f"^[{_CJK}]+$")

# Shorter names must match exactly; longer ones may be contained in one another (魅力之城 in 万科魅力之城).
_MIN_CONTAINED_KEY = 3

_MAX_NAME_CHARS = 10

_PLACE_WORD_RE = re.compile(
    "|".join(
        f"{re.escape(word)}(?![{_NOT_AFTER[word]}])" if word in _NOT_AFTER else re.escape(word)
        for word in sorted((*_SITE_WORDS, *AREA_LEVELS), key=len, reverse=True)
    )
)

_RUN_SPLIT_RE = re.compile(f"[^0-9A-Z{_CJK}]+")


@dataclass(frozen=True)
class Place:
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


def comparison_key(name: str) -> str:
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
    if 2 <= len(name) <= 4 and CJK_ONLY_RE.match(name):
        return name_start
    return None


def _mentions(run: str) -> list[_Mention]:
    """Place mentions in one run of letters, digits and Chinese characters."""
    mentions: list[_Mention] = []
    name_from = 0  # names do not reach back over an accepted mention
    for word_match in _PLACE_WORD_RE.finditer(run):
        word = word_match.group()
        start, end = word_match.span()
        level = PlaceLevel.AREA if word in AREA_LEVELS else PlaceLevel.SITE
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


def extract_places(text: str) -> list[Place]:
    """Place mentions in normalised, upper-cased text, each once, in order of first mention.

    A place written several ways (吉龙湾小区, A市吉龙湾小区, A5区吉龙湾小区) is shown
    the most precise way: with a district rather than the city in front, and rather than nothing.
    """
    found: dict[tuple[str, PlaceLevel], Place] = {}
    for run in _RUN_SPLIT_RE.split(text):
        if not run:
            continue
        mentions = _mentions(run)
        prefixes = _area_prefixes(mentions)
        for mention in mentions:
            place = _place(run, mention, prefixes)
            if place is None:
                continue
            known = found.setdefault((place.key, place.level), place)
            if place_precision(place) > place_precision(known):
                found[(place.key, place.level)] = place
    return list(found.values())


def _area_prefixes(mentions: list[_Mention]) -> set[int]:
    """The district mentions (by ``id``) written in front of a site: part of that mention (A市A2区丽发新城小区)."""
    prefixes: set[int] = set()
    for mention in mentions:
        link = mention.area if mention.level is PlaceLevel.SITE else None
        while link is not None:
            prefixes.add(id(link))
            link = link.area
    return prefixes


def _place(run: str, mention: _Mention, prefixes: set[int]) -> Place | None:
    """The place a mention names, with the districts in front of a site; None when it names none of its own."""
    bare = run[mention.start : mention.end]
    if mention.level is PlaceLevel.AREA:
        if id(mention) in prefixes:
            return None
        return Place(bare, bare, PlaceLevel.AREA)
    if bare in _GENERIC_PLACES:
        return None
    nearest, first = mention.area, mention.area
    while first is not None and first.area is not None:
        first = first.area
    prefix = run[first.start : mention.start] if first is not None else ""
    area = run[nearest.start : nearest.end] if nearest is not None else ""
    return Place(prefix + bare, comparison_key(bare), PlaceLevel.SITE, area, mention.word in _BROAD_WORDS)


def place_precision(place: Place) -> tuple[bool, bool, int]:
    return (AREA_LEVELS.get(place.area[-1:]) == "district", bool(place.area), len(place.shown))


def clean(text: str) -> str:
    """NFKC (full-width letters and digits become ASCII), Traditional → Simplified, Latin in upper case.

    Not the catalogue's ``normalise``: that one also screens every character
    for private-use code points and caches what it returns, which suits short
    queries but took a third of the time over thousands of long messages.
    """
    text = _INVISIBLE_RE.sub("", unicodedata.normalize("NFKC", text))
    return core_text.to_simplified(text).upper()


def site_keys_match(a: str, b: str) -> bool:
    if a == b:
        return True
    shorter, longer = (a, b) if len(a) <= len(b) else (b, a)
    return len(shorter) >= _MIN_CONTAINED_KEY and shorter in longer


class PlaceLevel(StrEnum):
    """How precise a place is: a district narrows a problem down far less than a 小区 does."""

    AREA = "area"  # province, city, district, county
    SITE = "site"  # estate, road, street, town, village, school, hospital …


def places(title: str, text: str = "") -> list[str]:
    """The places a message names, in order of first mention, each once.

    Sites (小区, roads, 街道, towns, villages, schools, hospitals …) carry the
    district written in front of them ("A2区丽发新城小区"); a district named
    on its own ("A7县") is returned as it is.
    """
    return [place.shown for place in extract_places(clean(f"{title}。{text}"))]
