"""Who may do what with ratings (好差评): deny by default, department-scoped.

Anyone may rate a counter visit from its code and read the public results.
An online case is rated by its applicant side only. Counter clerks open
visits at their own departments' windows; 12345 operators enter callers'
ratings; supervisors review suspect ratings and decide appeals over their
departments; the rated department's administrators and approvers appeal
its bad ratings. Pages and the API ask these functions; so do the services.
"""

from __future__ import annotations

from typing import Any

from yiwang.accounts import policy as accounts_policy
from yiwang.accounts.constants import Role
from yiwang.cases import policy as cases_policy
from yiwang.feedback.models import Rating, Visit

# Department staff who answer for their department's ratings and may appeal a bad one (申诉).
APPEAL_ROLES = frozenset({Role.DEPARTMENT_ADMIN, Role.APPROVER})
SUPERVISOR_ROLES = frozenset({Role.SUPERVISOR})
CLERK_ROLES = frozenset({Role.COUNTER_CLERK})
OPERATOR_ROLES = frozenset({Role.HOTLINE_OPERATOR})


def _authenticated(user: Any) -> bool:
    return user is not None and bool(getattr(user, "is_authenticated", False)) and bool(user.is_active)


def is_supervisor(user: Any) -> bool:
    """Holds the supervisor role (over some or all departments)."""
    return _authenticated(user) and accounts_policy.has_any_role(user, SUPERVISOR_ROLES)


def supervised_departments(user: Any) -> set[str] | None:
    """Department codes a supervisor oversees: ``None`` means all, empty means none."""
    if not is_supervisor(user):
        return set()
    return accounts_policy.department_scope(user, SUPERVISOR_ROLES)


def supervises(user: Any, rating: Rating) -> bool:
    """Whether ``user`` may review ``rating`` (suspect ratings) and decide appeals against it."""
    scope = supervised_departments(user)
    return scope is None or rating.department.code in scope


def is_counter_clerk(user: Any) -> bool:
    """Works at a counter (窗口受理人员): opens visits for the people served."""
    return _authenticated(user) and accounts_policy.has_any_role(user, CLERK_ROLES)


def clerk_departments(user: Any) -> set[str] | None:
    """Departments whose windows a clerk opens visits at: ``None`` means all, empty means none."""
    if not is_counter_clerk(user):
        return set()
    return accounts_policy.department_scope(user, CLERK_ROLES)


def may_open_visit_at(user: Any, department_code: str) -> bool:
    """A clerk opens visits (一次一评) at the windows of their own departments only."""
    scope = clerk_departments(user)
    return scope is None or department_code in scope


def may_see_visit(user: Any, visit: Visit) -> bool:
    """The rating code of a visit is shown to the clerk who opened it (the person rates from their phone)."""
    return is_counter_clerk(user) and visit.clerk_id == user.pk


def is_hotline_operator(user: Any) -> bool:
    """A 12345 operator: enters the ratings callers give by phone."""
    return _authenticated(user) and accounts_policy.has_any_role(user, OPERATOR_ROLES)


def may_appeal(user: Any) -> bool:
    """Holds a role that may appeal ratings of some department."""
    return _authenticated(user) and accounts_policy.has_any_role(user, APPEAL_ROLES)


def appeal_departments(user: Any) -> set[str] | None:
    """Departments whose bad ratings ``user`` answers for: ``None`` means all, empty means none."""
    if not may_appeal(user):
        return set()
    return accounts_policy.department_scope(user, APPEAL_ROLES)


def may_appeal_rating(user: Any, rating: Rating) -> bool:
    """The rated department's administrators and approvers (and those of the departments above it)."""
    scope = appeal_departments(user)
    return scope is None or rating.department.code in scope


def may_rate_case(user: Any, case: Any) -> bool:
    """一事一评 online: the applicant side of the case (the applicant, an organisation's agent, a delegate)."""
    return _authenticated(user) and cases_policy.is_case_applicant(user, case)


def is_rater(user: Any, rating: Rating) -> bool:
    """The account that gave the rating: only it says whether the rectification resolved the problem."""
    return _authenticated(user) and rating.rater_user_id is not None and rating.rater_user_id == user.pk
