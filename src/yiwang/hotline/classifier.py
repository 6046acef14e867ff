"""Dispatch suggestions for 12345 hotline messages: which top-level category a message belongs to.

A message is its title (留言主题) and its text (留言详情); the text may be missing.
The model is linear: two TF-IDF spaces, the title alone and the title with
the text, each made of the title's jieba words (single words and adjacent
pairs) and character 1- to 3-grams, feed one linear SVM. Its decision
scores, multiplied by a factor fitted on out-of-fold scores of full-text
messages, become probabilities through a softmax, so that ``confidence``
is honest enough for the work-order service to hand uncertain messages to
an operator.

Training data is mostly titles (a titles-only row still teaches both
spaces); full-text rows teach what message bodies look like.

The saved model is a NumPy ``.npz`` archive holding only arrays of numbers
and UTF-8 bytes (vocabularies, IDF weights, coefficients, a JSON header) and
is read with ``allow_pickle=False``: loading it never runs code, and it does
not depend on the scikit-learn version that trained it. The header records
the file format version and the library versions; a file whose format or
tokeniser version differs from this code is refused (``IncompatibleModel``)
instead of silently giving different answers. scikit-learn is only needed
to train, so serving processes never import it.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import tempfile
import threading
import time
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
from django.utils.translation import gettext as _
from numpy.typing import NDArray

from yiwang.core import text as core_text

# The seven top-level categories of the city's 12345 taxonomy (一级分类).
CATEGORIES: tuple[str, ...] = ("城乡建设", "环境保护", "交通运输", "教育文体", "劳动和社会保障", "商贸旅游", "卫生计生")

FORMAT_NAME = "yiwang.hotline.classifier"
# Bump whenever the archive layout or the feature extraction changes: old files are then refused.
FORMAT_VERSION = 2
MODEL_FILENAME = "classifier.npz"

# Past this many characters (longer than 95 % of messages) a text adds little but time: cross-validated on the
# shared messages, 1500 scored exactly as 3000 did and halves the time of the longest messages (~4 → ~2 ms).
MAX_TEXT_CHARS = 1500
# Cross-validated on the training data (see bench/bench_hotline.py and the ADR notes).
TITLE_WEIGHT = 1.0
MESSAGE_WEIGHT = 1.0
SVM_C = 0.5
MIN_DOCUMENT_FREQUENCY = 2
CALIBRATION_FOLDS = 3
# Fewer full-text messages than this: confidence is calibrated on all samples, titles-only included.
MIN_CALIBRATION_MESSAGES = 100


class ClassifierError(Exception):
    """Base of the errors this module raises; the message is meant for operators."""


class ModelMissing(ClassifierError):
    """No trained model has been saved yet."""


class IncompatibleModel(ModelMissing):
    """The model file is damaged or was written by an incompatible version.

    A kind of ``ModelMissing``: callers that hand messages to an operator when there is no model do the same
    when the file cannot be used.
    """


class TrainingRejected(ClassifierError):
    """The training samples cannot make a model (none usable, unknown categories, one category only)."""


@dataclass(frozen=True)
class Sample:
    """One labelled message: ``text`` is empty for a titles-only row."""

    title: str
    text: str
    category: str


@dataclass(frozen=True)
class Suggestion:
    """A category with the model's probability that it is the right one."""

    category: str
    confidence: float


@dataclass(frozen=True)
class CategoryScore:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Evaluation:
    """Quality of a classifier on labelled messages."""

    count: int
    accuracy: float
    macro_f1: float
    top2_accuracy: float
    per_category: dict[str, CategoryScore]


# --- text to features -------------------------------------------------------

# A saved model holds features of these words, so they come from jieba's own dictionary alone:
# words other apps teach the shared tokenizer would shift them.
normalise = core_text.fold
_words = core_text.plain_words


def _word_grams(words: Sequence[str]) -> list[str]:
    grams = list(words)
    grams.extend(f"{first}_{second}" for first, second in itertools.pairwise(words))
    return grams


def _char_grams(text: str, longest: int = 3) -> list[str]:
    """Characters and runs of up to ``longest`` characters, spaces left out."""
    chars = text.replace(" ", "")
    grams = list(chars)
    for length in range(2, longest + 1):
        grams.extend(chars[start : start + length] for start in range(len(chars) - length + 1))
    return grams


def message_features(title: str, text: str) -> tuple[list[str], list[str]]:
    """Features of one message in the two spaces: (title only, title with text).

    Only the title is segmented into words; the text contributes character 1- to 3-grams. Segmenting
    the text as well scored the same in cross-validation and took ten times as long (jieba: ~7 µs a character).
    In the second space the title's characters and pairs count twice, so that a long text does not drown the
    title, the best single clue. Cross-validated on the shared messages (bench/bench_hotline.py --cv, with raw
    term frequency): character pairs only, title once, gave macro-F1 0.920; trigrams in both spaces and the
    title twice gave 0.927 (mean of four 5-fold splits 0.921 → 0.926); held-out 0.933 → 0.937.
    """
    title = normalise(title)
    text = normalise(text[: MAX_TEXT_CHARS * 2])[:MAX_TEXT_CHARS]
    title_words = _word_grams(_words(title))
    message = title_words + _char_grams(title + text) + _char_grams(title, longest=2)
    return title_words + _char_grams(title), message


@dataclass(frozen=True, eq=False)
class _Space:
    """One TF-IDF space: term frequency times smoothed IDF, L2-normalised, times ``weight``.

    Raw counts, not sublinear (1 + log) ones: with the title counted twice and trigrams, raw counts
    cross-validated slightly better (0.927 against 0.925 macro-F1).
    """

    name: str
    vocabulary: dict[str, int]
    idf: NDArray[np.float32]
    weight: float

    @classmethod
    def fit(cls, name: str, documents: Sequence[Sequence[str]], weight: float, min_df: int) -> _Space:
        document_frequency: Counter[str] = Counter()
        for grams in documents:
            document_frequency.update(set(grams))
        kept = sorted(gram for gram, df in document_frequency.items() if df >= min_df)
        vocabulary = {gram: index for index, gram in enumerate(kept)}
        count = len(documents)
        idf = np.array([math.log((1 + count) / (1 + document_frequency[gram])) + 1.0 for gram in kept], np.float32)
        return cls(name, vocabulary, idf, weight)

    def vector(self, grams: Iterable[str]) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """Column indices and values of one document."""
        lookup = self.vocabulary.get
        columns: list[int] = []
        counts: list[int] = []
        for gram, count in Counter(grams).items():
            column = lookup(gram)
            if column is not None:
                columns.append(column)
                counts.append(count)
        if not columns:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        indices = np.array(columns, np.int64)
        values = np.array(counts, np.float32) * self.idf[indices]
        values *= self.weight / float(np.linalg.norm(values))
        return indices, values.astype(np.float32)


def _matrix(spaces: Sequence[_Space], documents: Sequence[Sequence[Sequence[str]]]) -> Any:
    """A CSR matrix with the spaces side by side; ``documents[i][k]`` are the grams of row i in space k."""
    from scipy.sparse import csr_matrix  # type: ignore[import-untyped]  # only needed when training

    offsets = np.cumsum([0] + [len(space.vocabulary) for space in spaces])
    data: list[NDArray[np.float32]] = []
    columns: list[NDArray[np.int64]] = []
    row_lengths = [0]
    for grams_per_space in documents:
        row_length = 0
        for offset, space, grams in zip(offsets, spaces, grams_per_space, strict=False):
            indices, values = space.vector(grams)
            columns.append(indices + offset)
            data.append(values)
            row_length += len(indices)
        row_lengths.append(row_length)
    row_pointer = np.cumsum(row_lengths)
    shape = (len(documents), int(offsets[-1]))
    return csr_matrix((np.concatenate(data), np.concatenate(columns), row_pointer), shape=shape)


def _softmax(scores: NDArray[np.float64]) -> NDArray[np.float64]:
    shifted = scores - scores.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    result: NDArray[np.float64] = exp / exp.sum(axis=-1, keepdims=True)
    return result


# --- the model -------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Classifier:
    """A trained model. Thread-safe for reading: ``suggest`` changes nothing."""

    categories: tuple[str, ...]
    spaces: list[_Space]
    coefficients: NDArray[np.float32]  # (features, categories)
    intercepts: NDArray[np.float64]  # (categories,)
    score_scale: float
    metadata: dict[str, Any] = field(default_factory=dict)

    def probabilities(self, title: str, text: str = "") -> NDArray[np.float64]:
        """Probability of each of ``categories`` for one message."""
        grams_per_space = message_features(title, text)
        scores = self.intercepts.copy()
        offset = 0
        for space, grams in zip(self.spaces, grams_per_space, strict=True):
            indices, values = space.vector(grams)
            if len(indices):
                scores += values @ self.coefficients[indices + offset]
            offset += len(space.vocabulary)
        return _softmax(scores * self.score_scale)

    def suggest(self, title: str, text: str = "", top: int = 3) -> list[Suggestion]:
        """The ``top`` most likely categories of a message, most likely first."""
        if top < 1:
            raise ValueError("top must be at least 1")
        probabilities = self.probabilities(title, text)
        order = np.argsort(-probabilities, kind="stable")[:top]
        return [Suggestion(self.categories[i], round(float(probabilities[i]), 4)) for i in order]

    def save(self, path: Path) -> None:
        """Write the model atomically: readers see the old file or the new one, never half of one.

        The file is readable by its owner only (as ``mkstemp`` creates it): its vocabulary is made of
        fragments of citizens' messages.
        """
        arrays: dict[str, NDArray[Any]] = {
            "header": _utf8(json.dumps(self._header(), ensure_ascii=False)),
            "coefficients": self.coefficients.astype(np.float32),
            "intercepts": self.intercepts.astype(np.float64),
        }
        for number, space in enumerate(self.spaces):
            grams = sorted(space.vocabulary, key=space.vocabulary.__getitem__)
            if any("\n" in gram for gram in grams):  # normalise() removes every line break
                raise ValueError("a feature contains a line break")
            arrays[f"space{number}_vocabulary"] = _utf8("\n".join(grams))
            arrays[f"space{number}_idf"] = space.idf
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".classifier-", suffix=".npz", dir=path.parent)
        try:
            with os.fdopen(handle, "wb") as stream:
                np.savez_compressed(stream, allow_pickle=False, **arrays)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def _header(self) -> dict[str, Any]:
        return {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "libraries": _library_versions(),
            "categories": list(self.categories),
            "spaces": [{"name": s.name, "weight": s.weight} for s in self.spaces],
            "score_scale": self.score_scale,
            "metadata": self.metadata,
        }


def _utf8(text: str) -> NDArray[np.uint8]:
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def _library_versions() -> dict[str, str]:
    versions = {}
    for package in ("jieba", "numpy", "scikit-learn", "OpenCC"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "unknown"
    return versions


def load(path: Path) -> Classifier:
    """Read a model written by ``Classifier.save``; refuse damaged or incompatible files."""
    if not path.is_file():
        raise ModelMissing(_missing_message(path))
    try:
        with np.load(path, allow_pickle=False) as archive:
            header = json.loads(archive["header"].tobytes().decode("utf-8"))
            _check_compatible(header, path)
            spaces = []
            for number, described in enumerate(header["spaces"]):
                grams = archive[f"space{number}_vocabulary"].tobytes().decode("utf-8").split("\n")
                idf = archive[f"space{number}_idf"].astype(np.float32)
                if len(grams) != len(idf):
                    raise ValueError("vocabulary and IDF lengths differ")
                vocabulary = {gram: index for index, gram in enumerate(grams)}
                spaces.append(_Space(described["name"], vocabulary, idf, float(described["weight"])))
            coefficients = archive["coefficients"].astype(np.float32)
            intercepts = archive["intercepts"].astype(np.float64)
    except IncompatibleModel:
        raise
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise IncompatibleModel(
            _(
                "模型文件已损坏或无法读取：{path}（{error}）。请重新训练。\n"
                "The model file is damaged or unreadable: {path} ({error}). Train again."
            ).format(path=path, error=exc)
        ) from exc
    categories = tuple(header["categories"])
    features = sum(len(space.vocabulary) for space in spaces)
    if coefficients.shape != (features, len(categories)) or intercepts.shape != (len(categories),):
        raise IncompatibleModel(
            _(
                "模型文件已损坏：矩阵尺寸不一致（{path}）。请重新训练。\n"
                "The model file is damaged: inconsistent array shapes ({path}). Train again."
            ).format(path=path)
        )
    return Classifier(categories, spaces, coefficients, intercepts, float(header["score_scale"]), header["metadata"])


def _check_compatible(header: dict[str, Any], path: Path) -> None:
    found = header.get("format_version")
    if header.get("format") != FORMAT_NAME or found != FORMAT_VERSION:
        raise IncompatibleModel(
            _(
                "模型文件格式不兼容（{path}：格式版本 {found}，本程序需要 {expected}）。请重新训练。\n"
                "Incompatible model file ({path}: format version {found}, this code needs {expected}). Train again."
            ).format(path=path, found=found, expected=FORMAT_VERSION)
        )
    # Another jieba segments differently, so the same message would map to other features.
    trained_with = header.get("libraries", {}).get("jieba")
    running = _library_versions()["jieba"]
    if trained_with != running:
        raise IncompatibleModel(
            _(
                "模型由 jieba {trained} 训练，当前为 jieba {running}，分词结果可能不同。请重新训练。\n"
                "The model was trained with jieba {trained} but jieba {running} is installed; "
                "segmentation may differ. Train again."
            ).format(trained=trained_with, running=running)
        )


def _missing_message(path: Path) -> str:
    return _(
        "尚未训练工单分类模型（{path} 不存在）。请先运行：yiwang hotline train --csv 文件.csv\n"
        "No work-order classifier has been trained yet ({path} does not exist). "
        "Run `yiwang hotline train --csv FILE.csv` first."
    ).format(path=path)


def default_model_path() -> Path:
    """Where ``yiwang hotline train`` saves the model and ``current()`` reads it."""
    from django.conf import settings

    return Path(settings.VAR_DIR) / "hotline" / MODEL_FILENAME


_current_lock = threading.Lock()
_current: tuple[Path, int, int, Classifier] | None = None


def current(path: Path | None = None) -> Classifier:
    """The saved model, loaded once and reloaded when the file changes (a retrain is picked up).

    Raises ``ModelMissing`` when no model has been trained and ``IncompatibleModel`` for a bad file.
    """
    global _current
    path = path or default_model_path()
    try:
        status = path.stat()
    except FileNotFoundError:
        raise ModelMissing(_missing_message(path)) from None
    cached = _current
    if cached and cached[:3] == (path, status.st_mtime_ns, status.st_size):
        return cached[3]
    with _current_lock:
        cached = _current
        if cached and cached[:3] == (path, status.st_mtime_ns, status.st_size):
            return cached[3]
        model = load(path)
        _current = (path, status.st_mtime_ns, status.st_size, model)
        return model


# --- training --------------------------------------------------------------


def train(samples: Iterable[Sample], *, categories: Sequence[str] = CATEGORIES, calibrate: bool = True) -> Classifier:
    """Fit a model on labelled messages (titles-only and full-text samples may be mixed).

    Every sample's category must be one of ``categories``; at least two categories need samples.
    """
    started = time.perf_counter()
    usable = [s for s in samples if s.title.strip() or s.text.strip()]
    if not usable:
        raise TrainingRejected(_("没有可用的训练样本。\nThere are no usable training samples."))
    unknown = sorted({s.category for s in usable} - set(categories))
    if unknown:
        raise TrainingRejected(
            _("未知的分类：{unknown}（允许：{allowed}）。\nUnknown categories: {unknown} (allowed: {allowed}).").format(
                unknown="、".join(unknown), allowed="、".join(categories)
            )
        )
    per_category = Counter(s.category for s in usable)
    trained_categories = tuple(c for c in categories if per_category[c])
    if len(trained_categories) < 2:
        raise TrainingRejected(_("至少需要两个分类的样本。\nSamples of at least two categories are needed."))
    features = [message_features(s.title, s.text) for s in usable]
    labels = np.array([trained_categories.index(s.category) for s in usable])
    spaces = [
        _Space.fit("title", [f[0] for f in features], TITLE_WEIGHT, MIN_DOCUMENT_FREQUENCY),
        _Space.fit("message", [f[1] for f in features], MESSAGE_WEIGHT, MIN_DOCUMENT_FREQUENCY),
    ]
    matrix = _matrix(spaces, features)
    coefficients, intercepts = _fit_svm(matrix, labels, len(trained_categories))
    score_scale = 1.0
    if calibrate:
        groups = [normalise(s.title).replace(" ", "") for s in usable]
        full_text = np.array([bool(s.text.strip()) for s in usable])
        # Confidence matters for messages with a text (what the service sees); titles-only rows score lower.
        judged = full_text if full_text.sum() >= MIN_CALIBRATION_MESSAGES else np.ones(len(usable), bool)
        score_scale = _fit_score_scale(matrix, labels, groups, judged, len(trained_categories))
    metadata = {
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "samples": len(usable),
        "full_text_samples": sum(1 for s in usable if s.text.strip()),
        "samples_per_category": {c: per_category[c] for c in trained_categories},
        "features": int(matrix.shape[1]),
        "training_seconds": round(time.perf_counter() - started, 2),
    }
    return Classifier(trained_categories, spaces, coefficients, intercepts, score_scale, metadata)


def _fit_svm(matrix: Any, labels: NDArray[np.int64], classes: int) -> tuple[NDArray[np.float32], NDArray[np.float64]]:
    from sklearn.svm import LinearSVC  # type: ignore[import-untyped]

    model = LinearSVC(C=SVM_C, random_state=0)  # liblinear shuffles: the same data gives the same model
    model.fit(matrix, labels)
    coefficients = np.asarray(model.coef_, np.float64)
    intercepts = np.asarray(model.intercept_, np.float64)
    if classes == 2:  # scikit-learn keeps one hyperplane for two classes: score -s for the first, s for the second
        coefficients = np.vstack([-coefficients, coefficients]) / 2
        intercepts = np.concatenate([-intercepts, intercepts]) / 2
    return coefficients.T.astype(np.float32), intercepts


def _fit_score_scale(
    matrix: Any, labels: NDArray[np.int64], groups: Sequence[str], judged: NDArray[np.bool_], classes: int
) -> float:
    """The factor on decision scores whose softmax best predicts held-out labels (rows in ``judged``).

    Folds keep messages with the same title together: a title seen in training would make scores look surer
    than they are on new messages.
    """
    from scipy.optimize import minimize_scalar  # type: ignore[import-untyped]
    from sklearn.model_selection import StratifiedGroupKFold  # type: ignore[import-untyped]

    smallest = int(np.bincount(labels, minlength=classes).min())
    folds = min(CALIBRATION_FOLDS, smallest)
    if folds < 2:
        return 1.0
    scores = np.zeros((len(labels), classes))
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=0)
    for fit_rows, held_rows in splitter.split(matrix, labels, groups):
        if len(np.unique(labels[fit_rows])) < classes:
            return 1.0
        coefficients, intercepts = _fit_svm(matrix[fit_rows], labels[fit_rows], classes)
        scores[held_rows] = matrix[held_rows] @ coefficients.astype(np.float64) + intercepts

    scores, labels = scores[judged], labels[judged]

    def negative_log_likelihood(scale: float) -> float:
        probabilities = _softmax(scores * scale)
        return float(-np.mean(np.log(probabilities[np.arange(len(labels)), labels] + 1e-12)))

    result = minimize_scalar(negative_log_likelihood, bounds=(0.05, 50.0), method="bounded")
    return float(result.x)


# --- evaluation ------------------------------------------------------------


def evaluate(classifier: Classifier, samples: Iterable[Sample]) -> Evaluation:
    """Accuracy, macro-F1 (over the categories that occur in labels or predictions) and top-2 accuracy."""
    gold: list[str] = []
    first: list[str] = []
    top2_hits = 0
    for sample in samples:
        suggestions = classifier.suggest(sample.title, sample.text, top=2)
        gold.append(sample.category)
        first.append(suggestions[0].category)
        top2_hits += sample.category in {s.category for s in suggestions}
    if not gold:
        raise ValueError("no samples to evaluate")
    return scores_of(gold, first, top2_hits)


def scores_of(gold: Sequence[str], predicted: Sequence[str], top2_hits: int) -> Evaluation:
    """Figures from gold and first-choice labels, and how many gold labels were among the first two."""
    labels = [c for c in dict.fromkeys([*CATEGORIES, *gold, *predicted]) if c in gold or c in predicted]
    per_category = {}
    for label in labels:
        true_positive = sum(1 for g, p in zip(gold, predicted, strict=True) if g == p == label)
        predicted_count = sum(1 for p in predicted if p == label)
        support = sum(1 for g in gold if g == label)
        precision = true_positive / predicted_count if predicted_count else 0.0
        recall = true_positive / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_category[label] = CategoryScore(precision, recall, f1, support)
    count = len(gold)
    return Evaluation(
        count=count,
        accuracy=sum(1 for g, p in zip(gold, predicted, strict=True) if g == p) / count,
        macro_f1=sum(score.f1 for score in per_category.values()) / len(per_category),
        top2_accuracy=top2_hits / count,
        per_category=per_category,
    )
