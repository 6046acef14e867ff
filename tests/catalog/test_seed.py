"""The seed catalogue is complete and well formed."""

import re
from pathlib import Path

import pytest

from yiwang.catalog.constants import ItemStatus
from yiwang.catalog.demo import load_seed
from yiwang.catalog.models import Bundle, ServiceItem
from yiwang.core.identifiers import credit_code_problem, parse_implementation_code
from yiwang.directory.models import Department

pytestmark = pytest.mark.django_db


def core_names(shared_dir: Path) -> tuple[dict[str, list[str]], list[str]]:
    """Items per department heading, and bundle names, from catalog-core-items.md."""
    items: dict[str, list[str]] = {}
    bundles: list[str] = []
    heading = ""
    for line in (shared_dir / "catalog-core-items.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            heading = line[3:].strip()
        elif line.startswith("- ") and heading.startswith('"一件事"'):
            bundles.append(line[2:].split(" (")[0].strip())
        elif line.startswith("- ") and heading:
            items.setdefault(heading, []).append(line[2:].strip())
    return items, bundles


def test_every_core_item_and_bundle_is_published(shared_dir: Path) -> None:
    items, bundles = core_names(shared_dir)
    published = {name: dept for name, dept in ServiceItem.objects.published().values_list("name", "department__name")}
    for heading, names in items.items():
        wanted_departments = [re.sub(r"[（(].*", "", part).strip() for part in heading.split("/")]
        for name in names:
            assert name in published, f"core item missing: {name}"
            assert any(w in published[name] for w in wanted_departments), (name, published[name], heading)
    published_bundles = set(Bundle.objects.filter(status=ItemStatus.PUBLISHED).values_list("name", flat=True))
    assert set(bundles) <= published_bundles


def test_size_of_the_seed_catalogue() -> None:
    assert ServiceItem.objects.published().count() >= 300
    assert Department.objects.filter(items__status=ItemStatus.PUBLISHED).distinct().count() >= 20


def test_seed_items_are_complete() -> None:
    for item in ServiceItem.objects.published().prefetch_related("materials", "steps"):
        parse_implementation_code(item.code)
        assert item.materials.count() >= 1, item.name
        assert item.steps.count() >= 2, item.name
        assert item.keywords, item.name
        if item.statutory_days is not None and item.promised_days is not None:
            assert item.promised_days <= item.statutory_days, item.name


def test_department_credit_codes_are_valid() -> None:
    for department in Department.objects.all():
        assert credit_code_problem(department.credit_code) is None, department.name


def test_seeding_twice_changes_nothing() -> None:
    before = ServiceItem.objects.count()
    report = load_seed()
    assert report.items_created == 0
    assert report.items_updated == 0
    assert report.items_unchanged >= 300
    assert ServiceItem.objects.count() == before
