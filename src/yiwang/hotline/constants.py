"""Code lists of the 12345 hotline and grid reports."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class WorkOrderKind(models.TextChoices):
    CONSULT = "consult", _("咨询")
    HELP = "help", _("求助")
    COMPLAINT = "complaint", _("投诉")
    REPORT = "report", _("举报")
    SUGGESTION = "suggestion", _("建议")
    # Opened by the platform itself for every real-name bad rating (差评整改).
    RECTIFICATION = "rectification", _("差评整改")
    # A grid report (网格上报): a problem at a point on the map, routed to the cell's grid worker.
    GRID = "grid", _("网格事件")


class Source(models.TextChoices):
    """The door a work order came in by."""

    PHONE = "phone", _("电话")
    WEB = "web", _("网站")
    MOBILE = "mobile", _("移动端")
    KIOSK = "kiosk", _("自助终端")
    RATING = "rating", _("好差评")
    GRID = "grid", _("网格上报")


class WorkOrderState(models.TextChoices):
    """Where a work order stands. Which action moves it where is in :mod:`yiwang.hotline.workflow`."""

    REGISTERED = "registered", _("待派单")
    DISPATCHED = "dispatched", _("待签收")
    HANDLING = "handling", _("办理中")
    REPLIED = "replied", _("已答复")
    CLOSED = "closed", _("已办结")
    CALLED_BACK = "called_back", _("已回访")
    MERGED = "merged", _("已合并")


OPEN_WORK_ORDER_STATES = frozenset(
    {WorkOrderState.REGISTERED, WorkOrderState.DISPATCHED, WorkOrderState.HANDLING, WorkOrderState.REPLIED}
)


class AssignmentRole(models.TextChoices):
    LEAD = "lead", _("主办")
    ASSIST = "assist", _("协办")


class AssignmentState(models.TextChoices):
    DISPATCHED = "dispatched", _("待签收")
    HANDLING = "handling", _("办理中")
    REPLIED = "replied", _("已答复")
    SENT_BACK = "sent_back", _("已退回")
    WITHDRAWN = "withdrawn", _("已撤回")


class Satisfaction(models.TextChoices):
    """The caller's verdict at the callback (回访)."""

    SATISFIED = "satisfied", _("满意")
    BASICALLY = "basically", _("基本满意")
    UNSATISFIED = "unsatisfied", _("不满意")


class ExtensionStatus(models.TextChoices):
    NONE = "", _("无")
    REQUESTED = "requested", _("待审批")
    APPROVED = "approved", _("已批准")
    REFUSED = "refused", _("未批准")


class DispatchMode(models.TextChoices):
    PENDING = "", _("未派单")
    AUTOMATIC = "automatic", _("自动派单")
    OPERATOR = "operator", _("人工派单")
    GRID = "grid", _("按网格派单")
    RATING = "rating", _("差评直派")
