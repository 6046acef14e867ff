"""search_entries and entries_for_item: only published, currently valid entries; ranking; scores; vectors."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from tests.accounts.factories import make_staff
from yiwang.accounts.constants import Role
from yiwang.catalog import selectors as catalog_selectors
from yiwang.core import embeddings
from yiwang.core.search_sources import search_other_sources
from yiwang.knowledge import selectors, services, tasks
from yiwang.knowledge.constants import MIN_SCORE, EntryKind
from yiwang.knowledge.models import VersionVector

from .conftest import published
from .fakes import REAL_MODEL

pytestmark = pytest.mark.django_db


@pytest.fixture
def knowledge_base(police_writer: Any, police_admin: Any, market_admin: Any) -> dict[str, int]:
    market_writer = make_staff(Role.REVIEWER, "market")
    entries = {
        "id_card": published(police_writer, police_admin),
        "restaurant": published(
            market_writer,
            market_admin,
            department="market",
            questions=["开饭店要办什么证", "开一家小餐馆需要哪些手续"],
            answer="先办营业执照，再办食品经营许可证，可以在“我要开饭店”一件事里一次申请。",
            kind=EntryKind.POLICY,
        ),
        "temporary_id": published(
            police_writer,
            police_admin,
            questions=["临时身份证怎么办理"],
            answer="在派出所户籍窗口申领临时居民身份证，当场可取，工本费10元。",
        ),
    }
    return {name: version.entry_id for name, version in entries.items()}


def test_the_entry_asked_for_comes_first_with_a_score_in_range(knowledge_base: dict[str, int]) -> None:
    hits = selectors.search_entries("我的身份证丢了，怎么补办？")
    assert hits[0].id == knowledge_base["id_card"]
    assert all(0.0 <= hit.score <= 1.0 for hit in hits)
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)
    first = hits[0]
    assert first.kind == EntryKind.ANSWER and first.kind_label == "问答"
    assert first.url == f"/knowledge/{knowledge_base['id_card']}/" and first.item_codes == ()
    assert first.question == "身份证丢了怎么补办" and "派出所" in first.answer and first.source
    restaurant = selectors.search_entries("想开个小餐馆要什么手续")
    assert restaurant[0].id == knowledge_base["restaurant"] and restaurant[0].department_code == "market"


def test_asking_one_of_the_entrys_own_phrasings_scores_one(knowledge_base: dict[str, int]) -> None:
    hits = selectors.search_entries("居民身份证遗失如何补领")
    assert hits[0].id == knowledge_base["id_card"] and hits[0].score == 1.0
    # Traditional characters and full-width punctuation ask the same question.
    assert selectors.search_entries("居民身份證遺失如何補領")[0].score == 1.0
    # Scores are absolute: a vaguer question about the same thing scores lower, not also 1.
    vague = selectors.search_entries("证件丢失")
    assert not vague or vague[0].score < 1.0


def test_unrelated_questions_find_nothing(knowledge_base: dict[str, int]) -> None:
    assert selectors.search_entries("今天天气怎么样") == []
    assert selectors.search_entries("") == [] and selectors.search_entries("   ") == []
    assert selectors.search_entries("身份证", limit=0) == []
    assert all(hit.score >= MIN_SCORE for hit in selectors.search_entries("身份证"))
    assert len(selectors.search_entries("身份证", limit=1)) == 1


def test_expired_and_future_entries_are_never_served(police_writer: Any, police_admin: Any) -> None:
    today = timezone.localdate()
    item = catalog_selectors.published_items(department="police").first()
    assert item is not None
    expired = published(
        police_writer,
        police_admin,
        questions=["办理居住证需要什么材料"],
        answer="带身份证和居住证明。",
        item_codes=[item.code],
        valid_from=today - dt.timedelta(days=30),
        valid_until=today - dt.timedelta(days=1),
    )
    future = published(
        police_writer,
        police_admin,
        questions=["新居住证政策什么时候实施"],
        answer="明年起实施。",
        item_codes=[item.code],
        valid_from=today + dt.timedelta(days=1),
    )
    current = published(
        police_writer,
        police_admin,
        questions=["居住证多久能办好"],
        answer="15个工作日。",
        item_codes=[item.code],
        valid_until=today,  # the last day it is valid
    )
    found = {hit.id for hit in selectors.search_entries("居住证", limit=10)}
    assert current.entry_id in found and expired.entry_id not in found and future.entry_id not in found
    assert [hit.id for hit in selectors.entries_for_item(item.code)] == [current.entry_id]
    assert selectors.entries_for_item(item.code)[0].score == 1.0
    assert selectors.entries_for_item("") == [] and selectors.entries_for_item("NO-SUCH") == []
    assert selectors.published_entry(expired.entry_id) is None
    assert selectors.published_entry(future.entry_id) is None
    assert selectors.published_entry(current.entry_id) is not None


def test_the_portal_search_shows_knowledge_hits_as_their_own_kind(knowledge_base: dict[str, int]) -> None:
    results = dict((source.kind, hits) for source, hits in search_other_sources("身份证丢了怎么补办"))
    hits = results["knowledge"]
    assert hits[0].title == "身份证丢了怎么补办" and hits[0].url == f"/knowledge/{knowledge_base['id_card']}/"
    assert hits[0].kind == "knowledge" and 0 < hits[0].score <= 1


def test_vectors_are_stored_once_and_then_read_not_recomputed(
    knowledge_base: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from yiwang.core.models import OutboxEvent

    events = OutboxEvent.objects.filter(topic=services.PUBLISHED_TOPIC)
    assert events.count() == 3
    for event in events:
        tasks.store_published_vectors(event)
        tasks.store_published_vectors(event)  # handled twice: nothing changes
    assert VersionVector.objects.count() == 3
    vector = VersionVector.objects.first()
    assert vector is not None and vector.rows in (2, 3) and len(bytes(vector.data)) == vector.rows * 384 * 4
    selectors.reset_index()

    def no_passages(texts: Any) -> Any:
        raise AssertionError("stored vectors must not be computed again")

    monkeypatch.setattr(embeddings, "embed_passages", no_passages)
    assert selectors.search_entries("身份证丢了怎么补办")[0].id == knowledge_base["id_card"]
    assert services.store_missing_vectors() == 0


def test_a_bulk_of_versions_without_vectors_is_searched_by_its_words_meanwhile(
    knowledge_base: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selectors, "EMBED_IN_REQUEST", 0)
    selectors.reset_index()
    hits = selectors.search_entries("开饭店要办什么证")
    assert hits[0].id == knowledge_base["restaurant"]
    assert services.store_missing_vectors(batch=2) == 3
    assert VersionVector.objects.count() == 3


def test_the_real_model_ranks_a_paraphrase_above_the_reliable_score(
    police_writer: Any, police_admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Calibration of the cosine bounds against the shared e5 model itself (not the stand-in)."""
    from yiwang.knowledge.constants import RELIABLE_SCORE

    for name, value in REAL_MODEL.items():
        monkeypatch.setattr(embeddings, name, value)
    selectors.reset_index()
    mine = published(police_writer, police_admin)
    other = published(police_writer, police_admin, questions=["社保卡丢了怎么办"], answer="到社保窗口挂失补卡。")
    hits = selectors.search_entries("身份证丢了在哪补")
    assert hits[0].id == mine.entry_id and hits[0].score >= RELIABLE_SCORE
    # A neighbouring topic (another card lost) is found, but below the score callers answer from.
    assert [hit.score < RELIABLE_SCORE for hit in hits if hit.id == other.entry_id] == [True]
    assert selectors.search_entries("我的身份证找不到了，要重新办一张")[0].id == mine.entry_id
    assert selectors.search_entries("今天天气怎么样") == []


def test_a_server_worker_builds_the_index_before_the_first_question(
    knowledge_base: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from yiwang.core.warmup import warm_up_worker

    loaded = []
    monkeypatch.setattr(embeddings, "load_model", lambda: loaded.append(True))
    selectors.reset_index()
    warm_up_worker()
    # Loading is idempotent and the catalogue's search asks for the same model at start-up too.
    assert loaded and selectors._index is not None and len(selectors._index.docs) == 3
