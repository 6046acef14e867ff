"""Choices of the exchange app (resource catalogue, data services, consents, exchanges) that other apps may read."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ShareType(models.TextChoices):
    """共享类型 of a resource or of one of its fields (GB/T 21063 style): who may have it, on what terms."""

    UNCONDITIONAL = "unconditional", _("无条件共享")
    # Shared only for a stated purpose and, for a person's data, with the person's consent.
    CONDITIONAL = "conditional", _("有条件共享")
    NOT_SHARED = "not_shared", _("不予共享")


# The stricter of two share types wins: a field cannot be more open than its resource.
SHARE_STRICTNESS = {ShareType.UNCONDITIONAL: 0, ShareType.CONDITIONAL: 1, ShareType.NOT_SHARED: 2}


class OpenType(models.TextChoices):
    """开放类型: whether the public sees the resource's entry (never a person's data)."""

    OPEN = "open", _("无条件开放")
    CONDITIONAL_OPEN = "conditional_open", _("有条件开放")
    NOT_OPEN = "not_open", _("不予开放")


class UpdateCycle(models.TextChoices):
    REAL_TIME = "real_time", _("实时")
    DAILY = "daily", _("每日")
    WEEKLY = "weekly", _("每周")
    MONTHLY = "monthly", _("每月")
    YEARLY = "yearly", _("每年")


class SubjectKind(models.TextChoices):
    """Whose data a resource holds: a person's (by resident ID) or an organisation's (by credit code)."""

    PERSON = "person", _("自然人")
    ORGANISATION = "organisation", _("法人")


class Outcome(models.TextChoices):
    """How one exchange ended."""

    ANSWERED = "answered", _("已提供")
    NO_RECORD = "no_record", _("无记录")
    REFUSED = "refused", _("已拒绝")
    FAILED = "failed", _("服务不可用")


class Backend(models.TextChoices):
    """The provider tables a local data service reads (the demo city's department systems)."""

    HOUSEHOLD = "household", _("户籍信息")
    ENTERPRISE = "enterprise", _("市场主体登记信息")
    SOCIAL_INSURANCE = "social_insurance", _("社会保险参保信息")
    REAL_ESTATE = "real_estate", _("不动产登记信息")
    MARRIAGE = "marriage", _("婚姻登记信息")
    CREDIT = "credit", _("信用信息（失信名单）")


# The transport a data service is reached by when nothing else is registered: the provider on this node.
LOCAL_TRANSPORT = "local"
# The family of transports to services held by other nodes: ``node:<peer code>`` (yiwang.exchange.remote).
NODE_TRANSPORT_PREFIX = "node:"
# The rule each policy refusal names (the problem document's ``rule``), whichever node refused.
REFUSAL_RULES = {
    "not_shared": "share_type:not_shared",
    "field_not_shared": "field_share_type:not_shared",
    "consent_required": "consent:required",
    "consent_revoked": "consent:revoked",
    "consent_expired": "consent:expired",
}
# How long consent lasts when the citizen does not say (days), and the choices offered.
CONSENT_DAYS_DEFAULT = 30
CONSENT_DAYS_CHOICES = (7, 30, 90, 365)
# Audit event codes.
EXCHANGE_EVENT = "exchange.request"
CONSENT_GIVEN_EVENT = "exchange.consent_given"
CONSENT_REVOKED_EVENT = "exchange.consent_revoked"
SHARED_MATERIAL_EVENT = "exchange.material_confirmed"

# Real-name level 3 online (ADR 0030): the household-registration service is asked, on the public security
# bureau's behalf (公安身份核验), for exactly the name and the masked resident ID, under a consent the person
# gives for this one request and that is withdrawn straight after it.
REAL_NAME_SERVICE = "household"
REAL_NAME_CONSUMER = "police"
REAL_NAME_FIELDS = ("name", "id_number")
