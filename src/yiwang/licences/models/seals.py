"""电子印章 and signing keys: department seals, staff keys, the platform root key, foreign trust lists.

Private keys never live here: a :class:`SigningKey` holds the public key and
its id, the private half is in the key store (``yiwang.core.keystore``).
Rotation adds a key and retires the old one (``retired_at``): it signs no
more but still verifies what it signed while it was valid. See
docs/adr/0016-e-seals-signatures-and-trust-lists.md.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class SealStatus(models.TextChoices):
    ACTIVE = "active", _("启用")
    SUSPENDED = "suspended", _("停用")
    REVOKED = "revoked", _("已吊销")


class KeyPurpose(models.TextChoices):
    SEAL = "seal", _("电子印章")
    STAFF = "staff", _("工作人员签名")
    PLATFORM = "platform", _("平台根密钥")


class Seal(models.Model):
    """A department's electronic seal: its name, the image stamped on documents, validity, current key."""

    department = models.ForeignKey(
        "directory.Department", on_delete=models.PROTECT, related_name="seals", verbose_name=_("所属部门")
    )
    code = models.CharField(_("印章编码"), max_length=40, unique=True)
    name = models.CharField(_("印章名称"), max_length=128)
    image_png = models.BinaryField(_("印章图像（PNG）"))
    image_digest = models.CharField(_("印章图像SM3摘要"), max_length=64)
    valid_from = models.DateTimeField(_("有效期起"))
    valid_to = models.DateTimeField(_("有效期止"))
    status = models.CharField(_("状态"), max_length=16, choices=SealStatus.choices, default=SealStatus.ACTIVE)
    current_key = models.OneToOneField(
        "SigningKey",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="current_for",
        verbose_name=_("当前签名密钥"),
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("电子印章")
        verbose_name_plural = _("电子印章")
        ordering = ["department__code", "code"]

    def __str__(self) -> str:
        return self.name


class SigningKey(models.Model):
    """An SM2 public key and its validity; its owner is a seal, a staff member, or the platform itself."""

    key_id = models.CharField(_("密钥标识"), max_length=32, unique=True)
    algorithm = models.CharField(_("算法"), max_length=16, default="SM2")
    public_key_der = models.BinaryField(_("公钥（DER）"))
    purpose = models.CharField(_("用途"), max_length=16, choices=KeyPurpose.choices)
    seal = models.ForeignKey(
        Seal, null=True, blank=True, on_delete=models.PROTECT, related_name="keys", verbose_name=_("电子印章")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="signing_keys",
        verbose_name=_("工作人员"),
    )
    valid_from = models.DateTimeField(_("有效期起"))
    valid_to = models.DateTimeField(_("有效期止"))
    retired_at = models.DateTimeField(_("停止签名时间"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)
    revocation_reason = models.CharField(_("吊销原因"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("签名密钥")
        verbose_name_plural = _("签名密钥")
        ordering = ["-valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(purpose="seal", seal__isnull=False, user__isnull=True)
                    | models.Q(purpose="staff", seal__isnull=True, user__isnull=False)
                    | models.Q(purpose="platform", seal__isnull=True, user__isnull=True)
                ),
                name="licences_signingkey_owner_matches_purpose",
            ),
            models.CheckConstraint(
                condition=models.Q(valid_to__gt=models.F("valid_from")), name="licences_signingkey_validity_order"
            ),
        ]

    def __str__(self) -> str:
        return self.key_id


class PlatformKey(models.Model):
    """Which :class:`SigningKey` is this platform's trust-list root (one current, older ones kept)."""

    key = models.OneToOneField(SigningKey, on_delete=models.PROTECT, verbose_name=_("签名密钥"))
    current = models.BooleanField(_("当前"), default=True)

    class Meta:
        verbose_name = _("平台根密钥")
        verbose_name_plural = _("平台根密钥")

    def __str__(self) -> str:
        return self.key.key_id


class ForeignPlatform(models.Model):
    """Another platform whose licences we verify: its root key, pinned by an administrator, and its trust list."""

    platform_id = models.CharField(_("平台标识"), max_length=64, unique=True)
    name = models.CharField(_("平台名称"), max_length=128)
    root_public_key_der = models.BinaryField(_("根公钥（DER）"))
    root_key_id = models.CharField(_("根密钥标识"), max_length=32)
    trust_list_url = models.URLField(_("信任列表地址"), blank=True)
    trust_list_json = models.BinaryField(_("信任列表（原文）"), null=True, blank=True)
    trust_list_signature = models.BinaryField(_("信任列表签名"), null=True, blank=True)
    trust_list_issued_at = models.DateTimeField(_("信任列表签发时间"), null=True, blank=True)
    trust_list_next_update = models.DateTimeField(_("信任列表有效期至"), null=True, blank=True)
    trusted = models.BooleanField(_("受信任"), default=True)
    imported_at = models.DateTimeField(_("导入时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("添加时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("互认平台")
        verbose_name_plural = _("互认平台")
        ordering = ["platform_id"]

    def __str__(self) -> str:
        return f"{self.name}（{self.platform_id}）"
