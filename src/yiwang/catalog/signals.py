"""Keep the search index current when a department's public name changes."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from .constants import ItemStatus
from .models import Department, ServiceItem


@receiver(post_save, sender=Department, dispatch_uid="catalog_department_reindex")
def reindex_department_items(sender: type[Department], instance: Department, created: bool, **kwargs: Any) -> None:
    if created or kwargs.get("raw"):
        return
    from .services import touch_items

    codes = ServiceItem.objects.filter(department=instance, status=ItemStatus.PUBLISHED).values_list("code", flat=True)
    touch_items(list(codes))
