"""Knowledge-base fixtures: staff of two departments, and the embedding stand-in of fakes.py for every test
here (one test in test_search.py runs the real model to check that its scores are calibrated)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.accounts.factories import make_citizen, make_staff
from yiwang.accounts.constants import Role
from yiwang.knowledge import selectors, services
from yiwang.knowledge.constants import EntryKind

from .fakes import use_fake_embeddings


@pytest.fixture(autouse=True)
def fake_embeddings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    use_fake_embeddings(monkeypatch)
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
