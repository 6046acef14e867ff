"""PDF: refused when encrypted, unreadable or carrying active content (scripts, embedded files, XFA)."""

from __future__ import annotations

import logging
from typing import IO, TYPE_CHECKING, Any

from .base import UploadRejected
from .pdf_actions import check_actions

if TYPE_CHECKING:
    from pypdf import PdfReader
    from pypdf.generic import DictionaryObject

logger = logging.getLogger(__name__)


# Keys that carry scripts, embedded files, XFA forms or multimedia players.
_PDF_ACTIVE_KEYS = frozenset(
    {"/JS", "/JavaScript", "/EmbeddedFile", "/EmbeddedFiles", "/EF", "/RichMedia", "/RichMediaContent", "/XFA"}
)
# Action types (/S) that run code, start programs or pull in outside data.
_PDF_ACTIVE_ACTIONS = frozenset({"/JavaScript", "/Launch", "/RichMediaExecute", "/ImportData", "/GoToE"})
_PDF_ACTIVE_TYPES = frozenset({"/EmbeddedFile", "/RichMedia", "/RichMediaExecute"})


def inspect_pdf(stream: IO[bytes]) -> None:
    from pypdf import PdfReader

    stream.seek(0)
    try:
        reader = PdfReader(stream, strict=False)
        if reader.is_encrypted:
            raise UploadRejected("pdf_encrypted")
        if len(reader.pages) == 0:
            raise UploadRejected("pdf_unreadable")
        _check_objects(reader)
    except UploadRejected:
        raise
    except Exception as error:
        # pypdf raises many kinds of error on malformed input; a PDF we cannot
        # read completely is one we cannot vouch for.
        logger.info("PDF refused as unreadable: %r", error)
        raise UploadRejected("pdf_unreadable") from error


def _check_objects(reader: PdfReader) -> None:
    """Refuse active content anywhere in the file, not only where a viewer would look first.

    Every object the cross-reference data names, including those packed in
    compressed object streams, plus whatever they refer to.
    """
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

    pending: list[Any] = [reader.trailer]
    pending.extend(IndirectObject(idnum, 0, reader) for idnum in reader.xref_objStm)
    pending.extend(
        IndirectObject(idnum, generation, reader) for generation, entries in reader.xref.items() for idnum in entries
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
            _check_dictionary(item)
            pending.extend(item.values())
        elif isinstance(item, ArrayObject):
            pending.extend(item)


def _check_dictionary(item: DictionaryObject) -> None:
    """A dictionary must name no active key, and no action or type that runs or embeds something."""
    check_actions(item)
    for name, value in item.items():
        if name in _PDF_ACTIVE_KEYS:
            raise UploadRejected("pdf_active_content")
        if name in {"/S", "/Type", "/Subtype"} and _pdf_name(value) in (
            _PDF_ACTIVE_ACTIONS if name == "/S" else _PDF_ACTIVE_TYPES
        ):
            raise UploadRejected("pdf_active_content")


def _pdf_name(value: Any) -> str | None:
    from pypdf.generic import IndirectObject, NameObject

    if isinstance(value, IndirectObject):
        value = value.get_object()
    return str(value) if isinstance(value, NameObject) else None
