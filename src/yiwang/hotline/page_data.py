"""What the hotline pages and the API show: who may use which desk, which actions a page offers, rows and views.

Reads only (through :mod:`yiwang.hotline.selectors` and the catalogue's
selectors), except the lookup throttle, which counts wrong guesses through
the accounts services like 办件查询 does. Nothing here decides whether an
action is allowed: the page offers what the transition table and the policy
permit, and :func:`yiwang.hotline.services.perform` still has the last word.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from yiwang.accounts import policy as accounts_policy
from yiwang.accounts import services as accounts_services
from yiwang.accounts.constants import Role
from yiwang.catalog import selectors as catalog_selectors
from yiwang.core import calendar
from yiwang.hotline import policy, selectors, services
from yiwang.hotline.constants import (
    AssignmentRole,
    AssignmentState,
    ExtensionStatus,
    WorkOrderKind,
    WorkOrderState,
)
from yiwang.hotline.geometry.shapes import InvalidCoordinates
from yiwang.hotline.geometry.svg import svg_map
from yiwang.hotline.models import Assignment, Attachment, WorkOrder, WorkOrderEvent
from yiwang.hotline.workflow import Actor, Transition, action_label, actions_from
from yiwang.knowledge import selectors as knowledge_selectors

TRACK_FAILURE_LIMIT = 20
KNOWLEDGE_LIMIT = 5
# Every action's parameters beyond ``reason``: what the API passes on to services.perform, nothing else.
ACTION_PARAMS: dict[str, frozenset[str]] = {
    "dispatch": frozenset({"department", "category", "assisting"}),
    "answer": frozenset({"answer", "source"}),
    "merge": frozenset({"into"}),
    "acknowledge": frozenset(),
    "send_back": frozenset(),
    "transfer": frozenset({"department", "assisting"}),
    "contribute": frozenset({"opinion"}),
    "request_extension": frozenset({"days"}),
    "decide_extension": frozenset({"approve"}),
    "record_callback": frozenset({"satisfaction", "note"}),
    "reply": frozenset({"reply"}),
    "return_reply": frozenset(),
    "close": frozenset(),
    "confirm": frozenset({"resolved"}),
    "supervise": frozenset(),
    # The deadline job's alone: listed so that the service refuses it to people (403) like any other action.
    "escalate": frozenset(),
}


# --- the public lookup's throttle ----------------------------------------------------------------


def _track_key(ip: str) -> str:
    return f"hotline-lookup:{ip}"


def track_refused(ip: str) -> str:
    """Why a lookup from ``ip`` is refused now (too many wrong guesses), or "" when it may go ahead."""
    if accounts_services.throttle_locked_until(_track_key(ip)) is not None:
        return _("查询失败次数过多，请稍后再试")
    return ""


def record_failed_track(ip: str) -> None:
    accounts_services.throttle_failure(_track_key(ip), limit=TRACK_FAILURE_LIMIT)


# --- who uses which page ---------------------------------------------------------------------------


def may_use_desk(user: Any) -> bool:
    """Operators, department handlers, grid workers and supervisors have a desk; citizens do not."""
    return policy.may_use_desk(user)


def is_department_staff(user: Any) -> bool:
    return accounts_policy.has_any_role(user, {*policy.HANDLER_ROLES, Role.GRID_WORKER})


def sees_as_staff(user: Any, order: WorkOrder, kinds: set[str] | None = None) -> bool:
    """Whether ``user`` looks at ``order`` from a desk (any part in it other than being its caller)."""
    if (kinds if kinds is not None else policy.actor_kinds(user, order)) - {Actor.CALLER}:
        return True
    return policy.can_view(user, order) and order.caller_user_id != getattr(user, "pk", None)


def _fits(step: Transition, order: WorkOrder, kinds: set[str], assignment: Assignment | None) -> bool:
    """Leave out forms the service would refuse whatever is typed in them (the service still checks)."""
    action = step.action
    if action == "answer":
        return order.kind in {WorkOrderKind.CONSULT, WorkOrderKind.HELP}
    if action == "acknowledge":
        return assignment is not None and assignment.state == AssignmentState.DISPATCHED
    if action == "send_back":
        return assignment is not None
    if action == "contribute":
        return assignment is not None and assignment.role == AssignmentRole.ASSIST
    if action == "reply":
        return (
            assignment is not None
            and assignment.role == AssignmentRole.LEAD
            and assignment.state == AssignmentState.HANDLING
        )
    if action == "request_extension":
        return (
            assignment is not None
            and assignment.role == AssignmentRole.LEAD
            and order.extension_status != ExtensionStatus.REQUESTED
        )
    if action == "decide_extension":
        return order.extension_status == ExtensionStatus.REQUESTED
    if action == "record_callback":
        if order.called_back_at is not None:
            return False
        if order.state == WorkOrderState.HANDLING:
            return order.kind == WorkOrderKind.RECTIFICATION and Actor.DEPARTMENT in kinds
        return Actor.OPERATOR in kinds
    if action == "confirm":
        return order.kind == WorkOrderKind.RECTIFICATION and Actor.CALLER in kinds
    return True


def available_actions(
    user: Any, order: WorkOrder, *, as_caller: bool = False, kinds: set[str] | None = None
) -> list[Transition]:
    """The actions ``user`` may take on ``order`` now, from the transition table, in its order.

    Desks get the staff actions; ``as_caller`` gives the caller's own (the
    confirmation of a rectification) and nothing else. ``kinds`` are the
    user's capacities when already known (``policy.actor_kinds``).
    """
    kinds = kinds if kinds is not None else policy.actor_kinds(user, order)
    assignment = policy.handles_for(user, order) if Actor.DEPARTMENT in kinds else None
    steps = []
    for step in actions_from(order.state):
        capacities = kinds & step.actors
        if as_caller:
            capacities &= {Actor.CALLER}
        else:
            capacities -= {Actor.CALLER, Actor.SYSTEM}
        if capacities and _fits(step, order, kinds, assignment):
            steps.append(step)
    return steps


# --- choices -----------------------------------------------------------------------------------------


def department_choices() -> list[tuple[str, str]]:
    """Every department, by the catalogue's order: whom an order can be dispatched or transferred to."""
    return list(catalog_selectors.departments().values_list("code", "name"))


# --- rows of lists ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderRow:
    order: WorkOrder
    warning: str
    warning_label: str


def rows(orders: Any, *, deadline: str = "due", today: dt.date | None = None) -> list[OrderRow]:
    """Orders with the warning colour of one of their deadlines (``due``, ``acknowledge_due``, ``callback_due``)."""
    today = today or calendar.today_local()
    found = []
    for order in orders:
        due = getattr(order, deadline)
        open_clock = order.state in {WorkOrderState.DISPATCHED, WorkOrderState.HANDLING} or deadline == "callback_due"
        warning = calendar.deadline_warning(due if open_clock else None, today)
        found.append(OrderRow(order, warning, str(calendar.DeadlineWarning(warning).label)))
    return found


# --- one order ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineRow:
    label: str
    created_at: dt.datetime
    actor: str
    department: str
    reason: str
    public: bool
    state_label: str


@dataclass(frozen=True)
class CallerView:
    name: str
    phone_masked: str
    has_account: bool


@dataclass
class StaffOrderView:
    order: WorkOrder
    kinds: set[str]
    actions: list[Transition]
    assignments: list[Assignment]
    timeline: list[TimelineRow]
    caller: CallerView | None
    warning: str
    warning_label: str
    suggestions: list[dict[str, Any]] = field(default_factory=list)
    suggestion_note: str = ""
    map_svg: SafeString | None = None
    duplicates: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)

    @property
    def is_operator(self) -> bool:
        return Actor.OPERATOR in self.kinds


def _state_label(state: str) -> str:
    return str(WorkOrderState(state).label) if state in WorkOrderState.values else ""


def _timeline_rows(order: WorkOrder, events: list[WorkOrderEvent], *, hide_caller: bool) -> list[TimelineRow]:
    found = []
    for event in events:
        actor = event.actor_label
        if hide_caller and event.actor_id is not None and event.actor_id == order.caller_user_id:
            # An anonymous reporter who filed online is the actor of the registration: keep them anonymous.
            actor = _("举报人")
        found.append(
            TimelineRow(
                label=action_label(event.action),
                created_at=event.created_at,
                actor=actor,
                department=event.department.name if event.department is not None else "",
                reason=event.reason,
                public=event.public,
                state_label=_state_label(event.to_state) if event.to_state != event.from_state else "",
            )
        )
    return found


def staff_order_view(user: Any, order: WorkOrder) -> StaffOrderView:
    """Everything a desk shows of one order; the caller only to those who may see who called."""
    kinds = policy.actor_kinds(user, order)
    events = selectors.timeline(order, for_staff=True)
    sees_caller = policy.may_see_caller(user, order)
    caller = (
        CallerView(order.caller_name, order.caller_phone_masked, order.caller_user_id is not None)
        if sees_caller
        else None
    )
    warning = calendar.deadline_warning(
        order.due if order.state in {WorkOrderState.DISPATCHED, WorkOrderState.HANDLING} else None,
        calendar.today_local(),
    )
    view = StaffOrderView(
        order=order,
        kinds=kinds,
        actions=available_actions(user, order, kinds=kinds),
        assignments=list(order.assignments.all()),
        timeline=_timeline_rows(order, events, hide_caller=not sees_caller),
        caller=caller,
        warning=warning,
        warning_label=str(calendar.DeadlineWarning(warning).label),
        map_svg=order_map(order),
        duplicates=list(order.duplicates.values_list("number", flat=True)),
        attachments=selectors.attachments(order),
    )
    if Actor.OPERATOR in kinds or Actor.SUPERVISOR in kinds:
        view.suggestions = [
            {**s, "percent": round(float(s.get("confidence") or 0) * 100)} for s in order.suggestions or []
        ]
        notes = [e.reason for e in events if e.action == "suggest" and e.reason]
        view.suggestion_note = notes[-1] if notes else ""
    return view


@dataclass(frozen=True)
class PublicStep:
    label: str
    created_at: dt.datetime
    department: str


@dataclass(frozen=True)
class CallerOrderView:
    order: WorkOrder
    steps: list[PublicStep]
    actions: list[Transition]
    warning: str
    warning_label: str
    map_svg: SafeString | None
    attachments: list[Attachment] = field(default_factory=list)


def public_steps(order: WorkOrder) -> list[PublicStep]:
    """The public timeline: what happened and which department did it, never who (staff names stay inside)."""
    return [
        PublicStep(action_label(e.action), e.created_at, e.department.name if e.department is not None else "")
        for e in selectors.timeline(order, for_staff=False)
    ]


def caller_order_view(user: Any, order: WorkOrder) -> CallerOrderView:
    warning = calendar.deadline_warning(
        order.due if order.state in {WorkOrderState.DISPATCHED, WorkOrderState.HANDLING} else None,
        calendar.today_local(),
    )
    return CallerOrderView(
        order=order,
        steps=public_steps(order),
        actions=available_actions(user, order, as_caller=True),
        warning=warning,
        warning_label=str(calendar.DeadlineWarning(warning).label),
        map_svg=order_map(order),
        attachments=selectors.attachments(order),
    )


@dataclass(frozen=True)
class PublicProgress:
    """What the number and its verification code show: progress and the answer, nothing about the caller."""

    number: str
    kind: str
    kind_label: str
    state: str
    state_label: str
    title: str
    department: str
    registered_on: dt.date
    due: dt.date | None
    reply: str
    steps: list[PublicStep]


def public_progress(order: WorkOrder) -> PublicProgress:
    answered = order.state in {WorkOrderState.CLOSED, WorkOrderState.CALLED_BACK}
    return PublicProgress(
        number=order.number,
        kind=order.kind,
        kind_label=order.get_kind_display(),
        state=order.state,
        state_label=order.get_state_display(),
        title=order.title,
        department=order.department.name if order.department is not None else "",
        registered_on=order.created_at.astimezone(calendar.SHANGHAI).date(),
        due=order.due,
        reply=order.reply if answered else "",
        steps=public_steps(order),
    )


# --- the map --------------------------------------------------------------------------------------------


def grid_svg(*, highlight: set[str] | str | None = None, point: tuple[float, float] | None = None) -> SafeString | None:
    """The active grid drawn as the offline map, or None when no grid is loaded."""
    locator = services.grid_locator()
    if locator is None or not len(locator):
        return None
    try:
        return svg_map(list(locator.cells), highlight=highlight, point=point)
    except InvalidCoordinates:
        return svg_map(list(locator.cells), highlight=highlight)


def order_map(order: WorkOrder) -> SafeString | None:
    """A grid report's point on the grid map (None for orders without a point or without a grid)."""
    if order.grid_cell_id is None or order.longitude is None or order.latitude is None:
        return None
    code = order.grid_cell.code if order.grid_cell is not None else None
    return grid_svg(highlight=code, point=(float(order.longitude), float(order.latitude)))


def grid_feature_collection() -> dict[str, Any]:
    """The active cells as GeoJSON with their code, name, district and department; never the grid worker."""
    features = []
    for cell in selectors.active_grid_cells():
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "code": cell.code,
                    "name": cell.name,
                    "division": cell.division,
                    "department": cell.department.name,
                },
                "geometry": cell.geometry,
            }
        )
    return {"type": "FeatureCollection", "features": features}


# --- the knowledge base (答复知识库) --------------------------------------------------------------------


@dataclass(frozen=True)
class KnowledgeHit:
    """One answer an operator may give at once: an item guide or an earlier official reply."""

    key: str
    origin: str
    title: str
    detail: str
    url: str


def knowledge_hits(query: str) -> list[KnowledgeHit]:
    """Item guides (the catalogue's search) and earlier replies (the knowledge base) for ``query``."""
    query = query.strip()
    if not query:
        return []
    found: list[KnowledgeHit] = []
    hits, _total = catalog_selectors.search(query, limit=KNOWLEDGE_LIMIT, type="item")
    for hit in hits:
        found.append(
            KnowledgeHit(
                key=f"item:{hit.doc.code}",
                origin=_("办事指南"),
                title=hit.doc.name,
                detail=hit.doc.department_name,
                url=reverse("catalog:item", args=[hit.doc.code]),
            )
        )
    # The knowledge base (yiwang.knowledge): published, currently valid entries.
    for entry in knowledge_selectors.search_entries(query, limit=KNOWLEDGE_LIMIT):
        found.append(
            KnowledgeHit(
                key=f"kb:{entry.id}",
                origin=entry.kind_label,
                title=entry.question,
                detail=entry.answer[:120],
                url=entry.url,
            )
        )
    return found


def knowledge_reference(order: WorkOrder) -> list[knowledge_selectors.EntryHit]:
    """The best knowledge-base entries for an order's text: a read-only panel for the operator."""
    return knowledge_selectors.search_entries(f"{order.title} {order.content[:200]}", limit=3)


def knowledge_answer(key: str) -> tuple[str, str] | None:
    """The answer text and its source for a knowledge hit's key (``item:<code>`` or ``kb:<id>``), to prefill."""
    kind, _sep, value = key.partition(":")
    if kind == "kb" and value.isdigit():
        entry = knowledge_selectors.published_entry(int(value))
        if entry is None:
            return None
        return entry.answer, (entry.source or _("知识库：%(question)s") % {"question": entry.question})[:200]
    if kind == "item" and value:
        item = catalog_selectors.published_items().filter(code=value[:80]).first()
        if item is None:
            return None
        parts = [_("“%(name)s”由%(department)s办理。") % {"name": item.name, "department": item.department.name}]
        if item.summary:
            parts.append(item.summary.strip())
        if item.promised_days:
            parts.append(_("承诺办结时限：%(days)s个工作日。") % {"days": item.promised_days})
        parts.append(_("办事指南见示范市政务服务网：%(url)s") % {"url": reverse("catalog:item", args=[item.code])})
        source = _("办事指南：%(name)s（%(code)s）") % {"name": item.name, "code": item.code}
        return "".join(parts)[: services.CONTENT_MAX], source[:200]
    return None
