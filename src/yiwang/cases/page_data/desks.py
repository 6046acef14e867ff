"""The other apps' desks a member of staff may use, for the workbench to link to."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.urls import reverse

from yiwang.core import desks

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def other_desks(user: Any) -> list[tuple[str, StrOrPromise]]:
    """The desks of other apps (hotline, 好差评 …) ``user`` may use, as (address, label), for the workbench.

    The workbench and counter intake register themselves too (for the staff home) and are left out here.

    Those apps register their desks in :mod:`yiwang.core.desks`; whether a
    desk is open to the user is their policy's to say, and the desks
    themselves check again.
    """
    own = {reverse("workbench:home"), reverse("workbench:counter")}
    return [(url, label) for url, label in desks.desks_for(user) if url not in own]
