"""Outbox handlers of the knowledge base."""

from __future__ import annotations

from typing import TYPE_CHECKING

from yiwang.core.outbox import handles

from . import services

if TYPE_CHECKING:
    from yiwang.core.models import OutboxEvent


@handles(services.PUBLISHED_TOPIC)
def store_published_vectors(event: OutboxEvent) -> None:
    """Embed a newly published version once and keep its vectors (a second run finds them and does nothing)."""
    services.store_vectors(int(event.payload["version_id"]))
