"""Data sharing in the admin.

The resource catalogue and data services are configuration, kept by platform
administrators here (fields inline). Exchanges, consents and fetched
materials are records: read-only, changed only through the services (a
consent is revoked by its person). The provider tables stand for the
departments' own systems in the demo city and are edited like them.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .models import (
    Batch,
    Consent,
    CreditRecord,
    DataService,
    EnterpriseRecord,
    ExchangeRecord,
    HouseholdRecord,
    MarriageRecord,
    RealEstateRecord,
    Resource,
    ResourceField,
    SharedMaterial,
    SharedMaterialSaving,
    SocialInsuranceRecord,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    actions = None
    # Columns never shown (ciphertext, blind indexes).
    hidden: tuple[str, ...] = ()

    def _shown(self) -> list[str]:
        return [f.name for f in self.model._meta.fields if f.name not in self.hidden]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:  # type: ignore[override]
        return self._shown()

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return self._shown()

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ResourceFieldInline(admin.TabularInline):
    model = ResourceField
    extra = 0


@admin.register(Resource)
class ResourceAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "department", "share_type", "open_type", "update_cycle", "active"]
    list_filter = ["share_type", "open_type", "department"]
    search_fields = ["code", "name"]
    inlines = [ResourceFieldInline]


@admin.register(DataService)
class DataServiceAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "resource", "backend", "transport", "active"]
    list_filter = ["backend", "transport", "active"]


@admin.register(ExchangeRecord)
class ExchangeRecordAdmin(ReadOnlyAdmin):
    list_display = [
        "exchange_id",
        "created_at",
        "service",
        "consumer_label",
        "peer_node",
        "subject_masked",
        "outcome",
        "refusal_code",
    ]
    list_filter = ["outcome", "service", "peer_node"]
    search_fields = ["exchange_id", "peer_exchange_id", "case_reference"]

    @admin.display(description=_("使用部门"))
    def consumer_label(self, record: ExchangeRecord) -> str:
        return record.consumer_label

    hidden = ("subject_index",)


@admin.register(Consent)
class ConsentAdmin(ReadOnlyAdmin):
    list_display = ["person", "service", "consumer", "given_at", "expires_at", "revoked_at"]


@admin.register(SharedMaterial)
class SharedMaterialAdmin(ReadOnlyAdmin):
    list_display = ["application_id", "material_name", "service", "exchange", "fetched_at", "confirmed_at"]
    hidden = ("data_encrypted",)


admin.site.register(SharedMaterialSaving, ReadOnlyAdmin)


@admin.register(Batch)
class BatchAdmin(ReadOnlyAdmin):
    list_display = ["resource_code", "sequence", "department_code", "status", "rows_total", "received_at"]
    list_filter = ["status"]


class PersonKeyedAdmin(admin.ModelAdmin):
    list_display = ["name", "id_number_masked", "updated_at"]
    search_fields = ["name"]
    readonly_fields = ["id_number_encrypted", "id_number_index", "id_number_masked"]


for model in (HouseholdRecord, SocialInsuranceRecord, RealEstateRecord, MarriageRecord):
    admin.site.register(model, PersonKeyedAdmin)


@admin.register(EnterpriseRecord)
class EnterpriseRecordAdmin(admin.ModelAdmin):
    list_display = ["credit_code", "name", "status"]
    search_fields = ["credit_code", "name"]


@admin.register(CreditRecord)
class CreditRecordAdmin(admin.ModelAdmin):
    list_display = ["name", "subject_masked", "list_name", "listed_on", "removed_on"]
    readonly_fields = ["subject_index"]
