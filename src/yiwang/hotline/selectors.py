"""Reads of work orders for desks, pages, the API and other apps."""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Iterable
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from yiwang.accounts import policy as accounts_policy
from yiwang.core import calendar
from yiwang.hotline import policy
from yiwang.hotline.constants import OPEN_WORK_ORDER_STATES, ExtensionStatus, WorkOrderKind, WorkOrderState
from yiwang.hotline.models import Attachment, DispatchRule, GridCell, WorkOrder, WorkOrderEvent

PAGE_SIZE = 20


def _orders() -> QuerySet[WorkOrder]:
    return WorkOrder.objects.select_related("department", "grid_cell")


def rectification_order(order_id: Any) -> WorkOrder | None:
    return WorkOrder.objects.filter(pk=order_id, kind=WorkOrderKind.RECTIFICATION).first()


def get_visible(user: Any, number: str) -> WorkOrder:
    """An order ``user`` may see; :class:`services.WorkOrderNotFound` otherwise (never telling whether it exists)."""
    from yiwang.hotline.services import WorkOrderNotFound

    order = _orders().prefetch_related("assignments__department").filter(number=number).first()
    if order is None or not policy.can_view(user, order):
        raise WorkOrderNotFound("not_found", _("工单不存在"))
    return order


def public_progress(number: str, code: str) -> WorkOrder | None:
    """Anyone with the number and its verification code sees the order's public progress."""
    order = _orders().filter(number=number.strip()).first()
    if order is None or not hmac.compare_digest(order.verification_code, code.strip().upper()):
        return None
    return order


def attachments(order: WorkOrder) -> list[Attachment]:
    """The files kept with an order, in the order they came; for those who may see the whole order only.

    The public progress page and the public grid map never list them: photos
    show people and places, and an anonymous report's files could identify
    the reporter.
    """
    return list(order.attachments.order_by("id"))


def attachment(order: WorkOrder, attachment_id: int) -> Attachment | None:
    return order.attachments.filter(pk=attachment_id).first()


def timeline(order: WorkOrder, *, for_staff: bool) -> list[WorkOrderEvent]:
    events = order.events.select_related("department").order_by("id")
    return list(events if for_staff else events.filter(public=True))


def operator_queue(user: Any) -> QuerySet[WorkOrder]:
    """Orders waiting for the hotline centre: to dispatch (sent back ones first), replies to review, callbacks due."""
    if not policy.is_operator(user):
        return WorkOrder.objects.none()
    return (
        _orders()
        .filter(Q(state=WorkOrderState.REGISTERED) | Q(state=WorkOrderState.REPLIED))
        .order_by("state", "created_at")
    )


def callbacks_due(user: Any) -> QuerySet[WorkOrder]:
    if not policy.is_operator(user):
        return WorkOrder.objects.none()
    return (
        _orders()
        .filter(state=WorkOrderState.CLOSED, callback_due__isnull=False, called_back_at__isnull=True)
        .order_by("callback_due", "closed_at")
    )


def department_queue(user: Any) -> QuerySet[WorkOrder]:
    """Open orders with a live assignment of the user's departments (or assigned to them as grid worker)."""
    condition = Q(assignee=user)
    if accounts_policy.has_any_role(user, policy.HANDLER_ROLES):
        scope = accounts_policy.department_scope(user, policy.HANDLER_ROLES)
        live = Q(assignments__state__in=policy.LIVE_ASSIGNMENT_STATES)
        condition |= live if scope is None else live & Q(assignments__department__code__in=scope)
    return (
        _orders()
        .filter(condition, state__in=[WorkOrderState.DISPATCHED, WorkOrderState.HANDLING])
        .distinct()
        .order_by("due", "created_at")
    )


def overdue(user: Any, *, today: dt.date | None = None) -> QuerySet[WorkOrder]:
    """Open orders past their deadline, for supervisors over their departments."""
    if not policy.is_supervisor(user):
        return WorkOrder.objects.none()
    today = today or calendar.today_local()
    orders = _orders().filter(state__in=OPEN_WORK_ORDER_STATES, due__lt=today)
    scope = accounts_policy.department_scope(user, {"supervisor"})
    if scope is not None:
        orders = orders.filter(department__code__in=scope)
    return orders.order_by("due")


def my_orders(user: Any) -> QuerySet[WorkOrder]:
    return _orders().filter(caller_user=user).order_by("-created_at")


# --- desks, supervision, grid and knowledge (pages and API) -------------------------------------------

# Orders whose department nobody at the hotline chose: the platform routed them (a bad rating, a grid cell).
SELF_ROUTED_KINDS = (WorkOrderKind.RECTIFICATION, WorkOrderKind.GRID)


def _supervised(user: Any, orders: QuerySet[WorkOrder]) -> QuerySet[WorkOrder]:
    """``orders`` limited to the departments a supervisor oversees (nothing for anyone else)."""
    if not policy.is_supervisor(user):
        return WorkOrder.objects.none()
    scope = accounts_policy.department_scope(user, {"supervisor"})
    return orders if scope is None else orders.filter(department__code__in=scope)


def escalated(user: Any) -> QuerySet[WorkOrder]:
    """Open orders the deadline job escalated, for supervisors over their departments."""
    orders = _orders().filter(state__in=OPEN_WORK_ORDER_STATES, escalated_at__isnull=False)
    return _supervised(user, orders).order_by("escalated_at")


def pending_extensions(user: Any) -> QuerySet[WorkOrder]:
    """Extension requests waiting for a supervisor's decision."""
    orders = _orders().filter(state=WorkOrderState.HANDLING, extension_status=ExtensionStatus.REQUESTED)
    return _supervised(user, orders).order_by("due")


def unrouted(user: Any) -> QuerySet[WorkOrder]:
    """Rectification and grid orders sent back by their department: no operator routes these, a supervisor does.

    They have no department any more, so every supervisor sees them.
    """
    if not policy.is_supervisor(user):
        return WorkOrder.objects.none()
    return _orders().filter(state=WorkOrderState.REGISTERED, kind__in=SELF_ROUTED_KINDS).order_by("created_at")


def open_grid_reports() -> QuerySet[WorkOrder]:
    """Grid reports still being handled, newest first: the public map's list."""
    return _orders().filter(kind=WorkOrderKind.GRID, state__in=OPEN_WORK_ORDER_STATES).order_by("-created_at")


def active_grid_cells() -> QuerySet[GridCell]:
    return GridCell.objects.filter(active=True).select_related("department").order_by("code")


def dispatch_categories() -> list[tuple[str, str]]:
    """(category, responsible department's name) of the category → department map."""
    return list(DispatchRule.objects.order_by("category").values_list("category", "department__name"))


# --- duplicates and hot issues (一事多诉, 热点诉求) ---------------------------------------

# How far back open orders are compared with a new one, and how many at most.
DUPLICATE_LOOKBACK_DAYS = 60
DUPLICATE_CANDIDATES = 2000


def _message(order: WorkOrder) -> Any:
    from yiwang.hotline.similarity import Message

    return Message(
        key=order.number,
        title=order.title,
        text=order.content,
        created_at=order.created_at,
        place=order.location_text,
    )


def possible_duplicates(order: WorkOrder, *, limit: int = 5) -> list[tuple[WorkOrder, Any]]:
    """Open orders that look like the same problem at the same place, best first, with the reason."""
    from django.utils import timezone

    from yiwang.hotline.similarity import DuplicateFinder

    since = timezone.now() - dt.timedelta(days=DUPLICATE_LOOKBACK_DAYS)
    candidates = list(
        _orders()
        .filter(state__in=OPEN_WORK_ORDER_STATES, created_at__gte=since, duplicate_of__isnull=True)
        .exclude(pk=order.pk)
        .order_by("-created_at")[:DUPLICATE_CANDIDATES]
    )
    if not candidates:
        return []
    finder = DuplicateFinder(_message(c) for c in candidates)
    by_number = {c.number: c for c in candidates}
    return [(by_number[match.key], match) for match in finder.find(_message(order), limit=limit)]


def hot_issues(*, now: dt.datetime | None = None, window_days: int = 30, top: int = 10) -> list[Any]:
    """Clusters of similar orders of the last ``window_days``, ranked by size and recency."""
    from django.utils import timezone

    from yiwang.hotline.similarity import hot_issues as cluster

    now = now or timezone.now()
    recent = (
        _orders()
        .exclude(kind=WorkOrderKind.RECTIFICATION)
        .filter(created_at__gte=now - dt.timedelta(days=window_days))
        .order_by("-created_at")[:5000]
    )
    return cluster([_message(o) for o in recent], now=now, window_days=window_days, top=top)


def training_examples(categories: Iterable[str]) -> list[tuple[str, str, str]]:
    """(title, content, category) of finished orders in the classifier's categories: the platform's own history.

    The category is the one the order was finally handled under, so an
    operator's correction of a wrong suggestion teaches the next model.
    """
    finished = [WorkOrderState.CLOSED, WorkOrderState.CALLED_BACK]
    rows = (
        WorkOrder.objects.filter(state__in=finished, category__in=list(categories))
        .exclude(kind__in=[WorkOrderKind.RECTIFICATION, WorkOrderKind.GRID])
        .values_list("title", "content", "category")
        .order_by("id")
    )
    return [(title, content, category) for title, content, category in rows]
