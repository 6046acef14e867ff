"""Safe intake of uploaded files (application materials, hotline attachments) and the storage that keeps them.

``check_upload`` decides whether a file may be accepted: name, size, type by
content, structure (PDF active content, image headers, ZIP containers such
as OFD) and a virus scan. ``store`` / ``store_in_transaction`` write an
accepted file to the ``materials`` storage under a random name;
``open_stored`` and ``delete_stored`` read and remove it. ``without_metadata``
re-encodes an accepted photo without its EXIF. The rules, limits and
configuration are described in docs/uploads.md.

The modules, by concern: ``base`` (types, limits, the refusal), ``names``,
``detection`` (reading and sniffing), ``pdf`` and ``pdf_actions``, ``images``, ``containers``
(ZIP and OFD), ``content``, ``scanning``, ``check`` and ``storage``.
"""

from .base import (
    CHUNK_SIZE,
    DEFAULT_ALLOWED,
    DEFAULT_MAX_ARCHIVE_ENTRIES,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_COMPRESSION_RATIO,
    DEFAULT_MAX_UNPACKED_BYTES,
    JPEG,
    KINDS,
    MAX_NAME_BYTES,
    MAX_NAME_CHARS,
    OFD,
    PDF,
    PNG,
    ZIP,
    CheckedUpload,
    Scanner,
    ScannerError,
    ScanResult,
    ScanStatus,
    StorageIntegrityError,
    UploadRejected,
)
from .check import check_upload
from .images import without_metadata
from .multipart import name_as_sent
from .names import safe_display_name
from .scanning import EICAR, clamd_scan, configured_scanner, eicar_scan
from .storage import delete_stored, materials_storage, open_stored, store, store_in_transaction

__all__ = [
    "CHUNK_SIZE",
    "DEFAULT_ALLOWED",
    "DEFAULT_MAX_ARCHIVE_ENTRIES",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_COMPRESSION_RATIO",
    "DEFAULT_MAX_UNPACKED_BYTES",
    "EICAR",
    "JPEG",
    "KINDS",
    "MAX_NAME_BYTES",
    "MAX_NAME_CHARS",
    "OFD",
    "PDF",
    "PNG",
    "ZIP",
    "CheckedUpload",
    "ScanResult",
    "ScanStatus",
    "Scanner",
    "ScannerError",
    "StorageIntegrityError",
    "UploadRejected",
    "check_upload",
    "clamd_scan",
    "configured_scanner",
    "delete_stored",
    "eicar_scan",
    "materials_storage",
    "name_as_sent",
    "open_stored",
    "safe_display_name",
    "store",
    "store_in_transaction",
    "without_metadata",
]
