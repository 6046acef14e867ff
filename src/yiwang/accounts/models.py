"""Unified identity (统一身份认证): accounts, people, organisations, roles, delegations.

Identity numbers and mobile numbers are stored encrypted (SM4-GCM, see
core.crypto) with a keyed blind index for exact lookup and a masked copy for
display. The full value is only ever read through
``accounts.services.reveal_person_data``, which records who read it and why.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from yiwang.core.identifiers import DocumentType

from .constants import AssuranceLevel, AssuranceMethod, CodePurpose, Relationship, Role


class User(AbstractUser):
    """A login. Citizens' logins point at their ``Person``; staff hold ``RoleAssignment``s."""

    display_name = models.CharField(_("显示名称"), max_length=64, blank=True)
    person = models.OneToOneField(
        "Person", null=True, blank=True, on_delete=models.PROTECT, related_name="user", verbose_name=_("自然人")
    )
    # Raised by "log out everywhere": every session signed with the old value becomes invalid.
    session_epoch = models.PositiveIntegerField(default=0, verbose_name=_("会话纪元"))

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")

    def __str__(self) -> str:
        return self.display_name or self.username

    def get_session_auth_hash(self) -> str:
        return salted_hmac(
            "yiwang.accounts.User.session",
            f"{self.password}:{self.session_epoch}",
            algorithm="sha256",
        ).hexdigest()


class Person(models.Model):
    """自然人: a citizen or resident, with or without an online account."""

    name = models.CharField(_("姓名"), max_length=64)
    document_type = models.CharField(_("证件类型"), max_length=32, choices=DocumentType.choices)
    document_number_encrypted = models.TextField(_("证件号码（密文）"))
    document_number_index = models.CharField(_("证件号码检索索引"), max_length=64)
    document_number_masked = models.CharField(_("证件号码（脱敏）"), max_length=40)
    mobile_encrypted = models.TextField(_("手机号码（密文）"), blank=True)
    mobile_index = models.CharField(_("手机号码检索索引"), max_length=64, blank=True, db_index=True)
    mobile_masked = models.CharField(_("手机号码（脱敏）"), max_length=20, blank=True)
    mobile_verified_at = models.DateTimeField(_("手机号验证时间"), null=True, blank=True)
    assurance_level = models.PositiveSmallIntegerField(
        _("实名等级"), choices=AssuranceLevel.choices, default=AssuranceLevel.SELF_DECLARED
    )
    assurance_method = models.CharField(
        _("实名方式"), max_length=24, choices=AssuranceMethod.choices, default=AssuranceMethod.SELF_DECLARED
    )
    assurance_at = models.DateTimeField(_("实名认证时间"), default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("创建时间"))

    class Meta:
        verbose_name = _("自然人")
        verbose_name_plural = _("自然人")
        constraints = [
            models.UniqueConstraint(
                fields=["document_type", "document_number_index"], name="accounts_person_document_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.document_number_masked}）"


class Organisation(models.Model):
    """法人: an enterprise or other organisation, identified by its unified social credit code."""

    name = models.CharField(_("名称"), max_length=200)
    credit_code = models.CharField(_("统一社会信用代码"), max_length=18, unique=True)
    legal_representative = models.ForeignKey(
        Person, on_delete=models.PROTECT, related_name="represented_organisations", verbose_name=_("法定代表人")
    )
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("注册人")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("创建时间"))

    class Meta:
        verbose_name = _("法人")
        verbose_name_plural = _("法人")

    def __str__(self) -> str:
        return self.name


class ActiveQuerySet(models.QuerySet):
    def active(self, at: object = None) -> ActiveQuerySet:
        now = at or timezone.now()
        return self.filter(revoked_at__isnull=True).filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))


class OrganisationAgent(models.Model):
    """经办人: a person authorised by an organisation to act for it, within a scope and until a date."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="agents", verbose_name=_("单位")
    )
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="agencies", verbose_name=_("个人"))
    # Item codes the agent may handle; empty means every item.
    scope = models.JSONField(_("授权范围（事项编码）"), default=list, blank=True)
    valid_until = models.DateTimeField(_("有效期至"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("撤销时间"), null=True, blank=True)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("授予人")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("创建时间"))

    objects = ActiveQuerySet.as_manager()

    class Meta:
        verbose_name = _("经办人")
        verbose_name_plural = _("经办人")

    def __str__(self) -> str:
        return f"{self.person.name} → {self.organisation.name}"


class Delegation(models.Model):
    """帮办代办授权: a person lets a relative or a community worker act for them."""

    principal = models.ForeignKey(
        Person, on_delete=models.PROTECT, related_name="delegations_given", verbose_name=_("委托人")
    )
    agent_person = models.ForeignKey(
        Person,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="delegations_received",
        verbose_name=_("代理人（个人）"),
    )
    agent_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="delegations_received",
        help_text=_("社区工作人员等以工作账户代办时"),
        verbose_name=_("代理人（用户）"),
    )
    relationship = models.CharField(_("关系"), max_length=24, choices=Relationship.choices)
    scope = models.JSONField(_("授权范围（事项编码）"), default=list, blank=True)
    valid_until = models.DateTimeField(_("有效期至"))
    revoked_at = models.DateTimeField(_("撤销时间"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("创建人")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("创建时间"))

    objects = ActiveQuerySet.as_manager()

    class Meta:
        verbose_name = _("代办授权")
        verbose_name_plural = _("代办授权")
        constraints = [
            models.CheckConstraint(
                condition=Q(agent_person__isnull=False) | Q(agent_user__isnull=False),
                name="accounts_delegation_has_agent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.principal.name} 授权 {self.agent_person or self.agent_user}"

    def covers(self, item_code: str | None) -> bool:
        return not self.scope or item_code in self.scope

    def covers_all(self, item_codes: Iterable[str]) -> bool:
        """Whether every one of the items (a 一件事 bundle's) is delegated."""
        return not self.scope or all(code in self.scope for code in item_codes)


class RoleAssignmentQuerySet(models.QuerySet):
    def active(self) -> RoleAssignmentQuerySet:
        return self.filter(revoked_at__isnull=True)


class RoleAssignment(models.Model):
    """A role held by a user, within a department (and the departments below it) or platform-wide."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_assignments", verbose_name=_("用户")
    )
    role = models.CharField(_("角色"), max_length=24, choices=Role.choices)
    department = models.ForeignKey(
        "directory.Department",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="role_assignments",
        verbose_name=_("部门"),
    )
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("授予人")
    )
    granted_at = models.DateTimeField(auto_now_add=True, verbose_name=_("授予时间"))
    revoked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("撤销时间"))
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("撤销人"),
    )

    objects = RoleAssignmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("角色授予")
        verbose_name_plural = _("角色授予")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "role", "department"],
                condition=Q(revoked_at__isnull=True),
                name="accounts_role_active_unique",
            ),
        ]
        indexes = [models.Index(fields=["user", "revoked_at"], name="accounts_role_user_active")]

    def __str__(self) -> str:
        return f"{self.user} {self.get_role_display()} @ {self.department or '全平台'}"


class OneTimeCode(models.Model):
    """An SMS code: stored as a keyed hash, single use, short-lived, with an attempt budget."""

    purpose = models.CharField(max_length=16, choices=CodePurpose.choices, verbose_name=_("用途"))
    mobile_index = models.CharField(max_length=64, db_index=True, verbose_name=_("手机号索引"))
    code_hash = models.CharField(max_length=64, verbose_name=_("验证码摘要"))
    expires_at = models.DateTimeField(verbose_name=_("过期时间"))
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("尝试次数"))
    consumed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("使用时间"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("创建时间"))
    ip = models.GenericIPAddressField(null=True, blank=True, verbose_name=_("IP 地址"))

    class Meta:
        verbose_name = _("短信验证码")
        verbose_name_plural = _("短信验证码")

    def __str__(self) -> str:
        return f"{self.purpose}@{self.created_at:%Y-%m-%d %H:%M}"


class SmsMessage(models.Model):
    """The outbox of the default SMS backend: what would have been sent, for the demo and tests."""

    mobile_index = models.CharField(max_length=64, db_index=True, verbose_name=_("手机号索引"))
    mobile_masked = models.CharField(max_length=20, verbose_name=_("手机号（脱敏）"))
    body = models.CharField(max_length=500, verbose_name=_("正文"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("创建时间"))

    class Meta:
        verbose_name = _("短信发件箱")
        verbose_name_plural = _("短信发件箱")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.mobile_masked}: {self.body[:20]}"


class TotpDevice(models.Model):
    """A staff member's authenticator app (TOTP, RFC 6238)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_device", verbose_name=_("用户")
    )
    secret_encrypted = models.TextField(verbose_name=_("密钥（加密）"))
    confirmed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("确认时间"))
    # The last time step accepted: a code is never accepted twice.
    last_step = models.BigIntegerField(default=0, verbose_name=_("最近步骤"))

    class Meta:
        verbose_name = _("动态口令设备")
        verbose_name_plural = _("动态口令设备")

    def __str__(self) -> str:
        return f"TOTP {self.user}"


class RecoveryCode(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes", verbose_name=_("用户")
    )
    code_hash = models.CharField(max_length=64, verbose_name=_("验证码摘要"))
    used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("使用时间"))

    class Meta:
        verbose_name = _("恢复码")
        verbose_name_plural = _("恢复码")

    def __str__(self) -> str:
        return f"recovery {self.user_id}"


class Throttle(models.Model):
    """Failure counts per key (an account, an address, a mobile number) for lockout and rate limits."""

    key = models.CharField(max_length=120, unique=True, verbose_name=_("键"))
    failures = models.PositiveIntegerField(default=0, verbose_name=_("失败次数"))
    window_started_at = models.DateTimeField(default=timezone.now, verbose_name=_("窗口开始时间"))
    locked_until = models.DateTimeField(null=True, blank=True, verbose_name=_("锁定至"))

    class Meta:
        verbose_name = _("限流计数")
        verbose_name_plural = _("限流计数")

    def __str__(self) -> str:
        return self.key


class DataAccessRecord(models.Model):
    """One read of a person's full personal data: who, when, which fields, why (the data tracker)."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="access_records", verbose_name=_("个人"))
    accessor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("访问人")
    )
    accessor_label = models.CharField(max_length=200, verbose_name=_("访问人名称"))
    department_name = models.CharField(max_length=200, blank=True, verbose_name=_("部门名称"))
    fields = models.JSONField(default=list, verbose_name=_("字段"))
    purpose = models.CharField(max_length=200, verbose_name=_("用途"))
    case_reference = models.CharField(max_length=80, blank=True, verbose_name=_("办件编号"))
    # Set when the data moved between departments through the data-sharing exchange (its 交换编号).
    exchange_id = models.CharField(max_length=40, blank=True, verbose_name=_("交换编号"))
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True, verbose_name=_("发生时间"))

    class Meta:
        verbose_name = _("个人数据查阅记录")
        verbose_name_plural = _("个人数据查阅记录")
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.accessor_label} → {self.person_id}"


class OidcClientScopes(models.Model):
    """The scopes one single-sign-on client may ask for; requests beyond them are refused (invalid_scope)."""

    application = models.OneToOneField(
        "oauth2_provider.Application",
        on_delete=models.CASCADE,
        related_name="yiwang_scopes",
        verbose_name=_("接入系统"),
    )
    scopes = models.JSONField(_("允许申请的授权范围"), default=list)

    class Meta:
        verbose_name = _("接入系统授权范围")
        verbose_name_plural = _("接入系统授权范围")

    def __str__(self) -> str:
        return " ".join(self.scopes)


class RedeemedAuthorizationCode(models.Model):
    """An authorization code already exchanged, and what it gave: a replay revokes those tokens.

    DOT deletes the grant when its code is used, so nothing else remembers the
    code. Only a digest is kept; the row is useless once the tokens expired.
    """

    code_digest = models.CharField(max_length=64, unique=True, verbose_name=_("验证码摘要"))
    application = models.ForeignKey(
        "oauth2_provider.Application", on_delete=models.CASCADE, related_name="+", verbose_name=_("应用")
    )
    access_token_id = models.BigIntegerField(null=True, verbose_name=_("访问令牌编号"))
    token_family = models.UUIDField(null=True, verbose_name=_("令牌族"))
    redeemed_at = models.DateTimeField(default=timezone.now, db_index=True, verbose_name=_("兑换时间"))

    class Meta:
        verbose_name = _("已兑换的授权码")
        verbose_name_plural = _("已兑换的授权码")

    def __str__(self) -> str:
        return self.code_digest[:12]


class ServiceAccountQuerySet(models.QuerySet):
    def active(self) -> ServiceAccountQuerySet:
        return self.filter(revoked_at__isnull=True)


class ServiceAccount(models.Model):
    """服务账号: a department's system that calls the API with its own OAuth 2 client (client credentials).

    The client is a django-oauth-toolkit application registered for the
    client-credentials grant only; this row says which department owns it
    (its tokens reach that department's data and the departments below it)
    and which API scopes it may hold. After a planned rotation the previous
    secret (hashed) keeps working until ``previous_secret_until``; a revoked
    account's tokens are deleted and its client can get no new ones.
    """

    application = models.OneToOneField(
        "oauth2_provider.Application",
        on_delete=models.CASCADE,
        related_name="service_account",
        verbose_name=_("接入应用"),
    )
    department = models.ForeignKey(
        "directory.Department",
        on_delete=models.PROTECT,
        related_name="service_accounts",
        verbose_name=_("所属部门"),
    )
    scopes = models.JSONField(_("授权范围"), default=list)
    description = models.CharField(_("用途说明"), max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("创建人")
    )
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    secret_rotated_at = models.DateTimeField(_("密钥更换时间"), null=True, blank=True)
    previous_secret = models.CharField(_("上一密钥（哈希）"), max_length=255, blank=True)
    previous_secret_until = models.DateTimeField(_("上一密钥有效至"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("吊销人"),
    )

    objects = ServiceAccountQuerySet.as_manager()

    class Meta:
        verbose_name = _("服务账号")
        verbose_name_plural = _("服务账号")
        ordering = ["department__code", "id"]

    def __str__(self) -> str:
        return str(self.application.name)

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AssuranceRecord(models.Model):
    """实名核验记录: how one of a person's real-name levels was reached, with its evidence (ADR 0030).

    Written by ``accounts.services`` only, never edited. The document number
    is kept as a keyed digest (enough to prove later which document was
    checked, useless to read it back); the exchange id names the
    household-registration request, the licence the identity e-licence seen.
    """

    person = models.ForeignKey(
        Person, on_delete=models.PROTECT, related_name="assurance_records", verbose_name=_("自然人")
    )
    level = models.PositiveSmallIntegerField(_("核验等级"), choices=AssuranceLevel.choices)
    method = models.CharField(_("核验方式"), max_length=24, choices=AssuranceMethod.choices)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("核验人"),
    )
    checked_by_label = models.CharField(_("核验人名称"), max_length=200, blank=True)
    department_name = models.CharField(_("核验部门"), max_length=200, blank=True)
    document_type = models.CharField(_("证件类型"), max_length=32, choices=DocumentType.choices, blank=True)
    document_digest = models.CharField(_("证件号码摘要"), max_length=64, blank=True)
    exchange_id = models.CharField(_("数据交换编号"), max_length=40, blank=True)
    licence_id = models.BigIntegerField(_("电子证照编号"), null=True, blank=True)
    licence_identifier = models.CharField(_("电子证照标识"), max_length=96, blank=True)
    licence_type_name = models.CharField(_("电子证照名称"), max_length=100, blank=True)
    # Whether the record moved the person's level up (a repeated check at the same level does not).
    raised = models.BooleanField(_("提升了等级"), default=False)
    occurred_at = models.DateTimeField(_("核验时间"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("实名核验记录")
        verbose_name_plural = _("实名核验记录")
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.person_id} L{self.level} {self.method}"
