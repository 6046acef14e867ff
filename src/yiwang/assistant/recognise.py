"""Which item or bundle a question is about: the catalogue's search fused with our own dense similarity.

Two views of the same question:

* the catalogue's search (``catalog.selectors.search``: lexical, synonyms,
  pinyin; a hybrid engine may replace it behind the same signature), of
  which we use the rank only, since its scores are on no fixed scale;
* the cosine similarity between the question's e5 vector and a vector per
  published item and bundle (its name and what people call it), kept per
  process in :class:`DenseIndex` and refreshed when the catalogue changes.

Each candidate gets a fused score, reciprocal-rank style; the dialogue
decides from the best candidates' scores, their dense similarity and how
much of the question the candidate's words cover whether to answer, to ask
which one was meant, or to decline (thresholds in :mod:`yiwang.assistant.dialogue`).
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.urls import reverse

from yiwang.assistant import aspects
from yiwang.catalog import selectors as catalog_selectors
from yiwang.core import embeddings, text

logger = logging.getLogger(__name__)

# How many candidates each view contributes.
DEPTH = 10
# Reciprocal-rank fusion constant and the weights of the two views.
RRF_K = 2.0
LEXICAL_WEIGHT = 1.0
DENSE_WEIGHT = 1.0
# How often a process checks whether the catalogue changed under its vectors.
REFRESH_SECONDS = 30.0

# Words of asking, not of the thing asked about; single characters after the phrases.
_QUESTION_WORDS = re.compile(
    r"什么|啥|哪些|哪个|哪儿|哪里|怎么样|怎么|怎样|如何|需要|可以|能不能|是不是|有没有|多少|请问|我想|想要|一下"
    r"|一个|一张|一本|自己|现在|之前|以后|时候|东西|办理|申请|要办|去办|办|领|弄"
)
_FILLER = re.compile(r"[的了吗呢吧啊呀嘛么我你他她们那这些就都也能会是要想该去给把在和跟与还有吗？]")
_PUNCTUATION = re.compile(r"[\s\W_]+")


@dataclass
class Candidate:
    """One item or bundle that may be meant, with what the views said about it."""

    type: str
    code: str
    name: str
    lexical_rank: int | None = None
    dense: float = 0.0
    dense_rank: int | None = None
    coverage: float = 0.0
    score: float = 0.0
    # One of its names (the item's name, what people call it) occurs in the question as it stands.
    named: bool = False

    @property
    def url(self) -> str:
        if self.type == "bundle":
            return reverse("catalog:bundle", args=[self.code])
        return reverse("catalog:item", args=[self.code])


@dataclass
class Recognition:
    """The question's candidates, best first, and its vector (for the aspect prototypes)."""

    candidates: list[Candidate]
    vector: np.ndarray | None = None
    content: str = ""

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


@dataclass
class _Entry:
    type: str
    code: str
    name: str
    words: str  # name and keywords, for coverage
    phrases: tuple[str, ...] = ()  # name and keywords, normalised


@dataclass(frozen=True)
class DenseSnapshot:
    """The vectors of one state of the catalogue; replaced whole, so a reader never sees half an update."""

    entries: tuple[_Entry, ...] = ()
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, embeddings.DIMENSIONS), dtype=np.float32))
    positions: dict[tuple[str, str], int] = field(default_factory=dict)

    def nearest(self, vector: np.ndarray, limit: int) -> list[tuple[_Entry, float]]:
        if not self.entries:
            return []
        similarities = self.vectors @ vector
        order = np.argsort(-similarities)[:limit]
        return [(self.entries[i], float(similarities[i])) for i in order]

    def entry(self, type_: str, code: str) -> _Entry | None:
        position = self.positions.get((type_, code))
        return None if position is None else self.entries[position]

    def vector(self, type_: str, code: str) -> np.ndarray | None:
        position = self.positions.get((type_, code))
        return None if position is None else self.vectors[position]


@dataclass
class DenseIndex:
    """Vectors of the published items and bundles, built on first use and refreshed when they change."""

    snapshot: DenseSnapshot = field(default_factory=DenseSnapshot)
    signature: str = ""
    checked_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def current(self) -> DenseSnapshot:
        if self.signature and time.monotonic() - self.checked_at < REFRESH_SECONDS:
            return self.snapshot
        with self.lock:
            entries = _catalogue_entries()
            signature = hashlib.sha256(
                "\n".join(f"{e.type}\t{e.code}\t{e.words}" for e in entries).encode()
            ).hexdigest()
            if signature != self.signature:
                self.snapshot = DenseSnapshot(
                    tuple(entries),
                    _passage_vectors([_passage(e) for e in entries]),
                    {(e.type, e.code): i for i, e in enumerate(entries)},
                )
                self.signature = signature
            self.checked_at = time.monotonic()
        return self.snapshot

    def reset(self) -> None:
        with self.lock:
            self.signature = ""
            self.snapshot = DenseSnapshot()


dense_index = DenseIndex()


def _catalogue_entries() -> list[_Entry]:
    entries = []
    for code, name, keywords in catalog_selectors.published_items().values_list("code", "name", "keywords"):
        entries.append(_entry("item", code, name, keywords))
    for code, name, keywords in catalog_selectors.published_bundles().values_list("code", "name", "keywords"):
        entries.append(_entry("bundle", code, name, keywords))
    return entries


def _entry(type_: str, code: str, name: str, keywords: list[str] | None) -> _Entry:
    phrases = tuple(dict.fromkeys(text.normalise(p) for p in [name, *(keywords or [])] if len(p) >= 2))
    return _Entry(type_, code, name, " ".join(phrases), phrases)


def _passage(entry: _Entry) -> str:
    return entry.words.replace(" ", "；")


# Vectors of the seed catalogue's passages, shipped with the code (``yiwang assistant vectors`` writes it), so
# that a fresh server does not spend a minute embedding the demo catalogue; other passages go to VAR_DIR.
PACKAGED_VECTORS = Path(__file__).resolve().parent / "data" / "passage-vectors.npz"


def _cache_file() -> Path:
    return Path(settings.VAR_DIR) / "assistant" / "passage-vectors.npz"


def passage_key(passage: str) -> str:
    return hashlib.sha1(passage.encode(), usedforsecurity=False).hexdigest()


def _load_vectors(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path) as stored:
            return {key: stored[key].astype(np.float32) for key in stored.files}
    except (OSError, ValueError):
        return {}


def catalogue_passages() -> list[str]:
    """The passage text of every published item and bundle (what the packaged vectors are made from)."""
    return [_passage(entry) for entry in _catalogue_entries()]


def write_packaged_vectors(path: Path = PACKAGED_VECTORS) -> int:
    """Embed the catalogue's passages into ``path`` (float16, keyed by a hash of the text); how many."""
    passages = catalogue_passages()
    vectors = embeddings.embed_passages(passages)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = {passage_key(p): v.astype(np.float16) for p, v in zip(passages, vectors, strict=True)}
    np.savez_compressed(path, **arrays)
    return len(passages)


def _passage_vectors(passages: list[str]) -> np.ndarray:
    """e5 passage vectors, from a file cache in VAR_DIR where the same text was embedded before."""
    keys = [passage_key(p) for p in passages]
    path = _cache_file()
    packaged = _load_vectors(PACKAGED_VECTORS)
    cached = {**packaged, **_load_vectors(path)}
    missing = [i for i, key in enumerate(keys) if key not in cached]
    if missing:
        started = time.perf_counter()
        fresh = embeddings.embed_passages([passages[i] for i in missing])
        for row, i in enumerate(missing):
            cached[keys[i]] = fresh[row]
        logger.info("assistant: embedded %d passages in %.1f s", len(missing), time.perf_counter() - started)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.npz")
            arrays: dict[str, Any] = {key: cached[key] for key in keys if key not in packaged}
            np.savez(tmp, **arrays)
            tmp.replace(path)
        except OSError:
            logger.warning("assistant: could not write the vector cache %s", path, exc_info=True)
    if not keys:
        return np.zeros((0, embeddings.DIMENSIONS), dtype=np.float32)
    return np.vstack([cached[key] for key in keys]).astype(np.float32)


def warm_up(**_kwargs: Any) -> None:
    """Load the model and the item vectors (a server worker's start-up)."""
    dense_index.current()


def content_of(question: str) -> str:
    """What is left of a question without aspect cue words, fillers and punctuation: the part naming the item."""
    stripped = aspects.strip_cues(text.normalise(question).lower())
    stripped = _QUESTION_WORDS.sub("", _PUNCTUATION.sub("", stripped))
    return _FILLER.sub("", stripped)


def coverage(content: str, words: str) -> float:
    """The share of the question's content characters that occur among the candidate's words."""
    if not content:
        return 0.0
    return sum(1 for ch in content if ch in words) / len(content)


def recognise(question: str, *, dense: bool = True) -> Recognition:
    """The items and bundles ``question`` may be about, best first."""
    normalised = text.normalise(question)
    content = content_of(normalised)
    found: dict[tuple[str, str], Candidate] = {}
    hits, _total = catalog_selectors.search(normalised, limit=DEPTH, question=True)
    for rank, hit in enumerate(hits):
        key = (hit.doc.type, hit.doc.code)
        found[key] = Candidate(hit.doc.type, hit.doc.code, hit.doc.name, lexical_rank=rank)
    vector = None
    index = dense_index.current() if dense else None
    if index is not None:
        vector = embeddings.embed_query(normalised)
        for rank, (entry, _similarity) in enumerate(index.nearest(vector, DEPTH)):
            candidate = found.setdefault((entry.type, entry.code), Candidate(entry.type, entry.code, entry.name))
            candidate.dense_rank = rank
        # Every candidate's similarity, those found only lexically too.
        for candidate in found.values():
            passage = index.vector(candidate.type, candidate.code)
            if passage is not None:
                candidate.dense = float(passage @ vector)
    for candidate in found.values():
        known = index.entry(candidate.type, candidate.code) if index is not None else None
        candidate.coverage = coverage(content, known.words if known else candidate.name)
        candidate.named = known is not None and any(phrase in normalised for phrase in known.phrases)
        candidate.score = _fused(candidate)
    # Ties (one view's first is the other's second) go to the lexical order: it names items more exactly.
    ranked = sorted(
        found.values(), key=lambda c: (-round(c.score, 9), c.lexical_rank if c.lexical_rank is not None else DEPTH)
    )
    return Recognition(ranked, vector, content)


def _fused(candidate: Candidate) -> float:
    score = 0.0
    if candidate.lexical_rank is not None:
        score += LEXICAL_WEIGHT / (RRF_K + candidate.lexical_rank)
    if candidate.dense_rank is not None:
        score += DENSE_WEIGHT / (RRF_K + candidate.dense_rank)
    return score
