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

import heapq
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

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


@dataclass
class Document:
    """One searchable thing: an item or a bundle, with what filters and results need."""

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
        self.terms: dict[str, dict[int, float]] = defaultdict(dict)
        self.grams: dict[str, dict[int, float]] = defaultdict(dict)
        self.doc_terms: dict[int, tuple[list[str], list[str]]] = {}
        self.doc_phrases: dict[int, list[tuple[frozenset[str], float]]] = {}
        self.exact: dict[str, set[int]] = defaultdict(set)
        # Vocabulary: word -> number of documents using it in a name-like field.
        self.vocabulary: dict[str, int] = defaultdict(int)
        self.by_pinyin: dict[str, set[str]] = defaultdict(set)
        self.by_initials: dict[str, set[str]] = defaultdict(set)
        self.by_pattern: dict[str, set[str]] = defaultdict(set)
        self.synonyms = synonyms or {}
        # Mined phrasings (data/mined_synonyms.tsv) are weaker evidence than written ones: they add
        # lexical terms at MINED_WEIGHT and never steer the dense side.
        self.mined = {k: v for k, v in (mined or {}).items() if k not in self.synonyms}
        for phrase, expansions in self.synonyms.items():
            for word in [phrase, *expansions]:
                self._add_vocabulary(word)
        text.add_words(list(self.synonyms) + list(self.mined))

    # --- building -------------------------------------------------------
    def add(self, doc: Document) -> None:
        """Add a document, replacing any earlier one with the same key."""
        self.remove(doc.key)
        doc_id = self._next_id
        self._next_id += 1
        self.docs[doc_id] = doc
        self.ids[doc.key] = doc_id
        term_weights: dict[str, float] = {}
        gram_weights: dict[str, float] = {}
        phrases: list[tuple[frozenset[str], float]] = []
        for field_name, values in doc.fields.items():
            for value in values:
                norm = text.normalise(value)
                if norm:
                    self._index_value(doc_id, field_name, norm, term_weights, gram_weights, phrases)
        for term, weight in term_weights.items():
            self.terms[term][doc_id] = weight
        for gram, weight in gram_weights.items():
            self.grams[gram][doc_id] = weight
        self.doc_terms[doc_id] = (list(term_weights), list(gram_weights))
        self.doc_phrases[doc_id] = phrases

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
            phrase_grams = frozenset(text.bigrams(norm))
            if phrase_grams:
                phrases.append((phrase_grams, PHRASE_FIELDS[field_name]))
        if field_name in ("name", "keyword", "base_name"):
            self.exact[norm].add(doc_id)
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
        doc = self.docs.pop(doc_id)
        terms, grams = self.doc_terms.pop(doc_id)
        self.doc_phrases.pop(doc_id, None)
        for term in terms:
            self.terms[term].pop(doc_id, None)
        for gram in grams:
            self.grams[gram].pop(doc_id, None)
        for field_name in ("name", "keyword", "base_name"):
            for value in doc.fields.get(field_name, []):
                self.exact.get(text.normalise(value), set()).discard(doc_id)

    def _add_vocabulary(self, word: str) -> None:
        if len(word) < 2 or not text.has_chinese(word) or word in STOP_WORDS:
            return
        self.vocabulary[word] += 1
        if self.vocabulary[word] > 1:
            return
        self.by_pinyin[text.pinyin(word)].add(word)
        self.by_initials[text.initials(word)].add(word)
        if len(word) >= 3:
            for i in range(len(word)):
                self.by_pattern[word[:i] + "*" + word[i + 1 :]].add(word)

    def __len__(self) -> int:
        return len(self.docs)

    # --- querying -------------------------------------------------------
    def rewrite(self, query: str) -> tuple[str, list[str]]:
        """The query as Chinese text (pinyin spelled back) and the catalogue words its phrases or wrong
        characters stand for, for the dense side to read alongside the person's own words."""
        norm = text.normalise(query)
        if not norm:
            return "", []
        chinese = self._latin_to_chinese(norm) if text.is_latin_query(norm) else norm
        extras: dict[str, None] = {}
        for phrase, expansions in self.synonyms.items():
            if phrase in chinese:
                extras.update(dict.fromkeys(e for e in expansions if e not in chinese))
        for span in self._unexplained_spans(chinese):
            extras.update(dict.fromkeys(w for w in self._near_words(span) if w not in chinese))
        return chinese, list(extras)

    def search(self, query: str, *, filters: Filters | None = None, limit: int = 10) -> tuple[list[Hit], int]:
        """Rank documents for ``query``; returns the top ``limit`` hits and the number matched."""
        norm = text.normalise(query)
        if not norm or not self.docs:
            return [], 0
        chinese = self._latin_to_chinese(norm) if text.is_latin_query(norm) else norm
        query_terms = self._query_terms(chinese)
        if not query_terms:
            return [], 0
        scores = self._score(query_terms, chinese)
        if filters is not None and filters.active:
            scores = {d: v for d, v in scores.items() if filters.accepts(self.docs[d])}
        if scores:
            # Documents that share only a stray word with the query are noise, not results.
            floor = RELATIVE_FLOOR * max(scores.values())
            scores = {d: v for d, v in scores.items() if v >= floor}
        best = heapq.nlargest(limit, scores.items(), key=lambda pair: (pair[1], self.docs[pair[0]].popularity))
        hits = [Hit(self.docs[d], v) for d, v in best]
        hits.sort(key=lambda h: (-h.score, -h.doc.popularity, h.doc.code))
        return hits, len(scores)

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

    def _cover(self, letters: str, table: dict[str, set[str]]) -> tuple[int, list[str]]:
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

    def _query_terms(self, chinese: str) -> list[_QueryTerm]:
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
        for span in self._unexplained_spans(chinese):
            for word in self._near_words(span):
                add(word, 0.7)
        return [_QueryTerm(t, w) for t, w in weights.items()]

    def _expansions(self, chinese: str) -> Iterable[tuple[str, float]]:
        """Standard terms for the colloquial phrases and abbreviations in the query (longest phrases
        first), written ones with their words, mined ones weaker."""
        for phrase, expansions in self.synonyms.items():
            if phrase in chinese:
                for expansion in expansions:
                    yield expansion, 0.9
                    for token in text.segment(expansion):
                        yield token, 0.8
        for phrase, expansions in self.mined.items():
            if phrase in chinese:
                for expansion in expansions:
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
        found |= self.by_pinyin.get(text.pinyin(token), set())
        if len(token) >= 3:
            for i in range(len(token)):
                found |= self.by_pattern.get(token[:i] + "*" + token[i + 1 :], set())
        found.discard(token)
        return found if len(found) <= 6 else set()

    def _score(self, query_terms: list[_QueryTerm], chinese: str) -> dict[int, float]:
        scores, matched_weight, possible = self._word_scores(query_terms)
        grams = self._add_bigram_scores(scores, query_terms, chinese)
        # Phrase coverage: a document whose name or one keyword the query covers
        # almost entirely is what the person means; one that shares a stray word
        # with a long keyword is not.
        query_grams = set(grams)
        for qt in query_terms:
            if qt.weight >= 0.6:
                query_grams.update(text.bigrams(qt.term))
        leaders = heapq.nlargest(RERANK_DEPTH, scores, key=scores.__getitem__)
        leader_set = set(leaders)
        # Below the reranked leaders, keep the order but stay under every leader.
        for doc_id in scores:
            if doc_id not in leader_set:
                scores[doc_id] *= 0.3
        norm_query = chinese.replace(" ", "")
        for doc_id in leaders:
            best = 0.0
            for phrase_grams, weight in self.doc_phrases.get(doc_id, ()):
                covered = weight * len(phrase_grams & query_grams) / len(phrase_grams)
                best = max(best, covered)
            coverage = matched_weight[doc_id] / possible if possible else 0.0
            scores[doc_id] *= (PHRASE_BASE + PHRASE_GAIN * best) * self._leader_boost(doc_id, norm_query, coverage)
        return scores

    def _word_scores(self, query_terms: list[_QueryTerm]) -> tuple[dict[int, float], dict[int, float], float]:
        """BM25-like word scores, the weight of the query's main words each document matched, and their total."""
        total_docs = len(self.docs)
        scores: dict[int, float] = defaultdict(float)
        matched_weight: dict[int, float] = defaultdict(float)
        possible = 0.0
        for qt in query_terms:
            postings = self.terms.get(qt.term)
            idf = math.log(1 + total_docs / (len(postings) if postings else total_docs))
            term_value = qt.weight * idf
            if qt.weight >= 1.0:
                possible += term_value
            for doc_id, field_weight in (postings or {}).items():
                scores[doc_id] += term_value * field_weight
                if qt.weight >= 1.0:
                    matched_weight[doc_id] += term_value
        return scores, matched_weight, possible

    def _add_bigram_scores(self, scores: dict[int, float], query_terms: list[_QueryTerm], chinese: str) -> set[str]:
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
            for doc_id, field_weight in postings.items():
                scores[doc_id] += BIGRAM_SHARE * idf * field_weight
        return grams

    def _leader_boost(self, doc_id: int, norm_query: str, coverage: float) -> float:
        """How much a leading document gains from covering the query, naming it exactly, and popularity."""
        doc = self.docs[doc_id]
        boost = 0.55 + 0.45 * coverage
        if doc_id in self.exact.get(norm_query, set()):
            boost *= 1.6
        elif len(norm_query) >= 2 and any(norm_query in text.normalise(n) for n in doc.fields.get("name", [])):
            boost *= 1.25
        return boost * (1.0 + POPULARITY_WEIGHT * (doc.popularity / 100))
