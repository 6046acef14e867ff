"""Choices and limits of the licences app (licence types, licences, shares) that other apps may read."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class HolderKind(models.TextChoices):
    """Who holds a licence of a type (持证主体)."""

    PERSON = "person", _("自然人")
    ORGANISATION = "organisation", _("法人或其他组织")
    # The case's applicant: the organisation when one applied, otherwise the person.
    APPLICANT = "applicant", _("申请人（个人或单位）")


class FieldType(models.TextChoices):
    """Types of a licence type's fields (照面信息项)."""

    TEXT = "text", _("文本")
    DATE = "date", _("日期")
    NUMBER = "number", _("数字")
    CHOICE = "choice", _("选项")


class LicenceStatus(models.TextChoices):
    """A licence's status. Stored: valid, revoked, superseded; expired is also derived from the dates."""

    VALID = "valid", _("有效")
    REVOKED = "revoked", _("已注销")
    EXPIRED = "expired", _("已过期")
    SUPERSEDED = "superseded", _("已被新版本替代")


class LicenceEventKind(models.TextChoices):
    """What happened to a licence: its history, which the holder sees."""

    ISSUED = "issued", _("签发")
    CHANGED = "changed", _("变更")
    REISSUED = "reissued", _("补发")
    REVOKED = "revoked", _("注销")
    EXPIRED = "expired", _("到期")
    SUPERSEDED = "superseded", _("被新版本替代")
    SHARED = "shared", _("亮证")
    VERIFIED = "verified", _("亮证核验")
    REFUSED = "refused", _("亮证核验被拒绝")
    USED = "used", _("用作申请材料")
    REMINDED = "reminded", _("到期提醒")


# Days before a licence's expiry on which its holder is reminded.
EXPIRY_REMINDER_DAYS = 30
# A share (亮证) lasts this long unless the holder picks a shorter time.
SHARE_MINUTES_DEFAULT = 5
SHARE_MINUTES_CHOICES = (1, 5, 10, 30)
# How many times one share may be opened by verifiers: once (see ADR 0017).
SHARE_MAX_USES = 1
