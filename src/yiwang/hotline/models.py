"""Tables of the 12345 hotline: work orders (工单), their assignments to departments, events, grid cells.

Every change goes through :mod:`yiwang.hotline.services`; the transition
table in :mod:`yiwang.hotline.workflow` decides which changes are legal.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from yiwang.hotline.constants import (
    AssignmentRole,
    AssignmentState,
    DispatchMode,
    ExtensionStatus,
    Satisfaction,
    Source,
    WorkOrderKind,
    WorkOrderState,
)


class TimeLimit(models.Model):
    """Working-day limits of one kind of work order, kept as data so a city can set its own."""

    kind = models.CharField(_("工单类型"), max_length=16, choices=WorkOrderKind.choices, unique=True)
    # 0 means the same working day.
    acknowledge_days = models.PositiveSmallIntegerField(_("签收时限（工作日）"), default=1)
    handle_days = models.PositiveSmallIntegerField(_("办理时限（工作日）"))
    callback_days = models.PositiveSmallIntegerField(_("回访时限（工作日）"), default=2)
    callback_required = models.BooleanField(_("须回访"), default=True)

    class Meta:
        verbose_name = _("工单时限")
        verbose_name_plural = _("工单时限")

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.handle_days}"


class DispatchRule(models.Model):
    """Which department answers a category of work orders (the category → department map)."""

    category = models.CharField(_("分类"), max_length=64, unique=True)
    department = models.ForeignKey(
        "directory.Department", on_delete=models.PROTECT, related_name="+", verbose_name=_("责任部门")
    )
    note = models.CharField(_("说明"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("派单规则")
        verbose_name_plural = _("派单规则")
        ordering = ["category"]

    def __str__(self) -> str:
        return f"{self.category} → {self.department_id}"


class GridCell(models.Model):
    """网格: a small area of the city and the grid worker who looks after it."""

    code = models.CharField(_("网格编码"), max_length=32, unique=True)
    name = models.CharField(_("网格名称"), max_length=100)
    division = models.CharField(_("所属区域"), max_length=100, blank=True)
    # A GeoJSON Polygon or MultiPolygon in WGS84 longitude/latitude, checked by yiwang.hotline.geometry.
    geometry = models.JSONField(_("边界"))
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="grid_cells",
        verbose_name=_("网格员"),
    )
    # The department whose staff take a report when the cell has no worker (and supervise the worker).
    department = models.ForeignKey(
        "directory.Department", on_delete=models.PROTECT, related_name="+", verbose_name=_("责任部门")
    )
    active = models.BooleanField(_("有效"), default=True)
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("更新时间"))

    class Meta:
        verbose_name = _("网格")
        verbose_name_plural = _("网格")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class WorkOrder(models.Model):
    """12345 工单: one consultation, request, complaint, report, suggestion, rectification or grid report."""

    number = models.CharField(_("工单编号"), max_length=32, unique=True)
    # Asked with the number on the public tracking page; not guessable from the number.
    verification_code = models.CharField(_("查询码"), max_length=8)
    kind = models.CharField(_("类型"), max_length=16, choices=WorkOrderKind.choices)
    source = models.CharField(_("来源"), max_length=16, choices=Source.choices)
    state = models.CharField(
        _("状态"), max_length=16, choices=WorkOrderState.choices, default=WorkOrderState.REGISTERED
    )
    category = models.CharField(_("分类"), max_length=64, blank=True)
    title = models.CharField(_("标题"), max_length=200)
    content = models.TextField(_("内容"))
    location_text = models.CharField(_("地点"), max_length=200, blank=True)
    longitude = models.DecimalField(_("经度"), max_digits=10, decimal_places=6, null=True, blank=True)
    latitude = models.DecimalField(_("纬度"), max_digits=10, decimal_places=6, null=True, blank=True)
    grid_cell = models.ForeignKey(
        GridCell, null=True, blank=True, on_delete=models.PROTECT, related_name="work_orders", verbose_name=_("网格")
    )
    # The caller: an account when they filed it themselves, otherwise what they told the operator.
    caller_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="work_orders",
        verbose_name=_("来电人账户"),
    )
    caller_person = models.ForeignKey(
        "accounts.Person", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("来电人")
    )
    caller_name = models.CharField(_("来电人姓名"), max_length=64, blank=True)
    caller_phone_encrypted = models.TextField(_("联系电话（密文）"), blank=True)
    caller_phone_index = models.CharField(_("联系电话（索引）"), max_length=64, blank=True, db_index=True)
    caller_phone_masked = models.CharField(_("联系电话（脱敏）"), max_length=20, blank=True)
    anonymous = models.BooleanField(_("匿名"), default=False)
    # The department that answers (主办); joint handling adds assisting departments as assignments.
    department = models.ForeignKey(
        "directory.Department",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("主办部门"),
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_work_orders",
        verbose_name=_("承办人"),
    )
    dispatch_mode = models.CharField(_("派单方式"), max_length=16, choices=DispatchMode.choices, blank=True)
    # The classifier's suggestions at intake: [{"category", "department", "confidence"}], best first.
    suggestions = models.JSONField(_("派单建议"), default=list, blank=True)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="registered_work_orders",
        verbose_name=_("登记人"),
    )
    # Deadlines in working days from dispatch (dates in Asia/Shanghai).
    acknowledge_due = models.DateField(_("签收期限"), null=True, blank=True)
    due = models.DateField(_("办理期限"), null=True, blank=True)
    callback_due = models.DateField(_("回访期限"), null=True, blank=True)
    # Set while a deadline was computed with a year the working-day calendar does not know yet.
    due_provisional = models.BooleanField(_("期限为暂定"), default=False)
    extension_status = models.CharField(
        _("延期"), max_length=16, choices=ExtensionStatus.choices, blank=True, default=ExtensionStatus.NONE
    )
    extension_days = models.PositiveSmallIntegerField(_("延期天数"), default=0)
    extension_reason = models.TextField(_("延期理由"), blank=True)
    reply = models.TextField(_("答复意见"), blank=True)
    # For consultations answered at once: where the answer came from (an item guide, an earlier reply).
    answer_source = models.CharField(_("答复依据"), max_length=200, blank=True)
    replied_at = models.DateTimeField(_("答复时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    called_back_at = models.DateTimeField(_("回访时间"), null=True, blank=True)
    satisfaction = models.CharField(_("回访评价"), max_length=16, choices=Satisfaction.choices, blank=True)
    callback_note = models.TextField(_("回访记录"), blank=True)
    reopen_count = models.PositiveSmallIntegerField(_("重办次数"), default=0)
    supervised_at = models.DateTimeField(_("督办时间"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("升级时间"), null=True, blank=True)
    # 重复件: merged into (or linked to) the order that carries the answer.
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="duplicates", verbose_name=_("重复于")
    )
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("更新时间"))
    # Optimistic concurrency: every action names the version it saw.
    version = models.PositiveIntegerField(_("版本"), default=1)

    class Meta:
        verbose_name = _("工单")
        verbose_name_plural = _("工单")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["department", "state", "due"], name="hotline_order_department"),
            models.Index(fields=["state", "due"], name="hotline_order_state_due"),
            models.Index(fields=["caller_user", "-created_at"], name="hotline_order_caller"),
            models.Index(fields=["grid_cell", "state"], name="hotline_order_grid"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(longitude__isnull=True, latitude__isnull=True)
                | Q(longitude__isnull=False, latitude__isnull=False),
                name="hotline_order_point_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


class Assignment(models.Model):
    """One department's part in a work order: the lead (主办) or an assisting department (协办)."""

    work_order = models.ForeignKey(
        WorkOrder, on_delete=models.CASCADE, related_name="assignments", verbose_name=_("工单")
    )
    department = models.ForeignKey(
        "directory.Department", on_delete=models.PROTECT, related_name="+", verbose_name=_("部门")
    )
    role = models.CharField(_("角色"), max_length=8, choices=AssignmentRole.choices, default=AssignmentRole.LEAD)
    state = models.CharField(
        _("状态"), max_length=16, choices=AssignmentState.choices, default=AssignmentState.DISPATCHED
    )
    dispatched_at = models.DateTimeField(auto_now_add=True, verbose_name=_("派发时间"))
    acknowledged_at = models.DateTimeField(null=True, blank=True, verbose_name=_("确认时间"))
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("确认人"),
    )
    opinion = models.TextField(_("办理意见"), blank=True)
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("结束时间"))

    class Meta:
        verbose_name = _("派单")
        verbose_name_plural = _("派单")
        ordering = ["work_order", "id"]
        indexes = [models.Index(fields=["department", "state"], name="hotline_assignment_queue")]
        constraints = [
            # One live assignment per department and order; finished ones stay as history.
            models.UniqueConstraint(
                fields=["work_order", "department"],
                condition=Q(state__in=["dispatched", "handling"]),
                name="hotline_assignment_one_live",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.work_order_id}:{self.department_id}:{self.state}"


class WorkOrderEvent(models.Model):
    """Everything that happened to a work order, in order: the timeline and the record."""

    work_order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="events", verbose_name=_("工单"))
    action = models.CharField(_("动作"), max_length=32)
    from_state = models.CharField(max_length=16, blank=True, verbose_name=_("原状态"))
    to_state = models.CharField(max_length=16, blank=True, verbose_name=_("目标状态"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("操作人"),
    )
    actor_label = models.CharField(max_length=100, blank=True, verbose_name=_("操作人名称"))
    department = models.ForeignKey(
        "directory.Department",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("部门"),
    )
    reason = models.TextField(blank=True, verbose_name=_("原因"))
    detail = models.JSONField(default=dict, blank=True, verbose_name=_("详情"))
    # Shown on the public tracking page (internal notes are not).
    public = models.BooleanField(default=True, verbose_name=_("公开"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("创建时间"))

    class Meta:
        verbose_name = _("工单记录")
        verbose_name_plural = _("工单记录")
        ordering = ["work_order", "id"]

    def __str__(self) -> str:
        return f"{self.work_order_id}:{self.action}"


class WorkOrderSequence(models.Model):
    """The last serial number given to work orders on one day (Asia/Shanghai)."""

    day = models.DateField(unique=True, verbose_name=_("日期"))
    last = models.PositiveIntegerField(default=0, verbose_name=_("最新值"))

    class Meta:
        verbose_name = _("工单编号序列")
        verbose_name_plural = _("工单编号序列")

    def __str__(self) -> str:
        return f"{self.day}:{self.last}"


class DispatchCorrection(models.Model):
    """An operator chose another category or department than the classifier suggested: training signal."""

    work_order = models.ForeignKey(
        WorkOrder, on_delete=models.CASCADE, related_name="corrections", verbose_name=_("工单")
    )
    suggested_category = models.CharField(max_length=64, blank=True, verbose_name=_("建议分类"))
    suggested_department = models.CharField(max_length=32, blank=True, verbose_name=_("建议部门"))
    confidence = models.FloatField(null=True, blank=True, verbose_name=_("置信度"))
    chosen_category = models.CharField(max_length=64, verbose_name=_("选定分类"))
    chosen_department = models.CharField(max_length=32, verbose_name=_("选定部门"))
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("操作员")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("创建时间"))

    class Meta:
        verbose_name = _("派单纠正")
        verbose_name_plural = _("派单纠正")

    def __str__(self) -> str:
        return f"{self.work_order_id}: {self.suggested_category} → {self.chosen_category}"


class Attachment(models.Model):
    """A photo or document attached to a work order (a grid report's photos), checked before it is kept."""

    work_order = models.ForeignKey(
        WorkOrder, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("工单")
    )
    name = models.CharField(_("文件名"), max_length=200)
    content_type = models.CharField(max_length=100, verbose_name=_("内容类型"))
    size = models.PositiveIntegerField(verbose_name=_("大小"))
    sha256 = models.CharField(max_length=64, verbose_name=_("SHA-256 摘要"))
    storage_name = models.CharField(max_length=300, verbose_name=_("存储名称"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("上传人"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("创建时间"))

    class Meta:
        verbose_name = _("工单附件")
        verbose_name_plural = _("工单附件")
        ordering = ["work_order", "id"]

    def __str__(self) -> str:
        return self.name
