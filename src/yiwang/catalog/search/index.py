"""An in-memory inverted index over items and bundles, with a field-weighted ranking.

Why our own index rather than a search server: the catalogue is small (a
province has tens of thousands of implementations), search must work on the
embedded SQLite default with nothing else installed, and the ranking needs
Chinese-specific query rewriting (synonyms, pinyin, wrong characters) that a
generic engine leaves to the caller anyway. See docs/adr/0002-search.md.

Ranking, in short: each query term adds ``idf × field weight × term weight``
for the best field it appears in; character pairs add a smaller share, so a
wrong character or an unusual segmentation still finds the item; the total is
scaled by how much of the query the document covers, and lifted for exact
name matches and for frequently used services.
"""

from __future__ import annotations

import math
import re
import sys
from array import array
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from yiwang.core import text

# The catalogue's own word lists: stop words and synonyms.
DATA_DIR = Path(__file__).resolve().parent / "data"

_CHINESE_RUN_RE = re.compile(r"[\u3400-\u9fff]+")

# How much a match in each field counts.
FIELD_WEIGHTS = {
    "name": 10.0,
    "keyword": 8.0,
    "base_name": 6.0,
    "result": 4.0,
    "member": 3.0,
    "theme": 2.0,
    "department": 1.5,
    "body": 1.0,
}
# Postings store a field weight as its position here.
_WEIGHT_VALUES = np.array(sorted(set(FIELD_WEIGHTS.values())), dtype=np.float64)
_WEIGHT_CODES = {float(w): n for n, w in enumerate(_WEIGHT_VALUES.tolist())}
# Character-pair matches count this share of a word match.
BIGRAM_SHARE = 0.35
# Phrase-level rerank: how much each field's best-covered phrase counts, and how many
# leading candidates are reranked.
PHRASE_FIELDS = {"name": 1.0, "keyword": 0.9, "base_name": 0.9, "member": 0.6}
RERANK_DEPTH = 80
# A result must score at least this share of the best one.
RELATIVE_FLOOR = 0.06
PHRASE_BASE = 0.6
PHRASE_GAIN = 1.2
# Frequently used services win ties: most people who type 医保 mean the common item.
POPULARITY_WEIGHT = 0.3
MAX_INITIALS = 8
# Weight of a catalogue word that a mined phrasing in the query stands for (written synonyms: 0.9).
MINED_WEIGHT = 0.4
# Fields whose words also become vocabulary for pinyin, initials and typo lookup.
VOCABULARY_FIELDS = ("name", "keyword", "base_name", "result", "member")

STOP_WORDS = frozenset(text.load_words(DATA_DIR / "stop_words.txt"))
# Analysed queries kept per index (cleared by any change to it): rewrite() and search() read the same one.
_ANALYSIS_CACHE = 2048


class _PostingList:
    """The documents holding one term and the field weight of each, as two packed arrays (8 bytes a
    posting rather than a dict entry and its objects): ids only grow, so the ids stay in ascending order,
    which is also the order in which documents were added. A weight is always one of FIELD_WEIGHTS, so
    a byte holds which one (5 bytes a posting; float64 weights made it 12)."""

    __slots__ = ("ids", "weights")

    def __init__(self) -> None:
        self.ids = array("i")
        self.weights = array("B")

    def __len__(self) -> int:
        return len(self.ids)

    def __bool__(self) -> bool:
        return bool(self.ids)

    def add(self, doc_id: int, weight: float) -> None:
        self.ids.append(doc_id)
        self.weights.append(_WEIGHT_CODES[weight])

    def remove(self, doc_id: int) -> None:
        at = bisect_left(self.ids, doc_id)
        if at < len(self.ids) and self.ids[at] == doc_id:
            del self.ids[at]
            del self.weights[at]

    def arrays(self) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
        # Copies: a view would pin the arrays' buffers, and a change applied meanwhile could not resize them.
        return np.array(self.ids, dtype=np.intp), _WEIGHT_VALUES[np.frombuffer(self.weights, dtype=np.uint8)]


@dataclass(slots=True)
class Document:
    """One searchable thing: an item or a bundle, with what filters and results need (slots: an index
    holds one per item, and a dict of attributes would double what each costs)."""

    type: str
    code: str
    name: str
    department_code: str
    department_name: str
    department_path: tuple[str, ...] = ()
    level: str = ""
    kind: str = ""
    audience: str = ""
    themes: frozenset[str] = frozenset()
    popularity: int = 0
    fields: dict[str, list[str]] = field(default_factory=dict)
    # For the dense side (``vectors.passage``): the kind's Chinese name and what guide text exists.
    kind_label: str = ""
    guide_text: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.type, self.code)


@dataclass
class Filters:
    department: str | None = None
    level: str | None = None
    kind: str | None = None
    audience: str | None = None
    theme: str | None = None
    type: str | None = None

    @property
    def active(self) -> bool:
        return any((self.type, self.department, self.level, self.kind, self.audience, self.theme))

    def accepts(self, doc: Document) -> bool:
        if self.type and doc.type != self.type:
            return False
        if self.department and self.department not in doc.department_path:
            return False
        if self.level and doc.level != self.level:
            return False
        if self.kind and doc.kind != self.kind:
            return False
        if self.audience and doc.audience not in (self.audience, "both"):
            return False
        return not (self.theme and self.theme not in doc.themes)


@dataclass
class Hit:
    """A ranked document. ``score`` orders hits within one search; ``relevance`` (cosine units, about
    0.75-0.95) says how well the best reading of the query matches and is what the no-good-match
    threshold is calibrated on."""

    doc: Document
    score: float
    relevance: float = 0.0


@dataclass
class _QueryTerm:
    term: str
    weight: float


class SearchIndex:
    def __init__(self, synonyms: dict[str, list[str]] | None = None, mined: dict[str, list[str]] | None = None) -> None:
        self.docs: dict[int, Document] = {}
        self.ids: dict[tuple[str, str], int] = {}
        self._next_id = 0
        self.terms: dict[str, _PostingList] = defaultdict(_PostingList)
        self.grams: dict[str, _PostingList] = defaultdict(_PostingList)
        # One object for equal phrases (an item's name recurs in every county that implements it).
        self._phrases: dict[tuple[frozenset[str], float], tuple[frozenset[str], float]] = {}
        # Each document's words, and its character pairs run together in one string (pairs are two
        # characters each; a string costs half the tuple of them).
        self.doc_terms: dict[int, tuple[tuple[str, ...], str]] = {}
        self.doc_phrases: dict[int, list[tuple[frozenset[str], float]]] = {}
        # Normalised name or keyword -> the documents under it (tuples: most hold a few ids).
        self.exact: dict[str, tuple[int, ...]] = {}
        # Vocabulary: word -> number of documents using it in a name-like field.
        self.vocabulary: dict[str, int] = defaultdict(int)
        # Spelling -> the words spelled so: tuples, as most hold one word (a set costs four times as much,
        # and 10,000 items have some 60,000 of these).
        self.by_pinyin: dict[str, tuple[str, ...]] = {}
        self.by_initials: dict[str, tuple[str, ...]] = {}
        self.by_pattern: dict[str, tuple[str, ...]] = {}
        # Each document's names, normalised once (the leaders' boost reads them for every query).
        self.doc_names: dict[int, tuple[str, ...]] = {}
        # The normalised names and keywords under which ``exact`` lists each document.
        self.doc_exact: dict[int, tuple[str, ...]] = {}
        self.synonyms = synonyms or {}
        # Mined phrasings (data/mined_synonyms.tsv) are weaker evidence than written ones: they add
        # lexical terms at MINED_WEIGHT and never steer the dense side.
        self.mined = {k: v for k, v in (mined or {}).items() if k not in self.synonyms}
        self._analysed: dict[str, tuple[list[str], list[_QueryTerm]]] = {}
        self._synonym_finder = _PhraseFinder(self.synonyms)
        self._mined_finder = _PhraseFinder(self.mined)
        for phrase, expansions in self.synonyms.items():
            for word in [phrase, *expansions]:
                self._add_vocabulary(word)
        text.add_words(list(self.synonyms) + list(self.mined))

    # --- building -------------------------------------------------------
    def add(self, doc: Document) -> None:
        """Add a document, replacing any earlier one with the same key.

        The index keeps the document without its field texts and guide text: what searches need of them
        is in the postings, and results and filters read the other attributes only.
        """
        self.remove(doc.key)
        doc_id = self._next_id
        self._next_id += 1
        self.docs[doc_id] = replace(doc, fields={}, guide_text=())
        self.ids[doc.key] = doc_id
        term_weights: dict[str, float] = {}
        gram_weights: dict[str, float] = {}
        phrases: list[tuple[frozenset[str], float]] = []
        for field_name, values in doc.fields.items():
            for value in values:
                norm = text.normalise(value)
                if norm:
                    self._index_value(doc_id, field_name, norm, term_weights, gram_weights, phrases)
        # Interned: every document would otherwise hold its own copy of each word and character pair.
        terms = tuple(sys.intern(t) for t in term_weights)
        grams = tuple(sys.intern(g) for g in gram_weights)
        for term, weight in zip(terms, term_weights.values(), strict=True):
            self.terms[term].add(doc_id, weight)
        for gram, weight in zip(grams, gram_weights.values(), strict=True):
            self.grams[gram].add(doc_id, weight)
        self.doc_terms[doc_id] = (terms, "".join(grams))
        self.doc_phrases[doc_id] = phrases
        self.doc_names[doc_id] = tuple(text.normalise(n) for n in doc.fields.get("name", []))
        self.doc_exact[doc_id] = tuple(
            {text.normalise(v): None for f in ("name", "keyword", "base_name") for v in doc.fields.get(f, [])}
        )
        self._analysed.clear()

    def _index_value(
        self,
        doc_id: int,
        field_name: str,
        norm: str,
        term_weights: dict[str, float],
        gram_weights: dict[str, float],
        phrases: list[tuple[frozenset[str], float]],
    ) -> None:
        """Index one normalised field value: its phrase, exact form, bigrams and (but for the body) its words."""
        weight = FIELD_WEIGHTS[field_name]
        if field_name in PHRASE_FIELDS and len(norm) >= 2:
            phrase_grams = frozenset(sys.intern(g) for g in text.bigrams(norm))
            if phrase_grams:
                phrase = (phrase_grams, PHRASE_FIELDS[field_name])
                phrases.append(self._phrases.setdefault(phrase, phrase))
        if field_name in ("name", "keyword", "base_name"):
            held = self.exact.get(norm, ())
            if doc_id not in held:
                self.exact[norm] = (*held, doc_id)
        for gram in text.bigrams(norm):
            if gram_weights.get(gram, 0.0) < weight:
                gram_weights[gram] = weight
        if field_name == "body":
            return
        tokens = text.segment(norm)
        if field_name in VOCABULARY_FIELDS:
            for token in {*tokens, norm} if len(norm) <= 12 else set(tokens):
                self._add_vocabulary(token)
        for token in tokens:
            if term_weights.get(token, 0.0) < weight:
                term_weights[token] = weight

    def remove(self, key: tuple[str, str]) -> None:
        doc_id = self.ids.pop(key, None)
        if doc_id is None:
            return
        del self.docs[doc_id]
        terms, grams = self.doc_terms.pop(doc_id)
        self.doc_phrases.pop(doc_id, None)
        self.doc_names.pop(doc_id, None)
        self._analysed.clear()
        for term in terms:
            self.terms[term].remove(doc_id)
        for start in range(0, len(grams), 2):
            self.grams[grams[start : start + 2]].remove(doc_id)
        for value in self.doc_exact.pop(doc_id, ()):
            held = self.exact.get(value, ())
            if doc_id in held:
                self.exact[value] = tuple(d for d in held if d != doc_id)

    def _add_vocabulary(self, word: str) -> None:
        if len(word) < 2 or not text.has_chinese(word) or word in STOP_WORDS:
            return
        self.vocabulary[word] += 1
        if self.vocabulary[word] > 1:
            return
        _add_spelling(self.by_pinyin, text.pinyin(word), word)
        _add_spelling(self.by_initials, text.initials(word), word)
        if len(word) >= 3:
            for i in range(len(word)):
                _add_spelling(self.by_pattern, word[:i] + "*" + word[i + 1 :], word)

    def __len__(self) -> int:
        return len(self.docs)

    # --- querying -------------------------------------------------------
    def rewrite(self, query: str) -> tuple[str, list[str]]:
        """The query as Chinese text (pinyin spelled back) and the catalogue words its phrases or wrong
        characters stand for, for the dense side to read alongside the person's own words."""
        chinese = self.chinese(query)
        if not chinese:
            return "", []
        return chinese, list(self._analyse(chinese)[0])

    def chinese(self, query: str) -> str:
        """The normalised query, a pinyin or initials query spelled back in catalogue words."""
        norm = text.normalise(query)
        if not norm:
            return ""
        return self._latin_to_chinese(norm) if text.is_latin_query(norm) else norm

    def _analyse(self, chinese: str) -> tuple[list[str], list[_QueryTerm]]:
        """The dense side's extra words and the lexical side's weighted terms for ``chinese`` (cached:
        the engine asks for both, and popular queries repeat)."""
        found = self._analysed.get(chinese)
        if found is None:
            if len(self._analysed) >= _ANALYSIS_CACHE:
                self._analysed.clear()
            spans = list(self._unexplained_spans(chinese))
            near = [self._near_words(span) for span in spans]
            extras: dict[str, None] = {}
            for phrase in self._synonym_finder.find(chinese):
                extras.update(dict.fromkeys(e for e in self.synonyms[phrase] if e not in chinese))
            for words in near:
                # Sorted: a set's order follows the process's hash seed, and only the first few extras reach
                # the dense query, so two workers would otherwise rank a mistyped question differently.
                extras.update(dict.fromkeys(w for w in sorted(words) if w not in chinese))
            found = (list(extras), self._query_terms(chinese, near))
            self._analysed[chinese] = found
        return found

    def search(self, query: str, *, filters: Filters | None = None, limit: int = 10) -> tuple[list[Hit], int]:
        """Rank documents for ``query``; returns the top ``limit`` hits and the number matched."""
        chinese = self.chinese(query)
        if not chinese or not self.docs:
            return [], 0
        query_terms = self._analyse(chinese)[1]
        if not query_terms:
            return [], 0
        scores, order = self._score(query_terms, chinese)
        if filters is not None and filters.active:
            order = order[[filters.accepts(self.docs[d]) for d in order.tolist()]] if len(order) else order
        if len(order):
            # Documents that share only a stray word with the query are noise, not results.
            floor = RELATIVE_FLOOR * scores[order].max()
            order = order[scores[order] >= floor]
        if not len(order):
            return [], 0
        # The best ``limit`` by score then popularity; among equal ones the first matched, as a stable
        # sort of the documents in the order the query's terms reached them would give.
        popularity = np.fromiter((self.docs[d].popularity for d in order.tolist()), dtype=np.float64, count=len(order))
        top = order[np.lexsort((-popularity, -scores[order]))[:limit]]
        hits = [Hit(self.docs[d], float(scores[d])) for d in top.tolist()]
        hits.sort(key=lambda h: (-h.score, -h.doc.popularity, h.doc.code))
        return hits, len(order)

    def _latin_to_chinese(self, norm: str) -> str:
        """Turn a pinyin or initials query into the catalogue words it spells."""
        letters = norm.replace(" ", "").replace("'", "")
        full = self._cover(letters, self.by_pinyin)
        if full[0] >= 0.7 * len(letters):
            return " ".join(full[1])
        # Initials are what kiosk users type for a name or two (sfz, sbkbl); longer
        # strings of consonants are not abbreviations of anything.
        if len(letters) <= MAX_INITIALS:
            abbreviated = self._cover(letters, self.by_initials)
            distinct = len(set(abbreviated[1])) == len(abbreviated[1])
            if abbreviated[0] >= max(full[0], 0.7 * len(letters), 2) and distinct:
                return " ".join(abbreviated[1])
        return " ".join(full[1])

    def _cover(self, letters: str, table: dict[str, tuple[str, ...]]) -> tuple[int, list[str]]:
        """Cover ``letters`` with the fewest, longest spellings of known words (dynamic programming)."""
        n = len(letters)
        best: list[tuple[int, int, list[str]]] = [(0, 0, [])] * (n + 1)
        for end in range(1, n + 1):
            covered, pieces, words = best[end - 1]
            candidate = (covered, pieces, words)
            for start in range(max(0, end - 30), end - 1):
                span = letters[start:end]
                found = table.get(span)
                if not found:
                    continue
                prev_covered, prev_pieces, prev_words = best[start]
                chosen = sorted(found, key=lambda w: (-self.vocabulary.get(w, 0), w))[:4]
                option = (prev_covered + len(span), prev_pieces + 1, [*prev_words, "|".join(chosen)])
                if (option[0], -option[1]) > (candidate[0], -candidate[1]):
                    candidate = option
            best[end] = candidate
        covered, _, words = best[n]
        return covered, [w.replace("|", " ") for w in words]

    def _query_terms(self, chinese: str, near: list[set[str]]) -> list[_QueryTerm]:
        weights: dict[str, float] = {}

        def add(term: str, weight: float) -> None:
            if term in STOP_WORDS or not term.strip():
                return
            if weights.get(term, 0.0) < weight:
                weights[term] = weight

        tokens = text.segment(chinese)
        for token in tokens:
            add(token, 1.0)
        for term, weight in self._expansions(chinese):
            add(term, weight)
        # Stretches the catalogue cannot explain with its own words may hold a wrong
        # character: look for a known word that sounds the same (户照 → 护照) or
        # differs by one character (结昏登记 → 结婚登记).
        for words in near:
            for word in words:
                add(word, 0.7)
        return [_QueryTerm(t, w) for t, w in weights.items()]

    def _expansions(self, chinese: str) -> Iterable[tuple[str, float]]:
        """Standard terms for the colloquial phrases and abbreviations in the query (longest phrases
        first), written ones with their words, mined ones weaker."""
        for phrase in self._synonym_finder.find(chinese):
            for expansion in self.synonyms[phrase]:
                yield expansion, 0.9
                for token in text.segment(expansion):
                    yield token, 0.8
        for phrase in self._mined_finder.find(chinese):
            for expansion in self.mined[phrase]:
                yield expansion, MINED_WEIGHT

    def _unexplained_spans(self, chinese: str) -> Iterable[str]:
        """Spans of 2-5 characters containing a character no known word or stop word covers."""
        for run in _CHINESE_RUN_RE.findall(chinese):
            covered = [False] * len(run)
            for word, start, end in text.tokenize(run):
                if (len(word) >= 2 and word in self.terms) or word in STOP_WORDS:
                    for i in range(start, end):
                        covered[i] = True
            if all(covered):
                continue
            for size in (2, 3, 4, 5):
                for i in range(0, len(run) - size + 1):
                    if not all(covered[i : i + size]):
                        yield run[i : i + size]

    def _near_words(self, token: str) -> set[str]:
        found: set[str] = set()
        if not text.has_chinese(token) or token in self.terms:
            return found
        # Each tuple as the set it replaces (same words added in the same order), so that the words, and
        # the order in which they reach the query, are those of before.
        found |= set(self.by_pinyin.get(text.pinyin(token), ()))
        if len(token) >= 3:
            for i in range(len(token)):
                found |= set(self.by_pattern.get(token[:i] + "*" + token[i + 1 :], ()))
        found.discard(token)
        return found if len(found) <= 6 else set()

    def _score(
        self, query_terms: list[_QueryTerm], chinese: str
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.intp]]:
        """Scores by document id, and the ids of the matched documents, best first (ties: first matched)."""
        capacity = self._next_id
        scores = np.zeros(capacity)
        # When each document was first matched (term by term), which breaks ties as before.
        first = np.full(capacity, np.iinfo(np.intp).max, dtype=np.intp)
        matched_weight, possible, steps = self._word_scores(query_terms, scores, first)
        grams = self._add_bigram_scores(scores, first, steps, query_terms, chinese)
        order = np.flatnonzero(first != np.iinfo(np.intp).max)
        order = order[np.lexsort((first[order], -scores[order]))]
        # Phrase coverage: a document whose name or one keyword the query covers
        # almost entirely is what the person means; one that shares a stray word
        # with a long keyword is not.
        query_grams = set(grams)
        for qt in query_terms:
            if qt.weight >= 0.6:
                query_grams.update(text.bigrams(qt.term))
        leaders = order[:RERANK_DEPTH].tolist()
        # Below the reranked leaders, keep the order but stay under every leader.
        scores[order[RERANK_DEPTH:]] *= 0.3
        norm_query = chinese.replace(" ", "")
        exact = set(self.exact.get(norm_query, ()))
        for doc_id in leaders:
            best = 0.0
            for phrase_grams, weight in self.doc_phrases.get(doc_id, ()):
                covered = weight * len(phrase_grams & query_grams) / len(phrase_grams)
                best = max(best, covered)
            coverage = float(matched_weight[doc_id]) / possible if possible else 0.0
            boost = self._leader_boost(doc_id, norm_query, coverage, exact)
            scores[doc_id] = float(scores[doc_id]) * ((PHRASE_BASE + PHRASE_GAIN * best) * boost)
        order = order[np.lexsort((first[order], -scores[order]))]
        return scores, order

    def _word_scores(
        self, query_terms: list[_QueryTerm], scores: npt.NDArray[np.float64], first: npt.NDArray[np.intp]
    ) -> tuple[npt.NDArray[np.float64], float, int]:
        """BM25-like word scores (added to ``scores``), the weight of the query's main words each
        document matched, their total, and how many matching steps were taken."""
        total_docs = len(self.docs)
        matched_weight = np.zeros(len(scores))
        possible = 0.0
        step = 0
        for qt in query_terms:
            postings = self.terms.get(qt.term)
            idf = math.log(1 + total_docs / (len(postings) if postings else total_docs))
            term_value = qt.weight * idf
            if qt.weight >= 1.0:
                possible += term_value
            if not postings:
                continue
            ids, weights = postings.arrays()
            scores[ids] += term_value * weights
            if qt.weight >= 1.0:
                matched_weight[ids] += term_value
            first[ids] = np.minimum(first[ids], step)
            step += 1
        return matched_weight, possible, step

    def _add_bigram_scores(
        self,
        scores: npt.NDArray[np.float64],
        first: npt.NDArray[np.intp],
        step: int,
        query_terms: list[_QueryTerm],
        chinese: str,
    ) -> set[str]:
        """Add the character-bigram share of the score (typos, unsegmented words); returns the query's bigrams."""
        total_docs = len(self.docs)
        grams = set(text.bigrams(chinese))
        for qt in query_terms:
            if qt.weight < 1.0 and len(qt.term) >= 2:
                grams.update(text.bigrams(qt.term))
        for gram in grams:
            postings = self.grams.get(gram)
            if not postings or len(postings) > total_docs * 0.3:
                continue
            idf = math.log(1 + total_docs / len(postings))
            ids, weights = postings.arrays()
            scores[ids] += BIGRAM_SHARE * idf * weights
            first[ids] = np.minimum(first[ids], step)
            step += 1
        return grams

    def _leader_boost(self, doc_id: int, norm_query: str, coverage: float, exact: set[int]) -> float:
        """How much a leading document gains from covering the query, naming it exactly, and popularity."""
        doc = self.docs[doc_id]
        boost = 0.55 + 0.45 * coverage
        if doc_id in exact:
            boost *= 1.6
        elif len(norm_query) >= 2 and any(norm_query in name for name in self.doc_names[doc_id]):
            boost *= 1.25
        return boost * (1.0 + POPULARITY_WEIGHT * (doc.popularity / 100))


def _add_spelling(table: dict[str, tuple[str, ...]], spelling: str, word: str) -> None:
    words = table.get(spelling, ())
    if word not in words:
        table[spelling] = (*words, word)


class _PhraseFinder:
    """Which phrases of a table (synonyms, mined phrasings) occur in a text, in the table's order: a
    look-up per substring of each phrase length rather than a scan of the whole table per query."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self._order = {phrase: n for n, phrase in enumerate(table)}
        self._lengths = sorted({len(phrase) for phrase in table if phrase})

    def find(self, chinese: str) -> list[str]:
        order = self._order
        found = {
            chinese[i : i + size]
            for size in self._lengths
            for i in range(len(chinese) - size + 1)
            if chinese[i : i + size] in order
        }
        return sorted(found, key=order.__getitem__)
