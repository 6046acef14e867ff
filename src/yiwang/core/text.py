"""Chinese text for every app: Traditional → Simplified, width, pinyin, segmentation.

One OpenCC converter and one jieba tokenizer with the domain dictionary
(``core/data/domain_words.txt``, words the general dictionary splits wrongly)
serve the catalogue's search and the hotline's similarity. The hotline's
classifier segments with jieba's own dictionary only (:func:`plain_words`):
its trained models store features of those words, and words taught to the
domain tokenizer at run time (catalogue keywords, synonyms) would change them.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import opencc

# jieba locates its dictionary through pkg_resources when that can be imported, which costs every process
# some 15 MB (the metadata of each installed distribution) for a file path; without it, jieba opens the
# file beside its own module. Nothing else here uses pkg_resources, and a later import of it still works.
_PKG_RESOURCES_LOADED = "pkg_resources" in sys.modules
if not _PKG_RESOURCES_LOADED:
    sys.modules["pkg_resources"] = None  # type: ignore[assignment]  # an import of it raises ImportError
try:
    import jieba
finally:
    if not _PKG_RESOURCES_LOADED:
        del sys.modules["pkg_resources"]

DATA_DIR = Path(__file__).resolve().parent / "data"
DOMAIN_WORDS = DATA_DIR / "domain_words.txt"
_CJK_RE = re.compile(r"[\u3400-\u9fff]")
_LATIN_QUERY_RE = re.compile(r"^[a-z' ]+$")
_SPLIT_RE = re.compile(r"[^\w\u3400-\u9fff]+")

_converter = opencc.OpenCC("t2s")


def _share_pinyin_readings() -> None:
    """Make pypinyin's phrase table hold each reading once.

    The table comes from JSON with a list and a string object per character of each of its 47,000
    phrases (35 MB in every process); about 1,500 readings are distinct. pypinyin deep-copies a
    phrase's readings before using them (``converter.py``), so sharing equal ones changes nothing it
    returns.
    """
    from pypinyin import constants, phrases_dict

    readings: dict[tuple[str, ...], list[str]] = {}
    shared: dict[str, list[list[str]]] = {}
    for table in (phrases_dict.phrases_dict, constants.PHRASES_DICT):
        for phrase, value in table.items():
            compact = shared.get(phrase)
            if compact is None or compact != value:
                compact = [readings.setdefault(tuple(r), r) for r in value]
                shared[phrase] = compact
            table[phrase] = compact


# pypinyin is imported on first use: its import and phrase table cost about half a second of CPU, paid by every
# process (each ``yiwang`` command, a worker) while only those that build or query the search index need it.
_pinyin_lock = threading.Lock()
_pinyin_functions: tuple[Callable[..., list[str]], Any] | None = None


def _pinyin() -> tuple[Callable[..., list[str]], Any]:
    """pypinyin's ``lazy_pinyin`` and its first-letter style, imported once with the phrase table shared."""
    global _pinyin_functions
    if _pinyin_functions is None:
        with _pinyin_lock:
            if _pinyin_functions is None:
                from pypinyin import Style, lazy_pinyin

                _share_pinyin_readings()
                _pinyin_functions = (lazy_pinyin, Style.FIRST_LETTER)
    return _pinyin_functions


jieba.setLogLevel(logging.WARNING)
_tokenizer_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None
_plain_tokenizer: jieba.Tokenizer | None = None


# Control, format (zero-width, bidi) and separator characters: all become a space.
_INVISIBLE_RE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\xad\u061c\u180e\u200b-\u200f\u2028-\u202f\u205f-\u206f\ufeff\ufff9-\ufffb]"
)


def to_simplified(text: str) -> str:
    """Traditional → Simplified Chinese (OpenCC ``t2s``); everything else unchanged."""
    return str(_converter.convert(text))


def half_width(text: str) -> str:
    """NFKC: full-width letters, digits and punctuation become their ASCII forms."""
    return unicodedata.normalize("NFKC", text)


@lru_cache(maxsize=50_000)
def normalise(text: str) -> str:
    """NFKC, Traditional → Simplified, lower case, invisible characters and extra spaces removed."""
    text = half_width(text)
    text = _INVISIBLE_RE.sub(" ", text)
    if any(unicodedata.category(ch) in ("Co", "Cs", "Cn") for ch in text):
        text = "".join(" " if unicodedata.category(ch) in ("Co", "Cs", "Cn") else ch for ch in text)
    text = to_simplified(text).lower()
    return " ".join(text.split())


def fold(text: str) -> str:
    """NFKC, Traditional → Simplified, lower case, runs of white space as one space.

    Lighter than :func:`normalise` (no screening of invisible or unassigned
    characters, no cache); the classifier's features are built on it.
    """
    return " ".join(to_simplified(half_width(text)).lower().split())


def has_chinese(text: str) -> bool:
    return bool(_CJK_RE.search(text))


def is_latin_query(text: str) -> bool:
    return bool(_LATIN_QUERY_RE.match(text)) and any(ch.isalpha() for ch in text)


def load_words(path: Path) -> list[str]:
    """The words of a word-list file: one a line, ``#`` starts a comment."""
    words = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            words.append(line)
    return words


class _AddedWords(dict[str, int]):
    """Word counts added to a tokenizer, over jieba's own table, which a word not added here is read from.

    jieba reads its table only with ``in``, ``[]`` and ``get`` and writes it only when words are added,
    so the domain tokenizer sees exactly the table a copy with the words added would be.
    """

    __slots__ = ("base",)

    def __init__(self, base: dict[str, int]) -> None:
        super().__init__()
        self.base = base

    def __missing__(self, word: str) -> int:
        return self.base[word]

    def __contains__(self, word: object) -> bool:
        return dict.__contains__(self, word) or word in self.base

    def get(self, word: str, default: int | None = None) -> int | None:  # type: ignore[override]
        if dict.__contains__(self, word):
            return dict.__getitem__(self, word)
        return self.base.get(word, default)


def tokenizer() -> jieba.Tokenizer:
    """A jieba tokenizer with the domain dictionary loaded (one per process)."""
    global _tokenizer
    if _tokenizer is None:
        plain = _plain()
        with _tokenizer_lock:
            if _tokenizer is None:
                tok = jieba.Tokenizer()
                # Jieba's dictionary as the plain tokenizer holds it, with the words added here on top,
                # rather than a second copy of it (about 65 MB a process).
                tok.FREQ, tok.total, tok.initialized = _AddedWords(plain.FREQ), plain.total, True
                for word in load_words(DOMAIN_WORDS):
                    tok.add_word(word, freq=200000)
                _tokenizer = tok
    return _tokenizer


def add_words(words: list[str]) -> None:
    """Teach the segmenter words the catalogue uses (item keywords, synonym phrases)."""
    tok = tokenizer()
    added = False
    with _tokenizer_lock:
        for word in words:
            if 2 <= len(word) <= 12 and has_chinese(word) and word not in tok.FREQ:
                tok.add_word(word, freq=50000)
                added = True
        if added:
            _segment_cached.cache_clear()


def segment(text: str) -> list[str]:
    """Search-mode segmentation: overlapping words, so 居民身份证 also yields 身份证.

    Names and keywords repeat across the implementations of one item in every
    county, so short texts are cached.
    """
    return list(_segment_cached(text)) if len(text) <= 40 else _segment(text)


@lru_cache(maxsize=100_000)
def _segment_cached(text: str) -> tuple[str, ...]:
    return tuple(_segment(text))


def _segment(text: str) -> list[str]:
    tokens: list[str] = []
    for chunk in _SPLIT_RE.split(text):
        if chunk:
            # Without HMM guessing: the dictionary plus the catalogue's own words
            # segment names reliably, and unknown words are caught by character pairs.
            tokens.extend(t for t in tokenizer().cut_for_search(chunk, HMM=False) if t.strip())
    return tokens


def tokenize(text: str) -> list[tuple[str, int, int]]:
    """Search-mode words of ``text`` with their start and end positions."""
    return list(tokenizer().tokenize(text, mode="search", HMM=False))


def _plain() -> jieba.Tokenizer:
    global _plain_tokenizer
    if _plain_tokenizer is None:
        with _tokenizer_lock:
            if _plain_tokenizer is None:
                tok = jieba.Tokenizer()
                tok.initialize()
                _plain_tokenizer = tok
    return _plain_tokenizer


def plain_words(text: str) -> list[str]:
    """Words of ``text`` by jieba's own dictionary alone, never taught more (white space dropped).

    For stored models whose features are these words: the result depends
    only on the text and the jieba version.
    """
    # Without HMM guessing: faster, and unknown words are still covered by the character grams.
    return [word for word in _plain().lcut(text, HMM=False) if not word.isspace()]


def bigrams(text: str) -> list[str]:
    """Overlapping character pairs of the Chinese runs in ``text``."""
    grams: list[str] = []
    for run in re.findall(r"[\u3400-\u9fff]+", text):
        grams.extend(run[i : i + 2] for i in range(len(run) - 1))
    return grams


@lru_cache(maxsize=200_000)
def pinyin(word: str) -> str:
    """Toneless pinyin of a word, joined: 社保卡 → shebaoka."""
    lazy_pinyin, _first_letter = _pinyin()
    return "".join(lazy_pinyin(word, errors="ignore"))


@lru_cache(maxsize=200_000)
def initials(word: str) -> str:
    """First letters of each syllable: 社保卡 → sbk."""
    lazy_pinyin, first_letter = _pinyin()
    return "".join(lazy_pinyin(word, style=first_letter, errors="ignore"))
