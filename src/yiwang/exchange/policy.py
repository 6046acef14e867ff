"""Who may do what in data sharing: deny by default.

* Anyone reads the open part of the resource catalogue (entries whose open
  type is not 不予开放); staff read all of it.
* Staff of a department (counter clerks, reviewers, approvers, department
  administrators) request data for their department; platform
  administrators for any. Whether the provider shares is the provider's
  policy, decided in ``services`` for every request.
* Staff see the exchanges their departments requested or provided;
  supervisors and platform administrators see all.
* A person sees, gives and revokes only their own consents, and sees the
  exchanges of their own data.
* A department system (a service account's token) requests for, and sees
  the exchanges of, its own department and those below it; which of the
  two it may do at all is its token's scopes, checked by the API.
"""

from __future__ import annotations

from typing import Any

from yiwang.accounts import policy as accounts_policy
from yiwang.accounts.constants import Role
from yiwang.core.api_access import ServiceCaller

REQUESTING_ROLES = (Role.COUNTER_CLERK, Role.REVIEWER, Role.APPROVER, Role.DEPARTMENT_ADMIN)
VIEWING_ROLES = (*REQUESTING_ROLES, Role.SUPERVISOR)


def may_request_for(user: Any, department_code: str) -> bool:
    """Whether ``user`` may ask data services for data on behalf of the department."""
    if isinstance(user, ServiceCaller):
        return department_code in user.department_codes
    return accounts_policy.is_platform_admin(user) or accounts_policy.in_scope(user, department_code, REQUESTING_ROLES)


def may_use_exchange_desk(user: Any) -> bool:
    """The staff page of the catalogue and the exchanges (roles alone decide, as for every desk)."""
    return accounts_policy.is_platform_admin(user) or accounts_policy.has_any_role(user, VIEWING_ROLES)


def viewing_scope(user: Any) -> set[str] | None:
    """Department codes whose exchanges ``user`` sees: None for all, empty for none."""
    if isinstance(user, ServiceCaller):
        return set(user.department_codes)
    if accounts_policy.is_platform_admin(user):
        return None
    return accounts_policy.department_scope(user, VIEWING_ROLES)


def is_subject(user: Any, person_id: int | None) -> bool:
    """Whether ``user`` is the person the data is about (consent is theirs alone to give or revoke)."""
    own = getattr(user, "person_id", None)
    return bool(getattr(user, "is_authenticated", False)) and own is not None and own == person_id
