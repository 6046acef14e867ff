"""The knowledge base in the Django admin: read-only rows, with review actions through the services.

Entries are written on the staff pages (/knowledge/desk/); here platform administrators look things up and
may submit, publish or return versions, all through :mod:`yiwang.knowledge.services` (four-eyes included).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from . import policy, services
from .models import Entry, EntryVersion, UnansweredQuestion


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class VersionInline(admin.TabularInline):
    model = EntryVersion
    extra = 0
    fields = ("version", "status", "kind", "published_at", "published_by", "change_note")
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Entry)
class EntryAdmin(_ReadOnly):
    list_display = ("__str__", "department", "external_key", "created_at")
    list_filter = ("department",)
    search_fields = ("external_key", "versions__answer")
    list_select_related = ("department",)
    inlines = [VersionInline]


def _run(request: HttpRequest, queryset: QuerySet[EntryVersion], action: Any, done: str, **kwargs: Any) -> None:
    succeeded = 0
    for version in queryset:
        try:
            action(version, actor=request.user, **kwargs)
            succeeded += 1
        except services.KnowledgeError as error:
            messages.error(request, f"{version}：{error.message}")
    if succeeded:
        messages.success(request, f"{done}：{succeeded} 项")


@admin.register(EntryVersion)
class EntryVersionAdmin(_ReadOnly):
    list_display = ("__str__", "entry", "version", "status", "kind", "valid_until", "published_at")
    list_filter = ("status", "kind", "entry__department")
    search_fields = ("answer", "questions")
    list_select_related = ("entry", "entry__department")
    actions = ["submit_for_review", "publish", "return_to_draft"]

    @admin.action(description=_("提交审核"))
    def submit_for_review(self, request: HttpRequest, queryset: QuerySet[EntryVersion]) -> None:
        _run(request, queryset, services.submit_for_review, "已提交审核")

    @admin.action(description=_("审核通过并发布"), permissions=["review"])
    def publish(self, request: HttpRequest, queryset: QuerySet[EntryVersion]) -> None:
        _run(request, queryset, services.publish_version, "已发布")

    @admin.action(description=_("退回修改"), permissions=["review"])
    def return_to_draft(self, request: HttpRequest, queryset: QuerySet[EntryVersion]) -> None:
        _run(request, queryset, services.return_to_draft, "已退回", reason="审核未通过，请修改后重新提交")

    def has_review_permission(self, request: HttpRequest) -> bool:
        return policy.may_review(request.user)


@admin.register(UnansweredQuestion)
class UnansweredQuestionAdmin(_ReadOnly):
    list_display = ("text", "channel", "status", "asked_at", "handled_at")
    list_filter = ("status", "channel")
    search_fields = ("text",)
