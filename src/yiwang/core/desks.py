"""The registry of staff desks: how a lower app (the case workbench) lists desks of higher apps.

Each app registers its desks when Django starts (``AppConfig.ready``); the
workbench, the staff home and anything else that shows "where can I work"
ask :func:`desks_for`. Whether a desk is open to someone stays the owning
app's policy, passed in as ``may_use``; the desk's own view checks again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.urls import reverse

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


@dataclass(frozen=True)
class Desk:
    url_name: str
    label: StrOrPromise
    may_use: Callable[[Any], bool]
    order: int


_desks: dict[str, Desk] = {}


def register_desk(url_name: str, label: StrOrPromise, may_use: Callable[[Any], bool], *, order: int = 100) -> None:
    """Make a desk known; registering the same URL name again replaces it (``ready()`` may run twice)."""
    _desks[url_name] = Desk(url_name=url_name, label=label, may_use=may_use, order=order)


def desks_for(user: Any) -> list[tuple[str, StrOrPromise]]:
    """The desks ``user`` may use, as (address, label), in the registered order."""
    ordered = sorted(_desks.values(), key=lambda desk: (desk.order, desk.url_name))
    return [(reverse(desk.url_name), desk.label) for desk in ordered if desk.may_use(user)]
