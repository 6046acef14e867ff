"""Tables of 好差评: counter visits, ratings, invitations, appeals and the pre-aggregated tallies.

Every change goes through :mod:`yiwang.feedback.services`, which keeps the
tallies in step with the ratings in the same transaction.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from yiwang.feedback.constants import AppealStatus, Level, RatingChannel, RatingStatus, ServiceMode


class Visit(models.Model):
    """One visit at a counter (一次一评): opened by the clerk who served the person, rated once."""

    token = models.CharField(max_length=32, unique=True, verbose_name=_("令牌"))
    department = models.ForeignKey(
        "directory.Department", on_delete=models.PROTECT, related_name="+", verbose_name=_("部门")
    )
    window = models.ForeignKey(
        "catalog.Window", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("窗口")
    )
    clerk = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("窗口人员")
    )
    item_code = models.CharField(max_length=64, blank=True, verbose_name=_("事项编码"))
    item_name = models.CharField(max_length=200, blank=True, verbose_name=_("事项名称"))
    case = models.ForeignKey(
        "cases.Case", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("办件")
    )
    person = models.ForeignKey(
        "accounts.Person", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("个人")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("创建时间"))
    expires_at = models.DateTimeField(verbose_name=_("过期时间"))

    class Meta:
        verbose_name = _("窗口服务")
        verbose_name_plural = _("窗口服务")

    def __str__(self) -> str:
        return f"{self.department_id}:{self.created_at:%Y-%m-%d %H:%M}"


class Rating(models.Model):
    """好差评: one rating of one online case (一事一评) or one counter visit (一次一评)."""

    mode = models.CharField(_("服务方式"), max_length=8, choices=ServiceMode.choices)
    case = models.ForeignKey(
        "cases.Case", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("办件")
    )
    visit = models.OneToOneField(
        Visit, null=True, blank=True, on_delete=models.PROTECT, related_name="rating", verbose_name=_("访问")
    )
    level = models.PositiveSmallIntegerField(_("总体评价"), choices=Level.choices)
    # {dimension: level} for the dimensions of the mode (feedback.constants.DIMENSIONS).
    scores = models.JSONField(_("分项评价"), default=dict)
    comment = models.TextField(_("评价内容"), blank=True)
    # The comment as published: mobile and ID numbers and e-mail addresses masked (services.scrub).
    public_comment = models.TextField(_("公开评价内容"), blank=True)
    channel = models.CharField(_("评价渠道"), max_length=16, choices=RatingChannel.choices)
    rater_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ratings",
        verbose_name=_("评价人（用户）"),
    )
    rater_person = models.ForeignKey(
        "accounts.Person",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("评价人（个人）"),
    )
    # Real-name ratings come from a verified person; only they start rectification.
    real_name = models.BooleanField(_("实名评价"), default=False)
    # For the hotline operator entering a caller's rating.
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("录入人"),
    )
    department = models.ForeignKey(
        "directory.Department", on_delete=models.PROTECT, related_name="+", verbose_name=_("部门")
    )
    item_code = models.CharField(_("事项编码"), max_length=64, blank=True)
    item_name = models.CharField(_("事项名称"), max_length=200, blank=True)
    window = models.ForeignKey(
        "catalog.Window", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("窗口")
    )
    clerk = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("窗口人员"),
    )
    # Keyed hashes, never the raw values: enough to see many ratings from one device or address.
    device_hash = models.CharField(max_length=64, blank=True, db_index=True, verbose_name=_("设备摘要"))
    address_hash = models.CharField(max_length=64, blank=True, verbose_name=_("地址摘要"))
    status = models.CharField(_("状态"), max_length=16, choices=RatingStatus.choices, default=RatingStatus.COUNTED)
    # Names of the rules that flagged it (feedback.suspicion).
    flags = models.JSONField(_("疑似原因"), default=list, blank=True)
    review_note = models.TextField(_("核查意见"), blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("审核人"),
    )
    reviewed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("审核时间"))
    rectification_order = models.ForeignKey(
        "hotline.WorkOrder",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("整改通知"),
    )
    # Set once, when the rectification order first closes: whether it closed within its time limit.
    rectified_on_time = models.BooleanField(_("按期整改"), null=True, blank=True)
    # The rater's word after the rectification: resolved or not (None: not asked or not answered yet).
    resolved = models.BooleanField(_("问题已解决"), null=True, blank=True)
    # The local (Asia/Shanghai) day, the key of the tallies.
    day = models.DateField(verbose_name=_("日期"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("创建时间"))

    class Meta:
        verbose_name = _("评价")
        verbose_name_plural = _("评价")
        ordering = ["-created_at"]
        constraints = [
            # 一事一评: one rating per case online (a counter visit has its own one-to-one).
            models.UniqueConstraint(fields=["case"], condition=Q(visit__isnull=True), name="feedback_one_per_case"),
            models.CheckConstraint(condition=Q(level__gte=1, level__lte=5), name="feedback_level_range"),
            models.CheckConstraint(
                condition=Q(case__isnull=False) | Q(visit__isnull=False), name="feedback_rates_something"
            ),
        ]
        indexes = [
            models.Index(fields=["rater_user", "-created_at"], name="feedback_rating_rater"),
            models.Index(fields=["department", "day"], name="feedback_rating_department"),
            models.Index(fields=["status", "-created_at"], name="feedback_rating_status"),
            models.Index(fields=["clerk", "-created_at"], name="feedback_rating_clerk"),
        ]

    def __str__(self) -> str:
        return f"{self.get_level_display()} {self.item_name}"


class Invitation(models.Model):
    """A link to rate (sent by SMS, shown as a QR code): usable once, by whoever holds it, until it expires."""

    token = models.CharField(max_length=32, unique=True, verbose_name=_("令牌"))
    case = models.ForeignKey(
        "cases.Case", null=True, blank=True, on_delete=models.CASCADE, related_name="+", verbose_name=_("办件")
    )
    visit = models.ForeignKey(
        Visit, null=True, blank=True, on_delete=models.CASCADE, related_name="invitations", verbose_name=_("访问")
    )
    channel = models.CharField(max_length=16, choices=RatingChannel.choices, verbose_name=_("渠道"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("创建时间"))
    expires_at = models.DateTimeField(verbose_name=_("过期时间"))
    used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("使用时间"))

    class Meta:
        verbose_name = _("评价邀请")
        verbose_name_plural = _("评价邀请")

    def __str__(self) -> str:
        return f"{self.channel}:{self.case_id or self.visit_id}"


class Appeal(models.Model):
    """申诉: a department asks for a bad rating it believes mistaken or malicious to be excluded."""

    rating = models.ForeignKey(Rating, on_delete=models.PROTECT, related_name="appeals", verbose_name=_("评分"))
    department = models.ForeignKey(
        "directory.Department", on_delete=models.PROTECT, related_name="+", verbose_name=_("部门")
    )
    reason = models.TextField(_("申诉理由"))
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("提交人")
    )
    status = models.CharField(_("状态"), max_length=16, choices=AppealStatus.choices, default=AppealStatus.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("决定人"),
    )
    decision_reason = models.TextField(_("裁定理由"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("创建时间"))
    decided_at = models.DateTimeField(null=True, blank=True, verbose_name=_("决定时间"))

    class Meta:
        verbose_name = _("差评申诉")
        verbose_name_plural = _("差评申诉")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["rating"], condition=Q(status="pending"), name="feedback_one_pending_appeal"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rating_id}:{self.status}"


class Counts(models.Model):
    """The counted ratings of a tally row, by level, and the rectifications among them."""

    level_1 = models.PositiveIntegerField(default=0, verbose_name=_("一级"))
    level_2 = models.PositiveIntegerField(default=0, verbose_name=_("二级"))
    level_3 = models.PositiveIntegerField(default=0, verbose_name=_("三级"))
    level_4 = models.PositiveIntegerField(default=0, verbose_name=_("四级"))
    level_5 = models.PositiveIntegerField(default=0, verbose_name=_("五级"))
    # Bad ratings whose rectification order has come due, and those of them closed on time.
    rectification_due = models.PositiveIntegerField(default=0, verbose_name=_("整改期限"))
    rectified_on_time = models.PositiveIntegerField(default=0, verbose_name=_("按时整改"))

    class Meta:
        abstract = True


class Tally(Counts):
    """Counted ratings per day, department, item, channel and window, kept in step with every rating.

    Public results sum these rows over a period instead of counting ratings,
    so they stay fast however many ratings there are.
    """

    day = models.DateField(verbose_name=_("日期"))
    department = models.ForeignKey(
        "directory.Department", on_delete=models.PROTECT, related_name="+", verbose_name=_("部门")
    )
    item_code = models.CharField(max_length=64, blank=True, verbose_name=_("事项编码"))
    channel = models.CharField(max_length=16, choices=RatingChannel.choices, verbose_name=_("渠道"))
    mode = models.CharField(max_length=8, choices=ServiceMode.choices, verbose_name=_("方式"))
    # 0 for ratings not given at a window, so the row key has no NULL in it.
    window_id = models.BigIntegerField(default=0, verbose_name=_("窗口编号"))

    class Meta:
        verbose_name = _("评价汇总")
        verbose_name_plural = _("评价汇总")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "department", "item_code", "channel", "mode", "window_id"], name="feedback_tally_key"
            ),
        ]
        indexes = [models.Index(fields=["department", "day"], name="feedback_tally_department")]

    def __str__(self) -> str:
        return f"{self.day}:{self.department_id}:{self.item_code}:{self.channel}"


class DepartmentDayTally(Counts):
    """The same counts per department and day only, kept beside :class:`Tally`.

    The results most asked for (every department over a year) sum one row
    per department and day here instead of one per item, channel and window.
    """

    day = models.DateField(verbose_name=_("日期"))
    department = models.ForeignKey(
        "directory.Department", on_delete=models.PROTECT, related_name="+", verbose_name=_("部门")
    )

    class Meta:
        verbose_name = _("部门评价日汇总")
        verbose_name_plural = _("部门评价日汇总")
        constraints = [models.UniqueConstraint(fields=["day", "department"], name="feedback_department_day_key")]

    def __str__(self) -> str:
        return f"{self.day}:{self.department_id}"
