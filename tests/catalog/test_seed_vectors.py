"""The seed catalogue ships its search vectors, so a fresh demo database starts serving without embedding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from yiwang.catalog import demo
from yiwang.catalog.models import SearchVector
from yiwang.catalog.search import vectors
from yiwang.catalog.search.engine import catalog_search
from yiwang.core import embeddings

pytestmark = pytest.mark.django_db


def test_the_seed_holds_a_vector_for_every_text_the_search_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fails when the seed catalogue changed without `yiwang seed --export-search-vectors` being run."""
    SearchVector.objects.all().delete()
    vectors.store_vector_file(demo.SEED_DIR / demo.SEED_VECTORS)

    def no_embedding(texts: object) -> np.ndarray:
        raise AssertionError(f"embedded at start-up: {texts!r}"[:300])

    monkeypatch.setattr(embeddings, "embed_passages", no_embedding)
    monkeypatch.setattr(embeddings, "embed_queries", no_embedding)
    catalog_search.reset()
    try:
        assert len(catalog_search.current().docs) > 300
    finally:
        catalog_search.reset()


def test_a_vector_file_round_trips(tmp_path: Path) -> None:
    held = np.load(demo.SEED_DIR / demo.SEED_VECTORS)
    assert held["vectors"].dtype == np.float32 and held["vectors"].shape[1] == embeddings.DIMENSIONS
    SearchVector.objects.all().delete()
    assert vectors.store_vector_file(demo.SEED_DIR / demo.SEED_VECTORS) == SearchVector.objects.count()
    written = tmp_path / "again.npz"
    assert vectors.write_vector_file(written) == SearchVector.objects.count()
    again = np.load(written)
    order = np.argsort(held["digests"])
    assert list(again["digests"]) == list(held["digests"][order])
    assert np.array_equal(again["vectors"], held["vectors"][order])
