"""Sealed case documents: 受理回执, 不予受理决定书, 补正告知书 and decisions, sealed when the case reaches that state.

The content is the case's own (``cases.selectors.document_content``, the
record its print page renders), taken under the source language with the
applicant named in full, plus the document id. It is sealed like a licence's
claims (canonical JSON, ``seal_document`` by the handling department's seal;
decisions and 不予受理 co-signed by the official who took them) and carries a
QR payload in the licences' ``YW1:`` format whose id field names the
document (``DOC:<case>:<kind>:<n>``; docs/licences.md, "Sealed case
documents"), so /licences/verify/ and any offline verifier check it as they
check a licence. The PDF draws the same blocks, the visible seal, the QR
code, and attaches ``<kind>-seal.json`` (claims, digest, sealed structure).
See docs/adr/0020.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.http import Http404
from django.utils import translation
from django.utils.translation import gettext as _

from yiwang.accounts import selectors as accounts_selectors
from yiwang.cases import selectors as cases_selectors
from yiwang.core import crypto
from yiwang.core.audit import record_event
from yiwang.licences.models import LicenceType, SealedDocument
from yiwang.licences.services import _sealing, documents
from yiwang.licences.services.seal_types import Verification

if TYPE_CHECKING:
    from yiwang.licences.models import Licence

logger = logging.getLogger("yiwang.licences.documents")

KINDS = ("receipt", "rejection", "correction", "decision")
DOCUMENT_ID_PREFIX = "DOC:"
# The case action whose event seals each document, and the actions whose official co-signs it.
SEALING_ACTIONS = {"accept": "receipt", "reject": "rejection", "request_correction": "correction"}
EVENT_ACTIONS = frozenset({*SEALING_ACTIONS, "approve", "refuse"})
CO_SIGNED = {"rejection": ("reject",), "decision": ("approve", "refuse")}
CANONICAL_RULE = "JSON, UTF-8, keys sorted, separators ',' ':' (no spaces)"


def document_id(case_number: str, kind: str, sequence: int) -> str:
    """The id a sealed case document carries in its claims and in the QR payload's id field (0x02)."""
    return f"{DOCUMENT_ID_PREFIX}{case_number}:{kind}:{sequence}"


def is_document_id(value: str) -> bool:
    return value.startswith(DOCUMENT_ID_PREFIX)


def attachment_name(kind: str) -> str:
    return f"{kind}-seal.json"


def issues_licences(item_code: str) -> bool:
    """Whether a decision on the item issues licences (its decision is then sealed with them at 制证)."""
    codes = LicenceType.objects.filter(active=True).values_list("item_codes", flat=True)
    return any(item_code in item_codes for item_codes in codes)


def _last_actor(case: Any, actions: Iterable[str]) -> Any:
    wanted = set(actions)
    for event in reversed(cases_selectors.timeline(case, for_staff=True)):
        if event.action in wanted:
            return event.actor
    return None


def _applicant_document(case: Any) -> str:
    """The number the QR's holder digest covers: the person's identity number or the organisation's credit code."""
    if case.applicant_organisation_id is not None:
        return str(accounts_selectors.get_organisation(case.applicant_organisation_id).credit_code)
    person = accounts_selectors.get_person(case.applicant_person_id)
    return crypto.decrypt(person.document_number_encrypted)


def seal_case_document(*, case: Any, kind: str, sequence: int = 1, licences: Iterable[Licence] = ()) -> SealedDocument:
    """Seal the case's document ``kind`` (the ``sequence``-th of its kind) from the case as it is now; once.

    Idempotent (one document per case, kind and sequence): a repeated event
    returns the document already sealed, never a second version. A department
    without a seal still gets the document, digested but unsigned.
    """
    if kind not in KINDS:
        raise ValueError(f"not a case document kind: {kind}")
    existing = SealedDocument.objects.filter(case_number=case.number, kind=kind, sequence=sequence).first()
    if existing is not None:
        return existing
    identifiers = [licence.identifier for licence in licences]
    with translation.override(settings.LANGUAGE_CODE):
        content = cases_selectors.document_content(
            case, kind, applicant=case.applicant_name, sequence=sequence, licences=identifiers
        )
    claims: dict[str, Any] = {**content, "id": document_id(case.number, kind, sequence)}
    if identifiers:
        claims["licences"] = identifiers
    signer = _last_actor(case, CO_SIGNED[kind]) if kind in CO_SIGNED else None
    code = case.department.code
    result = _sealing.seal_claims(claims, department_code=code, signer_user=signer)
    payload = _sealing.qr_payload(
        department_code=code,
        licence_id=claims["id"],
        licence_type=str(content["title"]),
        holder_name=case.applicant_name,
        holder_document=_applicant_document(case),
        issued_on=dt.date.fromisoformat(str(content["date"])),
        expires_on=None,
        digest_hex=result.digest,
        fields=[("办件编号", case.number), ("事项", case.item_name), ("出具部门", case.department.name)],
    )
    with transaction.atomic():
        document = SealedDocument.objects.create(
            kind=kind,
            sequence=sequence,
            title=str(content["title"])[:100],
            case_number=case.number,
            department=case.department,
            claims=claims,
            signer_key_id=result.key_id,
            digest=result.digest,
            signature=result.signature,
            qr_payload=payload,
        )
        record_event(
            "case_document.sealed",
            actor=None,
            target=f"licences.SealedDocument:{claims['id']}",
            detail={"case": case.number, "kind": kind, "signed": bool(result.signature)},
        )
    return document


def seal_for_event(*, case: Any, action: str, event_id: int) -> SealedDocument | None:
    """The document a case event makes, sealed: 受理 → 受理回执, 不予受理 → 决定书, 补正 → the n-th 补正告知书,
    a decision on an item that issues no licence → the decision (one that does is sealed at 制证, with them).

    None when the action makes no document, or when the case no longer has it
    (logged, not raised: the event's other handlers, such as the applicant's
    notification, must not be retried for it).
    """
    kind, sequence = "", 1
    if action in SEALING_ACTIONS:
        kind = SEALING_ACTIONS[action]
        if kind == "correction":
            earlier = [e for e in cases_selectors.timeline(case, for_staff=True) if e.action == "request_correction"]
            sequence = max(1, sum(1 for e in earlier if e.pk <= event_id)) if event_id else max(1, len(earlier))
    elif action == "refuse" or (action == "approve" and not issues_licences(case.item_code)):
        kind = "decision"
    if not kind:
        return None
    try:
        return seal_case_document(case=case, kind=kind, sequence=sequence)
    except Http404:
        logger.warning("case %s has no %s #%s to seal after %s", case.number, kind, sequence, action)
        return None


def verify_case_document(document: SealedDocument) -> Verification | None:
    """The seals' verification of the stored claims (None: unsigned and the digest still matches)."""
    return _sealing.verify_claims(
        document.claims, key_id=document.signer_key_id, signature=document.signature, digest=document.digest
    )


def seal_record(document: SealedDocument) -> dict[str, object]:
    """The attachment embedded in the PDF: the signed claims and the seal over them."""
    return {
        "claims": document.claims,
        "canonical": CANONICAL_RULE,
        "digest_sm3": document.digest,
        "signature_sm2": document.signature,
        "signer_key_id": document.signer_key_id,
        "qr_payload": document.qr_payload,
    }


# --- the PDF -----------------------------------------------------------------------------------

LEFT, RIGHT_MARGIN, BOTTOM = 70.0, 70.0, 80.0
BODY_SIZE = 11.0
LINE = 17.0


def _wrap(text: str, width: float, size: float) -> list[str]:
    """Lines of ``text`` no wider than ``width`` (Chinese breaks anywhere; newlines kept)."""
    from reportlab.pdfbase.pdfmetrics import stringWidth  # type: ignore[import-untyped]

    lines: list[str] = []
    for paragraph in str(text).split("\n"):
        line = ""
        for char in paragraph:
            if line and stringWidth(line + char, documents.FONT, size) > width:
                lines.append(line)
                line = ""
            line += char
        lines.append(line)
    return lines


class _Page:
    """A cursor down A4 pages: writes lines and starts a new page when the space runs out."""

    def __init__(self, canvas: Any, width: float, height: float) -> None:
        self.canvas, self.width, self.height = canvas, width, height
        self.y = height - 80

    def need(self, space: float) -> None:
        if self.y - space < BOTTOM:
            self.canvas.showPage()
            self.y = self.height - 80

    def text(self, text: str, *, size: float = BODY_SIZE, x: float = LEFT, width: float | None = None) -> None:
        width = width if width is not None else self.width - x - RIGHT_MARGIN
        for line in _wrap(text, width, size):
            self.need(LINE)
            self.canvas.setFont(documents.FONT, size)
            self.canvas.drawString(x, self.y, line)
            self.y -= LINE

    def rows(self, rows: list[list[str]]) -> None:
        for label, value in rows:
            lines = _wrap(str(value) or "—", self.width - LEFT - 110 - RIGHT_MARGIN, BODY_SIZE)
            self.need(LINE * len(lines))
            self.canvas.setFont(documents.FONT, BODY_SIZE)
            self.canvas.drawString(LEFT, self.y, f"{label}：")
            for line in lines:
                self.canvas.drawString(LEFT + 110, self.y, line)
                self.y -= LINE
        self.y -= 4

    def table(self, head: list[str], rows: list[list[str]]) -> None:
        total = self.width - LEFT - RIGHT_MARGIN
        # Columns in proportion to their longest text (a narrow 序号 column, wide names), none under 40 points.
        weights = [max(len(str(cell)) for cell in column) + 2 for column in zip(head, *rows, strict=True)]
        widths = [max(40.0, total * w / sum(weights)) for w in weights]
        scale = total / sum(widths)
        widths = [w * scale for w in widths]
        for index, row in enumerate([head, *rows]):
            cells = [_wrap(str(cell), w - 6, BODY_SIZE - 1) for cell, w in zip(row, widths, strict=True)]
            height = LINE * max(len(c) for c in cells)
            self.need(height + 4)
            self.canvas.setFont(documents.FONT, BODY_SIZE - 1)
            self.canvas.line(LEFT, self.y + LINE - 4, LEFT + total, self.y + LINE - 4)
            x = LEFT
            for lines, w in zip(cells, widths, strict=True):
                for number, line in enumerate(lines):
                    self.canvas.drawString(x + 3, self.y - number * LINE, line)
                x += w
            self.y -= height
            if index == len(rows):
                self.canvas.line(LEFT, self.y + LINE - 4, LEFT + total, self.y + LINE - 4)
        self.y -= 6


def case_document_pdf(document: SealedDocument) -> bytes:
    """The sealed document as PDF: the content's blocks as the print page shows them, the seal, the QR code,
    the co-signing official, and the sealed record attached as ``<kind>-seal.json``."""
    from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
    from reportlab.lib.utils import ImageReader  # type: ignore[import-untyped]
    from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]

    documents.register_font()
    claims = document.claims
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=True)
    identifier = str(claims.get("id", ""))
    canvas.setTitle(f"{document.title} {document.case_number}")
    canvas.setAuthor(document.department.name)
    canvas.setSubject(identifier)
    canvas.setKeywords(f"document={identifier}; sm3={document.digest}; key={document.signer_key_id}")
    canvas.setCreator("Yiwang 一网通办")
    width, height = A4
    page = _Page(canvas, width, height)
    canvas.setFont(documents.FONT, 12)
    canvas.drawCentredString(width / 2, page.y, str(claims.get("issuer", "")))
    page.y -= 34
    canvas.setFont(documents.FONT, 20)
    canvas.drawCentredString(width / 2, page.y, str(claims.get("title", document.title)))
    page.y -= 22
    canvas.setFont(documents.FONT, 10)
    canvas.drawCentredString(width / 2, page.y, _("办件编号：%(number)s") % {"number": document.case_number})
    page.y -= 34
    for block in claims.get("blocks", []):
        kind, value = block[0], block[1]
        if kind == "p":
            page.text(str(value))
            page.y -= 4
        elif kind == "h":
            page.y -= 6
            page.text(str(value), size=13)
        elif kind == "rows":
            page.rows(value)
        elif kind == "table":
            page.table(value["head"], value["rows"])
    _footer(canvas, page, document, ImageReader)
    canvas.showPage()
    canvas.save()
    return documents.attach_seal_record(buffer.getvalue(), attachment_name(document.kind), seal_record(document))


def _footer(canvas: Any, page: _Page, document: SealedDocument, image_reader: Any) -> None:
    """Issuer and date with the visible seal over them, the QR code, the signatures and the digest."""
    page.need(230)
    width = page.width
    day = dt.date.fromisoformat(str(document.claims.get("date")))
    top = page.y - 40
    canvas.setFont(documents.FONT, 12)
    canvas.drawRightString(width - RIGHT_MARGIN - 20, top, str(document.claims.get("issuer", "")))
    canvas.drawRightString(width - RIGHT_MARGIN - 20, top - 20, f"{day.year}年{day.month}月{day.day}日")
    image = _sealing.seal_image(document.department.code)
    seal_x, seal_y = width - RIGHT_MARGIN - 90, top - 10
    if image and document.signature:
        canvas.drawImage(image_reader(io.BytesIO(image)), seal_x - 60, seal_y - 60, 120, 120, mask="auto")
    elif document.signature:
        documents.draw_seal(canvas, seal_x, seal_y, 60, document.department.name)
    if document.qr_payload:
        documents.draw_qr(canvas, document.qr_payload, LEFT, top - 130, 120)
        canvas.setFont(documents.FONT, 8)
        canvas.drawString(LEFT, top - 140, _("扫码在“电子证照核验”页面核验本文书"))
    canvas.setFont(documents.FONT, 8)
    structure = json.loads(document.signature) if document.signature else {}
    signer = str(structure.get("toSign", {}).get("propertyInfo", {}).get("signer", ""))
    lines = [
        _("已加盖电子印章（SM2）") if document.signature else _("未加盖电子印章：出具部门尚未配置印章"),
        f"SM3 {document.digest}",
    ]
    if signer:
        lines.insert(1, _("经办人电子签名：%(name)s（SM2）") % {"name": signer})
    for index, line in enumerate(lines):
        canvas.drawString(LEFT + 150, top - 150 - index * 11, line)
    canvas.drawString(
        LEFT,
        top - 185,
        _("本文书由示范市一网通办生成。凭办件编号和查询码可在“办件查询”核对办理进度。"),
    )
