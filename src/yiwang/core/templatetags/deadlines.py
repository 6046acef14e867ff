"""Template filters for deadlines computed on the working-day calendar (yiwang.core.calendar)."""

from __future__ import annotations

import datetime as dt

from django import template

from yiwang.core import calendar

register = template.Library()


@register.filter
def in_unconfirmed_year(due: dt.date | None) -> bool:
    """Whether ``due`` lies in a year whose holidays are not confirmed yet.

    A case records one ``due_provisional`` flag for all its deadlines; only the
    deadline that actually falls in such a year is shown as 期限待确认 (a
    promised date this year beside a statutory one next year is firm).
    """
    return isinstance(due, dt.date) and not calendar.is_known_year(due.year)
