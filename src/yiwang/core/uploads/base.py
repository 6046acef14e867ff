"""What every upload module shares: content types, limits, the refusal and what a check returns."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

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
class Kind:
    content_type: str
    label: str
    extensions: frozenset[str]
    stored_extension: str


KINDS: dict[str, Kind] = {
    kind.content_type: kind
    for kind in (
        Kind(PDF, "PDF", frozenset({"pdf"}), "pdf"),
        Kind(JPEG, "JPG", frozenset({"jpg", "jpeg"}), "jpg"),
        Kind(PNG, "PNG", frozenset({"png"}), "png"),
        Kind(OFD, "OFD", frozenset({"ofd"}), "ofd"),
        Kind(ZIP, "ZIP", frozenset({"zip"}), "zip"),
    )
}
CONTAINERS = frozenset({OFD, ZIP})

MESSAGES: dict[str, Promise] = {
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
    "pdf_outside_action": _(
        "这个 PDF 文件含有执行脚本的链接，或会自动打开网址、把表单内容发送到外部网址的操作，出于安全考虑不能接收。"
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
        template = str(MESSAGES[code])
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


class ScanStatus(models.TextChoices):
    CLEAN = "clean", _("未发现病毒")
    INFECTED = "infected", _("发现病毒")
    NOT_SCANNED = "not_scanned", _("未扫描")


class ScannerError(Exception):
    """The virus scanner could not give a verdict."""


Scanner = Callable[[IO[bytes]], ScanResult]


@dataclass(frozen=True)
class Limits:
    max_unpacked: int
    max_entries: int
    max_ratio: int

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(
            max_unpacked=int(getattr(settings, "YIWANG_UPLOAD_MAX_UNPACKED_BYTES", DEFAULT_MAX_UNPACKED_BYTES)),
            max_entries=int(getattr(settings, "YIWANG_UPLOAD_MAX_ARCHIVE_ENTRIES", DEFAULT_MAX_ARCHIVE_ENTRIES)),
            max_ratio=int(getattr(settings, "YIWANG_UPLOAD_MAX_COMPRESSION_RATIO", DEFAULT_MAX_COMPRESSION_RATIO)),
        )


def megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


def formats(allowed: frozenset[str]) -> str:
    return str(_("、")).join(kind.label for content_type, kind in KINDS.items() if content_type in allowed)
