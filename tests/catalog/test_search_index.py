"""The lexical index's own bookkeeping (core of ADR 0002), without a database: what is added can be
found and what is removed leaves nothing behind, with the compact structures of ADR 0012."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from yiwang.catalog.search.index import FIELD_WEIGHTS, Document, SearchIndex


def _doc(code: str, name: str, keyword: str = "") -> Document:
    return Document(
        type="item",
        code=code,
        name=name,
        department_code="d",
        department_name="示范局",
        fields={"name": [name], "keyword": [keyword] if keyword else [], "body": ["办理须知"]},
    )


def test_documents_added_are_found_and_removed_ones_leave_nothing_behind() -> None:
    index = SearchIndex()
    index.add(_doc("a", "犬类准养证核发", "养狗"))
    index.add(_doc("b", "犬类准养证核发"))  # the same service in another county
    index.add(_doc("c", "烟草专卖零售许可证新办"))
    a, b = index.ids[("item", "a")], index.ids[("item", "b")]
    assert set(index.exact["犬类准养证核发"]) == {a, b} and index.exact["养狗"] == (a,)
    assert {h.doc.code for h in index.search("犬类准养证")[0]} == {"a", "b"}

    index.remove(("item", "a"))
    assert index.exact["犬类准养证核发"] == (b,) and index.exact["养狗"] == ()
    assert [h.doc.code for h in index.search("犬类准养证")[0]] == ["b"]
    assert a not in index.grams["准养"].ids and b in index.grams["准养"].ids
    assert all(a not in postings.ids for postings in index.terms.values())
    assert all(h.doc.code != "a" for h in index.search("养狗")[0])

    # Adding it again (an edited item) indexes it afresh under a new id.
    index.add(_doc("a", "犬类准养证核发", "养狗"))
    assert {h.doc.code for h in index.search("犬类准养证")[0]} == {"a", "b"}
    assert len(index.exact["犬类准养证核发"]) == 2


def test_postings_give_back_the_exact_field_weights() -> None:
    index = SearchIndex()
    index.add(_doc("a", "犬类准养证核发", "养狗"))
    doc_id = index.ids[("item", "a")]
    ids, weights = index.grams["准养"].arrays()
    assert ids.tolist() == [doc_id] and weights.tolist() == [FIELD_WEIGHTS["name"]]
    ids, weights = index.grams["养狗"].arrays()
    assert weights.tolist() == [FIELD_WEIGHTS["keyword"]]
    ids, weights = index.grams["须知"].arrays()
    assert weights.tolist() == [FIELD_WEIGHTS["body"]]


def test_a_mistyped_character_still_finds_the_word_after_other_documents_went() -> None:
    index = SearchIndex()
    index.add(_doc("a", "结婚登记"))
    index.add(_doc("b", "结婚证补领"))
    index.remove(("item", "b"))
    assert [h.doc.code for h in index.search("结昏登记")[0]] == ["a"]


class _BackwardSet(set[str]):
    """A set that iterates in reverse code-point order, as some hash seed could."""

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(set.__iter__(self), reverse=True))


def test_the_words_a_typo_may_mean_reach_the_query_in_one_order_whatever_the_hash_seed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Only the first few extras reach the dense query: in the set's order, two workers could differ.
    index = SearchIndex()
    monkeypatch.setattr(index, "_unexplained_spans", lambda chinese: iter([chinese]))
    monkeypatch.setattr(index, "_near_words", lambda span: _BackwardSet({"护照", "驾照", "结婚"}))
    extras, _terms = index._analyse("某照")
    assert extras == sorted(["护照", "驾照", "结婚"])
