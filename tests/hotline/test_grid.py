"""Grid reports: loading the city's grid, routing a reported point to its cell's grid worker."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.accounts.factories import make_citizen, make_staff
from yiwang.accounts.constants import Role
from yiwang.hotline import selectors, services
from yiwang.hotline.constants import WorkOrderKind, WorkOrderState
from yiwang.hotline.geometry.geojson import DEMO_GRID_PATH
from yiwang.hotline.geometry.shapes import GridDataError
from yiwang.hotline.models import GridCell

pytestmark = pytest.mark.django_db


def square(code: str, lon: float, lat: float, **properties: Any) -> dict[str, Any]:
    ring = [[lon, lat], [lon + 0.01, lat], [lon + 0.01, lat + 0.01], [lon, lat + 0.01], [lon, lat]]
    return {
        "type": "Feature",
        "properties": {"code": code, "name": f"{code}网格", **properties},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def grid(*features: dict[str, Any]) -> str:
    return json.dumps({"type": "FeatureCollection", "features": list(features)})


@pytest.fixture
def worker(db: None) -> Any:
    return make_staff(Role.GRID_WORKER, "xingfu_street", username="grid-a")


def test_load_grid_creates_redraws_and_deactivates(worker: Any) -> None:
    report = services.load_grid(
        grid(square("G-1", 113.0, 23.0, worker="grid-a", department="xingfu_street"), square("G-2", 113.01, 23.0)),
        department_code="urban_management",
    )
    assert (report.created, report.updated, report.deactivated) == (2, 0, 0)
    cells = {c.code: c for c in GridCell.objects.all()}
    assert cells["G-1"].worker == worker and cells["G-1"].department.code == "xingfu_street"
    assert cells["G-2"].worker is None and cells["G-2"].department.code == "urban_management"
    again = services.load_grid(grid(square("G-1", 113.0, 23.0, worker="grid-a")), department_code="urban_management")
    assert (again.created, again.updated, again.deactivated) == (0, 1, 1)
    assert not GridCell.objects.get(code="G-2").active


def test_load_grid_refuses_bad_data_and_changes_nothing(worker: Any) -> None:
    services.load_grid(grid(square("G-1", 113.0, 23.0)), department_code="urban_management")
    with pytest.raises(GridDataError):
        services.load_grid(
            grid(square("G-9", 113.0, 23.0), square("G-10", 113.005, 23.0)), department_code="urban_management"
        )
    with pytest.raises(services.HotlineError) as unknown_worker:
        services.load_grid(grid(square("G-9", 113.0, 23.0, worker="nobody")), department_code="urban_management")
    assert unknown_worker.value.code == "unknown_worker"
    with pytest.raises(services.HotlineError) as unknown_department:
        services.load_grid(grid(square("G-9", 113.0, 23.0)), department_code="no-such-department")
    assert unknown_department.value.code == "unknown_department"
    assert list(GridCell.objects.values_list("code", flat=True)) == ["G-1"]


def test_report_routed_to_the_cells_grid_worker_who_handles_it(worker: Any) -> None:
    services.load_grid(
        grid(square("G-1", 113.0, 23.0, worker="grid-a", department="xingfu_street"), square("G-2", 113.01, 23.0)),
        department_code="urban_management",
    )
    citizen = make_citizen("上报人")
    order = services.report_grid_problem(
        actor=citizen,
        title="井盖缺失",
        content="路口井盖缺失，夜间危险",
        category="市政设施",
        longitude=113.005,
        latitude=23.005,
    )
    assert order.kind == WorkOrderKind.GRID and order.grid_cell.code == "G-1"
    assert order.state == WorkOrderState.DISPATCHED and order.assignee == worker
    assert order.department.code == "xingfu_street" and order.dispatch_mode == "grid"
    assert order in selectors.department_queue(worker)
    order = services.perform(order, "acknowledge", actor=worker)
    order = services.perform(order, "reply", actor=worker, reply="已设置警示并通知市政修复")
    assert order.state == WorkOrderState.REPLIED
    assert selectors.public_progress(order.number, order.verification_code) == order

    # Just outside the grid: the nearest cell takes it; far away: refused.
    near = services.report_grid_problem(
        actor=citizen, title="路灯不亮", content="路灯坏了", category="市政设施", longitude=113.0205, latitude=23.005
    )
    assert near.grid_cell.code == "G-2" and near.assignee is None and near.department.code == "urban_management"
    with pytest.raises(services.HotlineError) as outside:
        services.report_grid_problem(
            actor=citizen, title="远处", content="很远", category="市政设施", longitude=114.5, latitude=23.0
        )
    assert outside.value.code == "outside_grid"
    for lon, lat in [("abc", 23.0), (float("nan"), 23.0), (113.0, 95)]:
        with pytest.raises(services.HotlineError) as bad:
            services.report_grid_problem(
                actor=citizen, title="坏坐标", content="坐标", category="市政设施", longitude=lon, latitude=lat
            )
        assert bad.value.code == "bad_location"
    with pytest.raises(services.NotAllowed):
        services.report_grid_problem(
            actor=None, title="匿名", content="匿名", category="市政设施", longitude=113.005, latitude=23.005
        )


def test_no_grid_loaded_refuses_reports_clearly() -> None:
    with pytest.raises(services.HotlineError) as error:
        services.report_grid_problem(
            actor=make_citizen("上报人乙"),
            title="井盖",
            content="缺失",
            category="市政设施",
            longitude=113.005,
            latitude=23.005,
        )
    assert error.value.code == "outside_grid"


def test_the_demo_grid_loads(worker: Any) -> None:
    from django.contrib.auth import get_user_model

    get_user_model().objects.create(username="grid-worker")
    report = services.load_grid(DEMO_GRID_PATH.read_bytes(), department_code="urban_management")
    assert report.created == 18
    assert GridCell.objects.filter(worker__username="grid-worker", department__code="xingfu_street").count() == 3


def test_load_grid_command(tmp_path: Any) -> None:
    from django.core.management import CommandError, call_command

    good = tmp_path / "grid.geojson"
    good.write_text(grid(square("C-1", 113.0, 23.0)), encoding="utf-8")
    call_command("load_grid", str(good), "--department", "urban_management")
    assert GridCell.objects.filter(code="C-1", active=True).exists()
    bad = tmp_path / "bad.geojson"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(CommandError):
        call_command("load_grid", str(bad), "--department", "urban_management")
    with pytest.raises(CommandError):
        call_command("load_grid", str(tmp_path / "missing.geojson"), "--department", "urban_management")
