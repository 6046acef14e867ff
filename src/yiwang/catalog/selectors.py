"""Reads of the public catalogue, for pages, the API and other apps."""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404

from yiwang.directory import selectors as directory_selectors

from .constants import Audience, ItemStatus, MaterialSource, OnlineDepth
from .models import Bundle, BundleItem, Fee, Material, ServiceItem, Theme, Window
from .search.engine import SearchOutcome, catalog_search
from .search.index import Filters, Hit

if TYPE_CHECKING:
    from yiwang.directory.models import Department


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
        items = items.filter(department__code__in=directory_selectors.department_and_descendants(department))
    if level:
        items = items.filter(level=level)
    if kind:
        items = items.filter(kind=kind)
    if audience:
        items = items.filter(audience__in=[audience, Audience.BOTH])
    if theme:
        items = items.filter(themes__code=theme)
    return items.order_by("-popularity", "department__sort_order", "code")


def online_application_items() -> QuerySet[ServiceItem]:
    """Published items that take online applications and whose guide is complete (what an online application
    needs), in :func:`published_items` order, with the parts an application form is built from (materials,
    fees) fetched in one query each for all of them, not once per item."""
    return (
        published_items()
        .filter(online_depth__gte=OnlineDepth.ONLINE_APPLICATION, guide_complete=True)
        .prefetch_related("materials", "fees")
    )


def delegable_items(audience: str = Audience.PERSON) -> list[tuple[str, str]]:
    """Published items offered to an audience, as (code, "name（department）"), for the delegation forms."""
    items = published_items(audience=audience).order_by("department__sort_order", "name")
    return [(item.code, f"{item.name}（{item.department.name}）") for item in items]


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
        directory_selectors.departments()
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


class FeeSituationUnknown(LookupError):
    """The item's fee lines are alternatives and nobody has said which situation applies."""


def fee_situations(item: ServiceItem) -> list[str]:
    """The situations that choose between an item's alternative fee lines, in guide order."""
    return list(dict.fromkeys(fee.situation for fee in item.fees.all() if fee.situation))


def fees_charged(item: ServiceItem, situation: str | None) -> list[Fee]:
    """The fee lines charged for ``item`` in ``situation``: every line without a situation, plus the chosen one.

    Lines with a situation are alternatives (to be summed they would bill 换领
    20 元 and 损坏换领 40 元 together). A single such line is charged only in
    its situation; with several, an unknown or missing situation raises
    :class:`FeeSituationUnknown` so that someone picks it rather than a guess.
    """
    fees = list(item.fees.all())
    fixed = [fee for fee in fees if not fee.situation]
    situations = fee_situations(item)
    if situation in situations:
        return fixed + [fee for fee in fees if fee.situation == situation]
    if len(situations) > 1 or (situations and situation is None):
        raise FeeSituationUnknown(item.code)
    return fixed


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
    question: bool = False,
) -> tuple[list[Hit], int]:
    """Search published items and bundles; returns the top hits and how many matched.

    ``question``: ``query`` is a whole question put to the assistant rather than a search box query (the
    ranking reads it as ADR 0012 describes)."""
    filters = Filters(department=department, level=level, kind=kind, audience=audience, theme=theme, type=type)
    return catalog_search.search(query, filters=filters, limit=limit, question=question)


def search_outcome(
    query: str,
    *,
    limit: int = 10,
    faqs: int = 0,
    department: str | None = None,
    level: str | None = None,
    kind: str | None = None,
    audience: str | None = None,
    theme: str | None = None,
    type: str | None = None,
) -> SearchOutcome:
    """Like :func:`search`, with whether the query matched nothing well (``no_good_match``) and the best
    ``faqs`` matching FAQs of published items."""
    filters = Filters(department=department, level=level, kind=kind, audience=audience, theme=theme, type=type)
    return catalog_search.search_full(query, filters=filters, limit=limit, faqs=faqs)


# --- for other apps: items by id or name, windows -----------------------------------------


def item_version(item_id: int) -> ServiceItem:
    """One version of an item by its row id, published or not (cases keep the version they were applied under)."""
    return ServiceItem.objects.select_related("department").get(pk=item_id)


def published_item_named(name: str, department_code: str) -> ServiceItem | None:
    return ServiceItem.objects.published().filter(name=name, department__code=department_code).first()


def item_names(codes: Iterable[str]) -> dict[str, str]:
    """The name of each item code, from its latest version (names can change between versions)."""
    names: dict[str, str] = {}
    for code, name in (
        ServiceItem.objects.filter(code__in=list(codes)).order_by("code", "version").values_list("code", "name")
    ):
        names[code] = name
    return names


def windows(department_codes: Iterable[str] | None = None) -> QuerySet[Window]:
    """Service windows (窗口) with their department, in display order; only those of ``department_codes`` if given."""
    found = Window.objects.select_related("department").order_by("department__sort_order", "department__code", "name")
    return found if department_codes is None else found.filter(department__code__in=list(department_codes))


def window_by_id(window_id: int) -> Window | None:
    return Window.objects.select_related("department").filter(pk=window_id).first()


def window_names(window_ids: Iterable[int]) -> dict[int, str]:
    return dict(Window.objects.filter(pk__in=list(window_ids)).values_list("pk", "name"))


# --- what a version changes (shown to the reviewer before publishing) ------------------------------------------

# Bookkeeping that differs between any two versions and says nothing about the item.
_UNCOMPARED_FIELDS = frozenset(
    {
        "id",
        "version",
        "status",
        "published_at",
        "published_by",
        "reviewed_by",
        "submitted_by",
        "effective_date",
        "change_note",
        "created_at",
        "updated_at",
        "guide_complete",
    }
)


@dataclass(frozen=True)
class VersionChange:
    """One difference between a version and the one published before it: ``before`` empty for an addition."""

    label: str
    before: str
    after: str


def _value(row: Any, name: str) -> Any:
    # Choices read as their labels (原件, not original): the reviewer reads the diff, not the data.
    if getattr(row._meta.get_field(name), "choices", None):
        return getattr(row, f"get_{name}_display")()
    return getattr(row, name)


def _shown(item: ServiceItem, name: str) -> str:
    value = _value(item, name)
    if isinstance(value, list | tuple):
        return "、".join(str(v) for v in value)
    return "" if value is None else str(value)


def _row_text(row: Any) -> str:
    parts = []
    for model_field in row._meta.concrete_fields:
        if model_field.name in {"id", "item"}:
            continue
        value = (
            getattr(row, f"get_{model_field.name}_display")() if model_field.choices else getattr(row, model_field.name)
        )
        if value in (None, ""):
            continue
        parts.append(f"{model_field.verbose_name}：{value}")
    return "；".join(parts)


def version_changes(item: ServiceItem) -> list[VersionChange]:
    """What ``item`` changes against the version of its code published now (or, failing that, the one before).

    Empty for a first version or when nothing but bookkeeping differs.
    """
    base = (
        ServiceItem.objects.filter(code=item.code, status=ItemStatus.PUBLISHED).exclude(pk=item.pk).first()
        or ServiceItem.objects.filter(code=item.code, version__lt=item.version).order_by("-version").first()
    )
    if base is None:
        return []
    changes = []
    for model_field in ServiceItem._meta.concrete_fields:
        if model_field.name in _UNCOMPARED_FIELDS:
            continue
        before, after = _shown(base, model_field.name), _shown(item, model_field.name)
        if before != after:
            changes.append(VersionChange(str(model_field.verbose_name), before, after))
    for relation, label in (("materials", "申请材料"), ("steps", "办理环节"), ("fees", "收费"), ("faqs", "常见问题")):
        before_rows = [_row_text(r) for r in getattr(base, relation).all()]
        after_rows = [_row_text(r) for r in getattr(item, relation).all()]
        changes.extend(VersionChange(label, text, "") for text in before_rows if text not in after_rows)
        changes.extend(VersionChange(label, "", text) for text in after_rows if text not in before_rows)
    for relation, label in (("themes", "主题"), ("windows", "办理窗口")):
        before_names = {str(r) for r in getattr(base, relation).all()}
        after_names = {str(r) for r in getattr(item, relation).all()}
        if before_names != after_names:
            changes.append(VersionChange(label, "、".join(sorted(before_names)), "、".join(sorted(after_names))))
    return changes
