"""Who may do what to licences: deny by default.

* The holder side — the person, or someone who represents or acts as agent
  for the holding organisation — sees, downloads and shares a licence and
  takes it into an application.
* Staff see licences of their departments; approvers and department
  administrators there change, re-issue and revoke them.
* Department administrators (and platform administrators) manage the
  licence types of their departments, and the seals of their departments
  (see the seals section below).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from yiwang.accounts import policy as accounts_policy
from yiwang.accounts import selectors as accounts_selectors
from yiwang.accounts.constants import Role

if TYPE_CHECKING:
    from yiwang.licences.models import Licence

MANAGING_ROLES = (Role.APPROVER, Role.DEPARTMENT_ADMIN)
TYPE_ROLES = (Role.DEPARTMENT_ADMIN,)
VIEWING_ROLES = (Role.COUNTER_CLERK, Role.REVIEWER, Role.APPROVER, Role.DEPARTMENT_ADMIN, Role.SUPERVISOR)


def organisations_acted_for(user: Any) -> set[int]:
    """Ids of the organisations whose licences ``user`` holds in the wallet: represented, or as active agent."""
    if not getattr(user, "is_authenticated", False) or getattr(user, "person_id", None) is None:
        return set()
    ids = set(accounts_selectors.organisations_represented(user).values_list("pk", flat=True))
    ids.update(accounts_selectors.agencies(user).values_list("organisation_id", flat=True))
    return ids


def is_holder_side(user: Any, licence: Licence) -> bool:
    """Whether ``user`` is the holder of the licence, or acts for the holding organisation."""
    if not getattr(user, "is_authenticated", False):
        return False
    if licence.holder_organisation_id is not None:
        return licence.holder_organisation_id in organisations_acted_for(user)
    person_id = getattr(user, "person_id", None)
    return person_id is not None and licence.holder_person_id == person_id


def can_view(user: Any, licence: Licence) -> bool:
    return (
        is_holder_side(user, licence)
        or accounts_policy.in_scope(user, licence.department.code, VIEWING_ROLES)
        or accounts_policy.is_platform_admin(user)
    )


def can_share(user: Any, licence: Licence) -> bool:
    """Only the holder side shows a licence (亮证); staff never share someone's licence."""
    return is_holder_side(user, licence)


def can_manage(user: Any, licence: Licence) -> bool:
    """Change, re-issue, revoke: approvers and administrators of the issuing department (or the platform)."""
    return accounts_policy.in_scope(user, licence.department.code, MANAGING_ROLES) or accounts_policy.is_platform_admin(
        user
    )


def can_manage_types(user: Any, department_code: str | None = None) -> bool:
    """Licence types: a department administrator for their department, a platform administrator for all."""
    if accounts_policy.is_platform_admin(user):
        return True
    if department_code is None:
        return _has_scope(user, TYPE_ROLES)
    return accounts_policy.in_scope(user, department_code, TYPE_ROLES)


def may_use_licence_desk(user: Any) -> bool:
    """The staff page of licence types and licences: department staff who may see or manage them."""
    # Roles alone decide it (no department tree lookup): the staff home asks this of every desk.
    return accounts_policy.is_platform_admin(user) or accounts_policy.has_any_role(user, (*VIEWING_ROLES, *TYPE_ROLES))


def _has_scope(user: Any, roles: tuple[str, ...]) -> bool:
    # department_scope answers None for "every department" (supervisors), an empty set for none.
    scope = accounts_policy.department_scope(user, roles)
    return scope is None or bool(scope)


def can_issue(user: Any, department_code: str) -> bool:
    """Issue a licence by hand: approvers and administrators of the department (or the platform)."""
    return accounts_policy.in_scope(user, department_code, MANAGING_ROLES) or accounts_policy.is_platform_admin(user)


# --- seals and signing keys (电子印章) ------------------------------------------------------------------------
# Department administrators see and rotate the seals of their departments (and those below); platform
# administrators all of them. Verifying a licence and reading the trust list are public (no rule needed).

SEAL_ROLES = (Role.DEPARTMENT_ADMIN,)


def may_manage_seals(user: Any) -> bool:
    """Whether the user has a seals page at all (department or platform administrators)."""
    return accounts_policy.is_platform_admin(user) or bool(accounts_policy.department_scope(user, SEAL_ROLES))


def may_manage_seal(user: Any, department_code: str) -> bool:
    """Whether the user may rotate the keys of a seal of ``department_code``."""
    return accounts_policy.is_platform_admin(user) or accounts_policy.in_scope(user, department_code, SEAL_ROLES)


# --- end of seals and signing keys --------------------------------------------------------------------------


# --- sealed case documents ---------------------------------------------------------------------


def may_download_case_document(user: Any, case: Any) -> bool:
    """Who downloads a case's sealed documents (they name the applicant in full and cannot be masked):

    the applicant side (the person, the organisation's representatives and
    agents, an agent acting for them), and staff who handle the case (hold or
    completed a task of it; their read of a person's name is recorded by the
    view). An organisation's name is not personal data: any staff member
    working on the case may download its documents. Others who may open the
    case (platform-wide roles, counter clerks of other departments) may not.
    """
    from yiwang.cases import policy as cases_policy

    if cases_policy.is_case_applicant(user, case):
        return True
    if case.applicant_organisation_id is not None:
        return cases_policy.is_case_staff(user, case)
    return cases_policy.handles_case(user, case)
