"""Test data for the catalogue, built through the same record path as imports."""

from __future__ import annotations

from typing import Any

from yiwang.catalog.models import ServiceItem
from yiwang.catalog.records import Validator, apply_record
from yiwang.directory.models import Department

_counter = iter(range(1, 10**6))


def item_record(**overrides: Any) -> dict[str, Any]:
    n = next(_counter)
    record: dict[str, Any] = {
        "code": f"TST{n:06d}-990100000000-000-11990100990000156Q-1-00",
        "name": f"测试事项{n}",
        "kind": "licensing",
        "department": "market",
        "audience": "organisation",
        "statutory_days": 20,
        "promised_days": 5,
        "online_depth": 3,
        "channels": ["online", "counter"],
        "materials": [{"name": "申请书", "form": "original", "copies": 1}],
        "steps": [{"name": "受理", "role": "窗口", "days": 1}, {"name": "决定", "role": "审批", "days": 4}],
        "fees": [],
    }
    record.update(overrides)
    return record


def make_item(*, publish: bool = True, **overrides: Any) -> ServiceItem:
    clean, problems = Validator().validate(item_record(**overrides))
    assert clean is not None, problems
    result = apply_record(clean, actor=None, publish=publish)
    return ServiceItem.objects.get(code=result.code, version=result.version)


def department(code: str = "market") -> Department:
    return Department.objects.get(code=code)
