"""Code lists of case handling."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from yiwang.core.uploads import base as uploads_base


class ApplicationState(models.TextChoices):
    DRAFT = "draft", _("草稿")
    SUBMITTED = "submitted", _("已提交")
    ABANDONED = "abandoned", _("已放弃")


class CaseState(models.TextChoices):
    """Where a case stands. Which action moves it where is in :mod:`yiwang.cases.workflow`."""

    SUBMITTED = "submitted", _("待受理")
    CORRECTION_REQUESTED = "correction_requested", _("待补正")
    IN_REVIEW = "in_review", _("审查中")
    SUSPENDED = "suspended", _("已中止")
    AWAITING_PAYMENT = "awaiting_payment", _("待缴费")
    ISSUING = "issuing", _("待制证")
    READY_FOR_COLLECTION = "ready_for_collection", _("待领取")
    REFUSED = "refused", _("不予许可")
    CLOSED = "closed", _("已办结")
    REJECTED = "rejected", _("不予受理")
    WITHDRAWN = "withdrawn", _("已撤回")


# States in which a case is still being handled (the workbench lists these).
OPEN_CASE_STATES = frozenset(
    {
        CaseState.SUBMITTED,
        CaseState.CORRECTION_REQUESTED,
        CaseState.IN_REVIEW,
        CaseState.SUSPENDED,
        CaseState.AWAITING_PAYMENT,
        CaseState.ISSUING,
        CaseState.READY_FOR_COLLECTION,
    }
)
FINAL_CASE_STATES = frozenset(CaseState) - OPEN_CASE_STATES


class PauseReason(models.TextChoices):
    SUSPENDED = "suspended", _("中止")
    CORRECTION = "correction", _("补正")


class CaseOutcome(models.TextChoices):
    NONE = "", _("未办结")
    APPROVED = "approved", _("准予")
    REFUSED = "refused", _("不予许可")
    REJECTED = "rejected", _("不予受理")
    WITHDRAWN = "withdrawn", _("申请人撤回")


class Channel(models.TextChoices):
    ONLINE = "online", _("网上办理")
    MOBILE = "mobile", _("移动端")
    COUNTER = "counter", _("窗口办理")
    KIOSK = "kiosk", _("自助终端")
    # 跨省通办: applied for at another platform node, forwarded here by the node exchange (docs/cross-region.md).
    CROSS_REGION = "cross_region", _("跨域通办")


class StepKind(models.TextChoices):
    PRE_REVIEW = "pre_review", _("预审")
    ACCEPTANCE = "acceptance", _("受理")
    REVIEW = "review", _("审查")
    DECISION = "decision", _("决定")
    CERTIFICATE = "certificate", _("制证")
    DELIVERY = "delivery", _("送达")


class TaskStatus(models.TextChoices):
    OPEN = "open", _("办理中")
    DONE = "done", _("已完成")
    CANCELLED = "cancelled", _("已取消")


class ExtensionStatus(models.TextChoices):
    REQUESTED = "requested", _("待审批")
    APPROVED = "approved", _("已批准")
    REFUSED = "refused", _("未批准")


class PaymentStatus(models.TextChoices):
    PENDING = "pending", _("待支付")
    PAID = "paid", _("已支付")
    CANCELLED = "cancelled", _("已取消")


# What the virus scan said of a material; the upload checks live in the kernel.
ScanStatus = uploads_base.ScanStatus
