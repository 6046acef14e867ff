"""Sealed licence documents: the licence face shared by the HTML page and the PDF, and the PDF itself.

The PDF (reportlab, built-in CID font STSong-Light, so no font file ships)
shows the same rows as the page (:func:`licence_face`), the issuing
department's visible seal (its seal image from the seals, or a drawn red seal
bearing the department's name), and a QR code carrying the seals' payload.
The signed claims, their SM3 digest, the SM2 signature and the signer key id
are embedded as the PDF attachment ``licence-seal.json`` (and the identifier
and digest repeated in the document's Subject and Keywords), so a verifier
can check the signature without our site (see docs/adr/0017).
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _

from yiwang.core import calendar
from yiwang.licences.constants import SHARE_MINUTES_CHOICES, LicenceStatus
from yiwang.licences.services import _sealing, pdf_template
from yiwang.licences.services import qr_matrix as qr_matrix_module
from yiwang.licences.services.issuance import claims_of

if TYPE_CHECKING:
    from yiwang.licences.models import Licence

SHARE_MINUTE_CHOICES = SHARE_MINUTES_CHOICES
ATTACHMENT_NAME = "licence-seal.json"
FONT = pdf_template.FONT


@dataclass(frozen=True)
class LicenceFace:
    """What a licence shows, in order, on screen and on paper alike."""

    title: str
    rows: list[tuple[str, str]]
    identifier: str
    issuer: str
    issued_on: str
    status_label: str
    sealed: bool


def licence_face(licence: Licence) -> LicenceFace:
    status = licence.effective_status(calendar.today_local())
    rows: list[tuple[str, str]] = [
        (_("持证主体"), licence.holder_name),
        (_("持证主体代码"), licence.holder_code or "—"),
    ]
    rows += [(field["label"], str(licence.data.get(field["key"], "")) or "—") for field in licence.licence_type.fields]
    rows += [
        (_("发证日期"), licence.issued_on.isoformat()),
        (_("有效期至"), licence.valid_until.isoformat() if licence.valid_until else _("长期")),
        (_("版本"), f"{licence.version:03d}"),
        (_("核验码"), licence.verification_code),
    ]
    return LicenceFace(
        title=licence.licence_type.name,
        rows=rows,
        identifier=licence.identifier,
        issuer=licence.department.name,
        issued_on=licence.issued_on.isoformat(),
        status_label=str(LicenceStatus(status).label),
        sealed=bool(licence.signature),
    )


def seal_record(licence: Licence) -> dict[str, object]:
    """The attachment embedded in the PDF: the signed claims and the seal over them."""
    return {
        "claims": claims_of(licence),
        "canonical": "JSON, UTF-8, keys sorted, separators ',' ':' (no spaces)",
        "digest_sm3": licence.digest,
        "signature_sm2": licence.signature,
        "signer_key_id": licence.signer_key_id,
        "qr_payload": licence.qr_payload,
    }


def register_font() -> None:
    """Make the built-in CJK font known to reportlab (once per process) before a document draws text."""
    pdf_template.register_font()


def draw_seal(canvas: Any, x: float, y: float, radius: float, department_name: str) -> None:
    """A red round seal with a star and the department's name around the top (when no seal image exists)."""
    from reportlab.lib import colors  # type: ignore[import-untyped]

    c = canvas
    c.saveState()
    c.setStrokeColor(colors.red)
    c.setFillColor(colors.red)
    c.setLineWidth(2.5)
    c.circle(x, y, radius, stroke=1, fill=0)
    star = [
        (
            x + radius * 0.28 * (1 if i % 2 == 0 else 0.4) * math.cos(math.pi / 2 + i * math.pi / 5),
            y + radius * 0.28 * (1 if i % 2 == 0 else 0.4) * math.sin(math.pi / 2 + i * math.pi / 5),
        )
        for i in range(10)
    ]
    path = c.beginPath()
    path.moveTo(*star[0])
    for point in star[1:]:
        path.lineTo(*point)
    path.close()
    c.drawPath(path, stroke=0, fill=1)
    name = department_name[:16]
    size = 9
    c.setFont(FONT, size)
    span = math.radians(200)
    start = math.pi / 2 + span / 2
    for index, char in enumerate(name):
        angle = start - span * (index + 0.5) / max(len(name), 1)
        c.saveState()
        c.translate(x + (radius - 12) * math.cos(angle), y + (radius - 12) * math.sin(angle))
        c.rotate(math.degrees(angle) - 90)
        c.drawCentredString(0, -size / 2, char)
        c.restoreState()
    c.restoreState()


def draw_qr(canvas: Any, content: str, x: float, y: float, size: float) -> None:
    """The QR code drawn as vector squares (no raster image to encode)."""
    matrix = qr_matrix(content)
    quiet = 2
    width = len(matrix) + 2 * quiet
    # One path of integer rectangles in module units (runs of dark modules), filled once: formatting
    # thousands of float coordinates through canvas.rect cost more than the whole page.
    runs: list[str] = []
    for row_index, row in enumerate(matrix):
        top = width - quiet - 1 - row_index
        run_start = None
        for column, dark in enumerate((*row, 0)):
            if dark and run_start is None:
                run_start = column
            elif not dark and run_start is not None:
                runs.append(f"{run_start + quiet} {top} {column - run_start} 1 re")
                run_start = None
    canvas.saveState()
    canvas.translate(x, y)
    canvas.scale(size / width, size / width)
    canvas.setFillColorRGB(0, 0, 0)
    canvas._code.append("\n".join(runs) + "\nf")
    canvas.restoreState()


if TYPE_CHECKING:
    from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]


def _seal_template(issuer: str, seal_png: bytes | None, width: float) -> pdf_template.PageTemplate:
    """The fixed part of a licence PDF: the issuing department's visible seal (image or drawn), made once."""

    def draw(canvas: Canvas) -> None:
        from reportlab.lib.utils import ImageReader  # type: ignore[import-untyped]

        seal_x, seal_y = width - 170, 170
        if seal_png:
            canvas.drawImage(ImageReader(io.BytesIO(seal_png)), seal_x - 60, seal_y - 60, 120, 120, mask="auto")
        else:
            draw_seal(canvas, seal_x, seal_y, 60, issuer)

    key = ("licence-seal", seal_png) if seal_png else ("licence-drawn-seal", issuer)
    return pdf_template.template(key, draw, ATTACHMENT_NAME)


def qr_matrix(content: str) -> list[bytes]:
    """The QR code of ``content`` as rows of 0/1 bytes (error correction M), 1 for a dark module."""
    return qr_matrix_module.matrix(content)


def licence_pdf(licence: Licence) -> bytes:
    """The licence as a sealed PDF: the face, the visible seal, the QR code, the seal record attached.

    The department's seal, the fonts and the document structure come from a
    cached template (:mod:`~yiwang.licences.services.pdf_template`); this
    licence's text and QR code are written around it.
    """
    from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]

    face = licence_face(licence)
    width, height = A4
    # The seal that signed this licence (cached per key), not whichever seal the department has today.
    page = _seal_template(face.issuer, _sealing.signer_seal_image(licence.signer_key_id), width)
    ops = pdf_template.Ops(page)
    ops.centred_text(width / 2, height - 90, face.title, 24)
    ops.centred_text(width / 2, height - 112, f"{_('电子证照标识')}：{face.identifier}", 10)
    y = height - 160
    for label, value in face.rows:
        ops.text(80, y, f"{label}：", 12)
        ops.text(200, y, value[:40], 12)
        y -= 26
    ops.text(80, y - 10, f"{_('发证机关')}：{face.issuer}", 12)
    ops.template_here()
    ops.qr(qr_matrix(licence.qr_payload or face.identifier), 70, 90, 140)
    ops.text(70, 78, _("扫码或凭标识与核验码在“证照状态查询”核验"), 8)
    signed = _("已加盖电子印章（SM2）") if licence.signature else _("未加盖电子印章：发证部门尚未配置印章")
    ops.text(width - 260, 90, signed, 8)
    ops.text(width - 260, 78, f"SM3 {licence.digest[:32]}", 8)
    record = json.dumps(seal_record(licence), ensure_ascii=False, sort_keys=True).encode()
    info = {
        "/Title": f"{face.title} {face.identifier}",
        "/Author": face.issuer,
        "/Subject": face.identifier,
        "/Keywords": f"licence={face.identifier}; sm3={licence.digest}; key={licence.signer_key_id}",
        "/Creator": "Yiwang 一网通办",
    }
    return pdf_template.assemble(page, ops, info=info, attachment=record)


def attach_seal_record(pdf: bytes, name: str, record: dict[str, object]) -> bytes:
    """``pdf`` with ``record`` attached as the JSON file ``name`` (what an offline verifier reads)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.add_attachment(name, json.dumps(record, ensure_ascii=False, sort_keys=True).encode())
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def read_seal_record(pdf: bytes, name: str = ATTACHMENT_NAME) -> dict[str, object]:
    """The seal record attached to a licence (or decision) PDF, for verifiers and tests."""
    from pypdf import PdfReader

    attachments = PdfReader(io.BytesIO(pdf)).attachments
    content = attachments[name][0]
    result: dict[str, object] = json.loads(content)
    return result
