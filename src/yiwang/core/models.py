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

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_PK)
    sequence = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS_HASH)

    class Meta:
        verbose_name = _("审计链头")
        verbose_name_plural = _("审计链头")
        default_permissions = ()

    def __str__(self) -> str:
        return f"#{self.sequence} {self.hash[:12]}"
