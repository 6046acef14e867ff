"""The holder's pages: 我的证照, a licence (the same fields as its PDF), the PDF, taking a material from the
wallet into an application, and the public status check (证照状态查询).

Views parse, authorise and call :mod:`yiwang.licences.services`; a missing and
a forbidden licence both answer 404.
"""

from __future__ import annotations

from typing import Any

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from yiwang.cases import selectors as cases_selectors
from yiwang.core.http import client_address, safe_next

from . import selectors, services
from .services import documents


def _licence_or_404(request: HttpRequest, licence_id: int, *, own: bool = True) -> Any:
    try:
        if own:
            return selectors.get_own_licence(request.user, licence_id)
        return selectors.get_licence(request.user, licence_id)
    except services.LicenceError as error:
        raise Http404(error.message) from error


@login_required
@require_GET
def wallet_home(request: HttpRequest) -> HttpResponse:
    """我的证照: the person's licences and those of organisations they act for."""
    entries = selectors.wallet_entries(request.user)
    return render(request, "licences/wallet/home.html", {"entries": entries})


def status_qr(request: HttpRequest, licence: Any) -> str:
    """The licence's QR code as inline SVG: the seals' payload when sealed, else the status page's address."""
    content = licence.qr_payload or request.build_absolute_uri(reverse("wallet:status"))
    # segno writes the SVG itself (the content is escaped in it), so the page may include it as it is.
    return str(segno.make(content, error="m").svg_inline(scale=3, omitsize=True, svgclass="qr", title=_("证照二维码")))


@login_required
@require_GET
def licence_page(request: HttpRequest, licence_id: int) -> HttpResponse:
    """One licence: its fields (as on the PDF), status, the seal, 亮证 and every verification in its history."""
    licence = _licence_or_404(request, licence_id)
    face = documents.licence_face(licence)
    return render(
        request,
        "licences/wallet/licence.html",
        {
            "licence": licence,
            "face": face,
            "history": selectors.history(licence),
            "shares": selectors.shares_of(licence)[:20],
            "shareable": services.shareable_fields(licence),
            "minutes_choices": documents.SHARE_MINUTE_CHOICES,
            "qr_svg": status_qr(request, licence),
            "decision": selectors.decision_of(licence.case_number) if licence.case_number else None,
        },
    )


@login_required
@require_GET
def licence_pdf(request: HttpRequest, licence_id: int) -> HttpResponse:
    """The sealed licence as PDF (the holder, or staff of the issuing department)."""
    licence = _licence_or_404(request, licence_id, own=False)
    content = documents.licence_pdf(licence)
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="licence-{licence.pk}-v{licence.version}.pdf"'
    return response


@login_required
@require_POST
def take_material(request: HttpRequest, application_id: int) -> HttpResponse:
    """The applicant confirms taking a material of a draft application from the wallet (or gives it back)."""
    cases_selectors.get_application(request.user, application_id)  # someone else's draft: 404 before anything
    key = request.POST.get("material_key", "")[:64]
    fallback = reverse("cases:application", args=[application_id]) + "#materials"
    target = safe_next(request, fallback)
    try:
        if request.POST.get("action") == "release":
            services.release_material(actor=request.user, application_id=application_id, material_key=key)
            messages.success(request, _("已取消从证照库调取该材料"))
            return HttpResponseRedirect(target)
        if request.POST.get("confirm") != "yes":
            messages.error(request, _("请勾选确认使用该电子证照作为申请材料"))
            return HttpResponseRedirect(target)
        choice = request.POST.get("choice", "")
        if not choice.isdigit():
            messages.error(request, _("请选择要使用的电子证照"))
            return HttpResponseRedirect(target)
        row = services.take_material(
            actor=request.user, application_id=application_id, material_key=key, licence_id=int(choice)
        )
    except services.LicenceError as error:
        if error.code == "not_found":
            raise Http404(error.message) from error
        messages.error(request, error.message)
        return HttpResponseRedirect(target)
    messages.success(request, _("已从我的证照调取：%(name)s") % {"name": row.material_name})
    return HttpResponseRedirect(target)


@require_http_methods(["GET", "POST"])
def status_page(request: HttpRequest) -> HttpResponse:
    """证照状态查询: anyone holding a licence checks its status by identifier and 核验码 (no login)."""
    context: dict[str, Any] = {"identifier": "", "code": "", "error": "", "result": None, "checked": False}
    status = 400
    if request.method == "POST":
        identifier = request.POST.get("identifier", "")[:120]
        code = request.POST.get("code", "")[:16]
        context.update(identifier=identifier, code=code, checked=True)
        ip = client_address(request) or ""
        try:
            services.check_status_allowed(ip)
            context["result"] = selectors.public_status(identifier, code)
        except services.LicenceError as error:
            context["error"] = error.message
            status = error.status
        else:
            if context["result"] is None:
                services.record_failed_status_check(ip)
                context["error"] = _("未找到该证照，请核对电子证照标识和核验码")
    return render(request, "licences/wallet/status.html", context, status=status if context["error"] else 200)
