"""Reading a stream once (size, checksum, first bytes) and telling its type by content."""

from __future__ import annotations

import hashlib
from typing import IO

from .base import CHUNK_SIZE, JPEG, PDF, PNG, ZIP, UploadRejected, megabytes
from .names import extension


def measure(stream: IO[bytes], max_bytes: int) -> tuple[int, str, bytes]:
    """Size, SHA-256 and the first bytes, reading at most ``max_bytes + 1`` bytes in chunks."""
    digest = hashlib.sha256()
    size = 0
    head = b""
    stream.seek(0)
    while True:
        chunk = stream.read(min(CHUNK_SIZE, max_bytes + 1 - size))
        if not chunk:
            break
        size += len(chunk)
        if size > max_bytes:
            raise UploadRejected("file_too_large", limit=megabytes(max_bytes))
        if len(head) < 16:
            head += chunk[: 16 - len(head)]
        digest.update(chunk)
    return size, digest.hexdigest(), head


def sniff(head: bytes) -> str | None:
    """The content type the first bytes announce; a ZIP is told apart from an OFD later, from its entries."""
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"PK\x03\x04"):
        return ZIP
    return None


_ARCHIVE_MAGIC = (
    b"PK\x03\x04",
    b"PK\x05\x06",
    b"PK\x07\x08",
    b"\x1f\x8b",  # gzip
    b"BZh",  # bzip2
    b"\xfd7zXZ\x00",  # xz
    b"7z\xbc\xaf\x27\x1c",  # 7-Zip
    b"Rar!\x1a\x07",  # RAR
    b"MSCF",  # cabinet
)
_ARCHIVE_EXTENSIONS = frozenset(
    {"zip", "ofd", "rar", "7z", "gz", "tgz", "bz2", "xz", "tar", "jar", "cab", "iso", "apk", "docx", "xlsx"}
)


def looks_like_archive(head: bytes, name: str) -> bool:
    return head.startswith(_ARCHIVE_MAGIC) or extension(name.rsplit("/", 1)[-1]) in _ARCHIVE_EXTENSIONS
