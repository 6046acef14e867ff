"""Licence types (电子证照目录), licences, their history, shares (亮证) and materials taken from the wallet.

Every change goes through :mod:`yiwang.licences.services`. A licence row is
never edited after issue except for its status: a change issues a new
version (a new row whose ``previous`` is the old one, which is superseded).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from yiwang.licences.constants import HolderKind, LicenceEventKind, LicenceStatus


class LicenceType(models.Model):
    """One kind of licence a department issues (电子证照目录的一项)."""

    # GB/T 36904 licence type code: the defining department's credit code and a 3-digit number.
    code = models.CharField(_("证照类型代码"), max_length=21, unique=True)
    name = models.CharField(_("证照名称"), max_length=100)
    department = models.ForeignKey(
        "directory.Department", on_delete=models.PROTECT, related_name="+", verbose_name=_("发证部门")
    )
    holder_kind = models.CharField(_("持证主体"), max_length=16, choices=HolderKind.choices)
    # [{"key", "label", "type": text|date|number|choice, "required": bool, "choices": [..]}]
    fields = models.JSONField(_("照面信息项"), default=list, blank=True)
    # None: valid until revoked (长期有效).
    validity_years = models.PositiveSmallIntegerField(_("有效期（年）"), null=True, blank=True)
    # Implementation codes of the catalogue items whose decision issues this licence.
    item_codes = models.JSONField(_("签发事项编码"), default=list, blank=True)
    # Names under which catalogue materials ask for it (材料的“电子证照类型”), besides ``name``.
    material_names = models.JSONField(_("对应材料名称"), default=list, blank=True)
    active = models.BooleanField(_("启用"), default=True)
    # An identity licence (居民身份证电子证照): seen valid at a face-to-face check, it lifts the holder to
    # real-name level 4 (ADR 0030).
    proves_identity = models.BooleanField(_("身份证照（可用于实名四级核验）"), default=False)
    last_serial = models.PositiveIntegerField(_("最新顺序号"), default=0)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("证照类型")
        verbose_name_plural = _("证照类型")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Licence(models.Model):
    """One version of one electronic licence (电子证照)."""

    identifier = models.CharField(_("电子证照标识"), max_length=96, unique=True)
    licence_type = models.ForeignKey(
        LicenceType, on_delete=models.PROTECT, related_name="licences", verbose_name=_("证照类型")
    )
    serial = models.PositiveIntegerField(_("顺序号"))
    version = models.PositiveSmallIntegerField(_("版本"), default=1)
    previous = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="next_version", verbose_name=_("上一版本")
    )
    department = models.ForeignKey(
        "directory.Department", on_delete=models.PROTECT, related_name="+", verbose_name=_("发证部门")
    )
    holder_kind = models.CharField(_("持证主体类型"), max_length=16, choices=HolderKind.choices)
    holder_person = models.ForeignKey(
        "accounts.Person", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("持证人")
    )
    holder_organisation = models.ForeignKey(
        "accounts.Organisation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("持证单位"),
    )
    holder_name = models.CharField(_("持证主体名称"), max_length=200)
    # Masked document number or the credit code: enough to tell holders apart, never a full ID number.
    holder_code = models.CharField(_("持证主体代码"), max_length=40, blank=True)
    data = models.JSONField(_("照面信息"), default=dict, blank=True)
    issued_on = models.DateField(_("发证日期"))
    valid_until = models.DateField(_("有效期至"), null=True, blank=True)
    status = models.CharField(_("状态"), max_length=16, choices=LicenceStatus.choices, default=LicenceStatus.VALID)
    status_reason = models.TextField(_("状态原因"), blank=True)
    status_changed_at = models.DateTimeField(_("状态变更时间"), null=True, blank=True)
    case_number = models.CharField(_("办件编号"), max_length=64, blank=True, db_index=True)
    # Set on the first version issued from a case event: the same event delivered twice finds it.
    issuance_key = models.CharField(_("签发幂等键"), max_length=80, null=True, blank=True, unique=True)
    # The public status page asks for the identifier and this code (printed on the licence).
    verification_code = models.CharField(_("核验码"), max_length=8)
    # The seal: key id (the seals' SigningKey, as a string), SM3 digest and SM2 signature of the claims.
    signer_key_id = models.CharField(_("签章密钥标识"), max_length=80, blank=True)
    digest = models.CharField(_("摘要（SM3）"), max_length=64, blank=True)
    signature = models.TextField(_("签名（SM2）"), blank=True)
    qr_payload = models.TextField(_("二维码载荷"), blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("电子证照")
        verbose_name_plural = _("电子证照")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["holder_person", "status"], name="licences_holder_person"),
            models.Index(fields=["holder_organisation", "status"], name="licences_holder_organisation"),
            models.Index(fields=["status", "valid_until"], name="licences_status_expiry"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(holder_person__isnull=False) | Q(holder_organisation__isnull=False),
                name="licences_licence_has_holder",
            )
        ]

    def __str__(self) -> str:
        return f"{self.licence_type_id}:{self.identifier}"

    def effective_status(self, today: dt.date) -> str:
        """The status as of ``today``: a valid licence past its date is expired even before the job marks it."""
        if self.status == LicenceStatus.VALID and self.valid_until is not None and self.valid_until < today:
            return LicenceStatus.EXPIRED
        return self.status


class LicenceEvent(models.Model):
    """One thing that happened to a licence: the history its holder sees."""

    licence = models.ForeignKey(Licence, on_delete=models.PROTECT, related_name="events", verbose_name=_("电子证照"))
    kind = models.CharField(_("事件"), max_length=16, choices=LicenceEventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("操作人"),
    )
    actor_label = models.CharField(_("操作人"), max_length=200, blank=True)
    detail = models.JSONField(_("详情"), default=dict, blank=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("证照记录")
        verbose_name_plural = _("证照记录")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.licence_id}:{self.kind}"


class LicenceShare(models.Model):
    """亮证: a time-limited, single-use link showing the fields the holder chose to a verifier."""

    licence = models.ForeignKey(Licence, on_delete=models.PROTECT, related_name="shares", verbose_name=_("电子证照"))
    # Only its SHA-256 is stored: the token itself lives in the QR code the holder shows.
    token_hash = models.CharField(_("令牌摘要"), max_length=64, unique=True)
    fields = models.JSONField(_("展示信息项"), default=list)
    purpose = models.CharField(_("用途"), max_length=100, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("创建人")
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    expires_at = models.DateTimeField(_("失效时间"))
    max_uses = models.PositiveSmallIntegerField(_("可核验次数"), default=1)
    uses = models.PositiveSmallIntegerField(_("已核验次数"), default=0)
    withdrawn_at = models.DateTimeField(_("撤回时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("亮证")
        verbose_name_plural = _("亮证")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.licence_id}:{self.created_at:%Y-%m-%d %H:%M}"


class ShareVerification(models.Model):
    """Every opening of a share by a verifier, whether it was shown or refused."""

    share = models.ForeignKey(
        LicenceShare, on_delete=models.PROTECT, related_name="verifications", verbose_name=_("亮证")
    )
    outcome = models.CharField(_("结果"), max_length=16)
    # Salted hash of the verifier's address: enough to tell openings apart, not to track anyone.
    client_hash = models.CharField(_("来源摘要"), max_length=64, blank=True)
    verified_at = models.DateTimeField(_("核验时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("亮证核验记录")
        verbose_name_plural = _("亮证核验记录")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.share_id}:{self.outcome}"


class WalletMaterial(models.Model):
    """A material of an application satisfied by a licence from the holder's wallet, with their confirmation."""

    application = models.ForeignKey(
        "cases.Application", on_delete=models.PROTECT, related_name="+", verbose_name=_("申请")
    )
    material_key = models.CharField(_("材料"), max_length=64)
    material_name = models.CharField(_("材料名称"), max_length=200)
    item_codes = models.JSONField(_("事项编码"), default=list, blank=True)
    licence = models.ForeignKey(Licence, on_delete=models.PROTECT, related_name="+", verbose_name=_("电子证照"))
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("确认人")
    )
    confirmed_at = models.DateTimeField(_("确认时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("证照库调取的材料")
        verbose_name_plural = _("证照库调取的材料")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["application", "material_key"], name="licences_wallet_material_unique")
        ]

    def __str__(self) -> str:
        return f"{self.application_id}:{self.material_key}"


class MaterialSaving(models.Model):
    """六减: one material a case did not need on paper because it came from the wallet (one row per case)."""

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="+", verbose_name=_("办件"))
    case_number = models.CharField(_("办件编号"), max_length=64, db_index=True)
    item_code = models.CharField(_("事项编码"), max_length=80, db_index=True)
    material_key = models.CharField(_("材料"), max_length=64)
    material_name = models.CharField(_("材料名称"), max_length=200)
    licence = models.ForeignKey(Licence, on_delete=models.PROTECT, related_name="+", verbose_name=_("电子证照"))
    created_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("免提交材料记录")
        verbose_name_plural = _("免提交材料记录")
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["case", "material_key"], name="licences_saving_unique")]

    def __str__(self) -> str:
        return f"{self.case_number}:{self.material_name}"


class SealedDocument(models.Model):
    """A sealed document of a case other than the licence itself: 受理回执, 不予受理决定书, 补正告知书, 决定书.

    The claims are what the document says (``cases.selectors.document_content`` and the document id); the
    seal is the department's, co-signed by the deciding official on decisions. Made once per case, kind and
    sequence (a case may be asked to correct more than once), when the case reaches that state.
    """

    kind = models.CharField(_("文书类型"), max_length=32)
    sequence = models.PositiveSmallIntegerField(_("序号"), default=1)
    title = models.CharField(_("文书名称"), max_length=100)
    case_number = models.CharField(_("办件编号"), max_length=64, db_index=True)
    department = models.ForeignKey(
        "directory.Department", on_delete=models.PROTECT, related_name="+", verbose_name=_("出具部门")
    )
    claims = models.JSONField(_("文书内容"), default=dict)
    signer_key_id = models.CharField(_("签章密钥标识"), max_length=80, blank=True)
    digest = models.CharField(_("摘要（SM3）"), max_length=64, blank=True)
    signature = models.TextField(_("签章结构"), blank=True)
    qr_payload = models.TextField(_("二维码载荷"), blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("签章文书")
        verbose_name_plural = _("签章文书")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["case_number", "kind", "sequence"], name="licences_document_unique_seq")
        ]

    def __str__(self) -> str:
        return f"{self.case_number}:{self.kind}:{self.sequence}"
