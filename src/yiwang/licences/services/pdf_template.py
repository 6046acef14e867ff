"""One-page sealed PDFs from a cached template: the fixed drawing is made once, each document adds its own parts.

Most of what a sealed PDF costs is the same for every document of a
department: decoding the seal image and compressing it, the font objects,
reportlab's document machinery, and reopening the file with pypdf to attach
the seal record. Here reportlab draws those fixed parts once per template
key (:func:`template`; for a licence: the department's seal); every document
then copies the template's objects verbatim and writes only its own:

* its drawing (text in the built-in CID font, the QR code) as two content
  streams, one before and one after the template's, which runs inside
  ``q``/``Q`` so neither sees the other's graphics state; the text keeps the
  reading order of a page drawn in one piece;
* the document information dictionary (title, author, subject, keywords);
* the attached file (an ``/EmbeddedFile`` stream named in the catalogue's
  ``/EmbeddedFiles`` name tree, as pypdf's ``add_attachment`` writes it).

The result is an ordinary single-revision PDF with a fresh cross-reference
table: no object of an earlier draft is left in it. :class:`Ops` writes the
operators with the font and coordinates reportlab would use, so the page
looks as one drawn by reportlab alone does.
"""

from __future__ import annotations

import hashlib
import io
import threading
import zlib
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np

FONT = "STSong-Light"
_DOCUMENT_KEYS = ("/Title", "/Author", "/Subject", "/Keywords", "/Creator")
_MAX_TEMPLATES = 128


@dataclass(frozen=True)
class PageTemplate:
    """The fixed objects of a one-page PDF, serialised, and the numbers of the objects each document writes."""

    head: bytes  # the header and every fixed object
    offsets: tuple[int, ...]  # byte offset of objects 1..size-1 in ``head``; 0 for the per-document ones
    size: int  # one more than the highest object number
    root: int
    info: int
    before: int  # the document's content streams, drawn before and after the template's
    after: int
    embedded_file: int
    info_entries: bytes  # the fixed entries of the information dictionary (producer, dates)
    font: str  # the internal name of FONT on the page, e.g. "/F2"


def register_font() -> None:
    """Register the built-in CID font (no font file ships) and keep image streams binary."""
    from reportlab import rl_config  # type: ignore[import-untyped]
    from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont  # type: ignore[import-untyped]

    # Binary image streams: reportlab's pure-Python ASCII85 encoding was most of a licence PDF's time.
    rl_config.useA85 = 0
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def _serialise(obj: Any) -> bytes:
    out = io.BytesIO()
    obj.write_to_stream(out)
    return out.getvalue().strip()


def _open_dict(obj: Any) -> bytes:
    """A dictionary serialised without its closing ``>>``, so entries can follow."""
    body = _serialise(obj)
    if not body.endswith(b">>"):
        raise ValueError("not a dictionary")
    return body[:-2]


def _build(draw: Callable[[Any], None], attachment_name: str) -> PageTemplate:
    from pypdf import PdfReader
    from pypdf.generic import ArrayObject, DictionaryObject, NameObject, create_string_object
    from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
    from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]

    register_font()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=True)
    canvas.setFont(FONT, 12)  # registers the font on the page even if ``draw`` writes no text
    font = canvas._doc.getInternalFontName(FONT)
    draw(canvas)
    canvas.showPage()
    canvas.save()
    data = buffer.getvalue()
    reader = PdfReader(io.BytesIO(data))
    root_ref, info_ref = reader.trailer.raw_get("/Root"), reader.trailer.raw_get("/Info")
    page = reader.pages[0]
    page_number = page.indirect_reference.idnum  # type: ignore[union-attr]
    size: Any = reader.trailer["/Size"]
    last = int(size) - 1  # reportlab numbers its objects 1..Size-1, all in use
    numbers = range(1, last + 1)
    before, after, embedded_file, filespec, save, restore = range(last + 1, last + 7)

    def ref(number: int) -> bytes:
        return f"{number} 0 R".encode()

    bodies: dict[int, bytes] = {}
    for number in numbers:
        if number == info_ref.idnum:
            continue
        obj: Any = reader.get_object(number)
        if number == page_number:
            fixed = DictionaryObject(obj)
            del fixed[NameObject("/Contents")]
            # The document's drawing before and after the template's, which runs inside q/Q so neither
            # sees the other's graphics state.
            contents = obj.raw_get("/Contents")
            listed = [ref(before), ref(save)]
            listed += map(_serialise, contents if isinstance(contents, ArrayObject) else [contents])
            listed += [ref(restore), ref(after)]
            bodies[number] = _open_dict(fixed) + b" /Contents [ " + b" ".join(listed) + b" ] >>"
        elif number == root_ref.idnum:
            names = b"/Names << /EmbeddedFiles << /Names [ %s %s ] >> >>" % (
                _serialise(create_string_object(attachment_name)),
                ref(filespec),
            )
            bodies[number] = _open_dict(obj) + b" " + names + b" >>"
        else:
            bodies[number] = _serialise(obj)
    bodies[filespec] = b"<< /EF << /F %s >> /F %s /Type /Filespec >>" % (
        ref(embedded_file),
        _serialise(create_string_object(attachment_name)),
    )
    bodies[save] = b"<< /Length 2 >>\nstream\nq\n\nendstream"
    bodies[restore] = b"<< /Length 2 >>\nstream\nQ\n\nendstream"
    info: Any = reader.get_object(info_ref.idnum)
    info_entries = b" ".join(
        _serialise(NameObject(key)) + b" " + _serialise(value)
        for key, value in info.items()
        if key not in _DOCUMENT_KEYS
    )
    version = data.split(b"\n", 1)[0]
    head = io.BytesIO()
    head.write(version + b"\n%\xe2\xe3\xcf\xd3\n")
    offsets = [0] * restore
    for number in sorted(bodies):
        offsets[number - 1] = head.tell()
        head.write(b"%d 0 obj\n%s\nendobj\n" % (number, bodies[number]))
    return PageTemplate(
        head=head.getvalue(),
        offsets=tuple(offsets),
        size=restore + 1,
        root=root_ref.idnum,
        info=info_ref.idnum,
        before=before,
        after=after,
        embedded_file=embedded_file,
        info_entries=info_entries,
        font=font,
    )


_templates: dict[Hashable, PageTemplate] = {}
_lock = threading.Lock()


def template(key: Hashable, draw: Callable[[Any], None], attachment_name: str) -> PageTemplate:
    """The template for ``key``, drawn by ``draw(canvas)`` the first time (the key must name all it draws)."""
    cache_key = (key, attachment_name)
    found = _templates.get(cache_key)
    if found is None:
        found = _build(draw, attachment_name)
        with _lock:
            if len(_templates) >= _MAX_TEMPLATES:
                _templates.clear()
            _templates[cache_key] = found
    return found


def pdf_text(value: str) -> bytes:
    """A PDF text string: literal for printable ASCII, UTF-16BE with a byte order mark otherwise."""
    if value.isascii() and value.isprintable():
        return b"(" + value.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("ascii") + b")"
    return b"<feff" + value.encode("utf-16-be").hex().encode("ascii") + b">"


def number(value: float) -> str:
    """A coordinate as reportlab writes one: at most four decimals, no trailing zeros."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return text if text not in {"", "-0"} else "0"


class Ops:
    """Drawing operators for one document's own content (text in FONT, QR modules).

    What is drawn before :meth:`template_here` comes before the template's
    drawing in the page's content, the rest after it (order matters to text
    extraction and screen readers, not to how the page looks: nothing overlaps).
    """

    def __init__(self, page: PageTemplate) -> None:
        self._font = page.font
        self._before: list[str] | None = None
        self._parts: list[str] = ["q 0 0 0 rg"]

    def template_here(self) -> None:
        self._before = self._parts
        self._parts = ["q 0 0 0 rg"]

    def text(self, x: float, y: float, value: str, size: float) -> None:
        glyphs = value.encode("utf-16-be").hex()  # the UniGB-UCS2-H encoding of the CID font
        self._parts.append(f"BT {self._font} {number(size)} Tf 1 0 0 1 {number(x)} {number(y)} Tm <{glyphs}> Tj ET")

    def centred_text(self, x: float, y: float, value: str, size: float) -> None:
        from reportlab.pdfbase.pdfmetrics import stringWidth  # type: ignore[import-untyped]

        self.text(x - stringWidth(value, FONT, size) / 2, y, value, size)

    def qr(self, matrix: list[bytes], x: float, y: float, size: float, quiet: int = 2) -> None:
        """A QR code as one filled path of dark-module runs, in module units scaled to ``size`` points."""
        count = len(matrix)
        width = count + 2 * quiet
        scale = number(size / width)
        modules = np.frombuffer(b"".join(matrix), dtype=np.uint8).reshape(count, count).astype(np.int8)
        # Runs of dark modules, row by row: where a row (padded with light modules) steps up and down again.
        steps = np.diff(np.pad(modules, ((0, 0), (1, 1))), axis=1)
        rows, starts = np.nonzero(steps == 1)
        _rows, ends = np.nonzero(steps == -1)
        numbers = np.column_stack((starts + quiet, width - quiet - 1 - rows, ends - starts)).ravel().tolist()
        self._parts.append(f"q 1 0 0 1 {number(x)} {number(y)} cm {scale} 0 0 {scale} 0 0 cm 0 0 0 rg")
        self._parts.append(("%d %d %d 1 re\n" * len(starts)) % tuple(numbers) + "f Q")

    def contents(self) -> tuple[bytes, bytes]:
        """The content streams before and after the template's drawing (uncompressed)."""
        after = ("\n".join(self._parts) + "\nQ\n").encode("ascii")
        if self._before is None:
            return after, b""
        return ("\n".join(self._before) + "\nQ\n").encode("ascii"), after


def assemble(page: PageTemplate, ops: Ops, *, info: dict[str, str], attachment: bytes) -> bytes:
    """The complete PDF: the template's objects, this document's drawing, information and attached file."""
    # Level 1: these streams are a few kilobytes of operators; level 6 made them 20% smaller at five times the cost.
    before, after = (zlib.compress(part, 1) for part in ops.contents())
    info_body = (
        b"<< "
        + page.info_entries
        + b"".join(b" %s %s" % (key.encode("ascii"), pdf_text(value)) for key, value in info.items())
        + b" >>"
    )
    own = {
        page.before: b"<< /Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream" % (len(before), before),
        page.after: b"<< /Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream" % (len(after), after),
        page.embedded_file: b"<< /Length %d /Type /EmbeddedFile >>\nstream\n%s\nendstream"
        % (len(attachment), attachment),
        page.info: info_body,
    }
    out = [page.head]
    position = len(page.head)
    offsets = list(page.offsets)
    for obj_number in sorted(own):
        chunk = b"%d 0 obj\n%s\nendobj\n" % (obj_number, own[obj_number])
        offsets[obj_number - 1] = position
        out.append(chunk)
        position += len(chunk)
    identifier = hashlib.md5(b"".join(out[1:]), usedforsecurity=False).hexdigest().encode("ascii")
    xref = b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    trailer = b"<< /ID [ <%s> <%s> ] /Info %d 0 R /Root %d 0 R /Size %d >>" % (
        identifier,
        identifier,
        page.info,
        page.root,
        page.size,
    )
    out.append(b"xref\n0 %d\n0000000000 65535 f \n%s" % (page.size, xref))
    out.append(b"trailer\n%s\nstartxref\n%d\n%%%%EOF\n" % (trailer, position))
    return b"".join(out)
