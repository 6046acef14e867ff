"""Who may do what to which work order: deny by default, department-scoped."""

from __future__ import annotations

from typing import Any

from yiwang.accounts import policy as accounts_policy
from yiwang.accounts.constants import Role
from yiwang.hotline.constants import AssignmentState, WorkOrderState
from yiwang.hotline.models import Assignment, WorkOrder
from yiwang.hotline.workflow import Actor

# Department staff who handle work orders assigned to their department (and the departments below it).
HANDLER_ROLES = frozenset({Role.REVIEWER, Role.APPROVER, Role.DEPARTMENT_ADMIN})
LIVE_ASSIGNMENT_STATES = frozenset({AssignmentState.DISPATCHED, AssignmentState.HANDLING})
# Everyone with a hotline desk (热线工作台): operators, department handlers, grid workers and supervisors.
DESK_ROLES = frozenset({Role.HOTLINE_OPERATOR, Role.SUPERVISOR, Role.GRID_WORKER, *HANDLER_ROLES})


def _authenticated(user: Any) -> bool:
    return user is not None and bool(getattr(user, "is_authenticated", False)) and bool(user.is_active)


def is_operator(user: Any) -> bool:
    """12345 operators work city-wide: every order comes through the one hotline."""
    return _authenticated(user) and accounts_policy.has_any_role(user, {Role.HOTLINE_OPERATOR})


def may_use_desk(user: Any) -> bool:
    """Operators, department handlers, grid workers and supervisors have a desk; citizens do not."""
    return _authenticated(user) and accounts_policy.has_any_role(user, DESK_ROLES)


def is_supervisor_of(user: Any, department_code: str | None) -> bool:
    if not _authenticated(user) or not accounts_policy.has_any_role(user, {Role.SUPERVISOR}):
        return False
    scope = accounts_policy.department_scope(user, {Role.SUPERVISOR})
    return scope is None or (department_code is not None and department_code in scope)


def is_supervisor(user: Any) -> bool:
    return _authenticated(user) and accounts_policy.has_any_role(user, {Role.SUPERVISOR})


def handles_for(user: Any, order: WorkOrder) -> Assignment | None:
    """The live assignment ``user`` works on for their department (the lead's first), or None."""
    if not _authenticated(user):
        return None
    live = [a for a in order.assignments.all() if a.state in LIVE_ASSIGNMENT_STATES]
    if order.assignee_id is not None and order.assignee_id == user.pk:
        lead = next((a for a in live if a.role == "lead"), None)
        if lead is not None:
            return lead
    if not accounts_policy.has_any_role(user, HANDLER_ROLES):
        return None
    scope = accounts_policy.department_scope(user, HANDLER_ROLES)
    mine = [a for a in live if scope is None or a.department.code in scope]
    mine.sort(key=lambda a: a.role != "lead")
    return mine[0] if mine else None


def actor_kinds(user: Any, order: WorkOrder) -> set[str]:
    """Every capacity in which ``user`` may act on ``order`` (None: the platform itself)."""
    if user is None:
        return {Actor.SYSTEM}
    kinds: set[str] = set()
    if not _authenticated(user):
        return kinds
    if is_operator(user):
        kinds.add(Actor.OPERATOR)
    department_code = order.department.code if order.department is not None else None
    if is_supervisor_of(user, department_code) or (is_supervisor(user) and department_code is None):
        kinds.add(Actor.SUPERVISOR)
    if handles_for(user, order) is not None:
        kinds.add(Actor.DEPARTMENT)
    if order.caller_user_id is not None and order.caller_user_id == user.pk:
        kinds.add(Actor.CALLER)
    return kinds


def can_view(user: Any, order: WorkOrder) -> bool:
    """Staff with a part in it, operators, supervisors over it, and the caller see the whole order."""
    if not _authenticated(user):
        return False
    if actor_kinds(user, order):
        return True
    # Departments keep seeing orders they once had (sent back, transferred away) in their history.
    if accounts_policy.has_any_role(user, HANDLER_ROLES):
        scope = accounts_policy.department_scope(user, HANDLER_ROLES)
        return any(scope is None or a.department.code in scope for a in order.assignments.all())
    return False


def may_see_caller(user: Any, order: WorkOrder) -> bool:
    """An anonymous reporter stays anonymous to the department: only the hotline centre knows who called."""
    if order.anonymous:
        return is_operator(user) or (order.caller_user_id is not None and order.caller_user_id == user.pk)
    return can_view(user, order)


# Orders still being worked on: a caller's number is needed until the callback (回访) is recorded.
OPEN_ORDER_STATES = frozenset(
    {WorkOrderState.REGISTERED, WorkOrderState.DISPATCHED, WorkOrderState.HANDLING, WorkOrderState.REPLIED}
)


def is_open_order(order: WorkOrder) -> bool:
    return order.state in OPEN_ORDER_STATES or (order.state == WorkOrderState.CLOSED and order.called_back_at is None)


def reveal_desk(user: Any, order: WorkOrder) -> Assignment | str | None:
    """Where ``user`` holds an open order whose caller's full number they may read, or None.

    An operator holds it at the 12345 desk (the string ``"hotline"``); a
    department handler through a live assignment of their department. An
    anonymous reporter's number stays with the hotline centre.
    """
    if not _authenticated(user) or not is_open_order(order) or not may_see_caller(user, order):
        return None
    if is_operator(user):
        return "hotline"
    return handles_for(user, order) if not order.anonymous else None


def can_register_for_others(user: Any) -> bool:
    return is_operator(user)
