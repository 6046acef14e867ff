"""Counter intake (一窗受理) and draft lists: items to choose, applications and the cases they became."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from yiwang.accounts import selectors as accounts_selectors
from yiwang.cases import policy
from yiwang.cases.models import Application, Case
from yiwang.cases.workflow import TRANSITIONS
from yiwang.catalog import selectors as catalog_selectors
from yiwang.core import crypto

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class ItemChoice:
    code: str
    name: str
    department: str


def counter_item_choices(query: str, limit: int = 10) -> list[ItemChoice]:
    """Items for the counter clerk to choose from: any published item of any department (无差别受理)."""
    query = query.strip()
    if not query:
        return []
    found: list[ItemChoice] = []
    exact = catalog_selectors.published_items().filter(code=query).first()
    if exact is not None:
        found.append(ItemChoice(exact.code, exact.name, exact.department.name))
    hits, _total = catalog_selectors.search(query, limit=limit, type="item")
    found.extend(ItemChoice(h.doc.code, h.doc.name, h.doc.department_name) for h in hits if h.doc.code != query)
    return found[:limit]


def application_cases(application: Application) -> list[Case]:
    """The cases a submitted application made (one per item; a bundle fans out)."""
    return list(application.cases.select_related("department").order_by("id"))


def accept_allowed(user: Any, case: Case) -> bool:
    """Whether ``user`` may accept the case right now (the counter's 当场受理)."""
    step = TRANSITIONS["accept"]
    return case.state in step.sources and policy.can_perform(user, case, step)


def acting_label(application: Application) -> str:
    """Whom a counter clerk or delegate fills the application in for, masked."""
    return crypto.mask_name(accounts_selectors.get_person(application.applicant_person_id).name)


@dataclass(frozen=True)
class DraftRow:
    application: Application
    title: str


def draft_rows(drafts: list[Application]) -> list[DraftRow]:
    """Drafts with the name of what they apply for, in two queries whatever their number."""
    item_names = dict(
        catalog_selectors.published_items()
        .filter(code__in={d.item_code for d in drafts if d.item_code})
        .values_list("code", "name")
    )
    bundle_names = dict(
        catalog_selectors.published_bundles()
        .filter(code__in={d.bundle_code for d in drafts if d.bundle_code})
        .values_list("code", "name")
    )
    return [
        DraftRow(
            d,
            item_names.get(d.item_code, d.item_code) if d.item_code else bundle_names.get(d.bundle_code, d.bundle_code),
        )
        for d in drafts
    ]


def intake_rows(user: Any, application_ids: list[int]) -> list[DraftRow]:
    """The applications a counter clerk opened during the current intake."""
    if not application_ids:
        return []
    applications = list(Application.objects.filter(pk__in=application_ids, agent_id=user.pk).order_by("id"))
    return draft_rows(applications)
