"""Search behaviour that people rely on (quality figures are measured in bench/, not here)."""

import pytest

from yiwang.catalog import selectors

pytestmark = pytest.mark.django_db


def top_names(query: str, n: int = 3, **filters: str) -> list[str]:
    hits, _ = selectors.search(query, limit=n, **filters)
    return [h.doc.name for h in hits]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("开饭店要办什么证", "食品经营许可"),
        ("驾照到期了怎么换", "机动车驾驶证期满换证"),
        ("孩子上户口", "出生登记"),
        ("公积金怎么取出来", "住房公积金提取"),
    ],
)
def test_colloquial_questions_find_the_item(query: str, expected: str) -> None:
    assert expected in top_names(query, 2)


def test_traditional_chinese() -> None:
    assert "普通护照签发" in top_names("護照辦理")


def test_full_pinyin_and_initials() -> None:
    assert "社会保障卡申领" in top_names("shebaoka")
    assert "普通护照签发" in top_names("huzhao")
    assert any("社会保障卡" in name for name in top_names("sbk"))


def test_one_wrong_character() -> None:
    assert "结婚登记" in top_names("结昏登记")
    assert any("身份证" in name for name in top_names("身分证补办"))


def test_filters_narrow_results() -> None:
    names = top_names("登记", 20, audience="organisation")
    assert names and "结婚登记" not in names
    hits, _ = selectors.search("许可", limit=50, level="county")
    assert all(h.doc.level == "county" for h in hits)


def test_nonsense_finds_nothing_much() -> None:
    hits, total = selectors.search("qqqqqqqqq")
    assert total == 0 and hits == []


def test_a_server_worker_builds_the_index_when_it_starts_not_on_the_first_search(fresh_search_index: None) -> None:
    """Issue 12 item 24: the first search after a start took 4-8 s building the index."""
    from yiwang.catalog.search.engine import catalog_search
    from yiwang.core import gunicorn_config

    assert not catalog_search.loaded
    builds = catalog_search.builds
    gunicorn_config.post_worker_init(worker=None)
    assert catalog_search.loaded and catalog_search.builds == builds + 1
    assert "食品经营许可" in top_names("开饭店要办什么证", 2)
    assert catalog_search.builds == builds + 1


def test_a_failing_warm_up_leaves_the_index_to_the_first_search(
    fresh_search_index: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from yiwang.catalog.search.engine import catalog_search
    from yiwang.core.warmup import warm_up_worker

    def unreachable() -> None:
        raise ConnectionError("database not reachable")

    monkeypatch.setattr(catalog_search, "warm_up", unreachable)
    warm_up_worker()  # the worker still boots
    assert not catalog_search.loaded
    assert "database not reachable" in caplog.text
    assert "食品经营许可" in top_names("开饭店要办什么证", 2)
    assert catalog_search.loaded
