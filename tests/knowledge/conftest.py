"""Knowledge-base fixtures: staff of two departments and a stand-in for the sentence-embedding model.

The real model (core.embeddings) takes seconds per call on a busy two-core machine; these tests check the
knowledge base's own logic, so they embed with a small deterministic stand-in (hashed characters and
character pairs). One test in test_search.py runs the real model to check that its scores are calibrated.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest

from tests.accounts.factories import make_citizen, make_staff
from yiwang.accounts.constants import Role
from yiwang.core import embeddings
from yiwang.core.text import normalise
from yiwang.knowledge import selectors, services
from yiwang.knowledge.constants import EntryKind


def _fake(texts: Sequence[str]) -> embeddings.Vectors:
    rows = np.zeros((len(texts), embeddings.DIMENSIONS), dtype=np.float32)
    for row, text in enumerate(texts):
        text = normalise(text)
        grams = list(text) + [text[i : i + 2] for i in range(len(text) - 1)]
        for gram in grams:
            slot = int.from_bytes(hashlib.blake2b(gram.encode(), digest_size=4).digest(), "big")
            rows[row, slot % embeddings.DIMENSIONS] += 1.0
        # Everything shares a common direction, as real sentence vectors do (cosines of unrelated texts ~0.8).
        norm = np.linalg.norm(rows[row]) or 1.0
        rows[row] = rows[row] / norm
        rows[row, 0] += 1.6
        rows[row] /= np.linalg.norm(rows[row])
    return rows


@pytest.fixture(autouse=True)
def fake_embeddings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(embeddings, "embed_queries", _fake)
    monkeypatch.setattr(embeddings, "embed_passages", _fake)
    monkeypatch.setattr(embeddings, "embed_query", lambda text: _fake([text])[0])
    monkeypatch.setattr(embeddings, "MODEL_NAME", "test-fake")
    selectors.reset_index()
    yield
    selectors.reset_index()


@pytest.fixture
def police_writer(db: Any) -> Any:
    return make_staff(Role.REVIEWER, "police")


@pytest.fixture
def police_admin(db: Any) -> Any:
    return make_staff(Role.DEPARTMENT_ADMIN, "police")


@pytest.fixture
def market_admin(db: Any) -> Any:
    return make_staff(Role.DEPARTMENT_ADMIN, "market")


@pytest.fixture
def operator(db: Any) -> Any:
    return make_staff(Role.HOTLINE_OPERATOR)


@pytest.fixture
def citizen(db: Any) -> Any:
    return make_citizen("丁市民")


def content(**changes: Any) -> services.EntryContent:
    fields: dict[str, Any] = {
        "kind": EntryKind.ANSWER,
        "questions": ["身份证丢了怎么补办", "居民身份证遗失如何补领"],
        "answer": "携带户口簿到户籍所在地派出所申请补领，也可以在示范市政务服务网上申请，补领需交纳工本费20元。",
        "source_text": "《居民身份证法》第十一条",
    }
    fields.update(changes)
    return services.EntryContent(**fields)


def published(writer: Any, publisher: Any, department: str = "police", **changes: Any) -> Any:
    """An entry drafted by ``writer`` and published by ``publisher`` through review."""
    draft = services.create_entry(actor=writer, department_code=department, content=content(**changes))
    services.submit_for_review(draft, actor=writer)
    return services.publish_version(draft, actor=publisher)
