"""Admin pages of the licences app."""

from __future__ import annotations

import base64
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from yiwang.core.problems import ServiceError
from yiwang.licences.models import ForeignPlatform, PlatformKey, Seal, SigningKey
from yiwang.licences.services import seals, trust

# --- seals, signing keys and trust lists (电子印章) ---------------------------------------------------------
# Every change goes through the services: seals are created with `yiwang seals create` (the key must be made
# and stored, the image drawn), keys are rotated from here or the seals page, foreign platforms are pinned here.


@admin.register(Seal)
class SealAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "department", "status", "valid_from", "valid_to", "current_key")
    list_filter = ("status",)
    search_fields = ("name", "code", "department__name")
    readonly_fields = ("image_preview", "image_digest", "current_key", "code", "department", "created_at")
    exclude = ("image_png",)
    actions = ("rotate_keys",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description=_("印章图像"))
    def image_preview(self, seal: Seal) -> str:
        encoded = base64.b64encode(bytes(seal.image_png)).decode("ascii")
        return format_html('<img src="data:image/png;base64,{}" width="150" height="150" alt="">', encoded)

    @admin.action(description=_("更换所选印章的签名密钥"))
    def rotate_keys(self, request: HttpRequest, queryset: QuerySet[Seal]) -> None:
        for seal in queryset:
            try:
                seals.rotate_key(seal, actor=request.user)
            except ServiceError as exc:
                self.message_user(request, f"{seal}: {exc.message}", messages.ERROR)


@admin.register(SigningKey)
class SigningKeyAdmin(admin.ModelAdmin):
    list_display = ("key_id", "purpose", "seal", "user", "valid_from", "valid_to", "retired_at", "revoked_at")
    list_filter = ("purpose",)
    search_fields = ("key_id", "seal__name")
    readonly_fields = (
        "key_id", "algorithm", "purpose", "seal", "user", "valid_from", "valid_to",
        "retired_at", "revoked_at", "revocation_reason", "created_at",
    )  # fmt: skip
    exclude = ("public_key_der",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PlatformKey)
class PlatformKeyAdmin(admin.ModelAdmin):
    list_display = ("key", "current")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ForeignPlatformForm(forms.ModelForm):
    trust_list_url = forms.URLField(label=_("信任列表地址"), required=False, assume_scheme="https")
    root_key_text = forms.CharField(
        label=_("根公钥"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("对方平台根密钥的SM2公钥（PEM 或 DER 的 Base64），须经线下渠道核对密钥标识。"),
    )

    class Meta:
        model = ForeignPlatform
        fields = ("platform_id", "name", "trust_list_url")

    def clean_root_key_text(self) -> bytes:
        try:
            return trust.decode_root_key(self.cleaned_data["root_key_text"])
        except ServiceError as exc:
            raise forms.ValidationError(exc.message) from exc


@admin.register(ForeignPlatform)
class ForeignPlatformAdmin(admin.ModelAdmin):
    form = ForeignPlatformForm
    list_display = ("platform_id", "name", "root_key_id", "trusted", "trust_list_issued_at", "trust_list_next_update")
    actions = ("fetch_lists", "distrust")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("root_key_id", "trusted", "trust_list_issued_at", "trust_list_next_update", "imported_at")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        try:
            pinned = trust.pin_platform(
                form.cleaned_data["platform_id"],
                form.cleaned_data["name"],
                form.cleaned_data["root_key_text"],
                url=form.cleaned_data.get("trust_list_url") or "",
                actor=request.user,
            )
        except ServiceError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        obj.pk = pinned.pk

    @admin.action(description=_("立即更新所选平台的信任列表"))
    def fetch_lists(self, request: HttpRequest, queryset: QuerySet[ForeignPlatform]) -> None:
        for platform in queryset:
            try:
                trust.fetch_trust_list(platform, actor=request.user)
            except ServiceError as exc:
                self.message_user(request, f"{platform}: {exc.message}", messages.ERROR)

    @admin.action(description=_("不再信任所选平台"))
    def distrust(self, request: HttpRequest, queryset: QuerySet[ForeignPlatform]) -> None:
        for platform in queryset:
            trust.distrust_platform(platform, actor=request.user)


# --- end of seals, signing keys and trust lists -----------------------------------------------------------
