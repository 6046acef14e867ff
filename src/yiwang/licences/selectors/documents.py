"""Reads of sealed case documents, and what the case pages show of them and of the case's archive package.

:func:`case_records` is the provider ``licences`` registers in
:mod:`yiwang.core.case_records`, so the case pages (``cases``, below this
app) list the sealed documents and link the archive package without
importing ``licences``. The caller has already checked that the user may see
the case; downloading a PDF is checked again by its view.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from yiwang.core.case_records import CaseRecords, SealedCaseDocument
from yiwang.licences import policy
from yiwang.licences.models import SealedDocument
from yiwang.licences.selectors.archive import is_archived


def case_documents(case_number: str) -> list[SealedDocument]:
    return list(SealedDocument.objects.select_related("department").filter(case_number=case_number).order_by("id"))


def case_document(case_number: str, kind: str, sequence: int | None = None) -> SealedDocument | None:
    """The sealed document of ``kind`` of the case (the latest of its kind when ``sequence`` is None)."""
    found = SealedDocument.objects.select_related("department").filter(case_number=case_number, kind=kind)
    if sequence is not None:
        found = found.filter(sequence=sequence)
    return found.order_by("-sequence").first()


def decision_of(case_number: str) -> SealedDocument | None:
    return case_document(case_number, "decision")


def document_by_id(document_id: str) -> SealedDocument | None:
    """The document a QR payload's id names (``DOC:<case>:<kind>:<n>``), if this platform sealed it."""
    parts = document_id.split(":")
    if len(parts) != 4 or parts[0] != "DOC" or not parts[3].isdigit():
        return None
    return case_document(parts[1], parts[2], int(parts[3]))


def pdf_url(document: SealedDocument) -> str:
    return reverse("wallet:case_document_pdf", args=[document.case_number, document.kind, document.sequence])


def case_records(user: Any, case: Any) -> CaseRecords:
    """The case's sealed documents and, once it is archived, its archive page (for the case pages); the PDF
    links only for those who may download them."""
    downloads = policy.may_download_case_document(user, case)
    documents = tuple(
        SealedCaseDocument(
            kind=d.kind,
            sequence=d.sequence,
            title=d.title,
            content=d.claims,
            digest=d.digest,
            signed=bool(d.signature),
            qr_payload=d.qr_payload,
            pdf_url=pdf_url(d) if downloads else "",
        )
        for d in case_documents(case.number)
    )
    archive_url = reverse("archive:case", args=[case.number]) if is_archived(case.pk) else ""
    return CaseRecords(documents=documents, archive_url=archive_url)
