"""The event outbox and the notifications in the admin: read-only, with a "retry" action.

What failed stays visible here with its last error. Rows change only through
yiwang.core.outbox and yiwang.core.notifications (audited); access needs
superuser status or the model's Django permission.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from . import notifications, outbox
from .leasing import MAX_ATTEMPTS
from .models import Notification, NotificationStatus, OutboxEvent


def _allowed(request: HttpRequest, action: str, model: type[Any]) -> bool:
    user = request.user
    if not (user.is_active and user.is_staff):
        return False
    return bool(user.is_superuser or user.has_perm(f"core.{action}_{model._meta.model_name}"))


class _ReadOnlyAdmin(admin.ModelAdmin):
    """Nobody adds, edits or deletes rows here; "change" permission only allows the retry action."""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _allowed(request, "view", self.model) or self.has_change_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _allowed(request, "change", self.model)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OutboxStateFilter(admin.SimpleListFilter):
    title = _("处理状态")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("pending", _("待处理")), ("processed", _("已完成")), ("failed", _("已放弃（需人工处理）"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[OutboxEvent]) -> QuerySet[OutboxEvent]:
        value = self.value()
        if value == "pending":
            return queryset.filter(processed_at__isnull=True, attempts__lt=MAX_ATTEMPTS)
        if value == "processed":
            return queryset.filter(processed_at__isnull=False)
        if value == "failed":
            return queryset.filter(processed_at__isnull=True, attempts__gte=MAX_ATTEMPTS)
        return queryset


@admin.register(OutboxEvent)
class OutboxEventAdmin(_ReadOnlyAdmin):
    list_display = ("id", "topic", "state", "attempts", "created_at", "available_at", "processed_at", "locked_by")
    list_filter = (OutboxStateFilter, "topic")
    search_fields = ("topic",)
    ordering = ("-id",)
    show_full_result_count = False
    actions = ["retry"]

    @admin.display(description=_("状态"))
    def state(self, obj: OutboxEvent) -> str:
        if obj.processed_at is not None:
            return str(_("已完成"))
        if obj.attempts >= MAX_ATTEMPTS:
            return str(_("已放弃"))
        return str(_("待处理"))

    @admin.action(description=_("重新处理所选事件"), permissions=["change"])
    def retry(self, request: HttpRequest, queryset: QuerySet[OutboxEvent]) -> None:
        count = outbox.retry_events(queryset.values_list("pk", flat=True), actor=request.user)
        self.message_user(request, _("已安排重新处理 %(count)d 个事件。") % {"count": count}, messages.SUCCESS)


@admin.register(Notification)
class NotificationAdmin(_ReadOnlyAdmin):
    list_display = ("id", "channel", "template", "subject", "status", "attempts", "next_attempt_at", "sent_at")
    list_filter = ("status", "channel", "template")
    search_fields = ("dedupe_key", "subject")
    ordering = ("-id",)
    show_full_result_count = False
    actions = ["retry"]

    @admin.action(description=_("重新发送所选的失败通知"), permissions=["change"])
    def retry(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        failed = queryset.filter(status=NotificationStatus.FAILED).values_list("pk", flat=True)
        count = notifications.retry_notifications(failed, actor=request.user)
        self.message_user(request, _("已将 %(count)d 条通知重新加入发送队列。") % {"count": count}, messages.SUCCESS)
