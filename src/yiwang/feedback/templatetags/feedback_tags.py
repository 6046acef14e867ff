"""Template tags of 好差评: a case's rating panel for the case page, and how figures are shown.

The case page includes ``feedback/_rate_link.html``, which asks
:func:`case_rating_panel` for what to show, so the cases app's views need
not know about ratings.
"""

from __future__ import annotations

from typing import Any

from django import template

from yiwang.feedback import selectors
from yiwang.feedback.forms import RESOLUTION_PREFIX, ResolutionForm

register = template.Library()


@register.simple_tag(takes_context=True)
def case_rating_panel(context: template.Context, case: Any) -> dict[str, Any] | None:
    """The rating state of ``case`` for the viewer (None unless they are its applicant side)."""
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    if case is None or user is None:
        return None
    state = selectors.case_rating(user, case)
    if state is None:
        return None
    return {"state": state, "resolution_form": ResolutionForm(prefix=RESOLUTION_PREFIX)}


@register.filter
def percent(value: float | None, digits: int = 1) -> str:
    """0.9234 → "92.3%"; an empty share (no ratings) → "—"."""
    if value is None:
        return "—"
    return f"{value * 100:.{int(digits)}f}%"


@register.filter
def score(value: float | None) -> str:
    """The average level with two decimals; "—" without ratings."""
    if value is None:
        return "—"
    return f"{value:.2f}"
