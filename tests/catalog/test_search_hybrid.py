"""Hybrid search (issue 13): fusion, choices people made, honest empty answers, stored vectors, typed results."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from django.test import Client

from yiwang.catalog import selectors, services
from yiwang.catalog.models import SearchChoice, SearchVector, ServiceItem
from yiwang.catalog.search import engine, hybrid, vectors
from yiwang.catalog.search.engine import catalog_search, choices_for, item_documents
from yiwang.catalog.search.index import Document
from yiwang.core import search_sources

from .factories import make_item

pytestmark = pytest.mark.django_db


def doc(code: str, name: str, popularity: int = 0) -> Document:
    return Document(
        type="item", code=code, name=name, department_code="d", department_name="部门", popularity=popularity
    )


# --- fusion -----------------------------------------------------------------------------------


def test_lexical_evidence_lifts_a_candidate_the_dense_side_ranks_slightly_lower() -> None:
    a, b = doc("A", "甲事项"), doc("B", "乙事项")
    ranked = hybrid.fuse([hybrid.Candidate(a, 0.870, 0.0), hybrid.Candidate(b, 0.865, 5.0)], chinese="乙", choices={})
    assert [c.doc.code for c in ranked] == ["B", "A"]
    assert ranked[0].relevance == pytest.approx(0.865 + hybrid.LEXICAL_SHARE)


@pytest.mark.parametrize(
    ("query", "wanted"),
    [
        ("身份证丢了", "证件补办"),
        ("证件到期了怎么续", "证件延续"),
        ("店不开了要注销", "证件注销"),
        ("证件怎么办", "证件新办"),  # no operation asked: the item that starts the service, not a variant
        ("证件要延期", "证件延续"),
        ("关了半年的店要复业", "证件复业"),
    ],
)
def test_the_operation_the_query_asks_for_decides_between_variants(query: str, wanted: str) -> None:
    names = ["证件新办", "证件补办", "证件延续", "证件注销", "证件复业"]
    candidates = [hybrid.Candidate(doc(str(i), n), 0.85, 0.0) for i, n in enumerate(names)]
    ranked = hybrid.fuse(candidates, chinese=query, choices={})
    assert ranked[0].doc.name == wanted


def test_a_service_one_department_lists_twice_is_one_result() -> None:
    first, twin = doc("A1", "张贴宣传品审批"), doc("A2", "张贴宣传品审批")
    other = doc("B", "户外招牌设置")
    elsewhere = Document(type="item", code="A3", name="张贴宣传品审批", department_code="e", department_name="另一部门")
    candidates = [
        hybrid.Candidate(first, 0.90, 0.0),
        hybrid.Candidate(twin, 0.90, 0.0),
        hybrid.Candidate(other, 0.89, 0.0),
        hybrid.Candidate(elsewhere, 0.88, 0.0),
    ]
    ranked = hybrid.fuse(candidates, chinese="挂招牌", choices={})
    # The twin goes; the same name at another department is another implementation and stays.
    assert [c.doc.code for c in ranked] == ["A1", "B", "A3"]


def test_item_operation_reads_the_last_bracket_first() -> None:
    assert hybrid.item_operation("客运车辆道路运输证办理（补办）") == "replace"
    assert hybrid.item_operation("食品小经营店备案注销") == "cancel"
    assert hybrid.item_operation("犬类准养证核发") == "new"
    assert hybrid.item_operation("最低生活保障") == ""
    assert hybrid.item_operation("复业登记（县级行使）") == "suspend"


def test_choices_lift_what_people_chose_after_the_same_query() -> None:
    a, b = doc("A", "甲"), doc("B", "乙")
    ranked = hybrid.fuse(
        [hybrid.Candidate(a, 0.87, 0.0), hybrid.Candidate(b, 0.86, 0.0)], chinese="x", choices={("item", "B"): 9}
    )
    assert ranked[0].doc.code == "B"


def test_query_key_drops_filler_and_punctuation() -> None:
    assert hybrid.query_key("养狗要办什么证？") == hybrid.query_key("养狗  办什么证")
    assert len(hybrid.query_key("证" * 500)) <= 100


# --- choice feedback ----------------------------------------------------------------------------


def food_licence() -> ServiceItem:
    return ServiceItem.objects.published().get(name="食品经营许可")


def test_opening_a_result_counts_the_choice_without_storing_who(client: Client, django_user_model: type) -> None:
    user = django_user_model.objects.create_user(username="chooser", password="x")
    client.force_login(user)
    code = food_licence().code
    assert client.get(f"/items/{code}/", {"from_search": "开饭店要办什么证？"}).status_code == 200
    assert client.get(f"/items/{code}/", {"from_search": "开饭店 要办什么证"}).status_code == 200
    row = SearchChoice.objects.get()
    assert (row.query_key, row.target, row.code, row.count) == (hybrid.query_key("开饭店要办什么证"), "item", code, 2)
    stored = {f.name for f in SearchChoice._meta.get_fields()}
    assert stored == {"id", "query_key", "target", "code", "count", "updated_at"}
    assert "chooser" not in str(SearchChoice.objects.values().get())


def test_a_choice_counts_for_ranking_only_from_the_minimum_count(settings: pytest.FixtureRequest) -> None:
    settings.SEARCH_CHOICE_MIN_COUNT = 3  # type: ignore[attr-defined]
    code = food_licence().code
    for _ in range(2):
        services.record_search_choice("开饭店", "item", code)
    assert choices_for("开饭店") == {}
    services.record_search_choice("开饭店", "item", code)
    assert choices_for("开饭店") == {("item", code): 3}


@pytest.mark.parametrize(
    ("query", "target", "code"),
    [
        ("", "item", None),
        ("开饭店", "user", None),
        ("开饭店", "item", "NO-SUCH-CODE"),
        ("开" * 1000, "item", None),
    ],
)
def test_bad_choices_are_ignored(query: str, target: str, code: str | None) -> None:
    assert services.record_search_choice(query, target, code or food_licence().code) is False
    assert not SearchChoice.objects.exists()


def test_an_unknown_item_with_a_choice_is_a_404_and_counts_nothing(client: Client) -> None:
    assert client.get("/items/NOPE-1/", {"from_search": "开饭店"}).status_code == 404
    assert not SearchChoice.objects.exists()


# --- honest empty answers -------------------------------------------------------------------------


def test_a_question_the_catalogue_does_not_cover_gets_no_loose_results() -> None:
    outcome = selectors.search_outcome("附近哪家火锅好吃")
    assert outcome.no_good_match and outcome.hits == [] and outcome.total == 0
    hits, total = selectors.search("附近哪家火锅好吃")
    assert (hits, total) == ([], 0)


def test_a_covered_question_is_answered() -> None:
    outcome = selectors.search_outcome("开饭店要办什么证")
    assert not outcome.no_good_match
    # The licence itself or the 开餐馆一件事 bundle that includes it.
    assert "食品经营许可" in [h.doc.name for h in outcome.hits[:2]]


def test_the_page_says_not_found_and_where_to_ask(client: Client) -> None:
    page = client.get("/search/", {"q": "附近哪家火锅好吃"}).content.decode()
    assert "没有找到" in page and "12345" in page and "智能帮办" in page and "窗口" in page
    assert 'class="result-list"' not in page


def test_the_api_flags_no_good_match(client: Client) -> None:
    body = client.get("/api/v1/catalog/search", {"q": "附近哪家火锅好吃"}).json()
    assert body["no_good_match"] is True and body["results"] == []
    body = client.get("/api/v1/catalog/search", {"q": "开饭店要办什么证"}).json()
    assert body["no_good_match"] is False and "食品经营许可" in [r["name"] for r in body["results"][:2]]


# --- stored vectors -------------------------------------------------------------------------------


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every text the model is asked to embed while the test runs."""
    seen: list[str] = []
    real_queries, real_passages = vectors.embeddings.embed_queries, vectors.embeddings.embed_passages

    def queries(texts: list[str]) -> np.ndarray:
        seen.extend(texts)
        return real_queries(texts)

    def passages(texts: list[str]) -> np.ndarray:
        seen.extend(texts)
        return real_passages(texts)

    monkeypatch.setattr(vectors.embeddings, "embed_queries", queries)
    monkeypatch.setattr(vectors.embeddings, "embed_passages", passages)
    yield seen


def test_a_rebuild_reads_stored_vectors_and_embeds_nothing(fresh_search_index: None, embedded: list[str]) -> None:
    stored = SearchVector.objects.count()
    catalog_search.rebuild()
    assert embedded == []
    assert SearchVector.objects.count() == stored


def test_a_changed_item_is_embedded_again_and_only_it(fresh_search_index: None, embedded: list[str]) -> None:
    catalog_search.current()
    make_item(name="宠物犬只登记证明", department="market")
    outcome = selectors.search_outcome("养狗登记")
    assert embedded[0] == "宠物犬只登记证明"
    assert [t for t in embedded if "宠物" in t] and all(("宠物" in t or "养狗" in t) for t in embedded)
    assert any(h.doc.name == "宠物犬只登记证明" for h in outcome.hits)


def test_vectors_are_keyed_by_model_side_and_text() -> None:
    assert vectors.digest("犬类准养证核发", is_query=True) != vectors.digest("犬类准养证核发", is_query=False)
    first = vectors.vectors_for(["犬类准养证核发"], is_query=True)
    again = vectors.vectors_for(["犬类准养证核发"], is_query=True)
    assert np.array_equal(first, again)
    assert SearchVector.objects.filter(digest=vectors.digest("犬类准养证核发", is_query=True)).count() == 1


def test_the_dense_index_reuses_rows_after_removals() -> None:
    dense = vectors.DenseIndex()
    eye = np.eye(4, 384, dtype=np.float32)
    dense.add_many([("item", "a"), ("item", "b"), ("item", "c")], eye[:3])
    dense.remove(("item", "b"))
    dense.add_many([("item", "d")], eye[3:4])
    assert len(dense) == 3 and dense.matrix.shape[0] == 3
    scores = dense.scores(eye[3])
    assert dense.keys[int(np.argmax(scores))] == ("item", "d")


def _unit(vector: np.ndarray) -> np.ndarray:
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def test_a_vector_close_to_many_documents_pays_a_hub_penalty() -> None:
    """A generic vector at the centre of a crowd of documents is near every query about them; with the
    correction, a document that matches the query specifically wins over it."""
    rng = np.random.default_rng(7)
    theme, aside = _unit(rng.standard_normal(384)), _unit(rng.standard_normal(384))
    crowd = [_unit(theme + 0.9 * _unit(rng.standard_normal(384))) for _ in range(30)]
    keys = [("item", f"c{i}") for i in range(30)] + [("item", "hub"), ("item", "specific")]
    matrix = np.stack([*crowd, theme, _unit(theme + aside)])
    query = _unit(theme + 0.4 * aside)

    def scores(weight: float) -> tuple[vectors.DenseIndex, np.ndarray]:
        index = vectors.DenseIndex(hub_neighbours=20, hub_weight=weight)
        index.add_many(keys, matrix)
        index.recalibrate()
        return index, index.scores(query)

    plain, plain_scores = scores(0.0)
    assert plain_scores[plain.rows[("item", "hub")]] > plain_scores[plain.rows[("item", "specific")]]
    corrected, corrected_scores = scores(0.1)
    assert corrected_scores[corrected.rows[("item", "specific")]] > corrected_scores[corrected.rows[("item", "hub")]]
    # Penalties are relative to the catalogue's average, so relevances keep their scale.
    assert abs(float(corrected.penalty[list(corrected.rows.values())].mean())) < 1e-6
    # A document added later is measured against the same average; a removed one pays nothing.
    corrected.add_many([("item", "late")], theme)
    assert corrected.penalty[corrected.rows[("item", "late")]][0] == pytest.approx(
        corrected.penalty[corrected.rows[("item", "hub")]][0], abs=0.005
    )
    row = corrected.rows[("item", "late")]
    corrected.remove(("item", "late"))
    assert corrected.penalty[row][0] == 0.0


def test_a_document_with_several_views_scores_its_best_one() -> None:
    dense = vectors.DenseIndex(views=2)
    eye = np.eye(4, 384, dtype=np.float32)
    # a: name along axis 0, core along axis 1; b: both along axis 2.
    dense.add_many([("item", "a"), ("item", "b")], np.stack([eye[[0, 1]], eye[[2, 2]]]))
    assert dense.matrix.shape == (2, 2, 384)
    for axis, best in ((0, "a"), (1, "a"), (2, "b")):
        scores = dense.scores(eye[axis])
        assert dense.keys[int(np.argmax(scores))] == ("item", best) and scores.max() == pytest.approx(1.0)
    assert dense.scores(eye[3]).max() == 0.0
    # One view read alone: the core of a does not count when only the names are asked.
    assert dense.scores(eye[1], view=0).tolist() == [0.0, 0.0]
    assert dense.scores(eye[2], view=0).tolist() == [0.0, 1.0]
    with pytest.raises(ValueError):
        dense.add_many([("item", "c")], eye[:3])


@pytest.mark.parametrize(
    ("name", "core"),
    [
        ("犬类准养证核发", "犬类准养证"),
        ("公司设立登记", "公司"),
        ("供气报装", "供气报装"),
        ("客运车辆道路运输证办理（补办）", "客运车辆道路运输证"),
        ("民办职业培训学校设立审批(县级)", "民办职业培训学校"),
        # Nothing left but procedure words: the cleaned name is the core.
        ("申请登记", "申请登记"),
        ("（县级）备案", "备案"),
    ],
)
def test_the_core_of_a_name_drops_procedure_words_and_variants(name: str, core: str) -> None:
    assert vectors.core_name(name) == core


def test_every_document_gets_a_name_and_a_core_vector() -> None:
    make_item(name="犬类准养证核发", department="market")
    doc = next(d for d in item_documents() if d.name == "犬类准养证核发")
    held = vectors.document_vectors([doc])
    assert held.shape == (1, vectors.VIEWS, 384)
    assert np.allclose(np.linalg.norm(held, axis=2), 1.0, atol=1e-4)
    # The views differ (the core is not the name), and the core view is the closer to the core itself.
    core = vectors.vectors_for(["犬类准养证"], is_query=True)[0]
    assert held[0, 1] @ core > held[0, 0] @ core


def test_the_search_blends_the_typed_and_the_rewritten_query(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[list[str]] = []
    eye = np.eye(3, 384, dtype=np.float32)

    def queries(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return eye[len(calls) - 1 : len(calls)]

    monkeypatch.setattr(engine.embeddings, "embed_queries", queries)
    monkeypatch.setattr(engine.embeddings, "embed_query", lambda text: queries([text])[0])
    engine._blended_query_vector.cache_clear()
    engine._query_vector.cache_clear()
    try:
        # As configured (no share): the typed query alone, one embedding a search.
        assert hybrid.REWRITTEN_SHARE == 0
        assert np.array_equal(engine._blended_query_vector("要办什么证", "办 证"), eye[0])
        assert calls == [["要办什么证"]]
        calls.clear()
        engine._query_vector.cache_clear()
        share = 0.2
        monkeypatch.setattr(hybrid, "REWRITTEN_SHARE", share)
        blended = engine._blended_query_vector("养狗要办什么证", "养狗 犬类")
        assert calls == [["养狗要办什么证"], ["养狗 犬类"]]
        expected = np.array([1 - share, share]) / np.hypot(1 - share, share)
        assert np.allclose(blended[:2], expected) and np.linalg.norm(blended) == pytest.approx(1.0)
        # Nothing rewritten: one text, one embedding.
        assert np.array_equal(engine._blended_query_vector("养狗", "养狗"), eye[2])
        assert calls[-1] == ["养狗"]
    finally:
        engine._blended_query_vector.cache_clear()
        engine._query_vector.cache_clear()


def test_a_question_for_the_assistant_is_ranked_by_the_name_view_only(
    fresh_search_index: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The assistant's recognition was calibrated on names (ADR 0014): the core view must not reorder it."""
    make_item(name="犬类准养证核发", department="market")
    read: list[int | None] = []
    real_scores = vectors.DenseIndex.scores

    def scores(self: vectors.DenseIndex, query: np.ndarray, view: int | None = None) -> np.ndarray:
        read.append(view)
        return real_scores(self, query, view)

    monkeypatch.setattr(vectors.DenseIndex, "scores", scores)
    hits, _ = selectors.search("犬类准养证怎么办", question=True)
    assert [h.doc.name for h in hits][:1] == ["犬类准养证核发"]
    selectors.search("犬类准养证怎么办")
    assert read[:2] == [0, None]


# --- typed results on the page ----------------------------------------------------------------------


@pytest.fixture
def reply_source() -> Iterator[None]:
    def search(query: str, limit: int) -> list[search_sources.SourceHit]:
        if "营业执照" not in query:
            return []
        return [search_sources.SourceHit("reply", "关于营业执照的答复", "/replies/1/", "答复内容……", 0.9)]

    search_sources.register_search_source("reply", "12345答复", search)
    yield
    search_sources._sources.pop("reply", None)


def test_the_page_shows_faqs_and_other_sources_typed_and_linked(client: Client, reply_source: None) -> None:
    page = client.get("/search/", {"q": "领了营业执照后还要办哪些手续"}).content.decode()
    assert "常见问题" in page and "领了营业执照后还要办哪些手续？" in page
    assert "#faq" in page
    assert "12345答复" in page and 'href="/replies/1/"' in page and "关于营业执照的答复" in page
    assert "from_search=" in page  # result links count the choice without JavaScript


def test_the_page_works_when_no_source_is_registered(client: Client) -> None:
    response = client.get("/search/", {"q": "开饭店要办什么证"})
    assert response.status_code == 200
    assert "食品经营许可" in response.content.decode()


def test_a_change_whose_id_was_handed_out_again_after_a_rollback_is_not_missed(fresh_search_index: None) -> None:
    """SQLite gives a rolled-back row's id to the next insert: a process that applied the rolled-back change
    must not take the next, different change under the same id for one it has seen."""
    from django.db import transaction

    catalog_search.current()

    class Undo(Exception):
        pass

    with pytest.raises(Undo), transaction.atomic():
        make_item(name="临时测试事项甲", department="market")
        assert any(h.doc.name == "临时测试事项甲" for h in selectors.search_outcome("临时测试事项甲").hits)
        raise Undo
    make_item(name="宠物犬只登记证明", department="market")
    names = [h.doc.name for h in selectors.search_outcome("宠物犬只登记证明").hits]
    assert "宠物犬只登记证明" in names
    # Not asserted: that the rolled-back item has left. An index that applied a change inside a transaction
    # that was then rolled back keeps it until its next rebuild on PostgreSQL (ids are not handed out again
    # there, so nothing says the log changed): a separate limit, noted in docs/adr/0012-search-retrieval.md.
