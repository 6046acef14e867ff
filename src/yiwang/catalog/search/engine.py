"""One search index per process, kept current with the catalogue in the database.

Writers record a ``SearchIndexChange`` row in the same transaction as the
change itself; before each search the process applies rows newer than the
last one it saw. That costs one indexed query per search and needs no
broker, so it works the same on the embedded SQLite set-up and on a cluster
of app servers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path

from django.db.models import Prefetch

from yiwang.directory import selectors as directory_selectors

from ..constants import ItemStatus
from ..models import Bundle, Material, SearchIndexChange, ServiceItem
from .index import DATA_DIR, Document, Filters, Hit, SearchIndex

# Beyond this many pending changes a full rebuild is cheaper than replaying them.
REBUILD_THRESHOLD = 2000


def load_synonyms(path: Path = DATA_DIR / "synonyms.tsv") -> dict[str, list[str]]:
    table: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        phrase, _, expansions = line.partition("\t")
        table[phrase.strip().lower()] = expansions.split()
    # Longest phrases first, so 身份证丢了 is seen before 身份证.
    return dict(sorted(table.items(), key=lambda kv: -len(kv[0])))


def _department_paths() -> dict[int, tuple[str, ...]]:
    departments = {pk: (code, parent) for pk, code, parent in directory_selectors.department_tree()}
    paths: dict[int, tuple[str, ...]] = {}
    for pk in departments:
        path: list[str] = []
        current: int | None = pk
        while current is not None and current in departments and len(path) < 20:
            code, parent = departments[current]
            path.append(code)
            current = parent
        paths[pk] = tuple(path)
    return paths


def item_documents(codes: Iterable[str] | None = None) -> list[Document]:
    """Documents for the published items (all of them, or those with ``codes``)."""
    items = (
        ServiceItem.objects.published()
        .select_related("department", "base_item")
        .prefetch_related("themes", Prefetch("materials", queryset=Material.objects.only("item_id", "name")))
    )
    if codes is not None:
        items = items.filter(code__in=list(codes))
    paths = _department_paths()
    docs = []
    for item in items:
        theme_codes = frozenset(t.code for t in item.themes.all())
        fields = {
            "name": [item.name],
            "keyword": list(item.keywords),
            "result": [item.result_name] if item.result_name else [],
            "theme": [t.name for t in item.themes.all()],
            "department": [item.department.name, item.department.short_name],
            "body": [item.summary, *(m.name for m in item.materials.all())],
        }
        if item.base_item.name != item.name:
            fields["base_name"] = [item.base_item.name]
        docs.append(
            Document(
                type="item",
                code=item.code,
                name=item.name,
                department_code=item.department.code,
                department_name=item.department.name,
                department_path=paths.get(item.department_id, (item.department.code,)),
                level=item.level,
                kind=item.kind,
                audience=item.audience,
                themes=theme_codes,
                popularity=item.popularity,
                fields=fields,
            )
        )
    return docs


def bundle_documents(codes: Iterable[str] | None = None) -> list[Document]:
    bundles = Bundle.objects.filter(status=ItemStatus.PUBLISHED).select_related("theme").prefetch_related("members")
    if codes is not None:
        bundles = bundles.filter(code__in=list(codes))
    bundles_list = list(bundles)
    member_codes = {m.item_code for b in bundles_list for m in b.members.all()}
    members = {
        i.code: i for i in ServiceItem.objects.published().filter(code__in=member_codes).select_related("department")
    }
    paths = _department_paths()
    docs = []
    for bundle in bundles_list:
        items = [members[m.item_code] for m in bundle.members.all() if m.item_code in members]
        lead = items[0].department if items else None
        department_path: set[str] = set()
        for item in items:
            department_path.update(paths.get(item.department_id, ()))
        docs.append(
            Document(
                type="bundle",
                code=bundle.code,
                name=bundle.name,
                department_code=lead.code if lead else "",
                department_name=lead.name if lead else "",
                department_path=tuple(sorted(department_path)),
                level=lead.level if lead else "",
                kind="",
                audience=bundle.audience,
                themes=frozenset([bundle.theme.code]) if bundle.theme else frozenset(),
                popularity=bundle.popularity,
                fields={
                    "name": [bundle.name],
                    "keyword": list(bundle.keywords),
                    "member": [i.name for i in items],
                    "theme": [bundle.theme.name] if bundle.theme else [],
                    "body": [bundle.summary],
                },
            )
        )
    return docs


class CatalogSearch:
    """The process's index and the id of the last change it has applied."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._index: SearchIndex | None = None
        self._last_change = 0
        # Full builds since start: the first search after a warm-up must not add one.
        self.builds = 0

    @property
    def loaded(self) -> bool:
        return self._index is not None

    def warm_up(self) -> None:
        """Build the index now (when a server worker starts) rather than on the first search."""
        self.current()

    def rebuild(self) -> SearchIndex:
        with self._lock:
            return self._rebuild()

    def _rebuild(self) -> SearchIndex:
        last = SearchIndexChange.objects.order_by("-id").values_list("id", flat=True).first() or 0
        index = SearchIndex(load_synonyms())
        for doc in item_documents():
            index.add(doc)
        for doc in bundle_documents():
            index.add(doc)
        self._index, self._last_change = index, last
        self.builds += 1
        return index

    def current(self) -> SearchIndex:
        """The index, with every committed catalogue change applied."""
        with self._lock:
            if self._index is None:
                return self._rebuild()
            latest = SearchIndexChange.objects.order_by("-id").values_list("id", flat=True).first() or 0
            if latest == self._last_change:
                return self._index
            if latest < self._last_change:
                # The change log went backwards (a restored backup, a rolled-back
                # test): nothing we applied can be trusted any more.
                return self._rebuild()
            pending = list(
                SearchIndexChange.objects.filter(id__gt=self._last_change)
                .order_by("id")
                .values_list("id", "target", "code")[: REBUILD_THRESHOLD + 1]
            )
            if len(pending) > REBUILD_THRESHOLD:
                return self._rebuild()
            self._apply(pending)
            return self._index

    def _apply(self, pending: list[tuple[int, str, str]]) -> None:
        assert self._index is not None
        items = {code for _, target, code in pending if target == SearchIndexChange.Target.ITEM}
        bundles = {code for _, target, code in pending if target == SearchIndexChange.Target.BUNDLE}
        for code in items:
            self._index.remove(("item", code))
        for doc in item_documents(items):
            self._index.add(doc)
        # A bundle's text includes its members' names, so an item change refreshes its bundles.
        if items:
            bundles |= set(
                Bundle.objects.filter(members__item_code__in=items).values_list("code", flat=True).distinct()
            )
        for code in bundles:
            self._index.remove(("bundle", code))
        for doc in bundle_documents(bundles):
            self._index.add(doc)
        self._last_change = pending[-1][0]

    def search(self, query: str, *, filters: Filters | None = None, limit: int = 10) -> tuple[list[Hit], int]:
        return self.current().search(query, filters=filters, limit=limit)

    def reset(self) -> None:
        with self._lock:
            self._index = None
            self._last_change = 0


catalog_search = CatalogSearch()
