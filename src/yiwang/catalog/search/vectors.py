"""Dense side of the search: a few vectors per document, their embeddings persisted, a matrix in memory.

Embedding the whole catalogue costs about 10-50 ms a passage on two cores, so
vectors are computed once and kept in ``SearchVector`` rows keyed by a digest
of the model name and the passage: a worker start reads them (one query per
thousand documents) and embeds only documents that are new or whose passage
changed. See docs/adr/0012-search-retrieval.md.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from yiwang.core import embeddings

from ..models import SearchVector
from .index import Document

# Enough of a guide to say what the item is about; e5-small reads 512 tokens but slows with length.
PASSAGE_CHARS = 300
_FETCH_CHUNK = 900
# Qualifiers that tell implementations apart for officials but say nothing about the service:
# （县级）, （县级行使）, （县级权限）, (据省政府令第349号 …
_QUALIFIER_RE = re.compile(r"[（(][^（）()]*(?:县级|市级|省级|权限|省政府令|行使)[^（）()]*[）)]?")


# What an item name says about the procedure rather than the thing it is about: people name the thing
# (营业执照, 养狗) and rarely the procedure (核发, 审批). Bracketed parts are variants and conditions.
_BRACKETED_RE = re.compile(r"[（(][^（）()]*[）)]")
_PROCEDURE_RE = re.compile(
    r"的?(?:核发|审批|办理|申请|登记|备案|许可|确认|申领|发放|认定|新办|设立|核准|批准|服务|管理|手续|业务|证明|查询|打印)"
)
# Vectors per document: the name, and its core (see :func:`core_name`); a document scores the better
# of the two.
VIEWS = 2


def clean_name(name: str) -> str:
    """An item name without the administrative qualifiers that only add noise to its meaning."""
    return _QUALIFIER_RE.sub("", name).strip() or name


def core_name(name: str) -> str:
    """What a name is about: without qualifiers, bracketed variants and procedure words.

    供气报装 stays as it is, 犬类准养证核发 becomes 犬类准养证, 公司设立登记 becomes 公司; a core shorter
    than two characters is no core, and the cleaned name is used instead.
    """
    cleaned = clean_name(name)
    core = _PROCEDURE_RE.sub("", _BRACKETED_RE.sub("", cleaned)).strip()
    return core if len(core) >= 2 else cleaned


def passage(doc: Document) -> str:
    """The guide text embedded for a document (empty when there is none beyond the name)."""
    extra = "；".join(v for v in doc.guide_text if v)
    if not extra:
        return ""
    return f"{clean_name(doc.name)}（{doc.department_name}）。{extra}"[:PASSAGE_CHARS]


def document_vectors(docs: Sequence[Document]) -> np.ndarray:
    """``VIEWS`` vectors per document (n × VIEWS × 384): its name read as a question, and its core
    name (:func:`core_name`) read as a question, each averaged with its guide passage where it has one.

    A name is as short as what people type, and e5 matches two short texts best
    when both are embedded on the query side (MRR@10 0.735 against 0.687 for
    names as passages on the Sichuan dev queries); a guide passage is embedded
    as a passage and averaged in. The core is what people name when they ask
    (养狗 for 犬类准养证核发): scoring the better of the two views lifted the
    Sichuan dev MRR@10 from 0.776 to 0.799 (docs/adr/0012-search-retrieval.md).
    """
    names = vectors_for([clean_name(d.name) for d in docs], is_query=True)
    cores = vectors_for([core_name(d.name) for d in docs], is_query=True)
    passages = [passage(d) for d in docs]
    with_text = [i for i, p in enumerate(passages) if p]
    if with_text:
        guide = vectors_for([passages[i] for i in with_text], is_query=False)
        for view in (names, cores):
            mixed = view[with_text] + guide
            view[with_text] = mixed / np.linalg.norm(mixed, axis=1, keepdims=True)
    return np.stack([names, cores], axis=1)


def digest(text: str, *, is_query: bool) -> str:
    side = "query" if is_query else "passage"
    return hashlib.sha256(f"{embeddings.MODEL_NAME}\n{side}\n{text}".encode()).hexdigest()


def vectors_for(texts: Sequence[str], *, is_query: bool = False) -> np.ndarray:
    """The vectors of ``texts`` (n × 384): stored ones read back, missing ones embedded and stored.

    Rows are read straight into one float32 matrix (no array object per row): a worker reading 20,000
    rows at start keeps only the matrix it returns.
    """
    digests = [digest(p, is_query=is_query) for p in texts]
    if not digests:
        return np.zeros((0, embeddings.DIMENSIONS), dtype=np.float32)
    position = {key: n for n, key in enumerate(dict.fromkeys(digests))}
    unique = list(position)
    found = np.zeros((len(unique), embeddings.DIMENSIONS), dtype=np.float32)
    known = np.zeros(len(unique), dtype=bool)
    for start in range(0, len(unique), _FETCH_CHUNK):
        chunk = unique[start : start + _FETCH_CHUNK]
        for key, blob in SearchVector.objects.filter(digest__in=chunk).values_list("digest", "vector"):
            row = position[key]
            found[row] = np.frombuffer(blob, dtype=np.float32)
            known[row] = True
    todo = [unique[row] for row in np.flatnonzero(~known).tolist()]
    if todo:
        text_of = dict(zip(digests, texts, strict=True))
        embed = embeddings.embed_queries if is_query else embeddings.embed_passages
        fresh = embed([text_of[key] for key in todo])
        SearchVector.objects.bulk_create(
            [SearchVector(digest=key, vector=fresh[n].tobytes()) for n, key in enumerate(todo)],
            ignore_conflicts=True,
            batch_size=500,
        )
        found[[position[key] for key in todo]] = fresh
    return found[[position[key] for key in digests]]


def store_vector_file(path: Path) -> int:
    """Store the vectors held in ``path`` (written by :func:`write_vector_file`) that the database lacks.

    The seed catalogue ships one, so a fresh database does not spend minutes embedding texts whose vectors
    are known; rows are keyed by model, side and text, so a vector of a text no longer used is merely
    unused. Returns how many vectors the file held.
    """
    with np.load(path) as held:
        rows = [
            SearchVector(digest=str(key), vector=np.asarray(vector, dtype=np.float32).tobytes())
            for key, vector in zip(held["digests"], held["vectors"], strict=True)
        ]
    SearchVector.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    return len(rows)


def write_vector_file(path: Path) -> int:
    """Write every stored vector to ``path`` (NumPy archive of digests and float32 vectors)."""
    rows = list(SearchVector.objects.order_by("digest").values_list("digest", "vector"))
    digests = np.array([key for key, _ in rows])
    vectors = np.vstack([np.frombuffer(bytes(blob), dtype=np.float32) for _, blob in rows])
    np.savez_compressed(path, digests=digests, vectors=vectors)
    return len(rows)


class DenseIndex:
    """Document vectors in one matrix, rows reused after removals, so a search is one matrix product.

    A document may have several vectors (``views``); it scores the best of them. With ``hub_neighbours``
    set, each vector also carries a *hub penalty* (see :meth:`_hubness`): a vector that sits close to
    many other documents' vectors -- a generic, short name such as 公司备案 -- is near every query too, and
    wins queries meant for its more specific neighbours. The penalty, ``hub_weight`` times how much more
    alike its nearest neighbours are than the catalogue's average vector's, is taken off its cosine
    (a correction for "hubness", as CSLS does for cross-lingual word retrieval); the catalogue's average
    penalty is 0, so the no-good-match threshold keeps its meaning.
    """

    def __init__(self, views: int = 1, *, hub_neighbours: int = 0, hub_weight: float = 0.0) -> None:
        self.views = views
        self.matrix = np.zeros((0, views, embeddings.DIMENSIONS), dtype=np.float32)
        self.keys: list[tuple[str, str] | None] = []
        self.rows: dict[tuple[str, str], int] = {}
        self._free: list[int] = []
        self.hub_neighbours = hub_neighbours
        self.hub_weight = hub_weight
        # Per row and view: the hub penalty (0 for free rows and when no correction is asked for).
        self.penalty = np.zeros((0, views), dtype=np.float32)
        # Per view: the mean neighbourhood similarity the penalties are measured from (set by recalibrate()).
        self._hub_mean: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def add_many(self, keys: Sequence[tuple[str, str]], vectors: np.ndarray) -> None:
        """Add ``vectors`` (n × views × 384, or n × 384 with one view) under ``keys``.

        Added rows get their hub penalty against the documents already held, measured from the mean of the
        last :meth:`recalibrate` (the others' penalties stay as they were until the next full build).
        """
        vectors = vectors.reshape(len(keys), self.views, embeddings.DIMENSIONS)
        for key in keys:
            self.remove(key)
        needed = len(keys) - len(self._free)
        if needed > 0:
            start = self.matrix.shape[0]
            grow = max(needed, start // 4)
            self.matrix = np.vstack(
                [self.matrix, np.zeros((grow, self.views, embeddings.DIMENSIONS), dtype=np.float32)]
            )
            self.penalty = np.vstack([self.penalty, np.zeros((grow, self.views), dtype=np.float32)])
            self.keys.extend([None] * grow)
            self._free.extend(range(start + grow - 1, start - 1, -1))
        added = []
        for key, vector in zip(keys, vectors, strict=True):
            row = self._free.pop()
            self.matrix[row] = vector
            self.keys[row] = key
            self.rows[key] = row
            added.append(row)
        if self._hub_mean is not None and added:
            rows = np.array(added)
            self.penalty[rows] = self.hub_weight * (self._hubness(rows) - self._hub_mean)

    def remove(self, key: tuple[str, str]) -> None:
        row = self.rows.pop(key, None)
        if row is not None:
            self.matrix[row] = 0.0
            self.penalty[row] = 0.0
            self.keys[row] = None
            self._free.append(row)

    def recalibrate(self) -> None:
        """Measure every held vector's hub penalty afresh (after a full build; a no-op without a correction)."""
        if not self.hub_neighbours or not self.hub_weight or len(self.rows) <= self.hub_neighbours:
            return
        rows = np.array(sorted(self.rows.values()))
        similarity = self._hubness(rows)
        self._hub_mean = similarity.mean(axis=0)
        self.penalty[:] = 0.0
        self.penalty[rows] = self.hub_weight * (similarity - self._hub_mean)

    def _hubness(self, rows: np.ndarray, chunk: int = 512) -> np.ndarray:
        """For each of ``rows`` and each view: the mean cosine to its ``hub_neighbours`` nearest other
        documents (same view), by chunks of rows so that a 10,000-document catalogue needs ~20 MB at a time."""
        live = np.array(sorted(self.rows.values()))
        k = min(self.hub_neighbours, max(len(live) - 1, 1))
        result = np.zeros((len(rows), self.views), dtype=np.float32)
        for view in range(self.views):
            others = self.matrix[live, view, :]
            for start in range(0, len(rows), chunk):
                part = rows[start : start + chunk]
                similarity = self.matrix[part, view, :] @ others.T
                # A document is not its own neighbour.
                similarity[part[:, None] == live[None, :]] = -1.0
                nearest = np.partition(similarity, similarity.shape[1] - k, axis=1)[:, -k:]
                result[start : start + len(part), view] = nearest.mean(axis=1)
        return result

    def scores(self, query: np.ndarray, view: int | None = None) -> np.ndarray:
        """Cosine similarity of every document to ``query``: its best view's less that view's hub penalty,
        or the plain cosine of ``view`` (free rows score 0)."""
        if view is not None:
            return self.matrix[:, view, :] @ query
        flat = self.matrix.reshape(-1, embeddings.DIMENSIONS) @ query
        if self.views == 1:
            return flat if self._hub_mean is None else flat - self.penalty[:, 0]
        views = flat.reshape(-1, self.views)
        if self._hub_mean is not None:
            views = views - self.penalty
        return views.max(axis=1)
