"""The default category → department map for the seed city (示范市), loaded by ``yiwang seed``."""

from __future__ import annotations

from yiwang.catalog.models import Department
from yiwang.hotline.models import DispatchRule

# The seven top-level categories of the city's message board and the departments that answer them.
DEFAULT_RULES = {
    "城乡建设": "housing",
    "环境保护": "ecology",
    "交通运输": "transport",
    "教育文体": "education",
    "劳动和社会保障": "hrss",
    "商贸旅游": "commerce",
    "卫生计生": "health",
}


def load_dispatch_rules() -> int:
    """Create the rules that are missing (existing ones, maybe changed by an administrator, stay); returns how many."""
    departments = {d.code: d for d in Department.objects.filter(code__in=DEFAULT_RULES.values())}
    made = 0
    for category, code in DEFAULT_RULES.items():
        department = departments.get(code)
        if department is None:
            continue
        _rule, created = DispatchRule.objects.get_or_create(category=category, defaults={"department": department})
        made += created
    return made
