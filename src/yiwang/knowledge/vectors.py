"""The sentence vectors of a knowledge-base version, as stored and as searched.

Each question form is embedded as a query (e5's symmetric use: a person's question against other phrasings
of it), and the answer, headed by the first question, as a passage. The rows are kept in
:class:`~yiwang.knowledge.models.VersionVector`, float32, so a process start reads them instead of
embedding the knowledge base again.
"""

from __future__ import annotations

import numpy as np

from yiwang.core import embeddings

# e5-small reads at most 512 tokens; the start of an answer says what it is about.
PASSAGE_CHARS = 600


def passage_text(questions: list[str], answer: str) -> str:
    title = questions[0] if questions else ""
    return f"{title}\n{answer}"[:PASSAGE_CHARS]


def compute(questions: list[str], answer: str) -> embeddings.Vectors:
    """One row per question form, then one for the answer: (len(questions) + 1) × DIMENSIONS."""
    asked = embeddings.embed_queries(list(questions))
    answered = embeddings.embed_passages([passage_text(questions, answer)])
    return np.vstack([asked, answered]).astype(np.float32)


def to_bytes(matrix: embeddings.Vectors) -> bytes:
    return np.ascontiguousarray(matrix, dtype=np.float32).tobytes()


def from_bytes(data: bytes | memoryview, rows: int) -> embeddings.Vectors:
    return np.frombuffer(bytes(data), dtype=np.float32).reshape(rows, embeddings.DIMENSIONS)
