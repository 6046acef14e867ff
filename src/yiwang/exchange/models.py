"""Tables of the exchange app: the resource catalogue, data services, consents, exchanges, materials fetched
into applications, and the provider tables that the demo city's departments answer from.

A person's identifier in a provider table is stored as the platform stores it
elsewhere: SM4 ciphertext, a blind index for lookup (the same index as
``accounts.Person.document_number_index``, so a person is found without
decrypting anything) and a mask for screens.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .constants import LOCAL_TRANSPORT, Backend, OpenType, Outcome, ShareType, SubjectKind, UpdateCycle


class Resource(models.Model):
    """政务信息资源目录: one resource a department holds, its fields and the terms on which it is shared."""

    code = models.CharField(_("资源代码"), max_length=40, unique=True)
    name = models.CharField(_("资源名称"), max_length=100)
    department = models.ForeignKey(
        "directory.Department", on_delete=models.PROTECT, related_name="+", verbose_name=_("提供部门")
    )
    description = models.TextField(_("资源摘要"), blank=True)
    subject_kind = models.CharField(_("信息主体"), max_length=16, choices=SubjectKind.choices)
    share_type = models.CharField(_("共享类型"), max_length=16, choices=ShareType.choices)
    share_conditions = models.CharField(_("共享条件"), max_length=300, blank=True)
    open_type = models.CharField(_("开放类型"), max_length=20, choices=OpenType.choices, default=OpenType.NOT_OPEN)
    legal_basis = models.CharField(_("共享依据"), max_length=300, blank=True)
    update_cycle = models.CharField(_("更新周期"), max_length=16, choices=UpdateCycle.choices)
    owner = models.CharField(_("责任处室"), max_length=100, blank=True)
    active = models.BooleanField(_("在用"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("信息资源")
        verbose_name_plural = _("信息资源目录")
        ordering = ["department__sort_order", "code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class ResourceField(models.Model):
    """信息项: one field of a resource, with its own share type (never more open than the resource's)."""

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="fields", verbose_name=_("信息资源"))
    key = models.CharField(_("信息项代码"), max_length=40)
    label = models.CharField(_("信息项名称"), max_length=60)
    share_type = models.CharField(_("共享类型"), max_length=16, choices=ShareType.choices)
    position = models.PositiveSmallIntegerField(_("顺序"), default=0)

    class Meta:
        verbose_name = _("信息项")
        verbose_name_plural = _("信息项")
        ordering = ["resource_id", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["resource", "key"], name="exchange_field_unique")]

    def __str__(self) -> str:
        return f"{self.resource.code}.{self.key}"


class DataService(models.Model):
    """A data service a provider registered over a resource: how it is reached and which materials it answers.

    ``transport`` names the transport that carries a request to the provider
    (``local``: this node's tables; ``node:<peer code>``: the service of that
    name, or ``remote_code``, on another platform node, see
    ``yiwang.exchange.remote``). ``material_sources`` are the catalogue
    materials' ``source_name`` values (部门共享获取) this service supplies.
    """

    code = models.CharField(_("服务代码"), max_length=40, unique=True)
    name = models.CharField(_("服务名称"), max_length=100)
    resource = models.ForeignKey(
        Resource, on_delete=models.PROTECT, related_name="services", verbose_name=_("信息资源")
    )
    backend = models.CharField(_("数据来源表"), max_length=24, choices=Backend.choices)
    transport = models.CharField(_("传输方式"), max_length=80, default=LOCAL_TRANSPORT)
    # For a service held by another node: its code there (empty: the same code as here).
    remote_code = models.CharField(_("提供节点上的服务代码"), max_length=40, blank=True)
    material_sources = models.JSONField(_("可提供的共享材料来源"), default=list, blank=True)
    # The fields a material needs (the minimum fetched for 免提交); empty: every shareable field.
    material_fields = models.JSONField(_("材料所需信息项"), default=list, blank=True)
    # A fetched material older than this is fetched again before it is used.
    max_age_hours = models.PositiveIntegerField(_("数据有效时长（小时）"), default=24)
    active = models.BooleanField(_("在用"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("数据服务")
        verbose_name_plural = _("数据服务")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Consent(models.Model):
    """The data subject's consent to a conditional share: to whom, which fields, why, until when; revocable."""

    person = models.ForeignKey("accounts.Person", on_delete=models.PROTECT, related_name="+", verbose_name=_("本人"))
    service = models.ForeignKey(
        DataService, on_delete=models.PROTECT, related_name="consents", verbose_name=_("数据服务")
    )
    # None: any department, for the applications the person makes (the 免提交 consent names the department).
    consumer = models.ForeignKey(
        "directory.Department",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("使用部门"),
    )
    fields = models.JSONField(_("同意提供的信息项"), default=list)
    purpose = models.CharField(_("用途"), max_length=200)
    application_id = models.BigIntegerField(_("关联申请"), null=True, blank=True)
    given_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("授权账户")
    )
    given_at = models.DateTimeField(_("授权时间"), default=timezone.now)
    expires_at = models.DateTimeField(_("到期时间"))
    revoked_at = models.DateTimeField(_("撤回时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("数据使用授权")
        verbose_name_plural = _("数据使用授权")
        ordering = ["-given_at", "-id"]
        indexes = [models.Index(fields=["person", "service"], name="exchange_consent_lookup")]

    def __str__(self) -> str:
        return f"{self.person_id} → {self.service.code}"

    def is_active(self, now: object = None) -> bool:
        moment = now or timezone.now()
        return self.revoked_at is None and self.expires_at > moment  # type: ignore[operator]


class ExchangeRecord(models.Model):
    """One exchange: who asked which service for whose fields, why, for which case, and how it ended.

    Refusals are recorded as well. The values answered are not kept here
    (only which fields): a record says that data moved, not the data.

    An exchange between two nodes is recorded on both: ``peer_node`` is the
    other node and ``peer_exchange_id`` its exchange id. On the provider's
    side the consumer is a department of the peer, not of this node:
    ``consumer`` is empty, ``remote_consumer`` names it, and
    ``consent_evidence`` keeps what the peer asserted about the person's
    consent.
    """

    exchange_id = models.CharField(_("交换编号"), max_length=40, unique=True)
    service = models.ForeignKey(DataService, on_delete=models.PROTECT, related_name="+", verbose_name=_("数据服务"))
    consumer = models.ForeignKey(
        "directory.Department",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("使用部门"),
    )
    remote_consumer = models.CharField(_("使用部门（其他节点）"), max_length=200, blank=True)
    peer_node = models.CharField(_("对方节点"), max_length=64, blank=True)
    peer_exchange_id = models.CharField(_("对方节点交换编号"), max_length=64, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("请求账户")
    )
    # Who asked, as it was when they asked: a staff member's name, or a department system's name and client id
    # (a token has no user account to point at).
    requester_label = models.CharField(_("请求方"), max_length=120, blank=True, default="")
    subject_kind = models.CharField(_("信息主体类型"), max_length=16, choices=SubjectKind.choices)
    subject_index = models.CharField(_("信息主体检索索引"), max_length=64, db_index=True)
    subject_masked = models.CharField(_("信息主体（脱敏）"), max_length=40)
    subject_person = models.ForeignKey(
        "accounts.Person", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("本人")
    )
    fields = models.JSONField(_("请求的信息项"), default=list)
    purpose = models.CharField(_("用途"), max_length=200)
    legal_basis = models.CharField(_("依据"), max_length=300, blank=True)
    case_reference = models.CharField(_("关联办件或申请"), max_length=80, blank=True)
    consent = models.ForeignKey(
        Consent, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("所依据的授权")
    )
    consent_evidence = models.JSONField(_("对方节点声明的授权"), default=dict, blank=True)
    transport = models.CharField(_("传输方式"), max_length=80)
    outcome = models.CharField(_("结果"), max_length=16, choices=Outcome.choices)
    refusal_code = models.CharField(_("拒绝规则"), max_length=40, blank=True)
    created_at = models.DateTimeField(_("交换时间"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("交换记录")
        verbose_name_plural = _("交换记录")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.exchange_id

    @property
    def consumer_label(self) -> str:
        """The consumer department's name; one of another node is named with its node."""
        if self.consumer is not None:
            return self.consumer.name
        return f"{self.remote_consumer}（{self.peer_node}）"


class SharedMaterial(models.Model):
    """免提交: a material of an application fetched from a data service, as the applicant confirmed it.

    The fetched values are kept encrypted (they are a person's data) until the
    case no longer needs them; ``exchange`` names the exchange they came from.
    """

    application_id = models.BigIntegerField(_("申请"), db_index=True)
    material_key = models.CharField(_("材料"), max_length=64)
    material_name = models.CharField(_("材料名称"), max_length=200)
    item_codes = models.JSONField(_("事项编码"), default=list, blank=True)
    service = models.ForeignKey(DataService, on_delete=models.PROTECT, related_name="+", verbose_name=_("数据服务"))
    exchange = models.ForeignKey(ExchangeRecord, on_delete=models.PROTECT, related_name="+", verbose_name=_("交换记录"))
    data_encrypted = models.TextField(_("获取的数据（密文）"))
    fetched_at = models.DateTimeField(_("获取时间"))
    confirmed_at = models.DateTimeField(_("确认时间"), null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("确认账户")
    )

    class Meta:
        verbose_name = _("共享获取的材料")
        verbose_name_plural = _("共享获取的材料")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["application_id", "material_key"], name="exchange_shared_material_unique")
        ]

    def __str__(self) -> str:
        return f"{self.application_id}:{self.material_key}"


class SharedMaterialSaving(models.Model):
    """六减: one material a submitted case did not need on paper because a data service supplied it."""

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="+", verbose_name=_("办件"))
    case_number = models.CharField(_("办件编号"), max_length=64, db_index=True)
    item_code = models.CharField(_("事项编码"), max_length=80, db_index=True)
    material_key = models.CharField(_("材料"), max_length=64)
    material_name = models.CharField(_("材料名称"), max_length=200)
    exchange_id = models.CharField(_("交换编号"), max_length=40)
    created_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("共享免提交记录")
        verbose_name_plural = _("共享免提交记录")
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["case", "material_key"], name="exchange_saving_unique")]

    def __str__(self) -> str:
        return f"{self.case_number}:{self.material_name}"


# --- provider tables: what the departments' own systems hold (the demo city's) ---


class PersonKeyed(models.Model):
    """A provider row about a person, found by the blind index of their resident ID."""

    id_number_encrypted = models.TextField(_("公民身份号码（密文）"))
    id_number_index = models.CharField(_("公民身份号码检索索引"), max_length=64, db_index=True)
    id_number_masked = models.CharField(_("公民身份号码（脱敏）"), max_length=40)
    name = models.CharField(_("姓名"), max_length=64)
    updated_at = models.DateTimeField(_("数据更新时间"), default=timezone.now)

    class Meta:
        abstract = True


class HouseholdRecord(PersonKeyed):
    """户籍: the police's household register, one row per resident."""

    gender = models.CharField(_("性别"), max_length=4)
    ethnicity = models.CharField(_("民族"), max_length=16)
    birth_date = models.DateField(_("出生日期"))
    address = models.CharField(_("户籍地址"), max_length=200)
    household_number = models.CharField(_("户号"), max_length=20)
    household_head = models.CharField(_("户主姓名"), max_length=64)
    relation_to_head = models.CharField(_("与户主关系"), max_length=16)

    class Meta:
        verbose_name = _("户籍信息")
        verbose_name_plural = _("户籍信息")

    def __str__(self) -> str:
        return f"{self.name}（{self.id_number_masked}）"


class EnterpriseRecord(models.Model):
    """市场主体登记: the market regulator's register of enterprises (营业执照 status)."""

    credit_code = models.CharField(_("统一社会信用代码"), max_length=18, unique=True)
    name = models.CharField(_("名称"), max_length=200)
    kind = models.CharField(_("类型"), max_length=60)
    legal_representative = models.CharField(_("法定代表人或经营者"), max_length=64)
    registered_capital = models.CharField(_("注册资本"), max_length=40, blank=True)
    established_on = models.DateField(_("成立日期"))
    address = models.CharField(_("住所或经营场所"), max_length=200)
    business_scope = models.TextField(_("经营范围"))
    status = models.CharField(_("登记状态"), max_length=16)
    updated_at = models.DateTimeField(_("数据更新时间"), default=timezone.now)

    class Meta:
        verbose_name = _("市场主体登记信息")
        verbose_name_plural = _("市场主体登记信息")

    def __str__(self) -> str:
        return f"{self.name}（{self.credit_code}）"


class SocialInsuranceRecord(PersonKeyed):
    """社会保险参保: the human-resources bureau's insured persons."""

    insurance_types = models.CharField(_("参保险种"), max_length=100)
    status = models.CharField(_("参保状态"), max_length=16)
    employer = models.CharField(_("参保单位"), max_length=200, blank=True)
    since = models.DateField(_("参保日期"))
    months_paid = models.PositiveIntegerField(_("累计缴费月数"))

    class Meta:
        verbose_name = _("社会保险参保信息")
        verbose_name_plural = _("社会保险参保信息")

    def __str__(self) -> str:
        return f"{self.name}（{self.id_number_masked}）"


class RealEstateRecord(PersonKeyed):
    """不动产登记: one property right a person holds (a person may hold several)."""

    certificate_number = models.CharField(_("不动产权证书号"), max_length=60)
    location = models.CharField(_("坐落"), max_length=200)
    area = models.CharField(_("建筑面积（平方米）"), max_length=20)
    use = models.CharField(_("用途"), max_length=20)
    share = models.CharField(_("共有情况"), max_length=40)
    registered_on = models.DateField(_("登记日期"))

    class Meta:
        verbose_name = _("不动产登记信息")
        verbose_name_plural = _("不动产登记信息")

    def __str__(self) -> str:
        return self.certificate_number


class MarriageRecord(PersonKeyed):
    """婚姻登记: the civil-affairs bureau's current marital status of a person."""

    status = models.CharField(_("婚姻状况"), max_length=16)
    spouse_name = models.CharField(_("配偶姓名"), max_length=64, blank=True)
    registered_on = models.DateField(_("登记日期"), null=True, blank=True)
    registry = models.CharField(_("登记机关"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("婚姻登记信息")
        verbose_name_plural = _("婚姻登记信息")

    def __str__(self) -> str:
        return f"{self.name}（{self.id_number_masked}）"


class CreditRecord(models.Model):
    """信用: an entry on a dishonesty list (失信名单), of a person or an organisation."""

    subject_kind = models.CharField(_("主体类型"), max_length=16, choices=SubjectKind.choices)
    # A person: the blind index of the resident ID; an organisation: its credit code.
    subject_index = models.CharField(_("主体检索索引"), max_length=64, db_index=True)
    subject_masked = models.CharField(_("主体标识（脱敏）"), max_length=40)
    name = models.CharField(_("名称或姓名"), max_length=200)
    list_name = models.CharField(_("名单名称"), max_length=100)
    reason = models.CharField(_("列入事由"), max_length=300)
    listed_by = models.CharField(_("列入机关"), max_length=100)
    listed_on = models.DateField(_("列入日期"))
    removed_on = models.DateField(_("移出日期"), null=True, blank=True)
    updated_at = models.DateTimeField(_("数据更新时间"), default=timezone.now)

    class Meta:
        verbose_name = _("信用信息（失信名单）")
        verbose_name_plural = _("信用信息（失信名单）")

    def __str__(self) -> str:
        return f"{self.name}：{self.list_name}"


# --- batch exchange (前置库): providers that cannot answer online drop files; the platform loads them ---


class Batch(models.Model):
    """One batch a provider dropped in the front directory (前置库), from arrival to loaded or rejected.

    A batch is loaded whole or not at all, in one transaction; ``status`` says
    how far it got and ``reason`` (with the stable ``reason_code``) why it was
    rejected. The counts say what loading changed in the provider table.
    See ``yiwang.exchange.batches`` and docs/adr/0031-batch-exchange.md.
    """

    class Status(models.TextChoices):
        RECEIVED = "received", _("已接收")
        VERIFIED = "verified", _("已校验")
        LOADED = "loaded", _("已入库")
        DUPLICATE = "duplicate", _("重复批次（未改动）")
        REJECTED = "rejected", _("已拒收（隔离）")
        FAILED = "failed", _("多次重试失败（隔离）")

    token = models.CharField(_("批次目录"), max_length=40, unique=True)
    # The front directory the batch was taken from (its files are in work/<token>/ there until it is finished).
    front = models.CharField(_("前置库目录"), max_length=500)
    manifest_name = models.CharField(_("清单文件"), max_length=200)
    department = models.ForeignKey(
        "directory.Department",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("提供部门"),
    )
    department_code = models.CharField(_("清单所列部门"), max_length=40, blank=True)
    resource = models.ForeignKey(
        Resource, null=True, blank=True, on_delete=models.PROTECT, related_name="batches", verbose_name=_("信息资源")
    )
    resource_code = models.CharField(_("清单所列资源"), max_length=40, blank=True)
    sequence = models.PositiveIntegerField(_("批次序号"), null=True, blank=True)
    # The SM3 or SHA-256 digest of the manifest's files, as the manifest gave them (algorithm:hex; one per file).
    digest = models.CharField(_("内容摘要"), max_length=600, blank=True)
    files = models.JSONField(_("数据文件"), default=list, blank=True)
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.RECEIVED)
    reason_code = models.CharField(_("拒收规则"), max_length=40, blank=True)
    reason = models.TextField(_("拒收原因"), blank=True)
    rows_total = models.PositiveIntegerField(_("行数"), default=0)
    rows_inserted = models.PositiveIntegerField(_("新增行数"), default=0)
    rows_updated = models.PositiveIntegerField(_("更新行数"), default=0)
    rows_unchanged = models.PositiveIntegerField(_("未变行数"), default=0)
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    next_attempt_at = models.DateTimeField(_("下次尝试时间"), default=timezone.now, db_index=True)
    last_error = models.TextField(_("最近一次错误"), blank=True)
    received_at = models.DateTimeField(_("接收时间"), default=timezone.now, db_index=True)
    verified_at = models.DateTimeField(_("校验时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("交换批次")
        verbose_name_plural = _("交换批次（前置库）")
        ordering = ["-received_at", "-id"]
        constraints = [
            # A sequence number of a resource is loaded once; a duplicate is recorded, never loaded again.
            models.UniqueConstraint(
                fields=["resource", "sequence"],
                condition=models.Q(status="loaded"),
                name="exchange_batch_sequence_loaded_once",
            )
        ]
        indexes = [models.Index(fields=["resource", "status", "sequence"], name="exchange_batch_progress")]

    def __str__(self) -> str:
        return f"{self.resource_code}#{self.sequence} {self.status}"


class BatchSchedule(models.Model):
    """The one row that keeps the scheduled scan of the front directory a single chain of outbox events.

    Every scan event carries the chain's token; only an event whose token
    matches ``token`` scans (and schedules the next one), so restarting the
    schedule makes any older pending event a no-op.
    """

    name = models.CharField(_("名称"), max_length=40, unique=True)
    # The current chain's token: a scan event carrying another token is stale and does nothing.
    token = models.CharField(_("当前计划标识"), max_length=32)
    next_scan_at = models.DateTimeField(_("下次扫描时间"))
    last_scan_at = models.DateTimeField(_("上次扫描时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("前置库扫描计划")
        verbose_name_plural = _("前置库扫描计划")

    def __str__(self) -> str:
        return self.name
