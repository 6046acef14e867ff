"""The audit log in the admin: readable by those given ``core.view_auditevent``, writable by nobody."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("sequence", "occurred_at", "event", "actor_label", "on_behalf_of_label", "target", "ip")
    list_filter = ("event", ("occurred_at", admin.DateFieldListFilter))
    search_fields = ("target", "actor_label")
    date_hierarchy = "occurred_at"
    ordering = ("-sequence",)
    readonly_fields = [field.name for field in AuditEvent._meta.fields]
    # Counting a multi-million-row log for every page is slow and tells nobody anything.
    show_full_result_count = False
    actions = None

    # Superusers included: the append-only rule is not a permission to grant.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
