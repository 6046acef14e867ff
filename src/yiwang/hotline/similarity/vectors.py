"""TF-IDF vectors of hashed text features, kept up to date as messages come and go."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse  # type: ignore[import-untyped]  # scipy and scikit-learn ship no types
from sklearn.feature_extraction import FeatureHasher  # type: ignore[import-untyped]
from sklearn.feature_extraction.text import TfidfTransformer  # type: ignore[import-untyped]

from yiwang.hotline.similarity.profiles import Profile

# Hashed feature space: large enough that distinct character pairs rarely collide, and no
# vocabulary to grow or rebuild as messages come in.
HASHED_FEATURES = 2**20

# The document frequencies are recomputed when the collection has grown or shrunk by this share
# since they were last computed (and for the first few hundred messages at every change).
IDF_REFRESH_SHARE = 0.25
IDF_ALWAYS_REFRESH_BELOW = 200


class Collection:
    """Messages with their TF-IDF vectors; rows are appended, and removed ones only masked.

    Vectors are hashed (no vocabulary to grow or rebuild) and weighted by
    document frequencies over the live messages (scikit-learn's smoothed
    IDF, sublinear term frequency, unit length), recomputed when the
    collection has changed enough (see IDF_REFRESH_SHARE).
    """

    def __init__(self) -> None:
        self.profiles: list[Profile] = []
        self.alive: list[bool] = []
        self.live_count = 0
        self._hasher = FeatureHasher(n_features=HASHED_FEATURES, input_type="dict", alternate_sign=False)
        self._counts: sparse.csr_matrix | None = None
        self._vectors: sparse.csr_matrix | None = None
        self._idf: np.ndarray | None = None
        self._weighted_size = 0

    def add(self, profiles: Sequence[Profile]) -> range:
        """Append messages; return their row numbers."""
        first = len(self.profiles)
        if not profiles:
            return range(first, first)
        counts = self._count(profiles)
        self.profiles.extend(profiles)
        self.alive.extend([True] * len(profiles))
        self.live_count += len(profiles)
        self._counts = counts if self._counts is None else sparse.vstack([self._counts, counts], format="csr")
        if self._vectors is not None and not self._weights_stale():
            self._vectors = sparse.vstack([self._vectors, self._weigh(counts)], format="csr")
        else:
            self._vectors = None  # reweighted on next use
        return range(first, len(self.profiles))

    def remove(self, row: int) -> None:
        if self.alive[row]:
            self.alive[row] = False
            self.live_count -= 1

    def vectors(self) -> sparse.csr_matrix:
        """TF-IDF rows of every message added (removed ones too: callers mask them)."""
        if self._counts is None:
            return sparse.csr_matrix((0, HASHED_FEATURES))
        if self._vectors is None or self._weights_stale():
            live = np.flatnonzero(self.alive)
            fitted = TfidfTransformer(sublinear_tf=True).fit(self._counts[live] if len(live) else self._counts)
            self._idf = fitted.idf_
            self._weighted_size = len(live)
            self._vectors = self._weigh(self._counts)
        return self._vectors

    def similarities(self, profile: Profile) -> np.ndarray:
        """Cosine similarity of a message (in the collection or not) to every row."""
        vectors = self.vectors()
        query = self._weigh(self._count([profile]))
        # A dense query multiplies fastest: one pass over the stored rows, no transposes.
        dense = np.zeros(HASHED_FEATURES)
        dense[query.indices] = query.data
        return np.asarray(vectors @ dense).ravel()

    def _count(self, profiles: Sequence[Profile]) -> sparse.csr_matrix:
        return self._hasher.transform(p.features for p in profiles).tocsr()

    def _weigh(self, counts: sparse.csr_matrix) -> sparse.csr_matrix:
        """Sublinear term frequency times IDF, each row scaled to unit length."""
        if self._idf is None:
            self.vectors()
        assert self._idf is not None
        weighted = counts.astype(np.float64)
        weighted.data = (1.0 + np.log(weighted.data)) * self._idf[weighted.indices]
        rows = np.repeat(np.arange(weighted.shape[0]), np.diff(weighted.indptr))
        norms = np.sqrt(np.bincount(rows, weights=weighted.data**2, minlength=weighted.shape[0]))
        weighted.data /= np.where(norms > 0, norms, 1.0)[rows]
        return weighted

    def _weights_stale(self) -> bool:
        live = self.live_count
        if live == self._weighted_size:
            return False
        if live < IDF_ALWAYS_REFRESH_BELOW:
            return True
        return abs(live - self._weighted_size) > IDF_REFRESH_SHARE * max(self._weighted_size, 1)
