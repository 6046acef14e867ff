"""Build the search index when a server worker starts; keep it current when a department's name changes."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from yiwang.core.warmup import worker_started

from .constants import ItemStatus
from .models import ServiceItem
from .search.engine import catalog_search


# A lazy sender ("app_label.Model"): the directory is a lower app whose models the catalogue does not import.
@receiver(post_save, sender="directory.Department", dispatch_uid="catalog_department_reindex")
def reindex_department_items(sender: type[Any], instance: Any, created: bool, **kwargs: Any) -> None:
    if created or kwargs.get("raw"):
        return
    from .services import touch_items

    codes = ServiceItem.objects.filter(department=instance, status=ItemStatus.PUBLISHED).values_list("code", flat=True)
    touch_items(list(codes))


@receiver(worker_started, dispatch_uid="catalog_search_warm_up")
def build_search_index(sender: Any, **kwargs: Any) -> None:
    # 4-8 s on the seed catalogue: paid by the worker starting, not by the first person searching.
    catalog_search.warm_up()
