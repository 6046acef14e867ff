"""The registry of material sources: how an application (in ``cases``) takes a material from a higher app.

A catalogue material may say where it comes from instead of the applicant's
paper (``Material.source`` / ``source_name``: 电子证照调取, 部门共享获取). The
apps that can supply such materials — the licence wallet (我的证照), the data
services of the exchange (部门共享获取) — register
a provider when Django starts (``AppConfig.ready``). The application page asks
:func:`material_offers` and shows, for each material, what the provider offers
and where the applicant confirms taking it; ``cases`` never imports the
provider's app. The provider's own views record the confirmation and check
again who may take what.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MaterialNeed:
    """A material of an application that a source may supply: its key, name and ``source_name``."""

    key: str
    name: str
    source_name: str
    item_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class MaterialOffer:
    """What a source offers for one material.

    ``taken`` names what was already taken with the applicant's confirmation
    ("" if nothing); ``choices`` are (value, label) pairs the applicant may
    pick from; ``action_url`` is where the confirmation form posts, with the
    choice as ``choice`` and the material as ``material_key``. A source that
    needs a page of its own (consent first, then the fetched data to confirm:
    部门共享获取) gives ``review_url`` instead, and the application page links
    to it.
    """

    key: str
    source_label: str
    taken: str
    choices: tuple[tuple[str, str], ...]
    action_url: str
    review_url: str = ""


# provider(user, application_id, needs) -> {material key: offer}
MaterialProvider = Callable[[Any, int, Sequence[MaterialNeed]], dict[str, MaterialOffer]]

_providers: dict[str, MaterialProvider] = {}


def register_material_provider(name: str, provider: MaterialProvider) -> None:
    """Make a provider known; registering the same name again replaces it (``ready()`` may run twice)."""
    _providers[name] = provider


def unregister_material_provider(name: str) -> None:
    _providers.pop(name, None)


def material_offers(user: Any, application_id: int, needs: Sequence[MaterialNeed]) -> dict[str, MaterialOffer]:
    """Every registered provider's offers for ``needs`` (the first provider to offer a material wins)."""
    offers: dict[str, MaterialOffer] = {}
    if not needs:
        return offers
    for name in sorted(_providers):
        for key, offer in _providers[name](user, application_id, needs).items():
            offers.setdefault(key, offer)
    return offers


# --- 六减: materials a submitted case did not need on paper ------------------------------------------------

# counter(case_numbers) -> {case number: materials that source supplied to the case}
SavingsCounter = Callable[[Sequence[str]], dict[str, int]]

_savings_counters: dict[str, SavingsCounter] = {}


def register_savings_counter(name: str, counter: SavingsCounter) -> None:
    """Make a source's count of the materials it saved cases known (the same name again replaces it)."""
    _savings_counters[name] = counter


def unregister_savings_counter(name: str) -> None:
    _savings_counters.pop(name, None)


def materials_saved(case_numbers: Sequence[str]) -> dict[str, int]:
    """免交: per case number, the materials every registered source supplied instead of an upload."""
    totals = dict.fromkeys(case_numbers, 0)
    if not case_numbers:
        return totals
    for name in sorted(_savings_counters):
        for number, count in _savings_counters[name](case_numbers).items():
            if number in totals:
                totals[number] += count
    return totals
