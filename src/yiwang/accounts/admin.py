"""Identity in the Django admin: platform administrators only, personal data masked.

Role changes made here go through the same services as the staff pages, so
they are checked and audited; encrypted columns are never shown.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest

from . import services
from .models import DataAccessRecord, Delegation, Organisation, OrganisationAgent, Person, RoleAssignment, User


@admin.register(User)
class YiwangUserAdmin(UserAdmin):
    fieldsets = (*(UserAdmin.fieldsets or ()), ("Yiwang", {"fields": ("display_name", "person")}))
    raw_id_fields = ("person",)


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ("name", "document_type", "document_number_masked", "mobile_masked", "assurance_level")
    list_filter = ("document_type", "assurance_level")
    search_fields = ("name",)
    fields = (
        "name",
        "document_type",
        "document_number_masked",
        "mobile_masked",
        "mobile_verified_at",
        "assurance_level",
        "assurance_method",
        "assurance_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(admin.ModelAdmin):
    list_display = ("user", "role", "department", "granted_by", "granted_at", "revoked_at")
    list_filter = ("role", "revoked_at")
    search_fields = ("user__username", "user__display_name")
    raw_id_fields = ("user",)
    fields = ("user", "role", "department")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: RoleAssignment, form: Any, change: bool) -> None:
        assignment = services.grant_role(
            actor=request.user,  # type: ignore[arg-type]
            user=obj.user,
            role=obj.role,
            department=obj.department,
        )
        obj.pk = assignment.pk


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ("name", "credit_code", "legal_representative", "created_at")
    search_fields = ("name", "credit_code")
    readonly_fields = ("name", "credit_code", "legal_representative", "registered_by")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(OrganisationAgent)
class OrganisationAgentAdmin(admin.ModelAdmin):
    list_display = ("organisation", "person", "valid_until", "revoked_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Delegation)
class DelegationAdmin(admin.ModelAdmin):
    list_display = ("principal", "agent_person", "agent_user", "relationship", "valid_until", "revoked_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(DataAccessRecord)
class DataAccessRecordAdmin(admin.ModelAdmin):
    list_display = ("occurred_at", "accessor_label", "department_name", "person", "fields", "purpose")
    list_filter = ("department_name",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
