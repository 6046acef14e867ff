"""Divisions and departments.

They were first defined in the catalogue; their tables keep the names they were
created with (``catalog_division``, ``catalog_department``) so that moving
them here needed no data migration (docs/adr/0010-app-boundaries.md).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from .constants import Level


class Division(models.Model):
    """行政区划: an administrative division and its parent."""

    code = models.CharField(_("行政区划代码"), max_length=12, unique=True)
    name = models.CharField(_("名称"), max_length=64)
    level = models.CharField(_("层级"), max_length=16, choices=Level.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children", verbose_name=_("上级")
    )

    class Meta:
        db_table = "catalog_division"
        verbose_name = _("行政区划")
        verbose_name_plural = _("行政区划")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Department(models.Model):
    """实施主体: a department that handles items, in a hierarchy."""

    code = models.SlugField(_("部门代码"), max_length=32, unique=True)
    name = models.CharField(_("部门名称"), max_length=128)
    short_name = models.CharField(_("简称"), max_length=64, blank=True)
    credit_code = models.CharField(_("统一社会信用代码"), max_length=18, blank=True, db_index=True)
    division = models.ForeignKey(Division, on_delete=models.PROTECT, related_name="departments", verbose_name=_("区划"))
    level = models.CharField(_("层级"), max_length=16, choices=Level.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children", verbose_name=_("上级")
    )
    description = models.TextField(_("部门职责"), blank=True)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    phone = models.CharField(_("咨询电话"), max_length=64, blank=True)
    office_hours = models.CharField(_("办公时间"), max_length=200, blank=True)
    sort_order = models.PositiveIntegerField(_("排序"), default=0)

    class Meta:
        db_table = "catalog_department"
        verbose_name = _("部门")
        verbose_name_plural = _("部门")
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return self.name

    @property
    def display_name(self) -> str:
        return self.short_name or self.name
