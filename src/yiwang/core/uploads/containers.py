"""ZIP containers (OFD, and ZIP when a caller allows it): entries, sizes and members checked, bombs refused."""

from __future__ import annotations

import re
import struct
import tempfile
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from typing import IO

from .base import (
    CHUNK_SIZE,
    CONTAINERS,
    KINDS,
    OFD,
    RATIO_FLOOR_BYTES,
    ZIP,
    Limits,
    UploadRejected,
    formats,
    megabytes,
)
from .content import inspect_content
from .detection import looks_like_archive, sniff
from .names import REFUSED_CATEGORIES, extension
from .scanning import configured_scanner, scan


def _check_entry_name(name: str) -> None:
    parts = name.split("/")
    if (
        not name
        or name.startswith("/")
        or "\\" in name
        or re.match(r"\A[A-Za-z]:", name)
        or any(part in {"..", "."} for part in parts)
        or any(unicodedata.category(ch) in REFUSED_CATEGORIES for ch in name)
    ):
        raise UploadRejected("archive_unsafe_entry")


_LOCAL_HEADER = struct.Struct("<4s5H3L2H")


def _member_chunks(
    stream: IO[bytes], info: zipfile.ZipInfo, budget: int, limits: Limits, label: str
) -> Iterator[bytes]:
    """Decompress one entry ourselves, trusting no size in its headers.

    Output is produced in bounded chunks and counted: more than the declared
    size, or more than ``budget``, is a zip bomb; a short entry or a wrong
    CRC is a damaged file.
    """
    stored = _stored_chunks(stream, _data_offset(stream, info, label), info.compress_size, label)
    decompressor = zlib.decompressobj(-zlib.MAX_WBITS) if info.compress_type == zipfile.ZIP_DEFLATED else None
    outputs = stored if decompressor is None else _inflate(decompressor, stored, label)
    produced = 0
    crc = 0
    for output in outputs:
        produced += len(output)
        if produced > info.file_size or produced > budget:
            raise UploadRejected("zip_bomb", limit=megabytes(limits.max_unpacked))
        crc = zlib.crc32(output, crc)
        if output:
            yield output
    if (decompressor is not None and not decompressor.eof) or produced != info.file_size or crc != info.CRC:
        raise UploadRejected("archive_unreadable", format=label)


def _data_offset(stream: IO[bytes], info: zipfile.ZipInfo, label: str) -> int:
    """Where the entry's data starts, after a local header that must agree with the central directory."""
    stream.seek(info.header_offset)
    header = stream.read(_LOCAL_HEADER.size)
    if len(header) != _LOCAL_HEADER.size:
        raise UploadRejected("archive_unreadable", format=label)
    fields = _LOCAL_HEADER.unpack(header)
    if fields[0] != b"PK\x03\x04":
        raise UploadRejected("archive_unreadable", format=label)
    name_length, extra_length = fields[9], fields[10]
    local_name = stream.read(name_length)
    encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
    # A scanner reading local headers and a viewer reading the central
    # directory must see the same entry.
    if local_name.decode(encoding, errors="replace") != info.orig_filename:
        raise UploadRejected("archive_unsafe_entry")
    return info.header_offset + _LOCAL_HEADER.size + name_length + extra_length


def _stored_chunks(stream: IO[bytes], position: int, remaining: int, label: str) -> Iterator[bytes]:
    """The entry's bytes as stored (compressed or not), read as they are needed, ``CHUNK_SIZE`` at a time."""
    while remaining > 0:
        data = _read_at(stream, position, min(CHUNK_SIZE, remaining), label)
        position += len(data)
        remaining -= len(data)
        yield data


def _inflate(decompressor: zlib._Decompress, stored: Iterator[bytes], label: str) -> Iterator[bytes]:
    """Deflated input as output of at most ``CHUNK_SIZE`` per step, however far one input chunk expands."""
    while not decompressor.eof:
        # zlib keeps what it could not yet turn into output; all input read, it may still hold output.
        data = decompressor.unconsumed_tail or next(stored, b"")
        try:
            output = decompressor.decompress(data, CHUNK_SIZE)
        except zlib.error as error:
            raise UploadRejected("archive_unreadable", format=label) from error
        if not data and not output:
            return
        yield output


def _read_at(stream: IO[bytes], position: int, size: int, label: str) -> bytes:
    stream.seek(position)
    data = stream.read(size)
    if not data:
        raise UploadRejected("archive_unreadable", format=label)
    return data


_END_RECORD = struct.Struct("<4s4H2LH")


def _check_central_directory(stream: IO[bytes], label: str, limits: Limits) -> None:
    """Refuse an oversized central directory before zipfile builds an object for every entry in it."""
    end = stream.seek(0, 2)
    start = max(0, end - _END_RECORD.size - 0xFFFF)
    stream.seek(start)
    tail = stream.read(end - start)
    found = tail.rfind(b"PK\x05\x06")
    if found < 0 or len(tail) - found < _END_RECORD.size:
        raise UploadRejected("archive_unreadable", format=label)
    fields = _END_RECORD.unpack_from(tail, found)
    total_entries, directory_size = fields[4], fields[5]
    # About 100 bytes describe a typical entry; a kilobyte each is generous.
    if total_entries > limits.max_entries or directory_size > limits.max_entries * 1024:
        raise UploadRejected("archive_too_many_entries", limit=limits.max_entries)


def _open_archive(stream: IO[bytes], label: str, limits: Limits) -> zipfile.ZipFile:
    _check_central_directory(stream, label, limits)
    stream.seek(0)
    try:
        return zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as error:
        raise UploadRejected("archive_unreadable", format=label) from error


def archive_kind(stream: IO[bytes], limits: Limits) -> str:
    """OFD (GB/T 33190) is a ZIP container with OFD.xml at its root."""
    with _open_archive(stream, "ZIP", limits) as archive:
        return OFD if "OFD.xml" in archive.namelist() else ZIP


def inspect_archive(stream: IO[bytes], content_type: str, allowed: frozenset[str], limits: Limits) -> None:
    label = KINDS[content_type].label
    with _open_archive(stream, label, limits) as archive:
        entries = archive.infolist()
    _check_entries(entries, label, limits)
    member_types = allowed - CONTAINERS
    budget = limits.max_unpacked
    for info in entries:
        if not info.is_dir():
            budget -= _check_member(stream, info, content_type, member_types, budget, limits, label)


def _check_entries(entries: list[zipfile.ZipInfo], label: str, limits: Limits) -> None:
    """What the directory says of each entry and of all of them, checked before anything is decompressed."""
    if len(entries) > limits.max_entries:
        raise UploadRejected("archive_too_many_entries", limit=limits.max_entries)
    names: set[str] = set()
    declared_total = 0
    compressed_total = 0
    for info in entries:
        _check_entry(info, names, label, limits)
        names.add(info.filename)
        declared_total += info.file_size
        compressed_total += info.compress_size
    if declared_total > limits.max_unpacked or (
        declared_total > RATIO_FLOOR_BYTES and declared_total > limits.max_ratio * max(compressed_total, 1)
    ):
        raise UploadRejected("zip_bomb", limit=megabytes(limits.max_unpacked))


def _check_entry(info: zipfile.ZipInfo, seen: set[str], label: str, limits: Limits) -> None:
    """A safe, unique, unencrypted entry in a method we read, not declared to expand past the ratio."""
    _check_entry_name(info.filename)
    if info.filename in seen or (info.external_attr >> 16) & 0o170000 == 0o120000:  # duplicate or symlink
        raise UploadRejected("archive_unsafe_entry")
    if info.flag_bits & 0x1:
        raise UploadRejected("archive_encrypted")
    if info.compress_type not in {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}:
        raise UploadRejected("archive_unreadable", format=label)
    if info.file_size > RATIO_FLOOR_BYTES and info.file_size > limits.max_ratio * max(info.compress_size, 1):
        raise UploadRejected("zip_bomb", limit=megabytes(limits.max_unpacked))


def _check_member(
    stream: IO[bytes],
    info: zipfile.ZipInfo,
    content_type: str,
    member_types: frozenset[str],
    budget: int,
    limits: Limits,
    label: str,
) -> int:
    """Decompress one member within ``budget``: never an archive, and in a ZIP an allowed file; returns its size."""
    head = b""
    size = 0
    # The scanner sees each member decompressed: a signature inside a deflated entry is invisible in the container.
    scanning = configured_scanner() is not None
    with tempfile.SpooledTemporaryFile(max_size=1024 * 1024) as member:
        for chunk in _member_chunks(stream, info, budget, limits, label):
            size += len(chunk)
            if len(head) < 16:
                head += chunk[: 16 - len(head)]
            if content_type == ZIP or scanning:
                member.write(chunk)
        if looks_like_archive(head, info.filename):
            raise UploadRejected("archive_nested_too_deep")
        if content_type == ZIP:
            _inspect_member(info.filename, head, member, member_types)
        if scanning:
            scan(member)
    return size


def _inspect_member(name: str, head: bytes, member: IO[bytes], member_types: frozenset[str]) -> None:
    """A file inside an allowed ZIP must itself be an allowed, safe, non-archive file."""
    if not head:
        raise UploadRejected("empty_file")
    member_type = sniff(head)
    if member_type is None or member_type not in member_types:
        raise UploadRejected("file_type_not_allowed", formats=formats(member_types))
    kind = KINDS[member_type]
    if extension(name.rsplit("/", 1)[-1]) not in kind.extensions:
        raise UploadRejected("file_type_mismatch", actual=kind.label, extension=kind.stored_extension)
    inspect_content(member_type, member)
