"""Public pages of the knowledge base: one published, currently valid entry."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from . import selectors


@require_GET
def entry(request: HttpRequest, entry_id: int) -> HttpResponse:
    """A published entry, for search results and the assistant to link to; expired or withdrawn ones are 404."""
    version = selectors.public_entry(entry_id)
    items = selectors.item_names(version.item_codes)
    return render(
        request,
        "knowledge/entry.html",
        {"version": version, "items": [(code, items.get(code, code)) for code in version.item_codes]},
    )
