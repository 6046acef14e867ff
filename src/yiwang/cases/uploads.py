"""Safe intake of application materials (申请材料) and the storage that keeps them.

``check_upload`` decides whether a file may be accepted: name, size, type by
content, structure (PDF active content, image headers, ZIP containers such
as OFD) and a virus scan. ``store`` / ``store_in_transaction`` write an
accepted file to the ``materials`` storage under a random name;
``open_stored`` and ``delete_stored`` read and remove it. The rules, limits
and configuration are described in docs/uploads.md.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import socket
import struct
import tempfile
import unicodedata
import uuid
import warnings
import weakref
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage, storages
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from yiwang.cases.constants import ScanStatus

logger = logging.getLogger(__name__)

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
OFD = "application/ofd"
ZIP = "application/zip"

# ZIP is not accepted unless a caller asks for it: reviewers open each
# material in the browser, and a bundle of files hides what it contains.
DEFAULT_ALLOWED: frozenset[str] = frozenset({PDF, JPEG, PNG, OFD})

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_UNPACKED_BYTES = 100 * 1024 * 1024
DEFAULT_MAX_ARCHIVE_ENTRIES = 1000
DEFAULT_MAX_COMPRESSION_RATIO = 100
# Small entries compress far better than large ones (XML, blank pages), so the
# ratio rule only applies above this size; the total limit covers the rest.
RATIO_FLOOR_BYTES = 1024 * 1024
MAX_NAME_CHARS = 100
# Stays below the 255-byte file-name limit of common file systems when a
# reviewer downloads the file.
MAX_NAME_BYTES = 240

CHUNK_SIZE = 64 * 1024
STORAGE_ALIAS = "materials"
STORED_NAME = re.compile(r"\A\d{4}/\d{2}/[0-9a-f]{32}\.(?:pdf|jpg|png|ofd|zip)\Z")


@dataclass(frozen=True)
class _Kind:
    content_type: str
    label: str
    extensions: frozenset[str]
    stored_extension: str


KINDS: dict[str, _Kind] = {
    kind.content_type: kind
    for kind in (
        _Kind(PDF, "PDF", frozenset({"pdf"}), "pdf"),
        _Kind(JPEG, "JPG", frozenset({"jpg", "jpeg"}), "jpg"),
        _Kind(PNG, "PNG", frozenset({"png"}), "png"),
        _Kind(OFD, "OFD", frozenset({"ofd"}), "ofd"),
        _Kind(ZIP, "ZIP", frozenset({"zip"}), "zip"),
    )
}
_CONTAINERS = frozenset({OFD, ZIP})

_MESSAGES: dict[str, Promise] = {
    "unsafe_name": _(
        "文件名不符合要求：不能包含路径、“/”“\\”、控制字符，也不能使用系统保留的名称。"
        "请把文件改成普通的名称（例如“营业执照.pdf”）后重新上传。"
    ),
    "empty_file": _("文件是空的（0 字节）。请确认选择了正确的文件后重新上传。"),
    "file_too_large": _(
        "文件超过了 %(limit)s 的大小上限。请降低扫描分辨率、压缩图片，或把材料分成几个文件后重新上传。"
    ),
    "file_type_not_allowed": _("不支持这种文件格式。只能上传 %(formats)s 格式的文件，请转换格式后重新上传。"),
    "file_type_mismatch": _(
        "文件的扩展名与实际内容不符（内容是 %(actual)s 格式）。"
        "请上传原始文件，或把扩展名改为 .%(extension)s 后重新上传。"
    ),
    "pdf_unreadable": _("无法读取这个 PDF 文件，文件可能已损坏。请重新导出或重新扫描成 PDF 后上传。"),
    "pdf_encrypted": _("这个 PDF 文件设置了密码或权限保护，审核人员无法打开。请去除密码保护后重新上传。"),
    "pdf_active_content": _(
        "这个 PDF 文件包含脚本、内嵌附件、表单程序或多媒体等可执行内容，出于安全考虑不能接收。"
        "请用“打印为 PDF”或重新扫描生成普通的 PDF 后上传。"
    ),
    "image_unreadable": _("无法读取这张图片，文件可能已损坏或不是真正的 %(format)s 图片。请重新拍照或扫描后上传。"),
    "image_too_large": _("图片的像素过多（超过 %(limit)s 万像素）。请缩小图片尺寸后重新上传。"),
    "archive_unreadable": _("无法读取这个 %(format)s 文件，文件可能已损坏。请重新导出后上传。"),
    "archive_encrypted": _("文件内容设置了密码，无法进行安全检查。请去除密码后重新上传。"),
    "archive_unsafe_entry": _("文件内部含有不安全的路径或名称，不能接收。请重新导出文件后上传。"),
    "archive_too_many_entries": _("文件内部包含的文件过多（超过 %(limit)s 个）。请精简内容或分开上传。"),
    "archive_nested_too_deep": _("文件内部又包含压缩包，不能接收。请解压后把其中的材料分别上传。"),
    "zip_bomb": _(
        "文件解压后的内容异常庞大（压缩比过高或超过 %(limit)s），出于安全考虑不能接收。请检查文件后重新上传。"
    ),
    "virus_found": _("文件中发现病毒或恶意代码，已拒绝接收。请用杀毒软件检查您的设备，然后上传未感染的文件。"),
    "scanner_unavailable": _("病毒扫描服务暂时不可用，为了安全，文件没有保存。请稍后重试。"),
}


class UploadRejected(Exception):
    """A file that may not be accepted: ``code`` is stable for programs, ``message`` is for the citizen."""

    def __init__(self, code: str, **params: object) -> None:
        template = str(_MESSAGES[code])
        self.code = code
        self.params = params
        self.message = template % params if params else template
        super().__init__(f"{code}: {self.message}")


class StorageIntegrityError(RuntimeError):
    """What the storage holds is not the file that was checked (changed stream, short write, corruption)."""


@dataclass(frozen=True)
class CheckedUpload:
    """A file that passed every check; ``safe_name`` is for display only, never for storage."""

    safe_name: str
    content_type: str
    size: int
    sha256: str
    scan_status: str


@dataclass(frozen=True)
class ScanResult:
    clean: bool
    signature: str | None = None


class ScannerError(Exception):
    """The virus scanner could not give a verdict."""


Scanner = Callable[[IO[bytes]], ScanResult]


@dataclass(frozen=True)
class _Limits:
    max_unpacked: int
    max_entries: int
    max_ratio: int

    @classmethod
    def from_settings(cls) -> _Limits:
        return cls(
            max_unpacked=int(getattr(settings, "YIWANG_UPLOAD_MAX_UNPACKED_BYTES", DEFAULT_MAX_UNPACKED_BYTES)),
            max_entries=int(getattr(settings, "YIWANG_UPLOAD_MAX_ARCHIVE_ENTRIES", DEFAULT_MAX_ARCHIVE_ENTRIES)),
            max_ratio=int(getattr(settings, "YIWANG_UPLOAD_MAX_COMPRESSION_RATIO", DEFAULT_MAX_COMPRESSION_RATIO)),
        )


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


def _formats(allowed: frozenset[str]) -> str:
    return str(_("、")).join(kind.label for content_type, kind in KINDS.items() if content_type in allowed)


# --- names ---

# Windows opens these as devices whatever the extension ("CON.pdf" included).
_RESERVED_NAMES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{port}{n}" for port in ("COM", "LPT") for n in [*"0123456789", "¹", "²", "³"]}
)
# Not dangerous here (the stored name is random) but they break downloads on Windows and in headers.
_REPLACED_CHARS = frozenset('<>:"|?*')
# Control, format (bidi overrides that disguise "exe.pdf"), surrogate and line/paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


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
    if any(unicodedata.category(ch) in _REFUSED_CATEGORIES for ch in display + folded):
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


def _extension(name: str) -> str:
    stem, dot, extension = unicodedata.normalize("NFKC", name).rpartition(".")
    return extension.lower() if dot and stem else ""


# --- reading and sniffing ---


def _measure(stream: IO[bytes], max_bytes: int) -> tuple[int, str, bytes]:
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
            raise UploadRejected("file_too_large", limit=_megabytes(max_bytes))
        if len(head) < 16:
            head += chunk[: 16 - len(head)]
        digest.update(chunk)
    return size, digest.hexdigest(), head


def _sniff(head: bytes) -> str | None:
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


def _looks_like_archive(head: bytes, name: str) -> bool:
    return head.startswith(_ARCHIVE_MAGIC) or _extension(name.rsplit("/", 1)[-1]) in _ARCHIVE_EXTENSIONS


# --- PDF ---

# Keys that carry scripts, embedded files, XFA forms or multimedia players.
_PDF_ACTIVE_KEYS = frozenset(
    {"/JS", "/JavaScript", "/EmbeddedFile", "/EmbeddedFiles", "/EF", "/RichMedia", "/RichMediaContent", "/XFA"}
)
# Action types (/S) that run code, start programs or pull in outside data.
_PDF_ACTIVE_ACTIONS = frozenset({"/JavaScript", "/Launch", "/RichMediaExecute", "/ImportData", "/GoToE"})
_PDF_ACTIVE_TYPES = frozenset({"/EmbeddedFile", "/RichMedia", "/RichMediaExecute"})


def _inspect_pdf(stream: IO[bytes]) -> None:
    from pypdf import PdfReader
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

    stream.seek(0)
    try:
        reader = PdfReader(stream, strict=False)
        if reader.is_encrypted:
            raise UploadRejected("pdf_encrypted")
        if len(reader.pages) == 0:
            raise UploadRejected("pdf_unreadable")
        # Every object the cross-reference data names, including those packed
        # in compressed object streams, plus whatever they refer to.
        pending: list[Any] = [reader.trailer]
        pending.extend(IndirectObject(idnum, 0, reader) for idnum in reader.xref_objStm)
        pending.extend(
            IndirectObject(idnum, generation, reader)
            for generation, entries in reader.xref.items()
            for idnum in entries
        )
        seen: set[tuple[int, int]] = set()
        while pending:
            item = pending.pop()
            if isinstance(item, IndirectObject):
                key = (item.idnum, item.generation)
                if key in seen:
                    continue
                seen.add(key)
                pending.append(reader.get_object(item))
            elif isinstance(item, DictionaryObject):
                for name, value in item.items():
                    if name in _PDF_ACTIVE_KEYS:
                        raise UploadRejected("pdf_active_content")
                    if name in {"/S", "/Type", "/Subtype"} and _pdf_name(value) in (
                        _PDF_ACTIVE_ACTIONS if name == "/S" else _PDF_ACTIVE_TYPES
                    ):
                        raise UploadRejected("pdf_active_content")
                    pending.append(value)
            elif isinstance(item, ArrayObject):
                pending.extend(item)
    except UploadRejected:
        raise
    except Exception as error:
        # pypdf raises many kinds of error on malformed input; a PDF we cannot
        # read completely is one we cannot vouch for.
        logger.info("PDF refused as unreadable: %r", error)
        raise UploadRejected("pdf_unreadable") from error


def _pdf_name(value: Any) -> str | None:
    from pypdf.generic import IndirectObject, NameObject

    if isinstance(value, IndirectObject):
        value = value.get_object()
    return str(value) if isinstance(value, NameObject) else None


# --- images ---


def _inspect_image(stream: IO[bytes], content_type: str) -> None:
    from PIL import Image

    expected = "PNG" if content_type == PNG else "JPEG"
    label = KINDS[content_type].label
    limit = Image.MAX_IMAGE_PIXELS or 89_478_485
    stream.seek(0)
    try:
        with warnings.catch_warnings():
            # Between one and two times the limit Pillow only warns.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(stream, formats=[expected]) as image:
                width, height = image.size
                if width * height > limit:
                    raise UploadRejected("image_too_large", limit=limit // 10_000)
                # Reads the structure (PNG chunk checksums) without decoding the pixels.
                image.verify()
    except UploadRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise UploadRejected("image_too_large", limit=limit // 10_000) from error
    except Exception as error:
        raise UploadRejected("image_unreadable", format=label) from error


# --- ZIP containers (OFD, and ZIP when allowed) ---


def _check_entry_name(name: str) -> None:
    parts = name.split("/")
    if (
        not name
        or name.startswith("/")
        or "\\" in name
        or re.match(r"\A[A-Za-z]:", name)
        or any(part in {"..", "."} for part in parts)
        or any(unicodedata.category(ch) in _REFUSED_CATEGORIES for ch in name)
    ):
        raise UploadRejected("archive_unsafe_entry")


_LOCAL_HEADER = struct.Struct("<4s5H3L2H")


def _member_chunks(
    stream: IO[bytes], info: zipfile.ZipInfo, budget: int, limits: _Limits, label: str
) -> Iterator[bytes]:
    """Decompress one entry ourselves, trusting no size in its headers.

    Output is produced in bounded chunks and counted: more than the declared
    size, or more than ``budget``, is a zip bomb; a short entry or a wrong
    CRC is a damaged file.
    """
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
    position = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length
    remaining_input = info.compress_size
    decompressor = zlib.decompressobj(-zlib.MAX_WBITS) if info.compress_type == zipfile.ZIP_DEFLATED else None
    produced = 0
    crc = 0
    while True:
        if decompressor is None:
            if remaining_input <= 0:
                break
            data = _read_at(stream, position, min(CHUNK_SIZE, remaining_input), label)
            position += len(data)
            remaining_input -= len(data)
            output = data
        else:
            if decompressor.eof:
                break
            if decompressor.unconsumed_tail:
                data = decompressor.unconsumed_tail
            elif remaining_input > 0:
                data = _read_at(stream, position, min(CHUNK_SIZE, remaining_input), label)
                position += len(data)
                remaining_input -= len(data)
            else:
                data = b""  # all input read; zlib may still hold output
            try:
                output = decompressor.decompress(data, CHUNK_SIZE)
            except zlib.error as error:
                raise UploadRejected("archive_unreadable", format=label) from error
            if not data and not output:
                break
        produced += len(output)
        if produced > info.file_size or produced > budget:
            raise UploadRejected("zip_bomb", limit=_megabytes(limits.max_unpacked))
        crc = zlib.crc32(output, crc)
        if output:
            yield output
    if (decompressor is not None and not decompressor.eof) or produced != info.file_size or crc != info.CRC:
        raise UploadRejected("archive_unreadable", format=label)


def _read_at(stream: IO[bytes], position: int, size: int, label: str) -> bytes:
    stream.seek(position)
    data = stream.read(size)
    if not data:
        raise UploadRejected("archive_unreadable", format=label)
    return data


_END_RECORD = struct.Struct("<4s4H2LH")


def _check_central_directory(stream: IO[bytes], label: str, limits: _Limits) -> None:
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


def _open_archive(stream: IO[bytes], label: str, limits: _Limits) -> zipfile.ZipFile:
    _check_central_directory(stream, label, limits)
    stream.seek(0)
    try:
        return zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as error:
        raise UploadRejected("archive_unreadable", format=label) from error


def _archive_kind(stream: IO[bytes], limits: _Limits) -> str:
    """OFD (GB/T 33190) is a ZIP container with OFD.xml at its root."""
    with _open_archive(stream, "ZIP", limits) as archive:
        return OFD if "OFD.xml" in archive.namelist() else ZIP


def _inspect_archive(stream: IO[bytes], content_type: str, allowed: frozenset[str], limits: _Limits) -> None:
    label = KINDS[content_type].label
    with _open_archive(stream, label, limits) as archive:
        entries = archive.infolist()
    if len(entries) > limits.max_entries:
        raise UploadRejected("archive_too_many_entries", limit=limits.max_entries)
    names: set[str] = set()
    declared_total = 0
    compressed_total = 0
    for info in entries:
        _check_entry_name(info.filename)
        if info.filename in names or (info.external_attr >> 16) & 0o170000 == 0o120000:  # duplicate or symlink
            raise UploadRejected("archive_unsafe_entry")
        names.add(info.filename)
        if info.flag_bits & 0x1:
            raise UploadRejected("archive_encrypted")
        if info.compress_type not in {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}:
            raise UploadRejected("archive_unreadable", format=label)
        if info.file_size > RATIO_FLOOR_BYTES and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise UploadRejected("zip_bomb", limit=_megabytes(limits.max_unpacked))
        declared_total += info.file_size
        compressed_total += info.compress_size
    if declared_total > limits.max_unpacked or (
        declared_total > RATIO_FLOOR_BYTES and declared_total > limits.max_ratio * max(compressed_total, 1)
    ):
        raise UploadRejected("zip_bomb", limit=_megabytes(limits.max_unpacked))

    member_types = allowed - _CONTAINERS
    budget = limits.max_unpacked
    for info in entries:
        if info.is_dir():
            continue
        head = b""
        with tempfile.SpooledTemporaryFile(max_size=1024 * 1024) as member:
            for chunk in _member_chunks(stream, info, budget, limits, label):
                budget -= len(chunk)
                if len(head) < 16:
                    head += chunk[: 16 - len(head)]
                if content_type == ZIP:
                    member.write(chunk)
            if _looks_like_archive(head, info.filename):
                raise UploadRejected("archive_nested_too_deep")
            if content_type == ZIP:
                _inspect_member(info.filename, head, member, member_types)


def _inspect_member(name: str, head: bytes, member: IO[bytes], member_types: frozenset[str]) -> None:
    """A file inside an allowed ZIP must itself be an allowed, safe, non-archive file."""
    if not head:
        raise UploadRejected("empty_file")
    member_type = _sniff(head)
    if member_type is None or member_type not in member_types:
        raise UploadRejected("file_type_not_allowed", formats=_formats(member_types))
    kind = KINDS[member_type]
    if _extension(name.rsplit("/", 1)[-1]) not in kind.extensions:
        raise UploadRejected("file_type_mismatch", actual=kind.label, extension=kind.stored_extension)
    _inspect_content(member_type, member)


def _inspect_content(content_type: str, stream: IO[bytes]) -> None:
    if content_type == PDF:
        _inspect_pdf(stream)
    elif content_type in {PNG, JPEG}:
        _inspect_image(stream, content_type)


# --- virus scanning ---

# Split so that no scanner flags this source file itself.
EICAR = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*").encode()


def eicar_scan(stream: IO[bytes]) -> ScanResult:
    """Demo and test scanner: finds the EICAR test string anywhere in the file, and nothing else.

    It proves the scanner hook works (``make run`` uses it under DEBUG); it is
    no protection, and production refuses to start with it.
    """
    overlap = b""
    while chunk := stream.read(CHUNK_SIZE):
        window = overlap + chunk
        if EICAR in window:
            return ScanResult(clean=False, signature="Eicar-Test-Signature")
        overlap = window[-(len(EICAR) - 1) :]
    return ScanResult(clean=True)


def _clamd_connect(address: str, timeout: float) -> socket.socket:
    if address.startswith("unix:"):
        address = address.removeprefix("unix:").removeprefix("//")
    if address.startswith("/"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except OSError:
            sock.close()
            raise
        return sock
    host, _colon, port = address.removeprefix("tcp://").rpartition(":")
    if not host or not port.isdigit():
        raise ScannerError(f"CLAMD_ADDRESS must be host:port or a socket path, not {address!r}")
    return socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)


def clamd_scan(stream: IO[bytes]) -> ScanResult:
    """Scan with a ClamAV daemon at ``CLAMD_ADDRESS`` (host:port or a unix socket path) using INSTREAM."""
    address = str(getattr(settings, "CLAMD_ADDRESS", "") or "")
    if not address:
        raise ScannerError("CLAMD_ADDRESS is not set")
    timeout = float(getattr(settings, "CLAMD_TIMEOUT", 30.0))
    with _clamd_connect(address, timeout) as sock:
        sock.sendall(b"zINSTREAM\0")
        while chunk := stream.read(CHUNK_SIZE):
            sock.sendall(struct.pack("!L", len(chunk)) + chunk)
        sock.sendall(struct.pack("!L", 0))
        reply = b""
        while not reply.endswith(b"\0"):
            data = sock.recv(4096)
            if not data or len(reply) > 4096:
                break
            reply += data
    text = reply.rstrip(b"\0").decode("utf-8", errors="replace").strip()
    # "stream: OK" or "stream: <signature> FOUND"; anything else ("... ERROR") is no verdict.
    verdict = text.partition(": ")[2]
    if verdict == "OK":
        return ScanResult(clean=True)
    if verdict.endswith(" FOUND"):
        return ScanResult(clean=False, signature=verdict.removesuffix(" FOUND"))
    raise ScannerError(f"clamd answered {text!r}")


def configured_scanner() -> Scanner | None:
    """The scanner named by ``YIWANG_VIRUS_SCANNER``, or None when scanning is switched off."""
    path = str(getattr(settings, "YIWANG_VIRUS_SCANNER", "") or "").strip()
    if not path or path.lower() == "none":
        return None
    scanner: Scanner = import_string(path)
    return scanner


def _scan(stream: IO[bytes]) -> str:
    scanner = configured_scanner()
    if scanner is None:
        return ScanStatus.NOT_SCANNED.value
    stream.seek(0)
    try:
        result = scanner(stream)
        if not isinstance(result, ScanResult):
            raise ScannerError(f"the scanner returned {result!r}")
    except Exception as error:
        # Fail closed: a file nobody could scan is not accepted as if it had been.
        logger.warning("Virus scanner failed; upload refused: %r", error)
        raise UploadRejected("scanner_unavailable") from error
    if not result.clean:
        logger.warning("Virus scanner found %s in an upload", result.signature)
        raise UploadRejected("virus_found", signature=result.signature or "")
    return ScanStatus.CLEAN.value


# --- the check ---


def check_upload(
    name: str,
    stream: IO[bytes] | UploadedFile,
    *,
    max_bytes: int | None = None,
    allowed: frozenset[str] | None = None,
) -> CheckedUpload:
    """Check one uploaded file; return what is known about it, or raise ``UploadRejected``.

    ``stream`` must be seekable; it is read from the start in chunks and
    never whole into memory, and reading stops as soon as ``max_bytes``
    (default ``YIWANG_UPLOAD_MAX_BYTES``) is passed. ``allowed`` is a set of
    content types (default PDF, JPEG, PNG and OFD). The caller seeks the
    stream back to 0 before storing it.
    """
    limit = max_bytes if max_bytes is not None else int(getattr(settings, "YIWANG_UPLOAD_MAX_BYTES", DEFAULT_MAX_BYTES))
    allowed = DEFAULT_ALLOWED if allowed is None else allowed
    safe_name = safe_display_name(name)
    declared = getattr(stream, "size", None)
    if isinstance(declared, int) and declared > limit:
        raise UploadRejected("file_too_large", limit=_megabytes(limit))
    # UploadedFile proxies the IO methods used here.
    raw: IO[bytes] = stream
    size, sha256, head = _measure(raw, limit)
    if size == 0:
        raise UploadRejected("empty_file")

    limits = _Limits.from_settings()
    content_type = _sniff(head)
    if content_type == ZIP:
        content_type = _archive_kind(raw, limits)
    if content_type is None or content_type not in allowed:
        raise UploadRejected("file_type_not_allowed", formats=_formats(allowed))
    kind = KINDS[content_type]
    if _extension(safe_name) not in kind.extensions:
        raise UploadRejected("file_type_mismatch", actual=kind.label, extension=kind.stored_extension)

    if content_type in _CONTAINERS:
        _inspect_archive(raw, content_type, allowed, limits)
    else:
        _inspect_content(content_type, raw)
    scan_status = _scan(raw)
    raw.seek(0)
    return CheckedUpload(
        safe_name=safe_name, content_type=content_type, size=size, sha256=sha256, scan_status=scan_status
    )


# --- storage ---


def materials_storage() -> Storage:
    """The storage of application materials (``STORAGES["materials"]``)."""
    return storages[STORAGE_ALIAS]


def _valid_stored_name(storage_name: str) -> str:
    # Names only ever come from store(); anything else is a caller's bug or an attack.
    if not isinstance(storage_name, str) or not STORED_NAME.match(storage_name):
        raise ValueError(f"not a stored material name: {storage_name!r}")
    return storage_name


class _BoundedReader(io.IOBase):
    """The checked stream as the storage sees it: never more than the checked size, seekable within it.

    Whether the bytes are still the checked ones is verified afterwards, on
    what the storage wrote.
    """

    def __init__(self, stream: IO[bytes], size: int) -> None:
        super().__init__()
        self.stream = stream
        self.size = size
        self.position = 0
        stream.seek(0)

    def read(self, n: int | None = -1) -> bytes:
        left = self.size - self.position
        data = self.stream.read(left if n is None or n < 0 else min(n, left))
        self.position += len(data)
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = min(max(base + offset, 0), self.size)
        self.stream.seek(self.position)
        return self.position

    def tell(self) -> int:
        return self.position

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True


def store(checked: CheckedUpload, stream: IO[bytes] | UploadedFile) -> str:
    """Write a checked file to the materials storage and return its storage name (``YYYY/MM/<uuid>.<ext>``).

    The name never derives from the citizen's file name. The bytes written
    are read back and must match the checked size and SHA-256; otherwise
    the object is deleted and ``StorageIntegrityError`` raised.
    """
    storage = materials_storage()
    now = timezone.now()
    name = f"{now:%Y/%m}/{uuid.uuid4().hex}.{KINDS[checked.content_type].stored_extension}"
    raw: IO[bytes] = stream
    saved = storage.save(name, File(_BoundedReader(raw, checked.size), name=name))  # type: ignore[arg-type]
    if saved != name:
        _delete_quietly(storage, saved)
        raise StorageIntegrityError(f"the storage renamed {name} to {saved}")
    written = hashlib.sha256()
    written_size = 0
    with storage.open(name, "rb") as stored:
        for chunk in stored.chunks(CHUNK_SIZE):
            written.update(chunk)
            written_size += len(chunk)
    if written_size != checked.size or written.hexdigest() != checked.sha256:
        _delete_quietly(storage, name)
        raise StorageIntegrityError(f"{name} was not stored intact")
    return name


def open_stored(storage_name: str) -> IO[bytes]:
    """Open a stored material for reading (binary); the caller closes it."""
    return materials_storage().open(_valid_stored_name(storage_name), "rb")


def delete_stored(storage_name: str) -> None:
    """Delete a stored material; deleting one that is already gone is not an error."""
    materials_storage().delete(_valid_stored_name(storage_name))


def _delete_quietly(storage: Storage, name: str) -> None:
    try:
        storage.delete(name)
    except Exception:
        logger.exception("Could not delete %s from the materials storage", name)


class _Outcome:
    committed = False


class _CommitHook:
    """Registered with on_commit; the only reference to it is Django's list of commit hooks.

    Django drops that list entry without calling it when the savepoint or
    transaction it belongs to rolls back, and this object is then freed at
    once (CPython frees by reference count); its finalizer deletes the file.
    """

    def __init__(self, outcome: _Outcome) -> None:
        self.outcome = outcome

    def __call__(self) -> None:
        self.outcome.committed = True


def _settle(storage_name: str, connection: Any, outcome: _Outcome) -> None:
    if outcome.committed:
        return
    # A hook also goes uncalled after a commit when an earlier on_commit hook
    # raised. A rollback frees ours while the connection is still inside its
    # transaction handling (in an atomic block, or autocommit still off);
    # only then is the file certainly unreferenced. Otherwise keep it: an
    # orphan is better than a committed row that points at nothing.
    if connection.in_atomic_block or not connection.autocommit:
        logger.info("Transaction rolled back; deleting stored material %s", storage_name)
        _delete_quietly(materials_storage(), storage_name)
    else:
        logger.warning("Commit of stored material %s could not be confirmed; the file is kept", storage_name)


def store_in_transaction(checked: CheckedUpload, stream: IO[bytes] | UploadedFile, *, using: str | None = None) -> str:
    """Store a checked file inside the caller's ``transaction.atomic()`` block; undo the write on rollback.

    Call it in the same atomic block that creates the row referring to the
    file. If that block (or the whole transaction) rolls back, the stored
    object is deleted at once; if it commits, the object stays.
    """
    connection = transaction.get_connection(using)
    if not connection.in_atomic_block:
        raise RuntimeError("store_in_transaction() must be called inside transaction.atomic()")
    storage_name = store(checked, stream)
    outcome = _Outcome()
    hook = _CommitHook(outcome)
    finalizer = weakref.finalize(hook, _settle, storage_name, connection, outcome)
    # At interpreter exit the transaction's fate is unknown: leave the file.
    finalizer.atexit = False
    transaction.on_commit(hook, using=using)
    return storage_name
