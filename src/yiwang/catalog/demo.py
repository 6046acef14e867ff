"""Load the demo city's catalogue from ``seed/`` (see seed/README.md).

Loading is idempotent: departments and themes are updated in place, items go
through the same upsert as an import, so running ``yiwang seed`` twice
changes nothing the second time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.db import transaction

from yiwang.core.identifiers import full_division_code, make_credit_code
from yiwang.directory import selectors as directory_selectors
from yiwang.directory import services as directory_services

from . import services
from .constants import KIND_CODE_LETTERS, ItemStatus, Level
from .models import Bundle, BundleItem, ServiceItem, Theme, Window
from .records import Validator, apply_record
from .search import vectors as search_vectors
from .search.engine import catalog_search

if TYPE_CHECKING:
    from yiwang.directory.models import Department

SEED_DIR = Path(__file__).resolve().parent / "seed"
SEED_VECTORS = "search-vectors.npz"
# Items of the demo city only (``yiwang seed`` with demo accounts), outside the seed catalogue and its vectors:
# each names its department and a sequence number of its own (901 and up, clear of the seed's).
DEMO_ITEMS = "demo-items.json"

DIVISIONS = [
    ("990000000000", "示范省", Level.PROVINCIAL, None),
    ("990100000000", "示范市", Level.CITY, "990000000000"),
    ("990102000000", "示范区", Level.COUNTY, "990100000000"),
    ("990102001000", "幸福街道", Level.TOWNSHIP, "990102000000"),
]


@dataclass
class SeedReport:
    departments: int = 0
    items_created: int = 0
    items_updated: int = 0
    items_unchanged: int = 0
    bundles: int = 0
    problems: list[str] = field(default_factory=list)


def item_code_for(department: Department, department_number: int, sequence: int, kind: str) -> str:
    """The implementation code of a seed item, in the national form.

    Base code: ``990`` (demo province) + the kind's letter + department
    number (3 digits) + item sequence (3 digits) + ``0000``.
    """
    base = f"990{KIND_CODE_LETTERS[kind]}{department_number:03d}{sequence:03d}0000"
    return f"{base}-{full_division_code(department.division.code)}-000-{department.credit_code}-1-00"


def _load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _seed_divisions() -> None:
    for code, name, level, parent in DIVISIONS:
        directory_services.save_division(code=code, name=name, level=level, parent_code=parent)


def _seed_themes(seed_dir: Path) -> None:
    for order, theme in enumerate(_load_json(seed_dir / "themes.json")):
        Theme.objects.update_or_create(
            code=theme["code"],
            defaults={
                "name": theme["name"],
                "audience": theme["audience"],
                "description": theme.get("description", ""),
                "sort_order": order,
            },
        )


def _seed_department(number: int, data: dict[str, Any]) -> Department:
    division_code = full_division_code(data["division"])
    department = directory_services.save_department(
        code=data["code"],
        division_code=division_code,
        parent_code=data.get("parent") or None,
        name=data["name"],
        short_name=data.get("short_name", ""),
        credit_code=make_credit_code("11", division_code[:6], f"{99000000 + number:08d}"),
        level=data["level"],
        description=data.get("description", ""),
        address=data.get("address", ""),
        phone=data.get("phone", ""),
        office_hours=data.get("office_hours", ""),
        sort_order=number,
    )
    for window in data.get("windows", []):
        Window.objects.update_or_create(
            department=department,
            name=window["name"],
            defaults={
                "address": window.get("address", department.address),
                "office_hours": window.get("office_hours", department.office_hours),
                "phone": window.get("phone", department.phone),
                "is_general": bool(window.get("is_general", False)),
            },
        )
    return department


@transaction.atomic
def load_seed(*, actor: Any = None, seed_dir: Path = SEED_DIR) -> SeedReport:
    """Load or refresh the whole seed catalogue; raises on any invalid seed record."""
    report = SeedReport()
    _seed_divisions()
    _seed_themes(seed_dir)
    department_files = sorted((seed_dir / "departments").glob("*.json"))
    parsed = [(int(path.name.split("-", 1)[0]), path, _load_json(path)) for path in department_files]
    for number, _path, data in parsed:
        _seed_department(number, data["department"])
        report.departments += 1
    validator = Validator()
    item_codes_by_name: dict[tuple[str, str], str] = {}
    for number, path, data in parsed:
        department = directory_selectors.department_by_code(data["department"]["code"])
        assert department is not None  # seeded just above
        for sequence, raw in enumerate(data["items"], start=1):
            record = {**raw, "department": department.code}
            record["code"] = item_code_for(department, number, sequence, raw["kind"])
            clean, problems = validator.validate(record)
            if clean is None:
                details = "；".join(f"{p.field}: {p.reason}" for p in problems)
                raise ValueError(f"{path.name} 第{sequence}项“{raw.get('name')}”：{details}")
            result = apply_record(clean, actor=actor)
            setattr(report, f"items_{result.action}", getattr(report, f"items_{result.action}") + 1)
            item_codes_by_name[(department.code, raw["name"])] = result.code
    report.bundles = _seed_bundles(seed_dir, item_codes_by_name, actor=actor)
    if (seed_dir / SEED_VECTORS).exists():
        # The seed's search vectors, embedded once (`yiwang seed --export-search-vectors`): a server worker
        # then starts in seconds instead of embedding ~1,400 texts before its first request.
        search_vectors.store_vector_file(seed_dir / SEED_VECTORS)
    return report


@transaction.atomic
def load_demo_items(*, actor: Any = None, seed_dir: Path = SEED_DIR) -> list[str]:
    """Publish the demo city's own items (upserted by code, like the seed); returns one line per item.

    They show features the seed catalogue's items do not (an item whose materials all come by data sharing,
    for 免提交); they are not part of the catalogue a production platform starts from.
    """
    path = seed_dir / DEMO_ITEMS
    if not path.exists():
        return []
    numbers = {
        data["department"]["code"]: int(file.name.split("-", 1)[0])
        for file in sorted((seed_dir / "departments").glob("*.json"))
        for data in [_load_json(file)]
    }
    validator = Validator()
    lines = []
    for raw in _load_json(path):
        record = {k: v for k, v in raw.items() if k != "sequence"}
        department = directory_selectors.department_by_code(raw["department"])
        if department is None or raw["department"] not in numbers:
            raise ValueError(f"{DEMO_ITEMS}“{raw.get('name')}”：未知部门 {raw['department']}")
        record["code"] = item_code_for(department, numbers[raw["department"]], int(raw["sequence"]), raw["kind"])
        clean, problems = validator.validate(record)
        if clean is None:
            details = "；".join(f"{p.field}: {p.reason}" for p in problems)
            raise ValueError(f"{DEMO_ITEMS}“{raw.get('name')}”：{details}")
        result = apply_record(clean, actor=actor)
        lines.append(f"{raw['name']}（{result.code}）")
    return lines


def export_seed_vectors(path: Path) -> int:
    """Embed every text the search reads for the loaded catalogue and write the vectors to ``path``."""
    catalog_search.reset()
    catalog_search.current()
    return search_vectors.write_vector_file(path)


def _seed_bundles(seed_dir: Path, codes: dict[tuple[str, str], str], *, actor: Any) -> int:
    path = seed_dir / "bundles.json"
    if not path.exists():
        return 0
    count = 0
    for data in _load_json(path):
        bundle, _ = Bundle.objects.update_or_create(
            code=data["code"],
            defaults={
                "name": data["name"],
                "audience": data["audience"],
                "theme": Theme.objects.filter(code=data.get("theme")).first(),
                "summary": data.get("summary", ""),
                "promised_days": data.get("promised_days"),
                "partner_services": data.get("partner_services", []),
                "keywords": data.get("keywords", []),
                "popularity": data.get("popularity", 50),
            },
        )
        wanted = []
        for position, member in enumerate(data["items"]):
            key = (member["department"], member["name"])
            if key not in codes:
                raise ValueError(f"一件事“{data['name']}”引用的事项不存在：{member['department']} {member['name']}")
            wanted.append(codes[key])
            BundleItem.objects.update_or_create(
                bundle=bundle,
                item_code=codes[key],
                defaults={
                    "order": position,
                    "choice_group": member.get("choice_group", ""),
                    "condition": member.get("condition", ""),
                },
            )
        bundle.members.exclude(item_code__in=wanted).delete()
        if bundle.status != ItemStatus.PUBLISHED:
            services.publish_bundle(bundle, actor=actor)
        else:
            services.note_bundle_changed(bundle.code)
        count += 1
    return count


def published_item_count() -> int:
    return ServiceItem.objects.published().count()
