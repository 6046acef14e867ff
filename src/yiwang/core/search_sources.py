"""The registry of search sources beyond service items: how the portal's one search box (in ``catalog``)
also finds knowledge-base answers, FAQs, policies and official replies owned by higher apps.

A higher app registers a source when Django starts (``AppConfig.ready``); the search page and the
assistant call :func:`search_other_sources` and show each hit typed and linked. What a source returns is
already filtered to what the public may read; a source never raises for a query it cannot match.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


@dataclass(frozen=True)
class SourceHit:
    """One result of a source: ``kind`` is the source's name (``knowledge``, ``reply``…), ``score`` in [0, 1]
    says how well it matches (comparable across sources only roughly; the page orders within a kind)."""

    kind: str
    title: str
    url: str
    snippet: str
    score: float


@dataclass(frozen=True)
class SearchSource:
    kind: str
    label: StrOrPromise
    search: Callable[[str, int], list[SourceHit]]
    order: int


_sources: dict[str, SearchSource] = {}


def register_search_source(
    kind: str, label: StrOrPromise, search: Callable[[str, int], list[SourceHit]], *, order: int = 100
) -> None:
    """Make a source known; registering the same kind again replaces it (``ready()`` may run twice)."""
    _sources[kind] = SearchSource(kind=kind, label=label, search=search, order=order)


def search_sources() -> list[SearchSource]:
    """The registered sources, in their order."""
    return sorted(_sources.values(), key=lambda source: (source.order, source.kind))


def search_other_sources(query: str, limit: int = 5) -> list[tuple[SearchSource, list[SourceHit]]]:
    """Each registered source with its best ``limit`` hits for ``query``; sources with none are left out."""
    results = []
    for source in search_sources():
        hits = source.search(query, limit)
        if hits:
            results.append((source, hits[:limit]))
    return results
