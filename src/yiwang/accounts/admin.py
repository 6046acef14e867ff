"""Identity in the Django admin: platform administrators only, personal data masked.

Role changes made here go through the same services as the staff pages, so
they are checked and audited; encrypted columns are never shown.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from oauth2_provider.scopes import get_scopes_backend

from . import services
from .models import (
    DataAccessRecord,
    Delegation,
    OidcClientScopes,
    Organisation,
    OrganisationAgent,
    Person,
    RoleAssignment,
    ServiceAccount,
    User,
)


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


class OidcClientScopesForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=_("允许申请的授权范围"),
        choices=lambda: [(scope, scope) for scope in get_scopes_backend().get_all_scopes()],
        widget=forms.CheckboxSelectMultiple,
        help_text=_("接入系统只能申请这里勾选的范围，超出的请求以 invalid_scope 拒绝。openid 总是包含在内。"),
    )

    class Meta:
        model = OidcClientScopes
        fields = ("application", "scopes")

    def clean_scopes(self) -> list[str]:
        return sorted({"openid", *self.cleaned_data["scopes"]})


@admin.register(OidcClientScopes)
class OidcClientScopesAdmin(admin.ModelAdmin):
    """Which scopes each single-sign-on client may ask for (``yiwang oidc-client --scope`` sets them first)."""

    form = OidcClientScopesForm
    list_display = ("application", "__str__")
    raw_id_fields = ("application",)


@admin.register(ServiceAccount)
class ServiceAccountAdmin(admin.ModelAdmin):
    """Department systems' service accounts: seen here, registered and rotated on the staff pages
    (/staff/service-accounts/, where the secret is shown once); revoked here or there, through the service."""

    list_display = ("__str__", "department", "scopes", "created_at", "secret_rotated_at", "revoked_at")
    list_filter = ("department",)
    search_fields = ("application__name", "application__client_id")
    readonly_fields = (
        "application",
        "department",
        "scopes",
        "description",
        "created_by",
        "created_at",
        "secret_rotated_at",
        "previous_secret_until",
        "revoked_at",
        "revoked_by",
    )
    exclude = ("previous_secret",)
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("吊销所选服务账号（令牌立即失效）"))
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        revoked = 0
        for account in queryset.filter(revoked_at__isnull=True).select_related("application", "department"):
            try:
                services.revoke_service_account(actor=request.user, account=account)  # type: ignore[arg-type]
            except services.IdentityError as error:
                self.message_user(request, error.detail, level="error")
            else:
                revoked += 1
        self.message_user(request, _("已吊销 %(count)d 个服务账号") % {"count": revoked})
