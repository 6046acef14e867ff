"""``{% recent_batches %}``: the latest 前置库 batches of the user's departments, on the exchange desk."""

from __future__ import annotations

from typing import Any

from django import template

from yiwang.exchange import selectors

register = template.Library()

RECENT = 10


@register.inclusion_tag("exchange/_batches.html", takes_context=True)
def recent_batches(context: dict[str, Any]) -> dict[str, Any]:
    user = context["request"].user
    return {"batches": list(selectors.batches_seen_by(user)[:RECENT]), "show_more": True}
