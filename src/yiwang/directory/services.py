"""Changes to divisions and departments: seed, import and the administration call these."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from .models import Department, Division


class DirectoryError(Exception):
    """A division or department that cannot be saved as asked (unknown parent, unknown division)."""


@transaction.atomic
def save_division(*, code: str, name: str, level: str, parent_code: str | None = None) -> Division:
    """Create or update a division; its parent must exist already."""
    parent = None
    if parent_code:
        parent = Division.objects.filter(code=parent_code).first()
        if parent is None:
            raise DirectoryError(f"上级行政区划 {parent_code} 不存在")
    division, _created = Division.objects.update_or_create(
        code=code, defaults={"name": name, "level": level, "parent": parent}
    )
    return division


@transaction.atomic
def save_department(*, code: str, division_code: str, parent_code: str | None = None, **fields: Any) -> Department:
    """Create or update a department by code; its division (and parent, if any) must exist already.

    ``fields`` are the department's other attributes (name, short_name,
    credit_code, level, description, address, phone, office_hours,
    sort_order); attributes not given keep their value.
    """
    division = Division.objects.filter(code=division_code).first()
    if division is None:
        raise DirectoryError(f"行政区划 {division_code} 不存在")
    parent = None
    if parent_code:
        parent = Department.objects.filter(code=parent_code).first()
        if parent is None:
            raise DirectoryError(f"上级部门 {parent_code} 不存在")
    department, _created = Department.objects.update_or_create(
        code=code, defaults={"division": division, "parent": parent, **fields}
    )
    return department


@transaction.atomic
def create_department_if_missing(
    *, code: str, division_code: str, division_name: str, division_level: str, **fields: Any
) -> bool:
    """Create a department found in an import, with its division if that is new too; False if it exists.

    The department takes its division's level. ``fields`` are its other
    attributes (name, short_name, credit_code, sort_order …).
    """
    if Department.objects.filter(code=code).exists():
        return False
    division, _created = Division.objects.get_or_create(
        code=division_code, defaults={"name": division_name, "level": division_level}
    )
    Department.objects.create(code=code, division=division, level=division.level, **fields)
    return True
