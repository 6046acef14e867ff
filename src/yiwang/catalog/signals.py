"""Keep the search index current when a department's public name changes."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from .constants import ItemStatus
from .models import ServiceItem


# A lazy sender ("app_label.Model"): the directory is a lower app whose models the catalogue does not import.
@receiver(post_save, sender="directory.Department", dispatch_uid="catalog_department_reindex")
def reindex_department_items(sender: type[Any], instance: Any, created: bool, **kwargs: Any) -> None:
    if created or kwargs.get("raw"):
        return
    from .services import touch_items

    codes = ServiceItem.objects.filter(department=instance, status=ItemStatus.PUBLISHED).values_list("code", flat=True)
    touch_items(list(codes))
