"""Staff pages of the licence types (电子证照目录): list, create and edit, for department administrators (their
departments' types) and platform administrators (all), through ``services.save_licence_type``."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from yiwang.catalog import selectors as catalog_selectors

from . import policy, selectors, services
from .forms_types import LicenceFieldFormSet, LicenceTypeForm, field_rows, joined_lines
from .models import LicenceType

FIELDS_PREFIX = "fields"


def _administrators_only(request: HttpRequest) -> None:
    if not policy.can_manage_types(request.user):
        raise PermissionDenied(_("只有部门管理员或平台管理员可以管理电子证照目录"))


@login_required
@require_GET
def type_list(request: HttpRequest) -> HttpResponse:
    """电子证照目录: the types the administrator may edit, with their issuing items and licences issued."""
    _administrators_only(request)
    types = list(selectors.types_managed(request.user))
    names = catalog_selectors.item_names({code for t in types for code in t.item_codes})
    rows = [{"type": t, "items": [(code, names.get(code, "")) for code in t.item_codes]} for t in types]
    return render(request, "licences/staff/types.html", {"rows": rows})


def _item_names(codes: list[str]) -> list[tuple[str, str]]:
    names = catalog_selectors.item_names(codes)
    return [(code, names.get(code, "")) for code in codes]


def _save(request: HttpRequest, licence_type: LicenceType | None) -> HttpResponse:
    departments = selectors.type_departments(request.user)
    editing = licence_type is not None
    issued_count = licence_type.licences.count() if licence_type is not None else 0
    if request.method == "POST":
        form = LicenceTypeForm(request.POST, departments=departments, editing=editing)
        formset = LicenceFieldFormSet(request.POST, prefix=FIELDS_PREFIX)
        if form.is_valid() & formset.is_valid():  # both run, so every error shows at once
            data = form.cleaned_data
            try:
                saved = services.save_licence_type(
                    actor=request.user,
                    licence_type=licence_type,
                    department=data.get("department"),
                    number=data.get("number") or 0,
                    name=data["name"],
                    holder_kind=data["holder_kind"],
                    fields=formset.licence_fields(),
                    validity_years=data["validity_years"],
                    item_codes=data["item_codes"],
                    material_names=data["material_names"],
                    proves_identity=data["proves_identity"],
                )
            except services.LicenceError as error:
                if error.code == "forbidden":
                    raise PermissionDenied(error.message) from error
                target = error.field if error.field in form.fields else None
                form.add_error(target, error.message)
            else:
                messages.success(request, _("已保存证照类型：%(name)s") % {"name": saved.name})
                return redirect("wallet:type_edit", type_id=saved.pk)
    else:
        # An administrator of one department has nothing to choose.
        only = list(departments[:2])
        initial: dict[str, Any] = {"department": only[0].pk} if len(only) == 1 else {}
        rows: list[dict[str, Any]] = []
        if licence_type is not None:
            initial = {
                "name": licence_type.name,
                "holder_kind": licence_type.holder_kind,
                "validity_years": licence_type.validity_years,
                "item_codes": joined_lines(licence_type.item_codes),
                "material_names": joined_lines(licence_type.material_names),
                "proves_identity": licence_type.proves_identity,
            }
            rows = field_rows(licence_type.fields)
        form = LicenceTypeForm(initial=initial, departments=departments, editing=editing)
        formset = LicenceFieldFormSet(initial=rows, prefix=FIELDS_PREFIX)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "licences/staff/type_form.html",
        {
            "form": form,
            "formset": formset,
            "licence_type": licence_type,
            "issued": issued_count > 0,
            "issued_count": issued_count,
            "item_names": _item_names(licence_type.item_codes) if licence_type is not None else [],
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def type_create(request: HttpRequest) -> HttpResponse:
    """新增证照类型."""
    _administrators_only(request)
    return _save(request, None)


@login_required
@require_http_methods(["GET", "POST"])
def type_edit(request: HttpRequest, type_id: int) -> HttpResponse:
    """修改证照类型: its code (department and number) stays; see ``services.save_licence_type`` for the rest."""
    _administrators_only(request)
    try:
        licence_type = selectors.get_managed_type(request.user, type_id)
    except services.LicenceError as error:
        raise Http404(error.message) from error
    return _save(request, licence_type)
