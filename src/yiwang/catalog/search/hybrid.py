"""Fusing the lexical and the dense ranking, and re-ranking with signals nobody has to annotate.

The lexical index (``index``) is precise when the query shares the catalogue's
words; the dense side (``vectors``) understands paraphrase (养狗 ≈ 犬类准养) but
confuses the variants of one service (新办, 补办, 注销…). Scores are blended in
cosine units -- ``relevance = cosine + LEXICAL_SHARE × lexical/best lexical`` --
then moved by:

- the operation the query asks for against the one an item's name states
  (丢了 → 补办, 不干了 → 注销, 到期 → 延续; a query that names none prefers
  the item that starts a service over its variants), a fixed lexicon of how
  people and item names say these six operations, not per-item keywords;
- aggregated choices: what people who typed the same normalised query
  chose, counted without identity and only from a minimum count;
- popularity, slightly.

The measurements behind each constant are in docs/adr/0012-search-retrieval.md.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

from yiwang.core import text

from .index import STOP_WORDS, Document

# Lexical evidence in cosine units: the best lexical match gains this much over a document that only
# the dense side found.
LEXICAL_SHARE = 0.01
# The dense side's query vector: the query as typed blended with its rewritten form (filler words dropped,
# catalogue words of the synonyms and the typo corrector added), this share for the rewritten one.
# Sichuan dev MRR@10 0.845-0.852 for shares 0.1-0.4 (0.837 typed alone), demo 0.973 at 0.2 (0.967); the
# test split, run once after the choice, 0.816 against 0.822 (ADR 0012). 0 embeds the typed query alone,
# the setting kept: the blend costs a second query embedding (6-12 ms), which the 30 ms p95 of a search at
# 10,000 items cannot afford (24.6-28.1 ms with one), and the held-out split did not confirm its gain.
REWRITTEN_SHARE = 0.0
# The dense side's hub penalty (vectors.DenseIndex): a document's cosine loses HUB_WEIGHT times how much
# more alike its HUB_NEIGHBOURS nearest documents are than the catalogue's average (ADR 0012, 2026-12-07
# fifth amendment: tuned on hash half a of the Sichuan queries, checked on half b).
HUB_NEIGHBOURS = 20
HUB_WEIGHT = 0.1
# How many candidates each side contributes before fusion.
DENSE_DEPTH = 60
LEXICAL_DEPTH = 60
# Operation match / mismatch, and a variant when the query names no operation (cosine units).
# A bonus for a match measured no better than none (dev MRR 0.755 against 0.761): only mismatches move.
OPERATION_MATCH = 0.0
OPERATION_MISMATCH = -0.02
UNASKED_VARIANT = -0.01
# The query is a document's exact name or one of its keywords: what the person means, whatever the
# vectors say (keywords are words the catalogue's editors wrote for that item).
EXACT_MATCH = 0.05
# Choices: at most this much for the result chosen most often after the same query.
CHOICE_WEIGHT = 0.04
POPULARITY_WEIGHT = 0.005
# Below this relevance the best hit is not a good answer: calibrated on the dev split of
# bench/search_real_queries.tsv (queries inside and outside the catalogue).
NO_GOOD_MATCH_BELOW = 0.895
# Results much weaker than the best one are noise rather than alternatives.
RELATIVE_FLOOR = 0.05

# (operation, how item names say it, how people say it)
_OPERATIONS: list[tuple[str, str, str]] = [
    (
        "replace",
        r"补办|补领|补发|补证|遗失|挂失|补换",
        r"丢|掉了|遗失|找不到|补办|补领|补发|补一|补个|补证|挂失|损坏|坏了",
    ),
    ("renew", r"延续|延期|换发|换证|期满|换领|到期", r"到期|过期|续|期满|换新|年审|延期|延长"),
    ("change", r"变更|更正|改变|迁移|转移|转入|转出|过户", r"改|变更|换法人|迁|转到|转回|过户|更正"),
    ("cancel", r"注销|终止|撤销", r"注销|不干了|不开了|不做了|关门|倒闭|撤销|不办了"),
    ("suspend", r"停业|歇业|报停|恢复|复业|暂停", r"停业|歇业|暂停|暂时不|恢复|复业|报停"),
    (
        "new",
        r"新办|设立|核发|申领|首次|初领|新增|成立|筹设|新建",
        r"第一次|首次|新办|想开|开个|开一|新开|成立|设立|想办|办个",
    ),
    ("lookup", r"查询|咨询|指引|核验", r"查|咨询|问问|了解"),
]
_CONTENT_RE = re.compile(r"[0-9a-z\u3400-\u9fff]")
_NAME_RES = [(op, re.compile(names)) for op, names, _ in _OPERATIONS]
_QUERY_RES = [(op, re.compile(says)) for op, _, says in _OPERATIONS]
_VARIANT_OPERATIONS = {"replace", "renew", "change", "cancel", "suspend", "lookup"}


@functools.lru_cache(maxsize=65_536)
def item_operation(name: str) -> str:
    """The operation an item's name states, the one in its last bracket first (… （补办）); cached, since
    every search asks it of each candidate."""
    tail = name.rsplit("（", 1)[-1] if "（" in name else ""
    for part in (tail, name):
        for op, pattern in _NAME_RES:
            if part and pattern.search(part):
                return op
    return ""


def query_operations(chinese: str) -> set[str]:
    return {op for op, pattern in _QUERY_RES if pattern.search(chinese)}


def operation_adjustment(asked: set[str], doc: Document) -> float:
    stated = item_operation(doc.name) if doc.type == "item" else ""
    if not stated:
        return 0.0
    if asked:
        return OPERATION_MATCH if stated in asked else OPERATION_MISMATCH
    return UNASKED_VARIANT if stated in _VARIANT_OPERATIONS else 0.0


def query_key(query: str) -> str:
    """The form under which choices after a query are counted: normalised, filler words dropped.

    养狗要办什么证 and 养狗 办什么证？ count together; the key is bounded in length and holds nothing
    about who asked.
    """
    norm = text.normalise(query)
    words = [w for w in text.plain_words(norm) if _CONTENT_RE.search(w) and w not in STOP_WORDS]
    key = "".join(words) or norm.replace(" ", "")
    return key[:100]


@dataclass
class Candidate:
    doc: Document
    cosine: float
    lexical: float
    relevance: float = 0.0
    exact: bool = False


def fuse(
    candidates: list[Candidate],
    *,
    chinese: str,
    choices: dict[tuple[str, str], int],
) -> list[Candidate]:
    """Give each candidate its relevance and return them best first."""
    best_lexical = max((c.lexical for c in candidates), default=0.0)
    asked = query_operations(chinese)
    most_chosen = max(choices.values(), default=0)
    for c in candidates:
        relevance = c.cosine
        if best_lexical > 0:
            relevance += LEXICAL_SHARE * c.lexical / best_lexical
        relevance += operation_adjustment(asked, c.doc)
        if c.exact:
            relevance += EXACT_MATCH
        chosen = choices.get(c.doc.key, 0)
        if chosen:
            relevance += CHOICE_WEIGHT * math.log1p(chosen) / math.log1p(most_chosen)
        relevance += POPULARITY_WEIGHT * min(c.doc.popularity, 100) / 100
        c.relevance = relevance
    candidates.sort(key=lambda c: (-c.relevance, -c.doc.popularity, c.doc.code))
    if candidates:
        floor = candidates[0].relevance - RELATIVE_FLOOR
        candidates = [c for c in candidates if c.relevance >= floor or c.lexical > 0]
    return without_twins(candidates)


def without_twins(candidates: list[Candidate]) -> list[Candidate]:
    """The ranking with each service listed once per department: two items of one department under one
    name (a list that repeats a row, as the imported 广安区 list does twice) are the same result to the
    person searching, and the second copy would only push a different item down. The better-ranked copy
    stays; the same name at another department or level is another implementation and stays too."""
    seen: set[tuple[str, str, str]] = set()
    kept = []
    for c in candidates:
        twin = (c.doc.type, c.doc.name, c.doc.department_code)
        if twin not in seen:
            seen.add(twin)
            kept.append(c)
    return kept
