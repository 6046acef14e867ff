"""Cases in the admin: for looking up, never for changing.

A case moves only through ``services.perform`` (the transition table, the
role checks, the clock, the record); an admin form that saved ``state``
directly would bypass all of them, so every case table is read-only here,
superusers included.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Application, Case, CaseEvent, CaseTask, PaymentCallback, PaymentOrder


class ReadOnlyAdmin(admin.ModelAdmin):
    actions = None
    show_full_result_count = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        hidden = set(self.exclude or ())
        return [f.name for f in self.model._meta.fields if f.name not in hidden]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CaseEventInline(ReadOnlyInline):
    model = CaseEvent
    fields = ("created_at", "action", "from_state", "to_state", "actor_label", "on_behalf_of", "reason")
    readonly_fields = fields


class CaseTaskInline(ReadOnlyInline):
    model = CaseTask
    fields = ("stage", "name", "department", "role", "status", "due", "completed_at", "opinion")
    readonly_fields = fields


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin):
    list_display = ("number", "item_name", "department", "state", "channel", "submitted_at", "promised_due")
    list_filter = ("state", "channel")
    search_fields = ("number",)
    list_select_related = ("department",)
    inlines = (CaseTaskInline, CaseEventInline)
    exclude = ("verification_code",)


@admin.register(Application)
class ApplicationAdmin(ReadOnlyAdmin):
    list_display = ("id", "item_code", "bundle_code", "state", "channel", "created_at", "submitted_at")
    list_filter = ("state", "channel")


@admin.register(PaymentOrder)
class PaymentOrderAdmin(ReadOnlyAdmin):
    list_display = ("order_number", "case", "amount", "status", "provider", "paid_at")
    list_filter = ("status", "provider")
    search_fields = ("order_number",)


@admin.register(PaymentCallback)
class PaymentCallbackAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "provider", "notification_id", "outcome", "signature_valid")
    list_filter = ("outcome", "provider")
