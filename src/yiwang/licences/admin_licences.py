"""Licence types, licences, shares and wallet materials in the admin.

Licence types are defined here through ``services.define_licence_type`` (the
code is the department's credit code and the type number, fields are
checked); licences and their records are read-only — a licence changes only
through the services (change, re-issue, revoke), which keep its history.
Imported by ``LicencesConfig.ready`` (the app's ``admin`` module belongs to the seals).
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .models import Licence, LicenceEvent, LicenceShare, LicenceType, MaterialSaving, WalletMaterial
from .services import LicenceError, check_licence_type, define_licence_type


class ReadOnlyAdmin(admin.ModelAdmin):
    actions = None

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class LicenceTypeForm(forms.ModelForm):
    number = forms.IntegerField(label=_("类型序号（1-999）"), min_value=1, max_value=999)

    class Meta:
        model = LicenceType
        fields = ["department", "name", "holder_kind", "validity_years", "fields", "item_codes", "material_names"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["number"].initial = int(self.instance.code[-3:])

    def clean(self) -> dict[str, Any]:
        # The staff page's rules (ADR 0021): no overwriting by number, a fixed code, and once licences are
        # issued a fixed name (it is in their seals) and fixed field keys and types.
        data = super().clean() or {}
        if self.errors:
            return data
        fields = data["fields"] if not isinstance(data["fields"], str) else json.loads(data["fields"])
        original = LicenceType.objects.filter(pk=self.instance.pk).first() if self.instance.pk else None
        try:
            check_licence_type(
                original,
                department=data["department"],
                number=data["number"],
                name=data["name"],
                fields=fields if isinstance(fields, list) else [],
                item_codes=[str(code) for code in data["item_codes"] or []],
            )
        except LicenceError as error:
            raise forms.ValidationError(error.message) from error
        return data


@admin.register(LicenceType)
class LicenceTypeAdmin(admin.ModelAdmin):
    form = LicenceTypeForm
    list_display = ("code", "name", "department", "holder_kind", "validity_years", "active")
    search_fields = ("code", "name")
    list_filter = ("holder_kind", "active")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: LicenceType, form: Any, change: bool) -> None:
        data = form.cleaned_data
        fields = data["fields"] if not isinstance(data["fields"], str) else json.loads(data["fields"])
        try:
            saved = define_licence_type(
                actor=request.user,
                department=data["department"],
                number=data["number"],
                name=data["name"],
                holder_kind=data["holder_kind"],
                fields=fields,
                validity_years=data["validity_years"],
                item_codes=data["item_codes"] or [],
                material_names=data["material_names"] or [],
            )
        except LicenceError as error:
            raise forms.ValidationError(error.message) from error
        obj.pk = saved.pk


@admin.register(Licence)
class LicenceAdmin(ReadOnlyAdmin):
    list_display = ("identifier", "licence_type", "holder_name", "issued_on", "valid_until", "status")
    search_fields = ("identifier", "case_number")
    list_filter = ("status",)


admin.site.register(LicenceEvent, ReadOnlyAdmin)
admin.site.register(LicenceShare, ReadOnlyAdmin)
admin.site.register(WalletMaterial, ReadOnlyAdmin)
admin.site.register(MaterialSaving, ReadOnlyAdmin)
