"""A stand-in for the sentence-embedding model in tests.

The real model (core.embeddings) takes seconds per call on a busy two-core machine; tests of the knowledge
base's own logic embed with this small deterministic stand-in (hashed characters and character pairs),
whose vectors, like real ones, share a common direction (unrelated texts have cosines near 0.8).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pytest

from yiwang.core import embeddings
from yiwang.core.text import normalise
from yiwang.knowledge import selectors

# The model's own functions, for the test that checks the calibration against it.
REAL_MODEL = {
    name: getattr(embeddings, name) for name in ("embed_queries", "embed_passages", "embed_query", "MODEL_NAME")
}


def fake_vectors(texts: Sequence[str]) -> embeddings.Vectors:
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


def use_fake_embeddings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Embed with :func:`fake_vectors` for the rest of the test (the knowledge index starts afresh)."""
    monkeypatch.setattr(embeddings, "embed_queries", fake_vectors)
    monkeypatch.setattr(embeddings, "embed_passages", fake_vectors)
    monkeypatch.setattr(embeddings, "embed_query", lambda text: fake_vectors([text])[0])
    monkeypatch.setattr(embeddings, "MODEL_NAME", "test-fake")
    selectors.reset_index()
