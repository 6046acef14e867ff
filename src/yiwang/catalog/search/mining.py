"""Mining colloquial phrasings offline: which words people use for the catalogue's words.

Run by ``yiwang mine-search-phrases`` (``manage.py mine_search_phrases``) over real
text -- item lists and 12345 messages with their official replies -- and
written to ``data/mined_synonyms.tsv``, which the index reads; the product
ships only that file, never the text it came from.

A pair (people's word → catalogue word) is kept when both hold:

- **the texts pair them**: the word occurs in citizens' messages and the
  catalogue word in the same message or in the official reply to it more
  often than chance (normalised PMI over documents, a minimum count);
- **the model agrees they mean the same**: their e5 vectors are close.

Neither test alone is enough: co-occurrence pairs a street name with 道路,
the model alone pairs 蜜蜂 with 蜂蜜.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from yiwang.core import embeddings, text

from .index import STOP_WORDS
from .vectors import clean_name

_WORD_RE = re.compile(r"^[\u4e00-\u9fff]{2,6}$")
# Place and body names of the anonymised data (A市, A3区…) and plain office words carry no service.
_NOISE = frozenset(
    [
        "您好",
        "感谢",
        "反映",
        "部门",
        "问题",
        "情况",
        "工作",
        "相关",
        "进行",
        "我们",
        "你们",
        "有关",
        "领导",
        "政府",
        "群众",
        "网友",
        "答复",
        "处理",
        "市民",
        "请问",
    ]
)


@dataclass(frozen=True)
class MinedPair:
    phrase: str
    target: str
    npmi: float
    cosine: float
    together: int


def words(value: str) -> set[str]:
    """The content words of a text (two to six Chinese characters, no filler)."""
    return {
        w
        for w in text.plain_words(text.normalise(value))
        if _WORD_RE.match(w) and w not in STOP_WORDS and w not in _NOISE
    }


def catalogue_words(names: Iterable[str]) -> Counter[str]:
    vocabulary: Counter[str] = Counter()
    for name in names:
        vocabulary.update(words(clean_name(name)))
    return vocabulary


def _together(doc_words: list[set[str]], phrases: set[str], targets: set[str]) -> Counter[tuple[str, str]]:
    """In how many documents each (phrase, target) pair occurs together."""
    together: Counter[tuple[str, str]] = Counter()
    for ws in doc_words:
        present_targets = ws & targets
        for p in ws & phrases if present_targets else ():
            for t in present_targets:
                together[(p, t)] += 1
    return together


def mine(
    names: Sequence[str],
    documents: Sequence[str],
    *,
    min_count: int = 5,
    min_together: int = 3,
    min_npmi: float = 0.25,
    min_cosine: float = 0.90,
    max_phrases: int = 4000,
    per_phrase: int = 2,
) -> list[MinedPair]:
    """Pairs (people's word, catalogue word) from ``documents`` (a message with its reply is one document)."""
    targets = catalogue_words(names)
    doc_words = [words(d) for d in documents]
    frequency: Counter[str] = Counter()
    for ws in doc_words:
        frequency.update(ws)
    phrases = {w for w, n in frequency.most_common() if n >= min_count and w not in targets}
    phrases = set(sorted(phrases, key=lambda w: (-frequency[w], w))[:max_phrases])
    target_set = {t for t in targets if frequency[t] >= min_together}
    together = _together(doc_words, phrases, target_set)
    total = len(documents)
    scored: dict[str, list[tuple[str, float, int]]] = {}
    for (p, t), n in together.items():
        if n < min_together:
            continue
        joint = n / total
        npmi = math.log(joint / (frequency[p] / total * frequency[t] / total)) / -math.log(joint)
        if npmi >= min_npmi:
            scored.setdefault(p, []).append((t, npmi, n))
    if not scored:
        return []
    candidate_phrases = sorted(scored)
    candidate_targets = sorted({t for pairs in scored.values() for t, _, _ in pairs})
    phrase_vectors = dict(zip(candidate_phrases, embeddings.embed_queries(candidate_phrases), strict=True))
    target_vectors = dict(zip(candidate_targets, embeddings.embed_queries(candidate_targets), strict=True))
    mined = []
    for p in candidate_phrases:
        kept = []
        for t, npmi, n in scored[p]:
            cosine = float(np.dot(phrase_vectors[p], target_vectors[t]))
            if cosine >= min_cosine:
                kept.append(MinedPair(p, t, round(npmi, 3), round(cosine, 3), n))
        kept.sort(key=lambda m: -(m.cosine + 0.1 * m.npmi))
        mined.extend(kept[:per_phrase])
    return mined


def render(pairs: Sequence[MinedPair], header: str) -> str:
    """The synonyms file: ``phrase<TAB>target target`` lines, as ``engine.load_synonyms`` reads."""
    by_phrase: dict[str, list[str]] = {}
    for pair in pairs:
        by_phrase.setdefault(pair.phrase, []).append(pair.target)
    lines = [f"# {line}" for line in header.splitlines()]
    lines += [f"{phrase}\t{' '.join(targets)}" for phrase, targets in sorted(by_phrase.items())]
    return "\n".join(lines) + "\n"
