"""The sealed PDFs of a case's documents (受理回执, 不予受理决定书, 补正告知书, decisions).

Whoever may not open the case gets 404, as for a missing one; whoever may open
it but not download its sealed documents (they name the applicant in full)
gets 403. A staff member's download of a person's document is a recorded read
of the applicant's name (docs/adr/0011), like printing it.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from yiwang.cases import policy as cases_policy
from yiwang.cases import selectors as cases_selectors
from yiwang.cases import services as cases_services

from . import policy, selectors
from .services import case_documents


def _pdf_response(request: HttpRequest, number: str, kind: str, sequence: int | None) -> HttpResponse:
    case = cases_selectors.get_case(request.user, number)  # 404 for anyone who may not see the case
    if kind not in case_documents.KINDS:
        raise Http404(_("没有这种文书"))
    document = selectors.case_document(case.number, kind, sequence)
    if document is None:
        raise Http404(_("该办件没有这份签章文书"))
    if not policy.may_download_case_document(request.user, case):
        raise PermissionDenied(_("只有申请人和经办人员可以下载签章文书"))
    if (
        case.applicant_organisation_id is None
        and not cases_policy.is_case_applicant(request.user, case)
        and cases_services.applicant_name_for_document(actor=request.user, case=case) is None
    ):
        raise PermissionDenied(_("查看个人信息的次数已达上限，请稍后再下载"))
    response = HttpResponse(case_documents.case_document_pdf(document), content_type="application/pdf")
    filename = f"{document.kind}-{document.case_number}-{document.sequence}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@require_GET
def case_document_pdf(request: HttpRequest, number: str, kind: str, sequence: int) -> HttpResponse:
    return _pdf_response(request, number, kind, sequence)


@login_required
@require_GET
def decision_pdf(request: HttpRequest, number: str) -> HttpResponse:
    """The case's sealed decision (linked from a licence's page)."""
    return _pdf_response(request, number, "decision", None)
