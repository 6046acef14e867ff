"""The registry of a case's records kept by a higher app: its sealed documents and its e-archive package.

``cases`` prints a case's documents (受理回执, 补正告知书 …) but the seals
that make them legally usable, and the archive that keeps the finished case,
belong to an app above it (``licences``), which ``cases`` must not import.
That app registers a provider when Django starts (``AppConfig.ready``); the
case pages ask :func:`records_for` and show what it answers: the sealed
version of each document (its content, PDF and QR payload) and, once the
case is archived, the link to its archive package. Same pattern as
:mod:`yiwang.core.material_sources`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SealedCaseDocument:
    """One sealed document of a case.

    ``content`` is what the document says (the sealed claims, in the source
    language: ``title``, ``applicant``, ``date``, ``blocks`` …; see
    ``yiwang.cases.selectors.document_content``); ``sequence`` tells apart the
    documents of a kind a case may have several of (补正告知书); ``signed`` is
    False when the department had no seal (the digest alone was recorded).
    """

    kind: str
    sequence: int
    title: str
    content: dict[str, Any]
    digest: str
    signed: bool
    qr_payload: str
    pdf_url: str  # "" for a viewer who may not download it


@dataclass(frozen=True)
class CaseRecords:
    documents: tuple[SealedCaseDocument, ...] = ()
    archive_url: str = ""  # the case's archive package page, "" until the case is archived

    def document(self, kind: str, sequence: int | None = None) -> SealedCaseDocument | None:
        """The sealed document of ``kind`` (the latest of its kind when ``sequence`` is None)."""
        found = [d for d in self.documents if d.kind == kind and (sequence is None or d.sequence == sequence)]
        return max(found, key=lambda d: d.sequence) if found else None


# provider(user, case) -> CaseRecords; the caller has already checked that ``user`` may see the case.
CaseRecordsProvider = Callable[[Any, Any], CaseRecords]

_providers: dict[str, CaseRecordsProvider] = {}


def register_case_records_provider(name: str, provider: CaseRecordsProvider) -> None:
    """Make a provider known; registering the same name again replaces it (``ready()`` may run twice)."""
    _providers[name] = provider


def unregister_case_records_provider(name: str) -> None:
    _providers.pop(name, None)


def records_for(user: Any, case: Any) -> CaseRecords:
    """What the registered providers keep of ``case`` (documents merged, the first archive link wins)."""
    documents: list[SealedCaseDocument] = []
    archive_url = ""
    for name in sorted(_providers):
        records = _providers[name](user, case)
        documents.extend(records.documents)
        archive_url = archive_url or records.archive_url
    return CaseRecords(documents=tuple(documents), archive_url=archive_url)
