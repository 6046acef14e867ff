"""Printed documents of a case (受理回执, 不予受理决定书, 补正告知书, the decision: 行政许可决定书 and its kin)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from yiwang.cases import definitions, selectors, services
from yiwang.cases.constants import CaseOutcome, CaseState
from yiwang.cases.models import ApplicationFile, Case, CaseEvent, CorrectionNotice
from yiwang.cases.page_data.applications import holds
from yiwang.cases.wording import LICENSING, DecisionWording, decision_wording
from yiwang.core import calendar, crypto
from yiwang.core.case_records import SealedCaseDocument

DOCUMENT_KINDS = {
    "receipt": _("受理回执"),
    "rejection": _("不予受理决定书"),
    "correction": _("补正告知书"),
    "decision": _("行政许可决定书"),
}


@dataclass(frozen=True)
class PrintableDocument:
    """One document the case pages link to; ``sequence`` numbers the 补正告知书 (None for the other kinds)."""

    kind: str
    title: str
    sequence: int | None = None


def available_documents(case: Case) -> list[PrintableDocument]:
    """The printable documents this case has so far, each 补正告知书 on its own (a case may be asked twice)."""
    documents = [PrintableDocument("receipt", _title(case, "receipt"))]
    notices = CorrectionNotice.objects.filter(case=case).count()
    for number in range(1, notices + 1):
        title = _title(case, "correction")
        if notices > 1:
            title = gettext("%(title)s（第%(n)s次）") % {"title": title, "n": number}
        documents.append(PrintableDocument("correction", title, number))
    if case.state == CaseState.REJECTED:
        documents.append(PrintableDocument("rejection", _title(case, "rejection")))
    if case.outcome in {CaseOutcome.APPROVED, CaseOutcome.REFUSED} and case.decided_at is not None:
        documents.append(PrintableDocument("decision", _title(case, "decision")))
    return documents


def _title(case: Case, kind: str) -> str:
    # Only a 行政许可 ends in a 行政许可决定书; other kinds of item name their decision their own way.
    if kind == "decision":
        return str(decision_wording(case.item.kind).document)
    # Before acceptance the office has only received the application: a 收件回执, not yet a 受理回执.
    if kind == "receipt" and case.accepted_at is None:
        return str(_("收件回执"))
    return str(DOCUMENT_KINDS[kind])


@dataclass
class ReceivedMaterial:
    name: str
    files: list[ApplicationFile]


@dataclass
class DocumentView:
    kind: str
    title: str
    case: Case
    applicant: str
    issued_on: dt.date
    materials: list[ReceivedMaterial] = field(default_factory=list)
    waived: list[str] = field(default_factory=list)
    event: CaseEvent | None = None
    legal_basis: str = ""
    notice: CorrectionNotice | None = None
    approved: bool = False
    wording: DecisionWording = LICENSING


def masked_applicant(case: Case) -> str:
    """The applicant as printed and shown to staff: a person's name masked, an organisation's name in full."""
    if case.applicant_organisation_id is not None:
        return case.applicant_name
    return crypto.mask_name(case.applicant_name)


def _last_event(case: Case, *actions: str) -> CaseEvent | None:
    return case.events.filter(action__in=actions).order_by("-id").first()


def printed_applicant(case: Case, viewer: Any) -> str:
    """The applicant as a document names them: in full for the applicant and for a handler of the case
    (a recorded read, docs/adr/0011), masked for everyone else who may open the case."""
    if case.applicant_organisation_id is None and getattr(viewer, "person_id", None) == case.applicant_person_id:
        return case.applicant_name
    return services.applicant_name_for_document(actor=viewer, case=case) or masked_applicant(case)


def document_view(case: Case, kind: str, viewer: Any = None, sequence: int | None = None) -> DocumentView:
    """One printable document of the case (``sequence``: which 补正告知书, the latest when None);
    404 when the case has no such document (yet)."""
    if not any(
        doc.kind == kind and (sequence is None or doc.sequence == sequence) for doc in available_documents(case)
    ):
        raise Http404(gettext("该办件没有这份文书"))
    view = DocumentView(
        kind=kind,
        title=_title(case, kind),
        case=case,
        applicant=printed_applicant(case, viewer) if viewer is not None else masked_applicant(case),
        issued_on=calendar.today_local(),
    )
    if kind == "receipt":
        _list_received_materials(case, view)
    elif kind == "rejection":
        view.event = _last_event(case, "reject")
    elif kind == "correction":
        notices = CorrectionNotice.objects.filter(case=case).order_by("id")
        view.notice = notices[sequence - 1] if sequence is not None else notices.last()
    elif kind == "decision":
        view.event = _last_event(case, "approve", "refuse")
        view.approved = case.outcome == CaseOutcome.APPROVED
        view.wording = decision_wording(case.item.kind)
        view.title = str(view.wording.approved_title if view.approved else view.wording.refused_title)
    _date_and_basis(case, view)
    return view


def _list_received_materials(case: Case, view: DocumentView) -> None:
    """The receipt lists the materials received (with their files) and those taken from a data source."""
    definition = definitions.for_item(case.item)
    files: dict[str, list[ApplicationFile]] = {}
    for stored in selectors.files_of(case):
        files.setdefault(stored.material_key, []).append(stored)
    context = {**case.application.form_data, **case.application.situation_answers}
    for spec in definition.materials:
        if not holds(spec.show_if, context):
            continue
        if spec.from_source:
            view.waived.append(spec.name)
        elif spec.key in files:
            view.materials.append(ReceivedMaterial(spec.name, files[spec.key]))


def _date_and_basis(case: Case, view: DocumentView) -> None:
    """A document is dated by the event or notice it records (else by acceptance), with that event's legal basis."""
    if view.event is not None:
        view.legal_basis = str(view.event.detail.get("legal_basis", "")) if isinstance(view.event.detail, dict) else ""
        view.issued_on = timezone.localdate(view.event.created_at)
    elif view.notice is not None:
        view.issued_on = timezone.localdate(view.notice.created_at)
    else:
        view.issued_on = timezone.localdate(case.accepted_at or case.submitted_at)


def _renamed(value: Any, full: str, shown: str) -> Any:
    if isinstance(value, str):
        return value.replace(full, shown)
    if isinstance(value, list):
        return [_renamed(v, full, shown) for v in value]
    if isinstance(value, dict):
        return {k: _renamed(v, full, shown) for k, v in value.items()}
    return value


def printed_content(
    case: Case, kind: str, applicant: str, sealed: SealedCaseDocument | None, sequence: int | None = None
) -> dict[str, Any]:
    """What the print page shows: the sealed document's own content when it has been sealed (so the page and
    the PDF agree word for word), else the content built now; the applicant named as this viewer may see them."""
    if sealed is None:
        return selectors.document_content(case, kind, applicant=applicant, sequence=sequence)
    full = str(sealed.content.get("applicant", ""))
    if not full or full == applicant:
        return sealed.content
    renamed: dict[str, Any] = _renamed(sealed.content, full, applicant)
    return renamed


def qr_svg(sealed: SealedCaseDocument | None) -> str:
    """The sealed document's QR code as inline SVG (the same payload as on its PDF); "" when it has none."""
    if sealed is None or not sealed.qr_payload:
        return ""
    import segno

    # segno escapes the content into the SVG itself, so the page may include it as it is.
    code = segno.make(sealed.qr_payload, error="m")
    return str(code.svg_inline(scale=2, omitsize=True, svgclass="qr", title=gettext("文书二维码")))
