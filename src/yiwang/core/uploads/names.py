"""The citizen's file name: cleaned for display, or refused; its extension."""

from __future__ import annotations

import unicodedata

from .base import MAX_NAME_BYTES, MAX_NAME_CHARS, UploadRejected

# Windows opens these as devices whatever the extension ("CON.pdf" included).
_RESERVED_NAMES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{port}{n}" for port in ("COM", "LPT") for n in [*"0123456789", "¹", "²", "³"]}
)
# Not dangerous here (the stored name is random) but they break downloads on Windows and in headers.
_REPLACED_CHARS = frozenset('<>:"|?*')
# Control, format (bidi overrides that disguise "exe.pdf"), surrogate and line/paragraph separators.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def safe_display_name(name: str) -> str:
    """Return the citizen's file name cleaned for display, or raise ``UploadRejected("unsafe_name")``.

    Chinese and other letters are kept; path separators, control characters,
    dot-only names and Windows device names are refused.
    """
    if not isinstance(name, str):
        raise UploadRejected("unsafe_name")
    display = unicodedata.normalize("NFC", name).strip()
    # Compatibility forms fold look-alikes ("／", "．") into the characters they imitate.
    folded = unicodedata.normalize("NFKC", display)
    if not display or "/" in folded or "\\" in folded:
        raise UploadRejected("unsafe_name")
    if any(unicodedata.category(ch) in REFUSED_CATEGORIES for ch in display + folded):
        raise UploadRejected("unsafe_name")
    if not folded.strip(". "):
        raise UploadRejected("unsafe_name")
    if folded.split(".", 1)[0].rstrip(" ").upper() in _RESERVED_NAMES:
        raise UploadRejected("unsafe_name")
    # Windows drops trailing dots and spaces, so a reviewer's copy would get another name.
    display = display.rstrip(". ")
    display = "".join("_" if ch in _REPLACED_CHARS else ch for ch in display)
    return _shorten(display)


def _shorten(name: str) -> str:
    if len(name) <= MAX_NAME_CHARS and len(name.encode()) <= MAX_NAME_BYTES:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or len(extension) > 10:
        stem, dot, extension = name, "", ""
    stem = stem[: MAX_NAME_CHARS - len(dot + extension)]
    while stem and len((stem + dot + extension).encode()) > MAX_NAME_BYTES:
        stem = stem[:-1]
    return stem + dot + extension


def extension(name: str) -> str:
    stem, dot, extension = unicodedata.normalize("NFKC", name).rpartition(".")
    return extension.lower() if dot and stem else ""
