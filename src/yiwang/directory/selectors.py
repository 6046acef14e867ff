"""Reads of divisions and departments, for every other app."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from .models import Department, Division


def departments() -> QuerySet[Department]:
    """Every department with its division and parent, in display order."""
    return Department.objects.select_related("division", "parent").order_by("sort_order", "code")


def department_by_code(code: str | None) -> Department | None:
    if not code:
        return None
    return Department.objects.select_related("division").filter(code=str(code)).first()


def department_by_id(department_id: int) -> Department | None:
    return Department.objects.select_related("division").filter(pk=department_id).first()


def departments_by_code(codes: Iterable[str]) -> dict[str, Department]:
    return {department.code: department for department in Department.objects.filter(code__in=list(codes))}


def department_codes() -> set[str]:
    return set(Department.objects.values_list("code", flat=True))


def department_names() -> list[tuple[str, str]]:
    """(code, name) of every department in display order, for choice lists."""
    return list(Department.objects.order_by("sort_order", "code").values_list("code", "name"))


def department_tree() -> list[tuple[int, str, int | None]]:
    """(id, code, parent id) of every department: enough to walk the hierarchy without loading rows."""
    return list(Department.objects.values_list("pk", "code", "parent_id"))


def department_and_descendants(code: str) -> list[str]:
    """The code of a department and of every department below it; empty for an unknown code."""
    by_parent: dict[int | None, list[tuple[int, str]]] = {}
    root: int | None = None
    for pk, department_code, parent in department_tree():
        by_parent.setdefault(parent, []).append((pk, department_code))
        if department_code == code:
            root = pk
    if root is None:
        return []
    found, stack = [code], [root]
    while stack:
        for child_pk, child_code in by_parent.get(stack.pop(), []):
            found.append(child_code)
            stack.append(child_pk)
    return found


def division_by_code(code: str) -> Division | None:
    return Division.objects.filter(code=code).first()


def divisions() -> QuerySet[Division]:
    """Every division with its parent, by code."""
    return Division.objects.select_related("parent").order_by("code")


def division_codes() -> set[str]:
    return set(Division.objects.values_list("code", flat=True))
