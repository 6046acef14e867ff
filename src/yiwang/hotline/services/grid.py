"""The grid (网格): loading the city's cells, locating a point, and grid reports (网格上报) routed by cell."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext as _

from yiwang.core import calendar, numbering
from yiwang.core.audit import record_event
from yiwang.hotline.constants import DispatchMode, Source, WorkOrderKind
from yiwang.hotline.geometry.geojson import cell_from_geometry, parse_grid_geojson
from yiwang.hotline.geometry.locate import GridLocator
from yiwang.hotline.geometry.shapes import InvalidCoordinates, check_coordinates
from yiwang.hotline.models import GridCell, WorkOrder
from yiwang.hotline.services._shared import actor_label, add_event, clean_point, department_by_code, next_number
from yiwang.hotline.services.actions import perform
from yiwang.hotline.services.attachments import check_attachments, store_attachments
from yiwang.hotline.services.errors import HotlineError, NotAllowed
from yiwang.hotline.services.rules import CONTENT_MAX, TITLE_MAX, clean_text

if TYPE_CHECKING:
    from yiwang.directory.models import Department


@dataclass(frozen=True)
class GridLoadReport:
    created: int
    updated: int
    deactivated: int


def load_grid(data: str | bytes, *, department_code: str, actor: Any = None) -> GridLoadReport:
    """Load the city's grid from GeoJSON: cells added or redrawn by code, cells no longer there deactivated.

    ``department_code`` is the department responsible for cells whose data
    names none (property ``department``); ``worker`` names a grid worker's
    user name. Refused as a whole, with nothing changed, when any cell is
    wrong (``GridDataError``) or names an unknown worker or department.
    """
    cells = parse_grid_geojson(data)
    default = department_by_code(department_code)
    from django.contrib.auth import get_user_model

    users = get_user_model().objects
    departments: dict[str, Department] = {default.code: default}
    rows = []
    for cell in cells:
        code = str(cell.properties.get("department") or default.code)
        if code not in departments:
            departments[code] = department_by_code(code)
        worker = None
        if cell.worker:
            worker = users.filter(username=cell.worker, is_active=True).first()
            if worker is None:
                raise HotlineError(
                    "unknown_worker",
                    _("网格%(code)s的网格员账户不存在：%(worker)s") % {"code": cell.code, "worker": cell.worker},
                )
        rows.append((cell, departments[code], worker))
    created = updated = 0
    with transaction.atomic():
        for cell, department, worker in rows:
            _row, made = GridCell.objects.update_or_create(
                code=cell.code,
                defaults={
                    "name": cell.name,
                    "division": cell.division or "",
                    "geometry": cell.geojson,
                    "worker": worker,
                    "department": department,
                    "active": True,
                },
            )
            created += made
            updated += not made
        deactivated = (
            GridCell.objects.filter(active=True).exclude(code__in=[c.code for c in cells]).update(active=False)
        )
        record_event(
            "hotline.load_grid",
            actor=actor,
            target="hotline.GridCell",
            detail={"created": created, "updated": updated, "deactivated": deactivated},
        )
    return GridLoadReport(created, updated, deactivated)


_locator_cache: dict[tuple[int, str], GridLocator] = {}


def grid_locator() -> GridLocator | None:
    """The locator of the active grid, rebuilt when any cell changes (None: no grid loaded)."""
    active = GridCell.objects.filter(active=True)
    latest = active.order_by("-updated_at").values_list("updated_at", flat=True).first()
    if latest is None:
        return None
    key = (active.count(), latest.isoformat())
    locator = _locator_cache.get(key)
    if locator is None:
        shapes = [cell_from_geometry(c.code, c.name, c.geometry) for c in active]
        locator = GridLocator(shapes)
        _locator_cache.clear()
        _locator_cache[key] = locator
    return locator


def report_grid_problem(
    *,
    actor: Any,
    title: str,
    content: str,
    category: str,
    longitude: Any,
    latitude: Any,
    location_text: str = "",
    attachments: Sequence[UploadedFile] = (),
) -> WorkOrder:
    """A grid report (网格上报): a problem at a point, routed to the grid worker of the cell it lies in.

    On a border the cell with the lowest code takes it; just outside the
    grid, the nearest cell (within the locator's distance); far outside, the
    report is refused with a clear message. Photos (``attachments``) are
    kept with the report as in :func:`register`: all of them or no report.
    """
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise NotAllowed("login_required", _("请先登录再上报"))
    title = clean_text(title, field="title", label=_("标题"), max_length=TITLE_MAX)
    content = clean_text(content, field="content", label=_("问题描述"), max_length=CONTENT_MAX)
    category = clean_text(category, field="category", label=_("问题类别"), max_length=64)
    location_text = clean_text(location_text, field="location", label=_("地点"), max_length=200, required=False)
    try:
        lon, lat = check_coordinates(longitude, latitude)
    except InvalidCoordinates as error:
        raise HotlineError("bad_location", str(error), field="location") from error
    locator = grid_locator()
    found = locator.locate(lon, lat) if locator is not None else None
    if found is None:
        raise HotlineError("outside_grid", _("该位置不在本市网格范围内，请在地图上重新选择，或拨打12345"))
    cell = GridCell.objects.select_related("department", "worker").get(code=found.code)
    point_lon, point_lat = clean_point(lon, lat)
    files = check_attachments(attachments, actor=actor)
    with transaction.atomic():
        order = WorkOrder.objects.create(
            number=next_number(calendar.today_local()),
            verification_code=numbering.verification_code(),
            kind=WorkOrderKind.GRID,
            source=Source.GRID,
            title=title,
            content=content,
            category=category,
            location_text=location_text or cell.name,
            longitude=point_lon,
            latitude=point_lat,
            grid_cell=cell,
            caller_user=actor,
            caller_person_id=getattr(actor, "person_id", None),
            caller_name=actor_label(actor),
        )
        stored = store_attachments(order, files, actor=actor)
        add_event(
            order,
            "register",
            actor=actor,
            from_state="",
            to_state=order.state,
            detail={
                "source": Source.GRID,
                "cell": cell.code,
                "located": found.how,
                **({"attachments": len(stored)} if stored else {}),
            },
        )
        order = perform(
            order,
            "dispatch",
            actor=None,
            department=cell.department.code,
            category=category,
            mode=DispatchMode.GRID,
            assignee=cell.worker,
        )
    return order
