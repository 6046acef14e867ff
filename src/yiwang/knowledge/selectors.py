"""Reads of the knowledge base: the search other apps call, public entries, and the staff pages' lists.

:func:`search_entries` fuses two signals over every published, currently valid version:

- **lexical**: the share of the query's words (jieba, search mode, through :mod:`yiwang.core.text`),
  weighted by how rare each word is in the knowledge base, found in the best-matching question form
  (or, worth less, in the answer);
- **dense**: cosine similarity from the shared e5 model (:mod:`yiwang.core.embeddings`) between the
  query and each question form, and between the query and the answer.

Both are absolute (not rescaled per query), so the fused score in [0, 1] means the same for every query
and callers can threshold it (``constants.RELIABLE_SCORE``). The index is kept per process and rebuilt
when a version is published or withdrawn; vectors come from the database (``VersionVector``), or are
computed in memory for a version the worker has not embedded yet.
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
import math
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db import connection
from django.db.models import Count, Max, Q, QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from yiwang.catalog import selectors as catalog_selectors
from yiwang.core import embeddings
from yiwang.core.search_sources import SourceHit
from yiwang.core.text import normalise, segment

from . import policy, vectors
from .constants import MIN_SCORE, PUBLIC_HISTORY_STATUSES, EntryKind, QuestionStatus, VersionStatus
from .models import Entry, EntryVersion, UnansweredQuestion, VersionVector

logger = logging.getLogger(__name__)

# Words that say "this is a question" and nothing about what it asks.
_STOP_WORDS_TEXT = (
    "的 了 吗 呢 吧 啊 呀 么 我 你 您 他 她 它 我们 是 在 和 与 或 及 也 都 就 还 "
    "要 想 能 会 可以 可 需要 请问 请 问 一下 怎么 怎么样 怎样 如何 什么 哪里 哪儿 哪个 "
    "哪些 多少 几 有 没有 吗 为什么 办法 现在 这个 那个 去 到 给 让 对 把 被 从 上 下 "
    "里 个 一 不"
)
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())
# Cosines of e5-small (measured on the demo questions): other topics stay below the first figure, the same
# question in other words reaches 0.93-0.97, a neighbouring topic (社保卡 for 身份证 lost) about 0.92.
QUESTION_COSINE = (0.86, 0.96)
# Question against answer passage: other topics 0.81-0.84, the answer itself 0.90-0.95.
ANSWER_COSINE = (0.84, 0.94)
# Matches in the answer count for less than matches in a question form.
ANSWER_WEIGHT = 0.8
DENSE_WEIGHT = 0.6
# Versions without stored vectors embedded while a search waits, at most.
EMBED_IN_REQUEST = 20


@dataclass(frozen=True)
class EntryHit:
    """One published, currently valid entry as other apps see it; ``id`` is the entry's (stable across
    versions), ``url`` its public page, ``score`` in [0, 1] comparable across queries."""

    id: int
    version: int
    kind: str
    kind_label: str
    question: str
    questions: tuple[str, ...]
    answer: str
    source: str
    source_url: str
    url: str
    item_codes: tuple[str, ...]
    department_code: str
    department_name: str
    valid_until: dt.date | None
    score: float


@dataclass
class _Doc:
    version_id: int
    entry_id: int
    version: int
    kind: str
    questions: tuple[str, ...]
    answer: str
    source: str
    source_url: str
    item_codes: tuple[str, ...]
    department_code: str
    department_name: str
    valid_from: dt.date | None
    valid_until: dt.date | None
    question_keys: frozenset[str]
    question_words: list[frozenset[str]]
    answer_words: frozenset[str]
    # Rows of the index's question matrix that are this doc's question forms.
    question_rows: list[int] = field(default_factory=list)

    def valid_on(self, day: dt.date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_until is None or day <= self.valid_until
        )

    def hit(self, score: float) -> EntryHit:
        return EntryHit(
            id=self.entry_id,
            version=self.version,
            kind=self.kind,
            kind_label=str(EntryKind(self.kind).label) if self.kind in EntryKind.values else self.kind,
            question=self.questions[0],
            questions=self.questions,
            answer=self.answer,
            source=self.source,
            source_url=self.source_url,
            url=reverse("knowledge:entry", args=[self.entry_id]),
            item_codes=self.item_codes,
            department_code=self.department_code,
            department_name=self.department_name,
            valid_until=self.valid_until,
            score=round(float(min(max(score, 0.0), 1.0)), 4),
        )


def words(text: str) -> frozenset[str]:
    """The searchable words of ``text``: normalised, segmented, without question words and punctuation."""
    return frozenset(w for w in segment(normalise(text)) if w not in STOP_WORDS and not w.isspace())


@dataclass
class _Index:
    docs: list[_Doc]
    question_matrix: embeddings.Vectors
    question_owner: np.ndarray
    answer_matrix: embeddings.Vectors
    idf: dict[str, float]
    max_idf: float
    # Word -> positions of the docs whose questions or answer hold it, and a question form's normalised
    # text -> positions: a search reads the words of the docs that share one with the query only.
    by_word: dict[str, list[int]] = field(default_factory=dict)
    by_question: dict[str, list[int]] = field(default_factory=dict)
    entry_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # Which docs are valid on a day (the last day asked), so that a search does not test every doc's dates.
    valid: tuple[dt.date | None, np.ndarray] = (None, np.zeros(0, dtype=bool))

    def valid_on(self, day: dt.date) -> np.ndarray:
        known_day, mask = self.valid
        if known_day != day:
            mask = np.fromiter((doc.valid_on(day) for doc in self.docs), dtype=bool, count=len(self.docs))
            self.valid = (day, mask)
        return mask


_lock = threading.Lock()
_index: _Index | None = None
_signature: tuple[Any, ...] | None = None
# Published versions never change, so what was read or worked out for one is kept while it is published:
# vectors read from the database, vectors computed here for versions the worker has not stored yet, and words.
_stored: dict[int, embeddings.Vectors] = {}
_computed: dict[int, embeddings.Vectors] = {}
_words: dict[int, tuple[frozenset[str], list[frozenset[str]], frozenset[str]]] = {}


def _current_signature() -> tuple[Any, ...]:
    """What the index was built from: count, last change and last id of the published versions, and how
    many versions have stored vectors (those stored later replace the stand-ins of an index built before
    them). Checked before every search, so one plain query rather than two built by the ORM."""
    versions, vectors_table = EntryVersion._meta.db_table, VersionVector._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*), MAX(updated_at), MAX(id), (SELECT COUNT(*) FROM {vectors_table}) "  # noqa: S608
            f"FROM {versions} WHERE status = %s",
            [VersionStatus.PUBLISHED.value],
        )
        row = cursor.fetchone()
    return tuple(row) if row else ()


def _forget_unpublished(published: set[int]) -> None:
    for cache in (_stored, _computed, _words):
        for pk in [pk for pk in cache if pk not in published]:
            del cache[pk]


def _vectors_for(rows: list[EntryVersion]) -> dict[int, embeddings.Vectors]:
    unread = [r.pk for r in rows if r.pk not in _stored]
    for chunk in range(0, len(unread), 500):
        for v in VersionVector.objects.filter(
            version_id__in=unread[chunk : chunk + 500], model_name=embeddings.MODEL_NAME
        ):
            _stored[v.version_id] = vectors.from_bytes(v.data, v.rows)
            _computed.pop(v.version_id, None)
    stored = _stored
    missing = [r for r in rows if r.pk not in stored and r.pk not in _computed]
    if missing:
        logger.info("knowledge: %d published versions without stored vectors", len(missing))
    # A few (just published, the worker not done yet) are embedded here; a bulk load waits for the worker or
    # the import's own batch, and meanwhile those versions are found by their words alone.
    for row in missing[:EMBED_IN_REQUEST]:
        _computed[row.pk] = vectors.compute(list(row.questions), row.answer)
    found: dict[int, embeddings.Vectors] = {}
    for row in rows:
        matrix = stored.get(row.pk)
        if matrix is None:
            matrix = _computed.get(row.pk)
        if matrix is None:
            matrix = np.zeros((len(row.questions) + 1, embeddings.DIMENSIONS), dtype=np.float32)
        found[row.pk] = matrix
    return found


def _build() -> _Index:
    rows = list(
        EntryVersion.objects.filter(status=VersionStatus.PUBLISHED)
        .select_related("entry__department")
        .order_by("entry_id")
    )
    _forget_unpublished({row.pk for row in rows})
    docs: list[_Doc] = []
    for row in rows:
        questions = tuple(str(q) for q in row.questions) or ("",)
        if row.pk not in _words:
            _words[row.pk] = (
                frozenset(normalise(q) for q in questions),
                [words(q) for q in questions],
                words(row.answer),
            )
        question_keys, question_words, answer_words = _words[row.pk]
        docs.append(
            _Doc(
                version_id=row.pk,
                entry_id=row.entry_id,
                version=row.version,
                kind=row.kind,
                questions=questions,
                answer=row.answer,
                source=row.source_text,
                source_url=row.source_url,
                item_codes=tuple(row.item_codes),
                department_code=row.entry.department.code,
                department_name=row.entry.department.name,
                valid_from=row.valid_from,
                valid_until=row.valid_until,
                question_keys=question_keys,
                question_words=question_words,
                answer_words=answer_words,
            )
        )
    document_frequency: Counter[str] = Counter()
    for doc in docs:
        document_frequency.update(frozenset().union(*doc.question_words, doc.answer_words))
    total = max(len(docs), 1)
    idf = {w: math.log(1 + (total - df + 0.5) / (df + 0.5)) for w, df in document_frequency.items()}
    # A word no entry has weighs as much as the rarest word some entry has: it says the question may be about
    # something else, without one stray word sinking an otherwise good match.
    max_idf = math.log(1 + (total - 0.5) / 1.5)
    by_version = _vectors_for(rows) if rows else {}
    question_parts, owners, answer_rows = [], [], []
    offset = 0
    for position, doc in enumerate(docs):
        matrix = by_version[doc.version_id]
        asked = matrix[:-1]
        doc.question_rows = list(range(offset, offset + len(asked)))
        offset += len(asked)
        question_parts.append(asked)
        owners.extend([position] * len(asked))
        answer_rows.append(matrix[-1])
    by_word: dict[str, list[int]] = {}
    by_question: dict[str, list[int]] = {}
    for position, doc in enumerate(docs):
        for word in frozenset().union(*doc.question_words, doc.answer_words):
            by_word.setdefault(word, []).append(position)
        for key in doc.question_keys:
            by_question.setdefault(key, []).append(position)
    empty = np.zeros((0, embeddings.DIMENSIONS), dtype=np.float32)
    return _Index(
        docs=docs,
        question_matrix=np.vstack(question_parts) if question_parts else empty,
        question_owner=np.asarray(owners, dtype=np.int64),
        answer_matrix=np.vstack(answer_rows) if answer_rows else empty,
        idf=idf,
        max_idf=max_idf,
        by_word=by_word,
        by_question=by_question,
        entry_ids=np.asarray([doc.entry_id for doc in docs], dtype=np.int64),
    )


def _current_index() -> _Index:
    global _index, _signature
    signature = _current_signature()
    with _lock:
        if _index is None or signature != _signature:
            _index = _build()
            _signature = signature
        return _index


def warm_up(**_kwargs: Any) -> None:
    """Build this process's index and load the model before the first question (a server worker's start)."""
    index = _current_index()
    if index.docs:
        embeddings.load_model()


def reset_index() -> None:
    """Forget this process's index and in-memory vectors (tests switching the embedding model)."""
    global _index, _signature
    with _lock:
        _index = None
        _signature = None
        for cache in (_stored, _computed, _words):
            cache.clear()


def _coverage(query: frozenset[str], found: frozenset[str], index: _Index) -> float:
    total = sum(index.idf.get(w, index.max_idf) for w in query)
    if not total:
        return 0.0
    return sum(index.idf.get(w, index.max_idf) for w in query & found) / total


def _scaled(cosine: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    low, high = bounds
    return np.clip((cosine - low) / (high - low), 0.0, 1.0)


def _scores(query: str, index: _Index) -> np.ndarray:
    """Every doc's score for ``query`` (float64, by position): dense similarities as matrix products,
    word coverage only for the docs that share a word with the query (the others' is 0)."""
    query_key = normalise(query)
    query_words = words(query)
    query_vector = embeddings.embed_query(query)
    question_sim = _scaled(index.question_matrix @ query_vector, QUESTION_COSINE).astype(np.float64)
    answer_sim = _scaled(index.answer_matrix @ query_vector, ANSWER_COSINE).astype(np.float64)
    # Similarities are clipped at 0, so a doc without question forms keeps 0, as it should.
    dense = np.zeros(len(index.docs))
    np.maximum.at(dense, index.question_owner, question_sim)
    dense = np.maximum(dense, ANSWER_WEIGHT * answer_sim)
    lexical = np.zeros(len(index.docs))
    sharing = {position for word in query_words for position in index.by_word.get(word, ())}
    for position in sharing:
        doc = index.docs[position]
        lexical[position] = max(
            max((_coverage(query_words, q, index) for q in doc.question_words), default=0.0),
            ANSWER_WEIGHT * _coverage(query_words, doc.answer_words, index),
        )
    scores = DENSE_WEIGHT * dense + (1 - DENSE_WEIGHT) * lexical
    # Asked in exactly one of the entry's own words.
    scores[index.by_question.get(query_key, [])] = 1.0
    return scores


def search_entries(query: str, limit: int = 5) -> list[EntryHit]:
    """Published, currently valid entries answering ``query``, best first; scores in [0, 1], below
    ``constants.MIN_SCORE`` left out. Never raises for a query it cannot match."""
    query = " ".join(query.split())[:200]
    if not query or limit <= 0:
        return []
    index = _current_index()
    valid = index.valid_on(timezone.localdate())
    if not valid.any():
        return []
    scores = _scores(query, index)
    kept = np.flatnonzero(valid & (scores >= MIN_SCORE))
    ranked = kept[np.lexsort((index.entry_ids[kept], -scores[kept]))][:limit]
    return [index.docs[position].hit(float(scores[position])) for position in ranked.tolist()]


def entries_for_item(item_code: str) -> list[EntryHit]:
    """Published, currently valid entries linked to the catalogue item ``item_code`` (score 1), newest first."""
    if not item_code:
        return []
    index = _current_index()
    today = timezone.localdate()
    found = [doc for doc in index.docs if item_code in doc.item_codes and doc.valid_on(today)]
    found.sort(key=lambda doc: -doc.entry_id)
    return [doc.hit(1.0) for doc in found]


def search_source_hits(query: str, limit: int) -> list[SourceHit]:
    """The portal search's knowledge-base source (registered in ``core.search_sources``)."""
    return [
        SourceHit(kind="knowledge", title=hit.question, url=hit.url, snippet=hit.answer[:120], score=hit.score)
        for hit in search_entries(query, limit)
    ]


# --- public pages ---------------------------------------------------------------------------------------


def _valid_now() -> Q:
    today = timezone.localdate()
    return (Q(valid_from__isnull=True) | Q(valid_from__lte=today)) & (
        Q(valid_until__isnull=True) | Q(valid_until__gte=today)
    )


def public_entry(entry_id: int) -> EntryVersion:
    """The published, currently valid version of an entry, or 404 (expired and withdrawn entries too)."""
    version = (
        EntryVersion.objects.filter(_valid_now(), entry_id=entry_id, status=VersionStatus.PUBLISHED)
        .select_related("entry__department")
        .first()
    )
    if version is None:
        raise Http404("知识条目不存在或已失效")
    return version


def published_entry(entry_id: int) -> EntryHit | None:
    """One published, currently valid entry as a hit (score 1), or None: for callers that keep entry ids."""
    try:
        version = public_entry(entry_id)
    except Http404:
        return None
    return EntryHit(
        id=version.entry_id,
        version=version.version,
        kind=version.kind,
        kind_label=str(version.get_kind_display()),
        question=version.title,
        questions=tuple(version.questions),
        answer=version.answer,
        source=version.source_text,
        source_url=version.source_url,
        url=reverse("knowledge:entry", args=[version.entry_id]),
        item_codes=tuple(version.item_codes),
        department_code=version.entry.department.code,
        department_name=version.entry.department.name,
        valid_until=version.valid_until,
        score=1.0,
    )


def item_names(codes: Iterable[str]) -> dict[str, str]:
    return catalog_selectors.item_names(codes)


def published_item_choices(department_code: str | None = None) -> list[tuple[str, str]]:
    """Published catalogue items as (code, "name（department）") for the entry form, the department's first."""
    items = catalog_selectors.published_items()
    rows = [(item.code, f"{item.name}（{item.department.name}）", item.department.code) for item in items]
    rows.sort(key=lambda row: (row[2] != department_code, row[1]))
    return [(code, label) for code, label, _department in rows]


# --- staff pages ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryRow:
    """One entry on the desk list: its newest version and whether a version of it is public now."""

    entry: Entry
    latest: EntryVersion
    published_version: int | None


def staff_entries(user: Any, *, query: str = "", status: str = "") -> list[EntryRow]:
    """Entries ``user`` sees on the desk (their department tree), newest first, by text and status."""
    entries = policy.visible_entries(user, Entry.objects.select_related("department"))
    versions = EntryVersion.objects.filter(entry__in=entries)
    latest: dict[int, EntryVersion] = {}
    published: dict[int, int] = {}
    for version in versions.select_related("entry__department").order_by("entry_id", "version"):
        latest[version.entry_id] = version
        if version.status == VersionStatus.PUBLISHED:
            published[version.entry_id] = version.version
    rows = [EntryRow(v.entry, v, published.get(entry_id)) for entry_id, v in latest.items()]
    if query:
        # In Python: the question forms are JSON (escaped on some databases), and one department's entries are few.
        wanted = normalise(query)
        rows = [row for row in rows if wanted in normalise(" ".join([*row.latest.questions, row.latest.answer]))]
    if status:
        rows = [row for row in rows if row.latest.status == status]
    rows.sort(key=lambda row: row.latest.updated_at, reverse=True)
    return rows


def staff_entry(user: Any, entry_id: int) -> Entry:
    """An entry ``user`` may see on the staff pages; the same 404 for a missing and a forbidden one."""
    entry = Entry.objects.select_related("department").filter(pk=entry_id).first()
    if entry is None or not policy.may_see(user, entry):
        raise Http404("知识条目不存在")
    return entry


def versions_of(entry: Entry) -> list[EntryVersion]:
    """Every version of an entry, newest first, with who wrote and published it."""
    return list(
        EntryVersion.objects.filter(entry=entry)
        .select_related("created_by", "updated_by", "submitted_by", "published_by")
        .order_by("-version")
    )


def open_version(entry: Entry) -> EntryVersion | None:
    return EntryVersion.objects.filter(entry=entry, status__in=[VersionStatus.DRAFT, VersionStatus.IN_REVIEW]).first()


def review_queue(user: Any) -> QuerySet[EntryVersion]:
    """Versions waiting for review in the departments ``user`` publishes for, oldest first."""
    entries = policy.reviewable_entries(user, Entry.objects.all())
    return (
        EntryVersion.objects.filter(entry__in=entries, status=VersionStatus.IN_REVIEW)
        .select_related("entry__department", "submitted_by", "created_by")
        .order_by("submitted_at", "pk")
    )


@dataclass(frozen=True)
class FieldChange:
    label: str
    before: str
    after: str
    # For long texts: the lines of a unified diff, each (sign, text).
    lines: tuple[tuple[str, str], ...] = ()


def _shown(version: EntryVersion, name: str) -> str:
    value = getattr(version, name)
    if name == "questions":
        return "\n".join(value)
    if name == "item_codes":
        names = catalog_selectors.item_names(value)
        return "\n".join(f"{names.get(code, code)}（{code}）" for code in value)
    if name == "kind":
        return str(version.get_kind_display())
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value or "")


COMPARED_FIELDS = (
    "kind",
    "questions",
    "answer",
    "source_text",
    "source_url",
    "item_codes",
    "valid_from",
    "valid_until",
)


def version_diff(before: EntryVersion | None, after: EntryVersion) -> list[FieldChange]:
    """What ``after`` changes against ``before``: one row per changed field, long texts line by line."""
    if before is None:
        return []
    changes = []
    for name in COMPARED_FIELDS:
        old, new = _shown(before, name), _shown(after, name)
        if old == new:
            continue
        lines: tuple[tuple[str, str], ...] = ()
        if "\n" in old or "\n" in new or len(old) > 80 or len(new) > 80:
            diff = difflib.ndiff(_lines(old), _lines(new))
            lines = tuple((line[0], line[2:]) for line in diff if line[0] in "+- ")
        label = str(getattr(EntryVersion._meta.get_field(name), "verbose_name", name))
        changes.append(FieldChange(label, old, new, lines))
    return changes


def _lines(text: str) -> list[str]:
    # Answers are paragraphs of Chinese: compare sentence by sentence, which is what a reviewer reads.
    out: list[str] = []
    for paragraph in text.splitlines():
        sentence = ""
        for ch in paragraph:
            sentence += ch
            if ch in "。；！？;!?":
                out.append(sentence)
                sentence = ""
        if sentence:
            out.append(sentence)
    return out


def previous_public_version(version: EntryVersion) -> EntryVersion | None:
    """What ``version`` is compared with: the published version now, or else the newest public one before it."""
    versions = EntryVersion.objects.filter(entry_id=version.entry_id).exclude(pk=version.pk)
    return (
        versions.filter(status=VersionStatus.PUBLISHED).first()
        or versions.filter(version__lt=version.version, status__in=PUBLIC_HISTORY_STATUSES).order_by("-version").first()
        or versions.filter(version__lt=version.version).order_by("-version").first()
    )


@dataclass(frozen=True)
class QuestionGroup:
    """Repeats of one unanswered question: the newest wording, how often, when last, on which channels."""

    question_id: int
    text: str
    count: int
    last_asked: dt.datetime
    channels: tuple[str, ...]


def unanswered_groups(*, limit: int = 200) -> list[QuestionGroup]:
    """Open unanswered questions grouped by their normalised text, most asked first."""
    grouped = (
        UnansweredQuestion.objects.filter(status=QuestionStatus.OPEN)
        .values("normalised")
        .annotate(count=Count("pk"), last=Max("asked_at"), newest=Max("pk"))
        .order_by("-count", "-last")[:limit]
    )
    groups = list(grouped)
    newest = UnansweredQuestion.objects.in_bulk([g["newest"] for g in groups])
    channels: dict[str, set[str]] = {}
    for key, channel in UnansweredQuestion.objects.filter(
        status=QuestionStatus.OPEN, normalised__in=[g["normalised"] for g in groups]
    ).values_list("normalised", "channel"):
        channels.setdefault(key, set()).add(channel)
    return [
        QuestionGroup(
            question_id=g["newest"],
            text=newest[g["newest"]].text,
            count=g["count"],
            last_asked=g["last"],
            channels=tuple(sorted(channels.get(g["normalised"], ()))),
        )
        for g in groups
    ]


def open_question(question_id: int) -> UnansweredQuestion | None:
    return UnansweredQuestion.objects.filter(pk=question_id, status=QuestionStatus.OPEN).first()
