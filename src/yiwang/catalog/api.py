"""Catalogue API: departments, themes, items, bundles and search (一网通查)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Literal

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from pydantic import Field

from yiwang.core import text
from yiwang.core.problems import ServiceError, problems

from . import selectors
from .constants import Audience, ItemKind, Level
from .models import ServiceItem

if TYPE_CHECKING:
    from yiwang.directory.models import Department

# Public: the catalogue is open to everyone, signed in or not.
router = Router(tags=["事项目录 catalog"], auth=None)

Limit = Annotated[int, Field(ge=1, le=100, description="每页条数，1-100")]
Offset = Annotated[int, Field(ge=0, le=1_000_000, description="起始位置")]
ShortText = Annotated[str, Field(max_length=64)]


class DepartmentRef(Schema):
    code: str
    name: str


class DepartmentOut(Schema):
    code: str
    name: str
    short_name: str
    level: str
    credit_code: str
    division_code: str
    parent: str | None
    address: str
    phone: str
    office_hours: str
    item_count: int


class DepartmentPage(Schema):
    items: list[DepartmentOut]
    count: int
    limit: int
    offset: int


class ThemeOut(Schema):
    code: str
    name: str
    audience: str
    description: str
    item_count: int


class ItemSummary(Schema):
    code: str
    name: str
    version: int
    kind: str
    kind_label: str
    level: str
    audience: str
    department: DepartmentRef
    promised_days: int | None
    statutory_days: int | None
    online_depth: int
    url: str


class ItemPage(Schema):
    items: list[ItemSummary]
    count: int
    limit: int
    offset: int


class MaterialOut(Schema):
    name: str
    form: str
    copies: int
    requirement: str
    condition: str
    source: str
    source_name: str
    note: str


class StepOut(Schema):
    name: str
    role: str
    description: str
    days: int | None


class FeeOut(Schema):
    name: str
    amount: Decimal
    unit: str
    basis: str
    situation: str


class FaqOut(Schema):
    question: str
    answer: str


class WindowOut(Schema):
    name: str
    address: str
    office_hours: str
    phone: str


class ItemDetail(ItemSummary):
    status: str
    base_code: str
    division_code: str
    summary: str
    legal_basis: str
    conditions: str
    time_limit_note: str
    charges_fee: bool
    channels: list[str]
    visits_required: int
    min_assurance_level: int
    result_name: str
    consult_phone: str
    complaint_phone: str
    effective_date: dt.date | None
    # Facts the source left unknown (materials, fees, time_limits, visits): shown as 待补充, not as none.
    unknown_facts: list[str]
    guide_complete: bool
    themes: list[str]
    materials: list[MaterialOut]
    steps: list[StepOut]
    fees: list[FeeOut]
    faqs: list[FaqOut]
    windows: list[WindowOut]


class VersionOut(Schema):
    version: int
    status: str
    effective_date: dt.date | None
    change_note: str


class BundleMemberOut(Schema):
    code: str
    name: str
    department: DepartmentRef
    choice_group: str
    condition: str


class CombinedMaterialOut(Schema):
    name: str
    form: str
    requirement: str
    source: str
    needed_by: list[str]


class BundleOut(Schema):
    code: str
    name: str
    audience: str
    summary: str
    promised_days: int | None
    url: str


class BundleDetail(BundleOut):
    members: list[BundleMemberOut]
    materials: list[CombinedMaterialOut]
    departments: list[DepartmentRef]
    partner_services: list[str]


class SearchResult(Schema):
    type: Literal["item", "bundle"]
    code: str
    name: str
    department: DepartmentRef
    score: float
    kind: str
    level: str
    url: str


class SearchResponse(Schema):
    query: str
    results: list[SearchResult]
    total: int
    no_good_match: bool = Field(
        False,
        description="没有足够相关的结果：results 为空，应引导用户换个说法、拨打12345、问智能帮办或到窗口咨询",
    )


class ItemFilters(Schema):
    department: ShortText | None = None
    level: Level | None = None
    kind: ItemKind | None = None
    audience: Literal["person", "organisation"] | None = None
    theme: ShortText | None = None


class PageParams(Schema):
    limit: Limit = 20
    offset: Offset = 0


def _department_ref(department: Department) -> DepartmentRef:
    return DepartmentRef(code=department.code, name=department.name)


def _item_url(code: str) -> str:
    return f"/items/{code}/"


def _item_summary(item: ServiceItem) -> ItemSummary:
    return ItemSummary(
        code=item.code,
        name=item.name,
        version=item.version,
        kind=item.kind,
        kind_label=str(ItemKind(item.kind).label),
        level=item.level,
        audience=item.audience,
        department=_department_ref(item.department),
        promised_days=item.promised_days,
        statutory_days=item.statutory_days,
        online_depth=item.online_depth,
        url=_item_url(item.code),
    )


@router.get("/departments", response={200: DepartmentPage, **problems(422)}, summary="部门列表")
def list_departments(request: HttpRequest, page: Query[PageParams]) -> DepartmentPage:
    departments = selectors.departments()
    rows = list(departments[page.offset : page.offset + page.limit])
    return DepartmentPage(
        items=[_department_out(d) for d in rows], count=departments.count(), limit=page.limit, offset=page.offset
    )


def _department_out(d: Department) -> DepartmentOut:
    return DepartmentOut(
        code=d.code,
        name=d.name,
        short_name=d.short_name,
        level=d.level,
        credit_code=d.credit_code,
        division_code=d.division.code,
        parent=d.parent.code if d.parent else None,
        address=d.address,
        phone=d.phone,
        office_hours=d.office_hours,
        item_count=getattr(d, "item_count", 0),
    )


@router.get("/departments/{code}", response={200: DepartmentOut, **problems(404, 422)}, summary="部门详情")
def get_department(request: HttpRequest, code: str) -> DepartmentOut:
    return _department_out(selectors.get_department(code))


@router.get("/themes", response={200: list[ThemeOut]}, summary="主题（人生事件、法人事件）")
def list_themes(request: HttpRequest) -> list[ThemeOut]:
    return [
        ThemeOut(
            code=t.code,
            name=t.name,
            audience=t.audience,
            description=t.description,
            item_count=getattr(t, "item_count", 0),
        )
        for t in selectors.themes()
    ]


@router.get("/items", response={200: ItemPage, **problems(422)}, summary="已发布事项列表")
def list_items(request: HttpRequest, filters: Query[ItemFilters], page: Query[PageParams]) -> ItemPage:
    items = selectors.published_items(**filters.dict())
    rows = list(items[page.offset : page.offset + page.limit])
    return ItemPage(items=[_item_summary(i) for i in rows], count=items.count(), limit=page.limit, offset=page.offset)


@router.get("/items/{code}", response={200: ItemDetail, **problems(404, 422)}, summary="事项详情（办事指南）")
def get_item(
    request: HttpRequest, code: str, version: Annotated[int | None, Field(ge=1, le=100000)] = None
) -> ItemDetail:
    item = selectors.get_item(code, version)
    return ItemDetail(
        **_item_summary(item).dict(),
        status=item.status,
        base_code=item.base_item.code,
        division_code=item.division_code,
        summary=item.summary,
        legal_basis=item.legal_basis,
        conditions=item.conditions,
        time_limit_note=item.time_limit_note,
        charges_fee=item.charges_fee,
        channels=list(item.channels),
        visits_required=item.visits_required,
        min_assurance_level=item.min_assurance_level,
        result_name=item.result_name,
        consult_phone=item.consult_phone,
        complaint_phone=item.complaint_phone,
        effective_date=item.effective_date,
        unknown_facts=list(item.unknown_facts),
        guide_complete=item.guide_complete,
        themes=[t.code for t in item.themes.all()],
        materials=[MaterialOut.from_orm(m) for m in item.materials.all()],
        steps=[StepOut.from_orm(s) for s in item.steps.all()],
        fees=[FeeOut.from_orm(f) for f in item.fees.all()],
        faqs=[FaqOut.from_orm(q) for q in item.faqs.all()],
        windows=[WindowOut.from_orm(w) for w in item.windows.all()],
    )


@router.get("/items/{code}/versions", response={200: list[VersionOut], **problems(404, 422)}, summary="事项的版本历史")
def item_versions(request: HttpRequest, code: str) -> list[VersionOut]:
    history = selectors.item_history(code)
    if not history:
        raise ServiceError("not_found", _("事项不存在或未发布"), status=404)
    return [VersionOut.from_orm(v) for v in history]


@router.get("/bundles", response={200: list[BundleOut]}, summary="一件事列表")
def list_bundles(request: HttpRequest) -> list[BundleOut]:
    return [
        BundleOut(
            code=b.code,
            name=b.name,
            audience=b.audience,
            summary=b.summary,
            promised_days=b.promised_days,
            url=f"/bundles/{b.code}/",
        )
        for b in selectors.published_bundles()
    ]


@router.get("/bundles/{code}", response={200: BundleDetail, **problems(404, 422)}, summary="一件事详情（合并材料清单）")
def get_bundle(request: HttpRequest, code: str) -> BundleDetail:
    view = selectors.get_bundle(code)
    b = view.bundle
    return BundleDetail(
        code=b.code,
        name=b.name,
        audience=b.audience,
        summary=b.summary,
        promised_days=b.promised_days,
        url=f"/bundles/{b.code}/",
        members=[
            BundleMemberOut(
                code=m.item.code,
                name=m.item.name,
                department=_department_ref(m.item.department),
                choice_group=m.membership.choice_group,
                condition=m.membership.condition,
            )
            for m in view.members
        ],
        materials=[
            CombinedMaterialOut(
                name=c.material.name,
                form=c.material.form,
                requirement=c.material.requirement,
                source=c.material.source,
                needed_by=c.item_names,
            )
            for c in view.materials
        ],
        departments=[_department_ref(d) for d in view.departments],
        partner_services=list(b.partner_services),
    )


class SearchParams(Schema):
    # The length is checked by hand below so that an oversized query gets our
    # own problem code rather than a generic validation error.
    q: str = Field("", description="查询词：中文、繁体、拼音或拼音首字母")
    limit: Annotated[int, Field(ge=1, le=50)] = 10
    type: Literal["item", "bundle"] | None = None
    department: ShortText | None = None
    level: Level | None = None
    kind: ItemKind | None = None
    audience: Literal["person", "organisation"] | None = None
    theme: ShortText | None = None


@router.get("/search", response={200: SearchResponse, **problems(400, 422)}, summary="一网通查：搜索事项和一件事")
def search(request: HttpRequest, params: Query[SearchParams]) -> SearchResponse:
    query = validate_query(params.q)
    outcome = selectors.search_outcome(
        query,
        limit=params.limit,
        type=params.type,
        department=params.department,
        level=params.level,
        kind=params.kind,
        audience=params.audience,
        theme=params.theme,
    )
    return SearchResponse(
        query=query,
        total=outcome.total,
        no_good_match=outcome.no_good_match,
        results=[
            SearchResult(
                type=h.doc.type,  # type: ignore[arg-type]
                code=h.doc.code,
                name=h.doc.name,
                department=DepartmentRef(code=h.doc.department_code, name=h.doc.department_name),
                score=round(h.score, 4),
                kind=h.doc.kind,
                level=h.doc.level,
                url=_item_url(h.doc.code) if h.doc.type == "item" else f"/bundles/{h.doc.code}/",
            )
            for h in outcome.hits
        ],
    )


def validate_query(raw: str) -> str:
    """Normalise a search query or raise a problem saying why it cannot be searched."""
    limit = settings.SEARCH_MAX_QUERY_LENGTH
    if len(raw) > limit * 4:
        raise ServiceError("query_too_long", _("查询词过长，请不要超过%(limit)d个字") % {"limit": limit})
    query = text.normalise(raw)
    if len(query) > limit:
        raise ServiceError("query_too_long", _("查询词过长，请不要超过%(limit)d个字") % {"limit": limit})
    if not query:
        raise ServiceError("query_empty", _("请输入要查找的事项名称或关键词"))
    return query


__all__ = ["Audience", "router"]
