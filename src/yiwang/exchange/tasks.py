"""Outbox handlers of the exchange app: the 六减 record of shared materials when a case is submitted.

Idempotent: a saving is unique per case and material.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from yiwang.core.outbox import handles

from . import services

if TYPE_CHECKING:
    from yiwang.core.models import OutboxEvent


@handles("case.event")
def record_shared_savings(event: OutboxEvent) -> None:
    """Submitted: record each material the case got from a data service instead of an upload."""
    case_id = event.payload.get("case_id")
    if event.payload.get("action") == "submit" and isinstance(case_id, int):
        services.record_savings(case_id)
