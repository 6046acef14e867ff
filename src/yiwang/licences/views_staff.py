"""Staff pages: licence types (电子证照目录) and the licences of one's departments, with change, re-issue and
revocation for approvers and administrators of the issuing department."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from yiwang.catalog import selectors as catalog_selectors

from . import policy, selectors, services
from .services import documents

PAGE_SIZE = 30


def _staff_only(request: HttpRequest) -> None:
    if not policy.may_use_licence_desk(request.user):
        raise PermissionDenied(_("只有发证部门的工作人员可以使用电子证照管理"))


@login_required
@require_GET
def staff_home(request: HttpRequest) -> HttpResponse:
    """电子证照管理: the licence types of one's departments and their licences, searchable."""
    _staff_only(request)
    query = request.GET.get("q", "")[:120]
    page = Paginator(selectors.licences_for_staff(request.user, query=query), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    types = list(selectors.types_for_staff(request.user))
    names = catalog_selectors.item_names({code for t in types for code in t.item_codes})
    return render(
        request,
        "licences/staff/home.html",
        {
            "types": [(t, [names.get(code) or code for code in t.item_codes]) for t in types],
            "page": page,
            "query": query,
            "may_manage_types": policy.can_manage_types(request.user),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def staff_licence(request: HttpRequest, licence_id: int) -> HttpResponse:
    """One licence for staff: its face and history; POST revokes, re-issues or changes it."""
    _staff_only(request)
    try:
        licence = selectors.get_licence(request.user, licence_id)
    except services.LicenceError as error:
        raise Http404(error.message) from error
    if request.method == "POST":
        action = request.POST.get("action", "")
        reason = request.POST.get("reason", "")
        try:
            if action == "revoke":
                services.revoke_licence(licence, actor=request.user, reason=reason)
                messages.success(request, _("证照已注销"))
            elif action == "reissue":
                licence = services.reissue_licence(licence, actor=request.user, reason=reason)
                messages.success(request, _("已补发新版本证照"))
            elif action == "change":
                data = {f["key"]: request.POST.get(f"field-{f['key']}", "") for f in licence.licence_type.fields}
                licence = services.change_licence(licence, actor=request.user, data=data, reason=reason)
                messages.success(request, _("已签发变更后的新版本证照"))
            else:
                messages.error(request, _("未知的操作"))
        except services.LicenceError as error:
            if error.code == "not_found":
                raise Http404(error.message) from error
            messages.error(request, error.message)
        return redirect("wallet:staff_licence", licence_id=licence.pk)
    return render(
        request,
        "licences/staff/licence.html",
        {
            "licence": licence,
            "face": documents.licence_face(licence),
            "history": selectors.history(licence),
            "may_manage": policy.can_manage(request.user, licence),
            "change_fields": [
                {**field, "value": str(licence.data.get(field["key"], ""))} for field in licence.licence_type.fields
            ],
        },
    )
