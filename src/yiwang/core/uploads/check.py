"""``check_upload``: every check in turn, from the name to the virus scan."""

from __future__ import annotations

from typing import IO

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from .base import (
    CONTAINERS,
    DEFAULT_ALLOWED,
    DEFAULT_MAX_BYTES,
    KINDS,
    ZIP,
    CheckedUpload,
    Limits,
    UploadRejected,
    formats,
    megabytes,
)
from .containers import archive_kind, inspect_archive
from .content import inspect_content
from .detection import measure, sniff
from .multipart import CLIENT_NAME_ATTRIBUTE
from .names import extension, safe_display_name
from .scanning import scan


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
    stream back to 0 before storing it. An upload parsed from a request also
    has its name as sent checked (``client_name``, see ``multipart``).
    """
    limit = max_bytes if max_bytes is not None else int(getattr(settings, "YIWANG_UPLOAD_MAX_BYTES", DEFAULT_MAX_BYTES))
    allowed = DEFAULT_ALLOWED if allowed is None else allowed
    safe_name = safe_display_name(name)
    # The name as the browser sent it, before Django cut off its path and dropped what it cannot print.
    client_name = getattr(stream, CLIENT_NAME_ATTRIBUTE, None)
    if isinstance(client_name, str):
        safe_name = safe_display_name(client_name)
    declared = getattr(stream, "size", None)
    if isinstance(declared, int) and declared > limit:
        raise UploadRejected("file_too_large", limit=megabytes(limit))
    # UploadedFile proxies the IO methods used here.
    raw: IO[bytes] = stream
    size, sha256, head = measure(raw, limit)
    if size == 0:
        raise UploadRejected("empty_file")

    limits = Limits.from_settings()
    content_type = sniff(head)
    if content_type == ZIP:
        content_type = archive_kind(raw, limits)
    if content_type is None or content_type not in allowed:
        raise UploadRejected("file_type_not_allowed", formats=formats(allowed))
    kind = KINDS[content_type]
    if extension(safe_name) not in kind.extensions:
        raise UploadRejected("file_type_mismatch", actual=kind.label, extension=kind.stored_extension)

    if content_type in CONTAINERS:
        inspect_archive(raw, content_type, allowed, limits)
    else:
        inspect_content(content_type, raw)
    scan_status = scan(raw)
    raw.seek(0)
    return CheckedUpload(
        safe_name=safe_name, content_type=content_type, size=size, sha256=sha256, scan_status=scan_status
    )
