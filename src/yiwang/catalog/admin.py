"""Catalogue administration for staff: departments, items, bundles, with draft → review → publish.

Published versions are read-only here; a change starts a new version (the
"新建修订版本" action), which is reviewed and published through
:mod:`yiwang.catalog.services` like every other change.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from . import policy, selectors, services
from .constants import GuideFact
from .models import (
    BaseItem,
    Bundle,
    BundleItem,
    Faq,
    Fee,
    Material,
    ProcessStep,
    ServiceItem,
    Theme,
    Window,
)


@admin.register(Window)
class WindowAdmin(admin.ModelAdmin):
    list_display = ("name", "department", "address", "is_general")
    list_filter = ("is_general",)
    search_fields = ("name", "department__name", "address")


@admin.register(Theme)
class ThemeAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "audience", "sort_order")
    list_filter = ("audience",)


@admin.register(BaseItem)
class BaseItemAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind")
    list_filter = ("kind",)
    search_fields = ("code", "name")


class _VersionedInline(admin.TabularInline):
    extra = 0

    def _editable(self, obj: ServiceItem | None) -> bool:
        return obj is None or obj.is_editable

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(obj) and super().has_delete_permission(request, obj)


class MaterialInline(_VersionedInline):
    model = Material


class StepInline(_VersionedInline):
    model = ProcessStep


class FeeInline(_VersionedInline):
    model = Fee


class FaqInline(_VersionedInline):
    model = Faq


def _run(request: HttpRequest, queryset: QuerySet[ServiceItem], action: Any, done: str, **kwargs: Any) -> None:
    succeeded = 0
    for item in queryset:
        try:
            action(item, actor=request.user, **kwargs)
            succeeded += 1
        except services.CatalogError as exc:
            messages.error(request, f"{item.name}（v{item.version}）：{exc.detail}")
    if succeeded:
        messages.success(request, f"{done}：{succeeded} 项")


class ServiceItemForm(forms.ModelForm):
    # Unticking a fact says the department confirms it (for example: no materials are needed).
    unknown_facts = forms.TypedMultipleChoiceField(
        label=_("待补充的指南信息"),
        choices=GuideFact.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("导入的清单未提供的信息。补充后发布时自动取消；确属“无”的（如无需材料、不收费）请取消勾选。"),
    )

    class Meta:
        model = ServiceItem
        # The admin passes every field of the page; this form only changes how this one is edited.
        fields = ["unknown_facts"]


@admin.register(ServiceItem)
class ServiceItemAdmin(admin.ModelAdmin):
    form = ServiceItemForm
    # The department administrator's list of items whose guide still needs completing: filter 信息待完善.
    list_display = ("name", "code", "version", "status", "guide_complete", "department", "kind", "level")
    list_filter = ("guide_complete", "status", "kind", "level", "audience", "department")
    search_fields = ("name", "code", "keywords")
    list_select_related = ("department",)
    autocomplete_fields = ("base_item", "department")
    filter_horizontal = ("themes", "windows")
    inlines = [MaterialInline, StepInline, FeeInline, FaqInline]
    readonly_fields = (
        "version",
        "status",
        "guide_complete",
        "published_at",
        "published_by",
        "reviewed_by",
        "submitted_by",
        "effective_date",
        "version_changes",
    )
    actions = ["submit_for_review", "publish", "return_to_draft", "start_new_version", "withdraw"]

    def has_change_permission(self, request: HttpRequest, obj: ServiceItem | None = None) -> bool:
        if obj is not None and (not obj.is_editable or not policy.can_edit_item(request.user, obj)):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: ServiceItem | None = None) -> bool:
        # History is never deleted; only unpublished drafts may be discarded.
        if obj is not None and not obj.is_editable:
            return False
        return super().has_delete_permission(request, obj)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ServiceItem]:
        return policy.editable_items(request.user, super().get_queryset(request).select_related("department"))

    @admin.action(description="提交审核")
    def submit_for_review(self, request: HttpRequest, queryset: QuerySet[ServiceItem]) -> None:
        _run(request, queryset, services.submit_for_review, "已提交审核")

    @admin.action(description="审核通过并发布", permissions=["review"])
    def publish(self, request: HttpRequest, queryset: QuerySet[ServiceItem]) -> None:
        _run(request, queryset, services.publish_item, "已发布")

    @admin.action(description="退回修改", permissions=["review"])
    def return_to_draft(self, request: HttpRequest, queryset: QuerySet[ServiceItem]) -> None:
        _run(request, queryset, services.return_to_draft, "已退回", reason="审核未通过，请修改后重新提交")

    @admin.action(description="新建修订版本")
    def start_new_version(self, request: HttpRequest, queryset: QuerySet[ServiceItem]) -> None:
        _run(request, queryset, services.start_new_version, "已创建修订草稿")

    @admin.action(description="停用事项", permissions=["review"])
    def withdraw(self, request: HttpRequest, queryset: QuerySet[ServiceItem]) -> None:
        _run(request, queryset, services.withdraw_item, "已停用", reason="管理员停用")

    def has_review_permission(self, request: HttpRequest) -> bool:
        return policy.can_publish(request.user)

    @admin.display(description=_("与已发布版本相比的修改"))
    def version_changes(self, obj: ServiceItem | None) -> SafeString | str:
        # The reviewer sees what this version changes before publishing it, not only the result.
        if obj is None or obj.pk is None:
            return ""
        changes = selectors.version_changes(obj)
        if not changes:
            return str(_("无修改（或为首个版本）"))
        rows = format_html_join(
            "",
            '<tr><th scope="row">{}</th><td><del>{}</del></td><td><ins>{}</ins></td></tr>',
            ((change.label, change.before, change.after) for change in changes),
        )
        return format_html(
            '<table class="version-diff"><thead><tr><th scope="col">{}</th><th scope="col">{}</th>'
            '<th scope="col">{}</th></tr></thead><tbody>{}</tbody></table>',
            _("项目"),
            _("修改前"),
            _("修改后"),
            rows,
        )


class BundleItemInline(admin.TabularInline):
    model = BundleItem
    extra = 0


@admin.register(Bundle)
class BundleAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "status", "audience", "promised_days")
    list_filter = ("status", "audience")
    search_fields = ("name", "code")
    inlines = [BundleItemInline]
    readonly_fields = ("status",)
    actions = ["publish"]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        if form.instance.status == "published":
            services.note_bundle_changed(form.instance.code)

    @admin.action(description="发布一件事", permissions=["review"])
    def publish(self, request: HttpRequest, queryset: QuerySet[Bundle]) -> None:
        for bundle in queryset:
            try:
                services.publish_bundle(bundle, actor=request.user)
                messages.success(request, f"已发布：{bundle.name}")
            except services.CatalogError as exc:
                messages.error(request, f"{bundle.name}：{exc.detail}")

    def has_review_permission(self, request: HttpRequest) -> bool:
        return policy.can_publish(request.user)
