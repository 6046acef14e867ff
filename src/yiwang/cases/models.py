"""Tables of case handling: applications, cases (办件), their tasks, events, fees.

Every change goes through :mod:`yiwang.cases.services`; the transition table
in :mod:`yiwang.cases.workflow` decides which changes are legal. The admin
shows these tables read-only.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from yiwang.cases.constants import (
    OPEN_CASE_STATES,
    ApplicationState,
    CaseOutcome,
    CaseState,
    Channel,
    ExtensionStatus,
    PauseReason,
    PaymentStatus,
    ScanStatus,
    StepKind,
    TaskStatus,
)


class Application(models.Model):
    """What the applicant fills in once: answers, form data and materials, for one item or one bundle.

    A draft saves as the applicant goes and can be resumed on any channel;
    submitting it makes one case per item (a bundle fans out).
    """

    state = models.CharField(_("状态"), max_length=16, choices=ApplicationState.choices, default=ApplicationState.DRAFT)
    # The account that filled it in: the applicant, a delegate or a counter clerk.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="applications", verbose_name=_("填报账户")
    )
    # Who the application is for: the person (for an organisation, the person applying for it).
    applicant_person = models.ForeignKey(
        "accounts.Person", on_delete=models.PROTECT, related_name="+", verbose_name=_("申请人")
    )
    applicant_organisation = models.ForeignKey(
        "accounts.Organisation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("申请单位"),
    )
    # Who filled it in when not the applicant: a counter clerk or a delegate (经办人).
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="applications_as_agent",
        verbose_name=_("经办人"),
    )
    assisted_basis = models.CharField(_("代办依据"), max_length=200, blank=True)
    channel = models.CharField(_("渠道"), max_length=16, choices=Channel.choices, default=Channel.ONLINE)
    item_code = models.CharField(_("事项编码"), max_length=80, blank=True)
    bundle_code = models.CharField(_("一件事代码"), max_length=40, blank=True)
    situation_answers = models.JSONField(_("情形选择"), default=dict, blank=True)
    form_data = models.JSONField(_("表单数据"), default=dict, blank=True)
    # 免填: the fields filled in for the applicant when the draft was opened, {key: {"source", "digest"}}; the
    # digest (a keyed hash of the value put in) tells at submission whether the applicant kept it (ADR 0032).
    prefilled = models.JSONField(_("预填字段"), default=dict, blank=True)
    # The client's idempotency key for submission: a retried request finds the same cases.
    submission_key = models.CharField(max_length=64, null=True, blank=True, unique=True, verbose_name=_("提交键"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("创建时间"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("更新时间"))
    submitted_at = models.DateTimeField(_("提交时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("申请")
        verbose_name_plural = _("申请")
        ordering = ["-id"]
        indexes = [models.Index(fields=["applicant_person", "state"], name="cases_application_person")]
        constraints = [
            models.CheckConstraint(
                condition=(Q(item_code="") & ~Q(bundle_code="")) | (~Q(item_code="") & Q(bundle_code="")),
                name="cases_application_item_xor_bundle",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.bundle_code or self.item_code}"


class ApplicationFile(models.Model):
    """One uploaded material file, checked (type, size, content, virus scan) before it was stored."""

    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="files", verbose_name=_("应用"))
    material_key = models.CharField(_("材料"), max_length=64)
    original_name = models.CharField(_("文件名"), max_length=200)
    storage_name = models.CharField(max_length=300, unique=True, verbose_name=_("存储名称"))
    content_type = models.CharField(_("文件类型"), max_length=100)
    size = models.PositiveBigIntegerField(_("大小（字节）"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    scan_status = models.CharField(_("病毒扫描"), max_length=16, choices=ScanStatus.choices)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("上传人")
    )
    uploaded_at = models.DateTimeField(auto_now_add=True, verbose_name=_("上传时间"))
    # Set when the applicant removes the file or replaces it during correction; kept for the record.
    superseded_at = models.DateTimeField(null=True, blank=True, verbose_name=_("被取代时间"))

    class Meta:
        verbose_name = _("申请材料文件")
        verbose_name_plural = _("申请材料文件")
        ordering = ["id"]
        indexes = [models.Index(fields=["application", "material_key"], name="cases_file_material")]

    def __str__(self) -> str:
        return self.original_name


class CaseNumberSequence(models.Model):
    """The last serial number given to a department's cases on one day (Asia/Shanghai)."""

    department = models.ForeignKey(
        "directory.Department", on_delete=models.PROTECT, related_name="+", verbose_name=_("部门")
    )
    day = models.DateField(verbose_name=_("日期"))
    last = models.PositiveIntegerField(default=0, verbose_name=_("最新值"))

    class Meta:
        verbose_name = _("办件编号序列")
        verbose_name_plural = _("办件编号序列")
        constraints = [models.UniqueConstraint(fields=["department", "day"], name="cases_number_sequence_unique")]

    def __str__(self) -> str:
        return f"{self.department_id}:{self.day}:{self.last}"


class BundleNumberSequence(models.Model):
    """The last serial number given to a bundle submission on one day (Asia/Shanghai)."""

    day = models.DateField(unique=True, verbose_name=_("日期"))
    last = models.PositiveIntegerField(default=0, verbose_name=_("最新值"))

    class Meta:
        verbose_name = _("一件事编号序列")
        verbose_name_plural = _("一件事编号序列")

    def __str__(self) -> str:
        return f"{self.day}:{self.last}"


class BundleSubmission(models.Model):
    """一件事 as the applicant sees it: one number and one 查询码 for all the cases a bundle application made.

    Each member case keeps its own number for the departments that handle it;
    the applicant follows the bundle by this one.
    """

    # YJS-<YYYYMMDD>-<6-digit serial>; see docs/cases.md.
    number = models.CharField(_("一件事编号"), max_length=64, unique=True)
    verification_code = models.CharField(_("查询码"), max_length=8)
    application = models.OneToOneField(
        Application, on_delete=models.PROTECT, related_name="bundle_submission", verbose_name=_("应用")
    )
    bundle_code = models.CharField(_("一件事代码"), max_length=40)
    bundle_name = models.CharField(_("一件事名称"), max_length=200)
    applicant_person = models.ForeignKey(
        "accounts.Person", on_delete=models.PROTECT, related_name="+", verbose_name=_("申请人")
    )
    applicant_organisation = models.ForeignKey(
        "accounts.Organisation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("申请单位"),
    )
    submitted_at = models.DateTimeField(_("提交时间"))

    class Meta:
        verbose_name = _("一件事办件")
        verbose_name_plural = _("一件事办件")
        ordering = ["-id"]
        indexes = [models.Index(fields=["applicant_person", "-submitted_at"], name="cases_bundle_person")]

    def __str__(self) -> str:
        return f"{self.number} {self.bundle_name}"


class Case(models.Model):
    """办件: one item applied for by one applicant, carried from submission to closing."""

    # <department code>-<YYYYMMDD>-<6-digit serial>; see docs/cases.md.
    number = models.CharField(_("办件编号"), max_length=64, unique=True)
    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="cases", verbose_name=_("应用"))
    # The exact catalogue version applied for: later versions do not change a running case.
    item = models.ForeignKey("catalog.ServiceItem", on_delete=models.PROTECT, related_name="+", verbose_name=_("事项"))
    item_code = models.CharField(_("事项编码"), max_length=80, db_index=True)
    item_name = models.CharField(_("事项名称"), max_length=200)
    department = models.ForeignKey(
        "directory.Department", on_delete=models.PROTECT, related_name="+", verbose_name=_("受理部门")
    )
    state = models.CharField(_("状态"), max_length=24, choices=CaseState.choices, default=CaseState.SUBMITTED)
    outcome = models.CharField(_("办理结果"), max_length=16, choices=CaseOutcome.choices, blank=True, default="")
    current_stage = models.CharField(_("当前环节"), max_length=32, blank=True)
    channel = models.CharField(_("渠道"), max_length=16, choices=Channel.choices)
    applicant_person = models.ForeignKey(
        "accounts.Person", on_delete=models.PROTECT, related_name="+", verbose_name=_("申请人")
    )
    applicant_organisation = models.ForeignKey(
        "accounts.Organisation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("申请单位"),
    )
    applicant_name = models.CharField(_("申请人"), max_length=200)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("代理人"),
    )
    assisted_basis = models.CharField(_("代办依据"), max_length=200, blank=True)
    # 办件查询: the number plus this code shows the public progress, which carries no personal data.
    verification_code = models.CharField(_("查询码"), max_length=8)
    requires_payment = models.BooleanField(_("需缴费"), default=False)
    submitted_at = models.DateTimeField(_("提交时间"))
    accepted_at = models.DateTimeField(_("受理时间"), null=True, blank=True)
    decided_at = models.DateTimeField(_("决定时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    statutory_due = models.DateField(_("法定办结期限"), null=True, blank=True)
    promised_due = models.DateField(_("承诺办结期限"), null=True, blank=True)
    # True while a deadline falls in a year whose holidays are not known yet.
    due_provisional = models.BooleanField(_("期限待确认"), default=False)
    correction_due = models.DateField(_("补正期限"), null=True, blank=True)
    # While the clock stops (suspended, or waiting for the applicant's correction).
    paused_since = models.DateTimeField(_("计时暂停自"), null=True, blank=True)
    # The state a correction or suspension returns to.
    return_state = models.CharField(max_length=24, blank=True, verbose_name=_("退回状态"))
    version = models.PositiveIntegerField(_("版本"), default=1)
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("更新时间"))

    class Meta:
        verbose_name = _("办件")
        verbose_name_plural = _("办件")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["applicant_person", "-submitted_at"], name="cases_case_person"),
            models.Index(fields=["applicant_organisation", "-submitted_at"], name="cases_case_organisation"),
            models.Index(
                fields=["department", "promised_due", "id"],
                name="cases_case_open_by_due",
                condition=Q(state__in=sorted(OPEN_CASE_STATES)),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.item_name}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_CASE_STATES


class CaseTask(models.Model):
    """One step of a case's process for one department and role (parallel branches are sibling tasks)."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="tasks", verbose_name=_("办件"))
    stage = models.CharField(_("环节"), max_length=32)
    kind = models.CharField(_("环节类型"), max_length=16, choices=StepKind.choices)
    name = models.CharField(_("名称"), max_length=64)
    department = models.ForeignKey(
        "directory.Department", on_delete=models.PROTECT, related_name="+", verbose_name=_("部门")
    )
    role = models.CharField(_("办理角色"), max_length=24)
    status = models.CharField(_("状态"), max_length=16, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    due = models.DateField(_("环节期限"), null=True, blank=True)
    started_at = models.DateTimeField(auto_now_add=True, verbose_name=_("开始时间"))
    completed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("完成时间"))
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("完成人"),
    )
    opinion = models.TextField(_("办理意见"), blank=True)

    class Meta:
        verbose_name = _("办理环节")
        verbose_name_plural = _("办理环节")
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["department", "due", "id"],
                name="cases_task_open_by_due",
                condition=Q(status=TaskStatus.OPEN),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case_id}:{self.stage}:{self.department_id}"


class CaseEvent(models.Model):
    """One thing that happened to a case: the case's own record, shown as its timeline."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="events", verbose_name=_("办件"))
    action = models.CharField(_("动作"), max_length=32)
    from_state = models.CharField(max_length=24, blank=True, verbose_name=_("原状态"))
    to_state = models.CharField(max_length=24, blank=True, verbose_name=_("目标状态"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("操作人"),
    )
    actor_label = models.CharField(_("操作人"), max_length=200)
    on_behalf_of = models.CharField(_("代表"), max_length=200, blank=True)
    reason = models.TextField(_("理由"), blank=True)
    detail = models.JSONField(default=dict, blank=True, verbose_name=_("详情"))
    attachments = models.JSONField(_("附件"), default=list, blank=True)
    # Whether the applicant and the public see this entry on the timeline.
    public = models.BooleanField(default=True, verbose_name=_("公开"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("创建时间"))

    class Meta:
        verbose_name = _("办件记录")
        verbose_name_plural = _("办件记录")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.case_id}:{self.action}"


class CorrectionNotice(models.Model):
    """补正告知 (一次性告知): every material and field to fix, listed at once."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="corrections", verbose_name=_("办件"))
    # [{"kind": "material"|"field", "key": ..., "label": ..., "problem": ...}]
    items = models.JSONField(_("需补正内容"))
    due = models.DateField(_("补正期限"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("创建人")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("创建时间"))
    resolved_at = models.DateTimeField(null=True, blank=True, verbose_name=_("解决时间"))

    class Meta:
        verbose_name = _("补正告知")
        verbose_name_plural = _("补正告知")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.case_id}:{len(self.items)}"


class ClockPause(models.Model):
    """A stretch during which a case's time limit does not run."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="pauses", verbose_name=_("办件"))
    reason = models.CharField(max_length=16, choices=PauseReason.choices, verbose_name=_("原因"))
    started_at = models.DateTimeField(verbose_name=_("开始时间"))
    ended_at = models.DateTimeField(null=True, blank=True, verbose_name=_("结束时间"))
    working_days = models.PositiveIntegerField(default=0, verbose_name=_("工作日数"))

    class Meta:
        verbose_name = _("时限暂停")
        verbose_name_plural = _("时限暂停")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.case_id}:{self.reason}:{self.started_at:%Y-%m-%d}"


class Extension(models.Model):
    """延期: a request to move a case's deadline, which an approver grants or refuses."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="extensions", verbose_name=_("办件"))
    days = models.PositiveSmallIntegerField(_("延长工作日"))
    reason = models.TextField(_("理由"))
    status = models.CharField(
        max_length=16, choices=ExtensionStatus.choices, default=ExtensionStatus.REQUESTED, verbose_name=_("状态")
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("申请人")
    )
    requested_at = models.DateTimeField(auto_now_add=True, verbose_name=_("申请时间"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("决定人"),
    )
    decided_at = models.DateTimeField(null=True, blank=True, verbose_name=_("决定时间"))
    decision_reason = models.TextField(blank=True, verbose_name=_("决定理由"))

    class Meta:
        verbose_name = _("延期申请")
        verbose_name_plural = _("延期申请")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.case_id}:+{self.days}:{self.status}"


class PaymentOrder(models.Model):
    """A fee to pay before a case can proceed (缴费单)."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="payments", verbose_name=_("办件"))
    order_number = models.CharField(_("缴款单号"), max_length=40, unique=True)
    amount = models.DecimalField(_("金额（元）"), max_digits=12, decimal_places=2)
    description = models.CharField(_("收费项目"), max_length=200)
    provider = models.CharField(max_length=32, verbose_name=_("服务商"))
    status = models.CharField(
        max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.PENDING, verbose_name=_("状态")
    )
    provider_trade_number = models.CharField(max_length=64, blank=True, verbose_name=_("服务商交易号"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("创建时间"))
    paid_at = models.DateTimeField(null=True, blank=True, verbose_name=_("支付时间"))

    class Meta:
        verbose_name = _("缴款单")
        verbose_name_plural = _("缴款单")
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.order_number


class PaymentCallback(models.Model):
    """Every callback the payment provider sent, kept as received, whatever became of it."""

    provider = models.CharField(max_length=32, verbose_name=_("服务商"))
    notification_id = models.CharField(max_length=64, blank=True, verbose_name=_("通知编号"))
    order = models.ForeignKey(
        PaymentOrder, null=True, blank=True, on_delete=models.PROTECT, related_name="callbacks", verbose_name=_("订单")
    )
    body = models.TextField(verbose_name=_("正文"))
    signature_valid = models.BooleanField(verbose_name=_("签名有效"))
    outcome = models.CharField(max_length=32, verbose_name=_("结果"))
    received_at = models.DateTimeField(auto_now_add=True, verbose_name=_("接收时间"))

    class Meta:
        verbose_name = _("支付回调")
        verbose_name_plural = _("支付回调")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.provider}:{self.notification_id}:{self.outcome}"


class FieldSaving(models.Model):
    """六减 (减填): one field a submitted case's applicant did not type, because it was prefilled and kept.

    Recorded once per case and field at submission; a bundle records each member case's own fields.
    """

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="field_savings", verbose_name=_("办件"))
    item_code = models.CharField(_("事项编码"), max_length=80, db_index=True)
    field_key = models.CharField(_("字段"), max_length=80)
    # profile (实名信息、单位信息) or earlier (此前的申请)
    source = models.CharField(_("预填来源"), max_length=16)
    created_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("免填字段记录")
        verbose_name_plural = _("免填字段记录")
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["case", "field_key"], name="cases_field_saving_unique")]

    def __str__(self) -> str:
        return f"{self.case_id}:{self.field_key}"
