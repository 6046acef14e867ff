"""Reads of the public catalogue, for pages, the API and other apps."""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field

from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404

from .constants import Audience, ItemStatus, MaterialSource
from .models import Bundle, BundleItem, Department, Material, ServiceItem, Theme
from .search.engine import catalog_search
from .search.index import Filters, Hit


def published_items(
    *,
    department: str | None = None,
    level: str | None = None,
    kind: str | None = None,
    audience: str | None = None,
    theme: str | None = None,
) -> QuerySet[ServiceItem]:
    """Published items, optionally filtered; a department filter includes its sub-departments."""
    items = ServiceItem.objects.published().select_related("department")
    if department:
        items = items.filter(department__code__in=department_and_descendants(department))
    if level:
        items = items.filter(level=level)
    if kind:
        items = items.filter(kind=kind)
    if audience:
        items = items.filter(audience__in=[audience, Audience.BOTH])
    if theme:
        items = items.filter(themes__code=theme)
    return items.order_by("-popularity", "department__sort_order", "code")


def department_and_descendants(code: str) -> list[str]:
    by_parent: dict[int | None, list[tuple[int, str]]] = {}
    for pk, dept_code, parent in Department.objects.values_list("pk", "code", "parent_id"):
        by_parent.setdefault(parent, []).append((pk, dept_code))
    root = Department.objects.filter(code=code).values_list("pk", flat=True).first()
    if root is None:
        return []
    found, stack = [code], [root]
    while stack:
        for child_pk, child_code in by_parent.get(stack.pop(), []):
            found.append(child_code)
            stack.append(child_pk)
    return found


def get_item(code: str, version: int | None = None) -> ServiceItem:
    """The published version of an item, or a given version from its public history."""
    items = ServiceItem.objects.select_related("department", "base_item", "department__division").prefetch_related(
        "materials", "steps", "fees", "faqs", "themes", "windows"
    )
    if version is None:
        item = items.filter(code=code, status=ItemStatus.PUBLISHED).first()
    else:
        item = items.filter(
            code=code, version=version, status__in=[ItemStatus.PUBLISHED, ItemStatus.SUPERSEDED, ItemStatus.WITHDRAWN]
        ).first()
    if item is None:
        raise Http404("事项不存在或未发布")
    return item


def published_item(code: str) -> ServiceItem:
    """The published version of an item with its parts, one query when this process has seen it before.

    A published version is never edited (ADR 0003): a change makes a new
    version. So the loaded item, with its materials, steps and fees, is kept
    per version and shared by every caller in this process; callers must
    treat it as read-only. One indexed query finds which version is the
    published one now, so a newly published version is seen at once.
    """
    row = ServiceItem.objects.filter(code=code, status=ItemStatus.PUBLISHED).values_list("pk", "updated_at").first()
    if row is None:
        raise Http404("事项不存在或未发布")
    return _loaded_item(row[0], row[1])


@functools.lru_cache(maxsize=1024)
def _loaded_item(pk: int, updated_at: dt.datetime) -> ServiceItem:
    # The last change is part of the key: a status change to superseded or withdrawn is caught by the
    # lookup above, anything else that touched the row by this.
    return (
        ServiceItem.objects.select_related("department", "base_item", "department__division")
        .prefetch_related("materials", "steps", "fees", "faqs", "themes", "windows")
        .get(pk=pk)
    )


def item_history(code: str) -> list[ServiceItem]:
    """Every version that was ever public, newest first."""
    return list(
        ServiceItem.objects.filter(
            code=code, status__in=[ItemStatus.PUBLISHED, ItemStatus.SUPERSEDED, ItemStatus.WITHDRAWN]
        )
        .only("code", "version", "status", "effective_date", "published_at", "change_note")
        .order_by("-version")
    )


def departments() -> QuerySet[Department]:
    return (
        Department.objects.select_related("division", "parent")
        .annotate(item_count=Count("items", filter=Q(items__status=ItemStatus.PUBLISHED)))
        .order_by("sort_order", "code")
    )


def get_department(code: str) -> Department:
    department = departments().prefetch_related("windows", "children").filter(code=code).first()
    if department is None:
        raise Http404("部门不存在")
    return department


def themes(audience: str | None = None) -> QuerySet[Theme]:
    qs = Theme.objects.annotate(item_count=Count("items", filter=Q(items__status=ItemStatus.PUBLISHED)))
    if audience:
        qs = qs.filter(audience=audience)
    return qs.order_by("audience", "sort_order")


def get_theme(code: str) -> Theme:
    theme = Theme.objects.filter(code=code).first()
    if theme is None:
        raise Http404("主题不存在")
    return theme


def hot_items(limit: int = 12) -> list[ServiceItem]:
    return list(ServiceItem.objects.published().select_related("department").order_by("-popularity", "code")[:limit])


def published_bundles() -> QuerySet[Bundle]:
    return Bundle.objects.filter(status=ItemStatus.PUBLISHED).select_related("theme").order_by("-popularity", "code")


@dataclass
class CombinedMaterial:
    """One material of a bundle, asked once however many member items need it."""

    material: Material
    item_names: list[str] = field(default_factory=list)


@dataclass
class BundleMember:
    membership: BundleItem
    item: ServiceItem


@dataclass
class BundleView:
    bundle: Bundle
    members: list[BundleMember]
    materials: list[CombinedMaterial]
    departments: list[Department]


_MATERIAL_NOISE = re.compile(r"[\s《》“”\"'（）()【】\[\]、，,。.]|原件|复印件|及|和")


def material_key(material: Material) -> str:
    """What makes two materials the same document.

    Materials fetched from the same e-licence or shared data source are one
    document (two items both wanting the applicant's 居民身份证 ask for it
    once); otherwise names are compared without form words and punctuation
    (申请人身份证原件 ≈ 申请人身份证复印件).
    """
    if material.source in (MaterialSource.E_LICENCE, MaterialSource.SHARED_DATA) and material.source_name:
        return f"{material.source}:{material.source_name}"
    return _MATERIAL_NOISE.sub("", material.name)


def get_bundle(code: str) -> BundleView:
    """A published bundle with its members, the combined list of materials and the departments involved."""
    bundle = published_bundles().prefetch_related("members").filter(code=code).first()
    if bundle is None:
        raise Http404("一件事不存在或未发布")
    memberships = list(bundle.members.all())
    items = {
        i.code: i
        for i in ServiceItem.objects.published()
        .filter(code__in=[m.item_code for m in memberships])
        .select_related("department")
        .prefetch_related(Prefetch("materials", queryset=Material.objects.order_by("order", "id")))
    }
    members = [BundleMember(m, items[m.item_code]) for m in memberships if m.item_code in items]
    combined: dict[str, CombinedMaterial] = {}
    departments: dict[int, Department] = {}
    for member in members:
        departments.setdefault(member.item.department_id, member.item.department)
        for material in member.item.materials.all():
            key = material_key(material)
            entry = combined.setdefault(key, CombinedMaterial(material))
            if member.item.name not in entry.item_names:
                entry.item_names.append(member.item.name)
    return BundleView(
        bundle=bundle,
        members=members,
        materials=list(combined.values()),
        departments=list(departments.values()),
    )


def search(
    query: str,
    *,
    limit: int = 10,
    department: str | None = None,
    level: str | None = None,
    kind: str | None = None,
    audience: str | None = None,
    theme: str | None = None,
    type: str | None = None,
) -> tuple[list[Hit], int]:
    """Search published items and bundles; returns the top hits and how many matched."""
    filters = Filters(department=department, level=level, kind=kind, audience=audience, theme=theme, type=type)
    return catalog_search.search(query, filters=filters, limit=limit)
