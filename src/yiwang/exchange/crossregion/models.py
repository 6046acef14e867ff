"""Tables of 跨省通办. On the applying node (A): the peers' items (``RemoteItem``), the applications forwarded to
them (``ForwardedApplication``) and the statuses they sent back (``StatusUpdate``). On the handling node (B): which
of its cases came from which peer's application (``IncomingApplication``). On both: the messages waiting to be
delivered (``Delivery``). Every change goes through :mod:`.services`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .constants import DeliveryState, ForwardState


class RemoteItem(models.Model):
    """A service item a peer node handles, as that peer described it when it was imported here."""

    peer_code = models.CharField(_("办理节点"), max_length=64)
    peer_name = models.CharField(_("办理地"), max_length=200, blank=True)
    code = models.CharField(_("事项编码"), max_length=80)
    name = models.CharField(_("事项名称"), max_length=200)
    department_name = models.CharField(_("办理部门"), max_length=200)
    kind = models.CharField(_("事项类型"), max_length=40, blank=True)
    promised_days = models.PositiveIntegerField(_("承诺办结时限（工作日）"), null=True, blank=True)
    # [{key, label, type, required, max_length, choices: [[value, label], …]}]: the peer's form, as it sent it.
    fields = models.JSONField(_("表单"), default=list, blank=True)
    # [{key, name, required}]
    materials = models.JSONField(_("申请材料"), default=list, blank=True)
    # False once a later import no longer lists it: kept for the applications made for it.
    active = models.BooleanField(_("可申请"), default=True)
    imported_at = models.DateTimeField(_("导入时间"))

    class Meta:
        verbose_name = _("跨省通办事项")
        verbose_name_plural = _("跨省通办事项")
        ordering = ["peer_code", "code"]
        constraints = [models.UniqueConstraint(fields=["peer_code", "code"], name="crossregion_item_unique")]

    def __str__(self) -> str:
        return f"{self.peer_code}:{self.code} {self.name}"


class NumberSequence(models.Model):
    """The last serial given to a forwarded application on one day (Asia/Shanghai)."""

    day = models.DateField(unique=True, verbose_name=_("日期"))
    last = models.PositiveIntegerField(default=0, verbose_name=_("最新值"))

    class Meta:
        verbose_name = _("跨省通办编号序列")
        verbose_name_plural = _("跨省通办编号序列")

    def __str__(self) -> str:
        return f"{self.day}:{self.last}"


class ForwardedApplication(models.Model):
    """An application made at this node for a peer's item: forwarded to the peer, which handles it as a case."""

    # KS-<YYYYMMDD>-<6-digit serial>, unique on this node; the peer knows the case by (this node, this number).
    number = models.CharField(_("本地受理编号"), max_length=64, unique=True)
    item = models.ForeignKey(RemoteItem, on_delete=models.PROTECT, related_name="+", verbose_name=_("事项"))
    peer_code = models.CharField(_("办理节点"), max_length=64)
    peer_name = models.CharField(_("办理地"), max_length=200, blank=True)
    item_code = models.CharField(_("事项编码"), max_length=80)
    item_name = models.CharField(_("事项名称"), max_length=200)
    department_name = models.CharField(_("办理部门"), max_length=200)
    applicant_person = models.ForeignKey(
        "accounts.Person", on_delete=models.PROTECT, related_name="+", verbose_name=_("申请人")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("填报账户")
    )
    form_data = models.JSONField(_("表单数据"), default=dict, blank=True)
    # [{key, name, original_name, content_type, size, sha256, storage_name}]
    materials = models.JSONField(_("申请材料"), default=list, blank=True)
    state = models.CharField(
        _("转送状态"), max_length=16, choices=ForwardState.choices, default=ForwardState.FORWARDING
    )
    failure = models.TextField(_("未成功原因"), blank=True)
    # The peer's case, as its messages report it.
    remote_number = models.CharField(_("办理地办件编号"), max_length=64, blank=True)
    remote_department = models.CharField(_("办理地受理部门"), max_length=200, blank=True)
    remote_state = models.CharField(_("办理地状态"), max_length=32, blank=True)
    remote_state_label = models.CharField(_("办理地状态名称"), max_length=64, blank=True)
    # The sequence of the last status applied (the peer's case event id): an older one arriving late is kept in
    # the history but does not move the state back.
    remote_sequence = models.BigIntegerField(default=0, verbose_name=_("最新状态序号"))
    submitted_at = models.DateTimeField(_("提交时间"))
    forwarded_at = models.DateTimeField(_("送达办理地时间"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("更新时间"))

    class Meta:
        verbose_name = _("跨省通办申请")
        verbose_name_plural = _("跨省通办申请")
        ordering = ["-id"]
        indexes = [models.Index(fields=["applicant_person", "-submitted_at"], name="crossregion_fwd_person")]

    def __str__(self) -> str:
        return f"{self.number} {self.item_name}"


class StatusUpdate(models.Model):
    """One status the handling node reported for a forwarded application (idempotent by its event key)."""

    application = models.ForeignKey(
        ForwardedApplication, on_delete=models.CASCADE, related_name="updates", verbose_name=_("申请")
    )
    # "<peer code>:<its case event id>": a message delivered twice records one update.
    event_key = models.CharField(_("事件键"), max_length=128, unique=True)
    sequence = models.BigIntegerField(_("序号"))
    action = models.CharField(_("动作"), max_length=32)
    action_label = models.CharField(_("动作名称"), max_length=64, blank=True)
    state = models.CharField(_("状态"), max_length=32)
    state_label = models.CharField(_("状态名称"), max_length=64, blank=True)
    reason = models.TextField(_("说明"), blank=True)
    occurred_at = models.DateTimeField(_("发生时间"))
    received_at = models.DateTimeField(auto_now_add=True, verbose_name=_("收到时间"))

    class Meta:
        verbose_name = _("办理地状态")
        verbose_name_plural = _("办理地状态")
        ordering = ["sequence", "id"]

    def __str__(self) -> str:
        return self.event_key


class IncomingApplication(models.Model):
    """A case of this node made from a peer's forwarded application: one per (peer, its number), never two."""

    origin_node = models.CharField(_("受理节点"), max_length=64)
    origin_name = models.CharField(_("受理地"), max_length=200, blank=True)
    origin_number = models.CharField(_("受理地编号"), max_length=64)
    case = models.OneToOneField("cases.Case", on_delete=models.PROTECT, related_name="+", verbose_name=_("办件"))
    case_number = models.CharField(_("办件编号"), max_length=64)
    received_at = models.DateTimeField(auto_now_add=True, verbose_name=_("收到时间"))

    class Meta:
        verbose_name = _("跨省通办来件")
        verbose_name_plural = _("跨省通办来件")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["origin_node", "origin_number"], name="crossregion_incoming_unique")
        ]

    def __str__(self) -> str:
        return f"{self.origin_node}:{self.origin_number} → {self.case_number}"


class Delivery(models.Model):
    """A message to a peer that must arrive: tried by the outbox, again with backoff, until the peer answers."""

    # What it delivers ("application:<number>", "status:<case event id>"): the same thing is queued once.
    key = models.CharField(_("键"), max_length=128, unique=True)
    peer_code = models.CharField(_("节点"), max_length=64)
    kind = models.CharField(_("消息种类"), max_length=64)
    body = models.JSONField(_("消息体"), default=dict)
    state = models.CharField(_("状态"), max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveIntegerField(_("尝试次数"), default=0)
    last_error = models.TextField(_("最近错误"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("创建时间"))
    delivered_at = models.DateTimeField(_("送达时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("跨省通办消息")
        verbose_name_plural = _("跨省通办消息")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.key} ({self.state})"
