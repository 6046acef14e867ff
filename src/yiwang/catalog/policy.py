"""Who may change the catalogue.

Reading the published catalogue is public. Editing is for staff: platform
administrators everywhere, department administrators for their own
department tree; publishing needs the review permission as well.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from .models import ServiceItem


def _accounts_policy() -> Any:
    # accounts depends on catalog (roles are held in departments), so the
    # import is deferred to keep the dependency one-way at import time.
    from yiwang.accounts import policy

    return policy


def editable_items(user: Any, queryset: QuerySet[ServiceItem]) -> QuerySet[ServiceItem]:
    """Items the user may see and edit in the administration."""
    accounts = _accounts_policy()
    if accounts.is_platform_admin(user):
        return queryset
    return accounts.scope_by_department(queryset, user, roles={"department_admin"})


def can_edit_item(user: Any, item: ServiceItem) -> bool:
    accounts = _accounts_policy()
    return accounts.is_platform_admin(user) or accounts.in_scope(user, item.department.code, {"department_admin"})


def can_publish(user: Any) -> bool:
    return bool(user.has_perm("catalog.review_serviceitem"))
