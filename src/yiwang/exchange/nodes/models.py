"""Tables of the node exchange: this node's keys, its peers, seen nonces, and the hash-chained message log.

Only :mod:`.services` writes them. Private keys are never here: they live in the key store
(:mod:`yiwang.core.keystore`) under ``exchange-<fingerprint>``.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

GENESIS_HASH = "0" * 64


class LocalKey(models.Model):
    """One of this node's Ed25519 signing keys; exactly one is active (the one that signs)."""

    fingerprint = models.CharField(_("指纹"), max_length=16, unique=True)
    public_key = models.BinaryField(_("公钥"), max_length=32)
    active = models.BooleanField(_("在用"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("本节点签名密钥")
        verbose_name_plural = _("本节点签名密钥")
        constraints = [
            # Two processes creating the first key at once: the second insert fails and reads the first's.
            models.UniqueConstraint(fields=["active"], condition=models.Q(active=True), name="one_active_local_key"),
        ]

    def __str__(self) -> str:
        return self.fingerprint


class Peer(models.Model):
    """Another node this one exchanges with: its code, where it answers, and its public key."""

    code = models.CharField(_("节点代码"), max_length=64, unique=True)
    name = models.CharField(_("名称"), max_length=200, blank=True)
    base_url = models.URLField(_("地址"), max_length=500)
    public_key = models.BinaryField(_("公钥"), max_length=32)
    fingerprint = models.CharField(_("公钥指纹"), max_length=16)
    active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("对端节点")
        verbose_name_plural = _("对端节点")

    def __str__(self) -> str:
        return self.code


class SeenNonce(models.Model):
    """A nonce a peer has used: a second message with it is a replay. Kept twice the clock window."""

    peer_code = models.CharField(_("节点代码"), max_length=64)
    nonce = models.CharField(_("随机数"), max_length=64)
    created = models.DateTimeField(_("消息时间"), db_index=True)

    class Meta:
        verbose_name = _("已用随机数")
        verbose_name_plural = _("已用随机数")
        constraints = [models.UniqueConstraint(fields=["peer_code", "nonce"], name="unique_peer_nonce")]

    def __str__(self) -> str:
        return f"{self.peer_code}:{self.nonce}"


class Direction(models.TextChoices):
    SENT = "sent", _("发出")
    RECEIVED = "received", _("收到")


class MessageType(models.TextChoices):
    REQUEST = "request", _("请求")
    RESPONSE = "response", _("响应")


class LogEntry(models.Model):
    """One message sent or received, chained to the one before by ``prev_hash`` (see ``entry_hash``)."""

    sequence = models.PositiveBigIntegerField(_("序号"), unique=True)
    logged_at = models.DateTimeField(_("记录时间"))
    direction = models.CharField(_("方向"), max_length=8, choices=Direction.choices)
    message_type = models.CharField(_("消息类型"), max_length=8, choices=MessageType.choices)
    peer_code = models.CharField(_("对端节点"), max_length=64)
    message_id = models.CharField(_("消息编号"), max_length=64)
    kind = models.CharField(_("消息种类"), max_length=64)
    body_digest = models.CharField(_("消息体摘要"), max_length=64)
    signature_base = models.TextField(_("签名基串"), blank=True)
    signature = models.CharField(_("签名"), max_length=200, blank=True)
    outcome = models.CharField(_("结果"), max_length=64)
    prev_hash = models.CharField(_("前一条哈希"), max_length=64)
    entry_hash = models.CharField(_("本条哈希"), max_length=64)

    class Meta:
        verbose_name = _("交换消息日志")
        verbose_name_plural = _("交换消息日志")
        indexes = [models.Index(fields=["message_id"], name="exchange_log_message_id")]

    def __str__(self) -> str:
        return f"{self.sequence} {self.direction} {self.message_type} {self.peer_code}"


class LogHead(models.Model):
    """The last entry's sequence and hash: appending locks this row, so writers take turns."""

    SINGLETON_PK = 1
    sequence = models.PositiveBigIntegerField(_("序号"), default=0)
    entry_hash = models.CharField(_("哈希"), max_length=64, default=GENESIS_HASH)

    class Meta:
        verbose_name = _("交换日志链头")
        verbose_name_plural = _("交换日志链头")

    def __str__(self) -> str:
        return f"{self.sequence} {self.entry_hash[:12]}"


class LogCheckpoint(models.Model):
    """The log's head at ``sequence``, signed with this node's key: entries up to it cannot be rewritten
    without a new signature, and a copy handed to a peer or an auditor pins them."""

    sequence = models.PositiveBigIntegerField(_("序号"), unique=True)
    head_hash = models.CharField(_("链头哈希"), max_length=64)
    signed_at = models.DateTimeField(_("签署时间"))
    node_code = models.CharField(_("节点代码"), max_length=64)
    key_fingerprint = models.CharField(_("密钥指纹"), max_length=16)
    signature = models.CharField(_("签名"), max_length=200)

    class Meta:
        verbose_name = _("交换日志检查点")
        verbose_name_plural = _("交换日志检查点")

    def __str__(self) -> str:
        return f"{self.sequence} {self.head_hash[:12]}"
