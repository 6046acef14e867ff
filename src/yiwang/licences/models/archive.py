"""The e-archive (电子档案): sealed packages of closed cases and paid fees, in an append-only Merkle log.

The log's node hashes live in files (:mod:`yiwang.licences.archive_store`);
these tables hold what the files cannot: the committed size (the one row
of :class:`ArchiveLog`, also the lock that serialises appends), what each
leaf is (:class:`ArchiveEntry`) and the signed tree heads. See ADR 0018.
"""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.utils.translation import gettext_lazy as _


class ArchiveKind(models.TextChoices):
    CASE = "case", _("办件档案")
    RECEIPT = "receipt", _("电子票据")


class ArchiveLog(models.Model):
    """The log's committed state: its size and root. One row; appends lock it."""

    size = models.PositiveBigIntegerField(_("条目数"), default=0)
    root_hash = models.CharField(_("根哈希"), max_length=64, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("电子档案日志")
        verbose_name_plural = _("电子档案日志")

    def __str__(self) -> str:
        return f"{self.size}:{self.root_hash[:16]}"


class ArchiveEntry(models.Model):
    """One leaf of the log: a sealed package (a closed case or an e-receipt) and the entry that names it."""

    leaf_index = models.PositiveBigIntegerField(_("叶子序号"), unique=True)
    kind = models.CharField(_("类型"), max_length=16, choices=ArchiveKind.choices)
    # The case number or the payment order number.
    ref = models.CharField(_("编号"), max_length=64)
    case = models.ForeignKey(
        "cases.Case", on_delete=models.PROTECT, related_name="+", verbose_name=_("办件"), null=True, blank=True
    )
    # The exact bytes hashed into the leaf (canonical JSON, UTF-8): what a verifier needs besides the proof.
    entry = models.TextField(_("日志条目"))
    leaf_hash = models.CharField(_("叶子哈希"), max_length=64)
    package_digest = models.CharField(_("档案包 SM3"), max_length=64)
    package_size = models.PositiveBigIntegerField(_("档案包大小（字节）"))
    # Relative to the archive directory.
    package_path = models.CharField(_("档案包路径"), max_length=300)
    created_at = models.DateTimeField(_("归档时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("电子档案条目")
        verbose_name_plural = _("电子档案条目")
        ordering = ["leaf_index"]
        constraints = [models.UniqueConstraint(fields=["kind", "ref"], name="licences_archive_one_per_ref")]

    def __str__(self) -> str:
        return f"#{self.leaf_index} {self.kind}:{self.ref}"


class TreeHead(models.Model):
    """A signed tree head (STH): the log's size and root at a moment, signed with SM2 by the platform log key."""

    tree_size = models.PositiveBigIntegerField(_("树大小"), unique=True)
    root_hash = models.CharField(_("根哈希"), max_length=64)
    # Milliseconds since the Unix epoch, as signed (a datetime column could round it).
    timestamp_ms = models.BigIntegerField(_("时间戳（毫秒）"))
    key_id = models.CharField(_("签名密钥"), max_length=128)
    signature = models.TextField(_("SM2 签名"))
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("签名树头")
        verbose_name_plural = _("签名树头")
        ordering = ["tree_size"]

    def __str__(self) -> str:
        return f"{self.tree_size}:{self.root_hash[:16]}"

    @property
    def timestamp(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.timestamp_ms / 1000, tz=dt.UTC)


class ArchiveLogKey(models.Model):
    """A public key of the platform's log signer; the private half stays in the key store.

    Keys rotate: the newest active one signs, and every earlier one stays
    here so that the tree heads it signed remain verifiable.
    """

    key_id = models.CharField(_("密钥标识"), max_length=64, unique=True)
    public_key = models.TextField(_("公钥（DER 十六进制）"))
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    retired_at = models.DateTimeField(_("停用时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("档案日志签名密钥")
        verbose_name_plural = _("档案日志签名密钥")
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.key_id
