"""Tables of the shared kernel: the append-only, hash-chained audit log.

Rows are written only by :func:`yiwang.core.audit.record_event`. The model,
its queryset and (from the migration) database triggers all refuse updates
and deletes; :func:`yiwang.core.audit.verify_chain` detects what someone
with enough database privileges could still change.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

GENESIS_HASH = "0" * 64
APPEND_ONLY_MESSAGE = "审计日志只能追加，不能修改或删除"


class AuditLogAppendOnly(Exception):
    """An attempt to change or delete an audit record, or to write one outside record_event."""

    def __init__(self, detail: str = APPEND_ONLY_MESSAGE) -> None:
        super().__init__(detail)
        self.detail = detail


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    """Reads only: every bulk write path raises."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise AuditLogAppendOnly()

    def delete(self) -> NoReturn:
        raise AuditLogAppendOnly()

    def bulk_update(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AuditLogAppendOnly()

    def bulk_create(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AuditLogAppendOnly("请通过 yiwang.core.audit.record_event 写入审计日志")

    def update_or_create(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AuditLogAppendOnly()


class AuditEvent(models.Model):
    """One audited action, linked to the previous one by ``prev_hash``."""

    sequence = models.PositiveBigIntegerField(_("序号"), unique=True)
    occurred_at = models.DateTimeField(_("发生时间"), db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作人"),
        null=True,
        blank=True,
        # A user with audit records can be deactivated, never deleted.
        on_delete=models.PROTECT,
        related_name="+",
    )
    actor_label = models.CharField(_("操作人标识"), max_length=200, blank=True)
    on_behalf_of_label = models.CharField(_("代办对象"), max_length=200, blank=True)
    # No foreign key: core must not depend on accounts, and the record must
    # outlive whatever the person row becomes.
    on_behalf_of_person_id = models.BigIntegerField(_("代办对象编号"), null=True, blank=True, db_index=True)
    event = models.CharField(_("事件"), max_length=64, db_index=True)
    target = models.CharField(_("对象"), max_length=200, blank=True, db_index=True)
    ip = models.GenericIPAddressField(_("IP 地址"), null=True, blank=True)
    detail = models.JSONField(_("详情"), default=dict, blank=True)
    prev_hash = models.CharField(_("前一条哈希"), max_length=64)
    hash = models.CharField(_("哈希"), max_length=64)

    objects = AuditEventQuerySet.as_manager()
    # Set by record_event on the one instance it appends (see save()).
    _appending = False

    class Meta:
        verbose_name = _("审计日志")
        verbose_name_plural = _("审计日志")
        ordering = ["sequence"]
        # "view" only: the admin offers no add, change or delete to anyone.
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"#{self.sequence} {self.event} {self.target}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # record_event marks the one instance it is appending; anything else
        # (an admin form, a shell, create()) would bypass the chain.
        if not self._state.adding or not self._appending:
            raise AuditLogAppendOnly()
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)
        self._appending = False

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AuditLogAppendOnly()


class AuditChainHead(models.Model):
    """The single row (pk 1) holding the last sequence and hash; writers lock it to append in turn.

    It also lets :func:`~yiwang.core.audit.verify_chain` notice records
    deleted from the end of the log, which the chain alone cannot show.
    """

    SINGLETON_PK = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_PK, verbose_name=_("编号"))
    sequence = models.PositiveBigIntegerField(default=0, verbose_name=_("序号"))
    hash = models.CharField(max_length=64, default=GENESIS_HASH, verbose_name=_("摘要"))

    class Meta:
        verbose_name = _("审计链头")
        verbose_name_plural = _("审计链头")
        default_permissions = ()

    def __str__(self) -> str:
        return f"#{self.sequence} {self.hash[:12]}"


# --- working-day calendar ------------------------------------------------------


class CalendarDay(models.Model):
    """An administrator's entry for one date: a holiday on a weekday or a working weekend day (调休).

    The maintained library (chinese-calendar) decides every year it knows;
    these rows decide dates it does not know yet and override it where the
    State Council's notice differs. See :mod:`yiwang.core.calendar`.
    """

    date = models.DateField(_("日期"), primary_key=True)
    is_working_day = models.BooleanField(_("是否工作日"))
    name = models.CharField(_("名称"), max_length=64, blank=True, help_text=_("如：春节、国庆节调休上班"))
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("更新人"),
    )
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("更新时间"))

    class Meta:
        verbose_name = _("节假日与调休")
        verbose_name_plural = _("节假日与调休")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {'上班' if self.is_working_day else '休息'} {self.name}"


class CalendarYear(models.Model):
    """A year whose holidays and adjusted days an administrator has entered in full.

    Deadlines falling in a year neither the library nor this table knows are
    computed on weekdays alone and flagged as provisional.
    """

    year = models.PositiveSmallIntegerField(_("年份"), primary_key=True)
    source = models.CharField(_("依据"), max_length=200, help_text=_("如：国务院办公厅关于2027年部分节假日安排的通知"))
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("确认人"),
    )
    confirmed_at = models.DateTimeField(_("确认时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("已录入的年度日历")
        verbose_name_plural = _("已录入的年度日历")
        ordering = ["year"]

    def __str__(self) -> str:
        return str(self.year)


# --- event outbox and notifications --------------------------------------------


class OutboxEvent(models.Model):
    """A domain event written in the same transaction as the change it reports.

    Workers (``yiwang worker``) hand each event to the handlers registered for
    its topic once the transaction has committed; a handler must be
    idempotent, because a worker killed mid-way runs it again.
    """

    topic = models.CharField(pgettext_lazy("outbox", "主题"), max_length=64, db_index=True)
    payload = models.JSONField(_("内容"), default=dict)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    available_at = models.DateTimeField(_("可处理时间"), db_index=True)
    attempts = models.PositiveIntegerField(_("尝试次数"), default=0)
    # A worker's lease: another worker may take the event once it has passed.
    locked_until = models.DateTimeField(null=True, blank=True, verbose_name=_("锁定至"))
    locked_by = models.CharField(max_length=64, blank=True, verbose_name=_("锁定者"))
    processed_at = models.DateTimeField(_("处理完成时间"), null=True, blank=True)
    last_error = models.TextField(_("最近错误"), blank=True)
    # The request that wrote the event (yiwang.core.observability); the worker logs its handling under it.
    request_id = models.CharField(_("请求编号"), max_length=64, blank=True, default="")
    # With the Celery engine (yiwang.core.celery_engine): when the event was last handed to the broker. The
    # row stays the source of truth; the relay sends again what is due and was never (or long ago) sent.
    dispatched_at = models.DateTimeField(_("投递时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("事件发件箱")
        verbose_name_plural = _("事件发件箱")
        ordering = ["id"]
        indexes = [models.Index(fields=["processed_at", "available_at"], name="core_outbox_pending")]
        # Staff who may read the operations metrics (/metrics) in a browser; a scraper uses a bearer token
        # instead (yiwang.core.metrics, docs/adr/0035-metrics-and-backup.md). Here because the outbox's depth
        # and lag are what the page shows of the core's own tables.
        permissions = [("view_metrics", _("查看运行指标"))]

    def __str__(self) -> str:
        return f"#{self.pk} {self.topic}"


class OutboxHandlerRun(models.Model):
    """One handler of one event that has run to the end, written in the transaction of the handler's effects.

    The Celery engine's proof against running a handler twice: a task
    delivered again (late acks after a lost worker, a relay sending again)
    finds the row and skips the handler; a retry runs only the handlers of
    the event that have not finished.
    """

    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="+", verbose_name=_("事件"))
    handler = models.CharField(_("处理程序"), max_length=200)
    completed_at = models.DateTimeField(_("完成时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("事件处理记录")
        verbose_name_plural = _("事件处理记录")
        constraints = [models.UniqueConstraint(fields=["event", "handler"], name="core_outbox_handler_run_once")]

    def __str__(self) -> str:
        return f"#{self.event_id} {self.handler}"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", _("待发送")
    SENT = "sent", _("已发送")
    FAILED = "failed", _("发送失败")


class Notification(models.Model):
    """One message to one recipient on one channel; ``dedupe_key`` makes creating it idempotent."""

    dedupe_key = models.CharField(max_length=160, unique=True, verbose_name=_("去重键"))
    event = models.ForeignKey(
        OutboxEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("事件")
    )
    channel = models.CharField(_("渠道"), max_length=16)
    # No foreign keys: core must not depend on accounts; channels resolve addresses when sending.
    recipient_user_id = models.BigIntegerField(
        null=True, blank=True, db_index=True, verbose_name=_("接收人（用户）编号")
    )
    recipient_person_id = models.BigIntegerField(
        null=True, blank=True, db_index=True, verbose_name=_("接收人（个人）编号")
    )
    template = models.CharField(_("模板"), max_length=64)
    subject = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("正文"))
    link = models.CharField(_("链接"), max_length=300, blank=True)
    status = models.CharField(
        _("状态"), max_length=16, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("尝试次数"))
    next_attempt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("下次尝试时间"))
    locked_until = models.DateTimeField(null=True, blank=True, verbose_name=_("锁定至"))
    locked_by = models.CharField(max_length=64, blank=True, verbose_name=_("锁定者"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("发送时间"))
    last_error = models.TextField(blank=True, verbose_name=_("最近错误"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("创建时间"))

    class Meta:
        verbose_name = _("通知")
        verbose_name_plural = _("通知")
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="core_notification_due")]

    def __str__(self) -> str:
        return f"{self.channel}:{self.subject}"


class InAppMessage(models.Model):
    """A message in a user's own message centre (站内消息); one per in-app notification."""

    notification = models.OneToOneField(
        Notification, on_delete=models.PROTECT, related_name="in_app_message", verbose_name=_("通知")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="in_app_messages", verbose_name=_("用户")
    )
    subject = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("正文"))
    link = models.CharField(_("链接"), max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("创建时间"))
    read_at = models.DateTimeField(null=True, blank=True, verbose_name=_("阅读时间"))

    class Meta:
        verbose_name = _("站内消息")
        verbose_name_plural = _("站内消息")
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.subject
