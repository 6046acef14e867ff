"""Every change to the service catalogue goes through this module.

Pages, the admin, the API, import and seed all call these functions, so the
draft → review → publish rules and the search index hooks hold from every
door.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.core.audit import record_event
from yiwang.core.problems import ServiceError

from .constants import GuideFact, ItemStatus, guide_is_complete
from .models import (
    Bundle,
    Faq,
    Fee,
    Material,
    ProcessStep,
    SearchChoice,
    SearchIndexChange,
    ServiceItem,
    Theme,
    Window,
)
from .search.hybrid import query_key


class CatalogError(ServiceError):
    """A catalogue rule was broken; ``code`` is stable, ``detail`` is for people (Chinese)."""

    # A step the item's current state does not allow conflicts with that state.
    statuses = {
        **dict.fromkeys(("draft_exists", "not_draft", "not_in_review", "not_reviewable", "not_published"), 409),
        "four_eyes": 403,
    }


def _record_index_change(target: str, code: str) -> None:
    SearchIndexChange.objects.create(target=target, code=code)


def note_item_changed(code: str) -> None:
    """Tell every process's search index that the item ``code`` changed (called inside the writing transaction)."""
    _record_index_change(SearchIndexChange.Target.ITEM, code)


def note_bundle_changed(code: str) -> None:
    _record_index_change(SearchIndexChange.Target.BUNDLE, code)


@transaction.atomic
def start_new_version(item: ServiceItem, *, actor: Any, change_note: str = "") -> ServiceItem:
    """Copy a published (or superseded) version into a new draft with the next version number.

    The copy carries every material, step, fee, FAQ, theme and window, so the
    editor changes only what differs. Only one open draft per code is allowed.
    """
    if ServiceItem.objects.filter(code=item.code, status__in=[ItemStatus.DRAFT, ItemStatus.IN_REVIEW]).exists():
        raise CatalogError("draft_exists", _("事项%(code)s已有未发布的草稿，请先处理该草稿") % {"code": item.code})
    latest = ServiceItem.objects.filter(code=item.code).order_by("-version").values_list("version", flat=True)[0]
    themes = list(item.themes.all())
    windows = list(item.windows.all())
    related: list[Material | ProcessStep | Fee | Faq] = [
        *item.materials.all(),
        *item.steps.all(),
        *item.fees.all(),
        *item.faqs.all(),
    ]
    draft = ServiceItem.objects.get(pk=item.pk)
    draft.pk = None
    draft.id = None
    draft.version = latest + 1
    draft.status = ItemStatus.DRAFT
    draft.published_at = None
    draft.published_by = None
    draft.reviewed_by = None
    draft.submitted_by = None
    draft.effective_date = None
    draft.change_note = change_note
    draft.save()
    draft.themes.set(themes)
    draft.windows.set(windows)
    for row in related:
        row.pk = None
        row.id = None
        row.item = draft
        row.save()
    return draft


def submit_for_review(item: ServiceItem, *, actor: Any) -> ServiceItem:
    """Send a draft to review."""
    with transaction.atomic():
        item = ServiceItem.objects.select_for_update().get(pk=item.pk)
        if item.status != ItemStatus.DRAFT:
            raise CatalogError("not_draft", _("只有草稿状态的事项可以提交审核"))
        item.status = ItemStatus.IN_REVIEW
        item.submitted_by = actor if getattr(actor, "pk", None) else None
        item.save(update_fields=["status", "submitted_by", "updated_at"])
    return item


def return_to_draft(item: ServiceItem, *, actor: Any, reason: str) -> ServiceItem:
    """Send an item under review back to its editor."""
    if not reason.strip():
        raise CatalogError("reason_required", _("退回修改需要说明理由"))
    with transaction.atomic():
        item = ServiceItem.objects.select_for_update().get(pk=item.pk)
        if item.status != ItemStatus.IN_REVIEW:
            raise CatalogError("not_in_review", _("只有待审核的事项可以退回"))
        item.status = ItemStatus.DRAFT
        item.change_note = f"退回：{reason.strip()}"[:200]
        item.save(update_fields=["status", "change_note", "updated_at"])
    return item


def publish_item(
    item: ServiceItem,
    *,
    actor: Any,
    effective_date: dt.date | None = None,
    skip_review: bool = False,
    require_materials: bool = True,
) -> ServiceItem:
    """Publish a reviewed version; the version it replaces is kept as superseded history.

    ``skip_review`` is for trusted bulk sources (seed data, an import of a
    department's approved list); interactive publishing must go through review,
    by someone other than the person who submitted the version (four-eyes).
    """
    with transaction.atomic():
        item = ServiceItem.objects.select_for_update().get(pk=item.pk)
        allowed = {ItemStatus.IN_REVIEW} | ({ItemStatus.DRAFT} if skip_review else set())
        if item.status not in allowed:
            raise CatalogError("not_reviewable", _("事项须经审核后才能发布"))
        if not skip_review and _same_person(actor, item.submitted_by_id):
            record_event(
                "permission.denied",
                actor=actor,
                target=f"catalog.ServiceItem:{item.pk}",
                detail={"action": "publish_item", "reason": "four_eyes"},
            )
            raise CatalogError("four_eyes", _("提交审核的人不能同时审核发布，请由另一位审核人员发布"))
        if require_materials and not item.materials.exists():
            raise CatalogError("no_materials", _("事项未填写申请材料，不能发布"))
        (
            ServiceItem.objects.filter(code=item.code, status=ItemStatus.PUBLISHED)
            .exclude(pk=item.pk)
            .update(status=ItemStatus.SUPERSEDED, updated_at=timezone.now())
        )
        _settle_unknown_facts(item)
        now = timezone.now()
        item.status = ItemStatus.PUBLISHED
        item.published_at = now
        item.published_by = actor if getattr(actor, "pk", None) else None
        if not skip_review:
            item.reviewed_by = item.published_by
        item.effective_date = effective_date or timezone.localdate(now)
        item.save()
        note_item_changed(item.code)
    return item


def _same_person(actor: Any, user_id: int | None) -> bool:
    return user_id is not None and getattr(actor, "pk", None) == user_id


def _settle_unknown_facts(item: ServiceItem) -> None:
    """Facts a department has since filled in are no longer unknown; the guide is complete when none required is."""
    given = {
        GuideFact.MATERIALS: item.materials.exists(),
        GuideFact.FEES: item.charges_fee or item.fees.exists(),
        GuideFact.TIME_LIMITS: item.statutory_days is not None
        or item.promised_days is not None
        or bool(item.time_limit_note),
    }
    item.unknown_facts = [fact for fact in item.unknown_facts if not given.get(GuideFact(fact), False)]
    item.guide_complete = guide_is_complete(item.unknown_facts)


def withdraw_item(item: ServiceItem, *, actor: Any, reason: str) -> ServiceItem:
    """Take a published item off the public catalogue (停用); its history stays."""
    if not reason.strip():
        raise CatalogError("reason_required", _("停用事项需要说明理由"))
    with transaction.atomic():
        item = ServiceItem.objects.select_for_update().get(pk=item.pk)
        if item.status != ItemStatus.PUBLISHED:
            raise CatalogError("not_published", _("只有已发布的事项可以停用"))
        item.status = ItemStatus.WITHDRAWN
        item.change_note = f"停用：{reason.strip()}"[:200]
        item.save(update_fields=["status", "change_note", "updated_at"])
        note_item_changed(item.code)
    return item


def publish_bundle(bundle: Bundle, *, actor: Any) -> Bundle:
    """Publish a bundle once every member item is published."""
    with transaction.atomic():
        bundle = Bundle.objects.select_for_update().get(pk=bundle.pk)
        codes = list(bundle.members.values_list("item_code", flat=True))
        if len(codes) < 2:
            raise CatalogError("bundle_too_small", _("一件事至少包含两个事项"))
        published = set(ServiceItem.objects.published().filter(code__in=codes).values_list("code", flat=True))
        missing = [c for c in codes if c not in published]
        if missing:
            raise CatalogError(
                "bundle_members_unpublished", _("以下事项尚未发布：%(codes)s") % {"codes": "、".join(missing)}
            )
        bundle.status = ItemStatus.PUBLISHED
        bundle.save(update_fields=["status", "updated_at"])
        note_bundle_changed(bundle.code)
    return bundle


def touch_items(codes: Iterable[str]) -> None:
    """Re-index items whose public data changed outside the versioned fields (e.g. a department rename)."""
    with transaction.atomic():
        for code in codes:
            note_item_changed(code)


def save_theme(*, code: str, **fields: Any) -> Theme:
    """Create or update a theme by code (seed and directory import); ``fields`` are name, audience …"""
    theme, _created = Theme.objects.update_or_create(code=code, defaults=fields)
    return theme


def save_window(*, department: Any, name: str, **fields: Any) -> Window:
    """Create or update a department's window by its name (seed and directory import)."""
    window, _created = Window.objects.update_or_create(department=department, name=name, defaults=fields)
    return window


def record_search_choice(query: str, target: str, code: str) -> bool:
    """Count that someone who searched ``query`` opened the item or bundle ``code`` from the results.

    Only the normalised query, the target and a count are stored -- no user, session, address or
    time of the single choice (see ``SearchChoice``). Returns whether anything was counted: an empty
    or over-long query, an unknown target and an unpublished code are ignored, not errors, since the
    link that carries them can be edited by anyone.
    """
    if not query or len(query) > settings.SEARCH_MAX_QUERY_LENGTH * 4:
        return False
    key = query_key(query)
    if not key or len(key) > settings.SEARCH_MAX_QUERY_LENGTH:
        return False
    if target == SearchIndexChange.Target.ITEM:
        exists = ServiceItem.objects.published().filter(code=code).exists()
    elif target == SearchIndexChange.Target.BUNDLE:
        exists = Bundle.objects.filter(code=code, status=ItemStatus.PUBLISHED).exists()
    else:
        return False
    if not exists:
        return False
    with transaction.atomic():
        updated = SearchChoice.objects.filter(query_key=key, target=target, code=code).update(count=F("count") + 1)
        if not updated:
            try:
                with transaction.atomic():
                    SearchChoice.objects.create(query_key=key, target=target, code=code, count=1)
            except IntegrityError:  # another request created it first
                SearchChoice.objects.filter(query_key=key, target=target, code=code).update(count=F("count") + 1)
    return True
