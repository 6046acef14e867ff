"""The service catalogue: 基本目录 (base items) and 实施清单 (implementations).

An implementation (``ServiceItem``) is versioned copy-on-write: every version
is its own row with its own materials, steps, fees and FAQs, so a published
guide never changes under a reader and a case can later point at exactly the
version it was applied under. At most one version per code is published.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .constants import (
    Audience,
    Channel,
    GuideFact,
    ItemKind,
    ItemStatus,
    Level,
    MaterialForm,
    MaterialRequirement,
    MaterialSource,
    OnlineDepth,
    ThemeAudience,
)


class Window(models.Model):
    """A service counter (窗口) where an item can be handled in person."""

    department = models.ForeignKey(
        "directory.Department", on_delete=models.CASCADE, related_name="windows", verbose_name=_("部门")
    )
    name = models.CharField(_("窗口名称"), max_length=128)
    address = models.CharField(_("办理地点"), max_length=200)
    office_hours = models.CharField(_("办理时间"), max_length=200)
    phone = models.CharField(_("咨询电话"), max_length=64, blank=True)
    # 综合窗口 take any item (无差别受理); others take their department's items.
    is_general = models.BooleanField(_("综合受理窗口"), default=False)

    class Meta:
        verbose_name = _("办事窗口")
        verbose_name_plural = _("办事窗口")
        ordering = ["department", "name"]

    def __str__(self) -> str:
        return f"{self.department.display_name} {self.name}"


class Theme(models.Model):
    """A life event (个人) or business theme (法人) that groups items."""

    code = models.SlugField(_("主题代码"), max_length=32, unique=True)
    name = models.CharField(_("主题名称"), max_length=64)
    audience = models.CharField(_("服务对象"), max_length=16, choices=ThemeAudience.choices)
    description = models.CharField(_("说明"), max_length=200, blank=True)
    sort_order = models.PositiveIntegerField(_("排序"), default=0)

    class Meta:
        verbose_name = _("主题")
        verbose_name_plural = _("主题")
        ordering = ["audience", "sort_order", "code"]

    def __str__(self) -> str:
        return self.name


class BaseItem(models.Model):
    """基本目录: the standard definition shared by every implementation of an item."""

    code = models.CharField(_("基本编码"), max_length=40, unique=True)
    name = models.CharField(_("事项名称"), max_length=200)
    kind = models.CharField(_("事项类型"), max_length=20, choices=ItemKind.choices)
    legal_basis = models.TextField(_("设定依据"), blank=True)

    class Meta:
        verbose_name = _("基本目录事项")
        verbose_name_plural = _("基本目录事项")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"


class ServiceItemQuerySet(models.QuerySet["ServiceItem"]):
    def published(self) -> ServiceItemQuerySet:
        return self.filter(status=ItemStatus.PUBLISHED)


class ServiceItem(models.Model):
    """实施清单: one department's implementation of an item in one region, one version per row."""

    code = models.CharField(_("事项编码"), max_length=80, db_index=True)
    version = models.PositiveIntegerField(_("版本号"), default=1)
    status = models.CharField(_("状态"), max_length=16, choices=ItemStatus.choices, default=ItemStatus.DRAFT)
    base_item = models.ForeignKey(
        BaseItem, on_delete=models.PROTECT, related_name="implementations", verbose_name=_("基本事项")
    )
    department = models.ForeignKey(
        "directory.Department", on_delete=models.PROTECT, related_name="items", verbose_name=_("部门")
    )
    division_code = models.CharField(_("行政区划代码"), max_length=12)
    name = models.CharField(_("事项名称"), max_length=200)
    kind = models.CharField(_("事项类型"), max_length=20, choices=ItemKind.choices)
    level = models.CharField(_("行使层级"), max_length=16, choices=Level.choices)
    audience = models.CharField(_("服务对象"), max_length=16, choices=Audience.choices)
    themes = models.ManyToManyField(Theme, blank=True, related_name="items", verbose_name=_("主题"))
    summary = models.TextField(_("事项简介"), blank=True)
    legal_basis = models.TextField(_("设定依据"), blank=True)
    conditions = models.TextField(_("受理条件"), blank=True)
    statutory_days = models.PositiveIntegerField(_("法定办结时限（工作日）"), null=True, blank=True)
    promised_days = models.PositiveIntegerField(_("承诺办结时限（工作日）"), null=True, blank=True)
    time_limit_note = models.CharField(_("时限说明"), max_length=200, blank=True)
    charges_fee = models.BooleanField(_("是否收费"), default=False)
    online_depth = models.PositiveSmallIntegerField(
        _("办理深度"), choices=OnlineDepth.choices, default=OnlineDepth.ONLINE_APPLICATION
    )
    channels = models.JSONField(_("办理渠道"), default=list, blank=True)
    visits_required = models.PositiveSmallIntegerField(_("到办事现场次数"), default=1)
    # 实名认证等级 the applicant must have reached (1-4, see accounts.constants.AssuranceLevel).
    min_assurance_level = models.PositiveSmallIntegerField(
        _("最低实名等级"), default=2, validators=[MinValueValidator(1), MaxValueValidator(4)]
    )
    # The application form and handling process as data (see yiwang.cases.definitions): an
    # empty object means the defaults derived from the audience, materials and steps.
    application_form = models.JSONField(_("申请表单与情形定义"), default=dict, blank=True)
    process_definition = models.JSONField(_("办理流程定义"), default=dict, blank=True)
    result_name = models.CharField(_("办理结果"), max_length=200, blank=True)
    consult_phone = models.CharField(_("咨询电话"), max_length=64, blank=True)
    complaint_phone = models.CharField(_("监督投诉电话"), max_length=64, blank=True)
    keywords = models.JSONField(_("检索关键词（俗称、别名）"), default=list, blank=True)
    popularity = models.PositiveIntegerField(_("热度"), default=0)
    windows = models.ManyToManyField(Window, blank=True, related_name="items", verbose_name=_("办理窗口"))
    effective_date = models.DateField(_("生效日期"), null=True, blank=True)
    change_note = models.CharField(_("版本说明"), max_length=200, blank=True)
    # GuideFact values the source did not give; guide_complete is false while a required one is
    # among them (kept as a column so that a department's incomplete items can be listed).
    unknown_facts = models.JSONField(_("待补充的指南信息"), default=list, blank=True)
    guide_complete = models.BooleanField(_("办事指南信息完整"), default=True)
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("发布人"),
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("审核人"),
    )
    # Whoever sent this version to review: the one person who may not also publish it (four-eyes).
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("提交审核人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("创建时间"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("更新时间"))

    objects = ServiceItemQuerySet.as_manager()

    class Meta:
        verbose_name = _("政务服务事项")
        verbose_name_plural = _("政务服务事项")
        ordering = ["department__sort_order", "code", "-version"]
        permissions = [("review_serviceitem", _("审核并发布事项"))]
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="catalog_item_code_version_unique"),
            models.UniqueConstraint(
                fields=["code"],
                condition=Q(status=ItemStatus.PUBLISHED),
                name="catalog_item_one_published_version",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "department"], name="catalog_item_status_dept"),
            models.Index(fields=["status", "kind"], name="catalog_item_status_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.name}（v{self.version}）"

    @property
    def has_fee_alternatives(self) -> bool:
        """Whether the guide lists fee lines of which only the one fitting the applicant's situation is charged."""
        return any(fee.situation for fee in self.fees.all())

    @property
    def channel_labels(self) -> list[str]:
        labels = dict(Channel.choices)
        return [str(labels.get(c, c)) for c in self.channels]

    @property
    def is_editable(self) -> bool:
        return self.status in {ItemStatus.DRAFT, ItemStatus.IN_REVIEW}

    @property
    def unknown_fact_labels(self) -> list[str]:
        labels = dict(GuideFact.choices)
        return [str(labels[f]) for f in self.unknown_facts if f in labels]


class Material(models.Model):
    """申请材料."""

    item = models.ForeignKey(ServiceItem, on_delete=models.CASCADE, related_name="materials", verbose_name=_("事项"))
    order = models.PositiveSmallIntegerField(_("序号"), default=0)
    name = models.CharField(_("材料名称"), max_length=200)
    form = models.CharField(_("材料形式"), max_length=20, choices=MaterialForm.choices, default=MaterialForm.ORIGINAL)
    copies = models.PositiveSmallIntegerField(_("份数"), default=1)
    requirement = models.CharField(
        _("必要性"), max_length=16, choices=MaterialRequirement.choices, default=MaterialRequirement.REQUIRED
    )
    condition = models.CharField(_("提交情形"), max_length=300, blank=True)
    source = models.CharField(
        _("来源渠道"), max_length=16, choices=MaterialSource.choices, default=MaterialSource.APPLICANT
    )
    source_name = models.CharField(_("共享来源或电子证照类型"), max_length=100, blank=True)
    blank_form = models.CharField(_("空白表格"), max_length=200, blank=True)
    sample = models.CharField(_("示例样表"), max_length=200, blank=True)
    note = models.CharField(_("填报说明"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("申请材料")
        verbose_name_plural = _("申请材料")
        ordering = ["item", "order", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def can_be_waived(self) -> bool:
        return self.source in {
            MaterialSource.SHARED_DATA,
            MaterialSource.E_LICENCE,
            MaterialSource.ISSUED_BY_DEPARTMENT,
        }


class ProcessStep(models.Model):
    """办理环节."""

    item = models.ForeignKey(ServiceItem, on_delete=models.CASCADE, related_name="steps", verbose_name=_("事项"))
    order = models.PositiveSmallIntegerField(_("序号"), default=0)
    name = models.CharField(_("环节名称"), max_length=64)
    role = models.CharField(_("办理人员"), max_length=64, blank=True)
    description = models.TextField(_("环节说明"), blank=True)
    days = models.PositiveSmallIntegerField(_("环节时限（工作日）"), null=True, blank=True)
    # A step may ask more than the item does (e.g. signing a decision in person): null = the item's level.
    min_assurance_level = models.PositiveSmallIntegerField(
        _("本环节最低实名等级"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(4)]
    )

    class Meta:
        verbose_name = _("办理环节")
        verbose_name_plural = _("办理环节")
        ordering = ["item", "order", "id"]

    def __str__(self) -> str:
        return self.name


class Fee(models.Model):
    """收费项目."""

    item = models.ForeignKey(ServiceItem, on_delete=models.CASCADE, related_name="fees", verbose_name=_("事项"))
    name = models.CharField(_("收费项目"), max_length=100)
    amount = models.DecimalField(_("金额（元）"), max_digits=10, decimal_places=2, default=Decimal("0"))
    unit = models.CharField(_("计费单位"), max_length=50, blank=True)
    basis = models.CharField(_("收费依据"), max_length=300, blank=True)
    note = models.CharField(_("说明"), max_length=300, blank=True)
    # Lines with a situation are alternatives (损坏换领 40 元 or 到期换领 20 元): one of them is charged, picked by
    # the applicant's answer or, failing that, by the approver. Lines without one are always charged.
    situation = models.CharField(
        _("适用情形"),
        max_length=200,
        blank=True,
        help_text=_("同一事项中填写了适用情形的收费项目互为选择，只收其中一项；未填写的一律收取"),
    )

    class Meta:
        verbose_name = _("收费项目")
        verbose_name_plural = _("收费项目")
        ordering = ["item", "id"]

    def __str__(self) -> str:
        return self.name


class Faq(models.Model):
    """常见问题."""

    item = models.ForeignKey(ServiceItem, on_delete=models.CASCADE, related_name="faqs", verbose_name=_("事项"))
    order = models.PositiveSmallIntegerField(_("序号"), default=0)
    question = models.CharField(_("问题"), max_length=300)
    answer = models.TextField(_("解答"))

    class Meta:
        verbose_name = _("常见问题")
        verbose_name_plural = _("常见问题")
        ordering = ["item", "order", "id"]

    def __str__(self) -> str:
        return self.question


class Bundle(models.Model):
    """一件事: several items applied for together and handled in parallel."""

    code = models.SlugField(_("一件事代码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    audience = models.CharField(_("服务对象"), max_length=16, choices=Audience.choices)
    theme = models.ForeignKey(
        Theme, null=True, blank=True, on_delete=models.SET_NULL, related_name="bundles", verbose_name=_("主题")
    )
    summary = models.TextField(_("简介"), blank=True)
    promised_days = models.PositiveIntegerField(_("承诺办结时限（工作日）"), null=True, blank=True)
    partner_services = models.JSONField(_("联办的公共服务"), default=list, blank=True)
    keywords = models.JSONField(_("检索关键词"), default=list, blank=True)
    status = models.CharField(_("状态"), max_length=16, choices=ItemStatus.choices, default=ItemStatus.DRAFT)
    popularity = models.PositiveIntegerField(_("热度"), default=0)
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("更新时间"))

    class Meta:
        verbose_name = _("一件事")
        verbose_name_plural = _("一件事")
        ordering = ["-popularity", "code"]

    def __str__(self) -> str:
        return self.name


class BundleItem(models.Model):
    """One item in a bundle, referred to by its code so it follows new versions."""

    bundle = models.ForeignKey(Bundle, on_delete=models.CASCADE, related_name="members", verbose_name=_("一件事"))
    item_code = models.CharField(_("事项编码"), max_length=80)
    order = models.PositiveSmallIntegerField(_("序号"), default=0)
    # Members sharing a choice group are alternatives (e.g. 个体工商户 or 企业 registration).
    choice_group = models.CharField(_("可选组"), max_length=64, blank=True)
    condition = models.CharField(_("适用情形"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("一件事包含事项")
        verbose_name_plural = _("一件事包含事项")
        ordering = ["bundle", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["bundle", "item_code"], name="catalog_bundle_item_unique"),
        ]

    def __str__(self) -> str:
        return self.item_code


class SearchIndexChange(models.Model):
    """A change the in-process search indexes must apply.

    Every process keeps its own index and the id of the last change it has
    applied; a search first applies newer rows, so an item published in one
    process is findable from all of them without a restart.
    """

    class Target(models.TextChoices):
        ITEM = "item", _("事项")
        BUNDLE = "bundle", _("一件事")

    target = models.CharField(max_length=8, choices=Target.choices, verbose_name=_("对象"))
    code = models.CharField(max_length=80, verbose_name=_("编码"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("创建时间"))

    class Meta:
        verbose_name = _("检索索引变更")
        verbose_name_plural = _("检索索引变更")

    def __str__(self) -> str:
        return f"{self.target}:{self.code}"


class SearchVector(models.Model):
    """The embedding of one search passage, computed once and shared by every process.

    Keyed by a digest of the model name and the passage text: an item whose
    guide text changes gets a new passage and so a new row, an unchanged one
    is never embedded again (a worker start reads the rows instead of running
    the model over the whole catalogue). Rows nothing refers to any more stay
    (a few KB each) until the table is cleared; a rebuild recreates what is needed.
    """

    digest = models.CharField(_("摘要"), max_length=64, unique=True)
    vector = models.BinaryField(_("向量"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("创建时间"))

    class Meta:
        verbose_name = _("检索向量")
        verbose_name_plural = _("检索向量")

    def __str__(self) -> str:
        return self.digest[:12]


class SearchChoice(models.Model):
    """How often people who searched a (normalised) query chose a result: aggregated, never per person.

    No user, session, address or time of a single choice is kept: only the
    query's normalised key, the chosen item or bundle and a count. The ranking
    uses a count only from ``SEARCH_CHOICE_MIN_COUNT`` upwards, so a few clicks
    cannot steer what everybody sees.
    """

    query_key = models.CharField(_("查询词（规范化）"), max_length=100)
    target = models.CharField(max_length=8, choices=SearchIndexChange.Target.choices, verbose_name=_("对象"))
    code = models.CharField(_("编码"), max_length=80)
    count = models.PositiveIntegerField(_("选择次数"), default=0)
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("更新时间"))

    class Meta:
        verbose_name = _("检索选择统计")
        verbose_name_plural = _("检索选择统计")
        constraints = [
            models.UniqueConstraint(fields=["query_key", "target", "code"], name="catalog_search_choice_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.query_key} → {self.target}:{self.code} ×{self.count}"
