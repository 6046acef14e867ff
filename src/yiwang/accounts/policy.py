"""Who may do what in identity, and the department scoping every app uses.

Deny by default: each function answers True only for the cases it names.
Staff act within the departments of their role assignments and every
department below them; supervisors and platform administrators see all.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Q, QuerySet

from yiwang.directory.selectors import department_and_descendants

from .constants import (
    DEPARTMENT_GRANTABLE_ROLES,
    PLATFORM_WIDE_ROLES,
    STAFF_ROLES,
    Role,
)
from .models import Delegation, Organisation, Person, RoleAssignment, User

ALL = None  # "every department"


def _assignments(user: Any) -> list[RoleAssignment]:
    if not getattr(user, "is_authenticated", False):
        return []
    cache = getattr(user, "_role_cache", None)
    if cache is None:
        cache = list(RoleAssignment.objects.active().filter(user=user).select_related("department"))
        user._role_cache = cache
    return cache


def roles_of(user: Any) -> set[str]:
    return {a.role for a in _assignments(user)}


def has_any_role(user: Any, roles: Iterable[str]) -> bool:
    wanted = set(roles)
    return any(a.role in wanted for a in _assignments(user))


def is_staff_member(user: Any) -> bool:
    return bool(roles_of(user) & STAFF_ROLES)


def may_administer_staff(user: Any) -> bool:
    """Platform and department administrators manage staff accounts and their roles (/staff/)."""
    return is_platform_admin(user) or bool(department_scope(user, {Role.DEPARTMENT_ADMIN}))


def may_use_admin_site(user: Any) -> bool:
    """Django's admin site is open to accounts flagged ``is_staff`` (it checks again itself)."""
    return bool(getattr(user, "is_active", False) and getattr(user, "is_staff", False))


def has_staff_home(user: Any) -> bool:
    """Staff roles and admin-site accounts land on the staff home (their desks) after signing in."""
    return is_staff_member(user) or may_use_admin_site(user)


def requires_second_factor(user: Any) -> bool:
    """Every staff account must use an authenticator; Django admin access counts as staff."""
    return is_staff_member(user) or bool(getattr(user, "is_staff", False)) or bool(getattr(user, "is_superuser", False))


def department_scope(user: Any, roles: Iterable[str] | None = None) -> set[str] | None:
    """Department codes the user acts in (with ``roles`` if given): ``None`` means all, empty means none."""
    wanted = set(roles) if roles is not None else None
    codes: set[str] = set()
    for assignment in _assignments(user):
        if wanted is not None and assignment.role not in wanted:
            continue
        if assignment.role in PLATFORM_WIDE_ROLES:
            return ALL
        if assignment.department is not None:
            codes.update(_descendants(user, assignment.department.code))
    return codes


def _descendants(user: Any, code: str) -> tuple[str, ...]:
    # Kept beside the role cache, on the same object and for as long: one page asks for several desks'
    # scopes with different roles, and each would otherwise read the department tree again.
    cache: dict[str, tuple[str, ...]] | None = getattr(user, "_descendants_cache", None)
    if cache is None:
        cache = {}
        user._descendants_cache = cache
    if code not in cache:
        cache[code] = tuple(department_and_descendants(code))
    return cache[code]


def scope_by_department(
    queryset: QuerySet[Any], user: Any, *, field: str = "department__code", roles: Iterable[str] | None = None
) -> QuerySet[Any]:
    """Filter department-owned records to those the user may see (nothing for non-staff)."""
    scope = department_scope(user, roles)
    if scope is ALL:
        return queryset
    if not scope:
        return queryset.none()
    return queryset.filter(**{f"{field}__in": scope})


def in_scope(user: Any, department_code: str | None, roles: Iterable[str] | None = None) -> bool:
    scope = department_scope(user, roles)
    return scope is ALL or (department_code is not None and department_code in scope)


def is_platform_admin(user: Any) -> bool:
    return Role.PLATFORM_ADMIN in roles_of(user) or bool(getattr(user, "is_superuser", False))


def can_grant_role(actor: Any, role: str, department: Any) -> bool:
    """Platform administrators grant anything; department administrators grant working roles below them.

    Roles that reach beyond one department tree (supervisors, 12345 operators,
    administrators) are the platform administrator's to grant.
    """
    if is_platform_admin(actor):
        return role != Role.APPLICANT
    if role not in DEPARTMENT_GRANTABLE_ROLES or department is None:
        return False
    return in_scope(actor, department.code, {Role.DEPARTMENT_ADMIN})


def grantable_roles(actor: Any) -> list[str]:
    """The roles the staff pages offer ``actor`` to grant (the department is checked when granting)."""
    if is_platform_admin(actor):
        return [role for role in Role if role != Role.APPLICANT]
    if not department_scope(actor, {Role.DEPARTMENT_ADMIN}):
        return []
    return [role for role in Role if role in DEPARTMENT_GRANTABLE_ROLES]


def can_manage_user(actor: Any, target: User) -> bool:
    """A department administrator manages staff whose every role lies inside their scope."""
    if is_platform_admin(actor):
        return True
    if actor.pk == target.pk:
        return False
    scope = department_scope(actor, {Role.DEPARTMENT_ADMIN})
    if not scope:
        return False
    target_roles = list(RoleAssignment.objects.active().filter(user=target).select_related("department"))
    return bool(target_roles) and all(
        a.role in DEPARTMENT_GRANTABLE_ROLES and a.department is not None and a.department.code in scope
        for a in target_roles
    )


def can_administer_account(actor: Any, target: User) -> bool:
    """Who may reset a staff member's authenticator or password, or disable the account.

    Staff of the actor's own department tree only (as :func:`can_manage_user`
    decides), never the actor's own account and never a platform
    administrator's: those would let one administrator take over another.
    """
    if not getattr(actor, "is_authenticated", False) or actor.pk == target.pk:
        return False
    if target.is_superuser or RoleAssignment.objects.active().filter(user=target, role=Role.PLATFORM_ADMIN).exists():
        return False
    return can_manage_user(actor, target)


def manageable_staff(actor: Any) -> QuerySet[User]:
    """Staff accounts a department administrator may see in the staff administration."""
    if is_platform_admin(actor):
        # One filter call, so both conditions apply to the same assignment: a citizen's applicant role is no
        # staff role.
        return User.objects.filter(
            role_assignments__revoked_at__isnull=True, role_assignments__role__in=list(STAFF_ROLES)
        ).distinct()
    scope = department_scope(actor, {Role.DEPARTMENT_ADMIN})
    if not scope:
        return User.objects.none()
    return User.objects.filter(
        Q(role_assignments__revoked_at__isnull=True)
        & Q(role_assignments__department__code__in=scope)
        & Q(role_assignments__role__in=list(STAFF_ROLES))
    ).distinct()


def can_read_person_data(actor: Any, person: Person) -> bool:
    """Only the person themself reaches a person record by its id.

    Staff reach a person only through a case or work order they hold, whose
    app states the justification (``services.reveal_person_data``): an id
    alone must not lead anywhere, or ids could be walked one by one.
    """
    return getattr(actor, "person_id", None) is not None and actor.person_id == person.pk


def can_manage_organisation(actor: Any, organisation: Organisation) -> bool:
    return getattr(actor, "person_id", None) is not None and organisation.legal_representative_id == actor.person_id


def primary_department_name(user: Any) -> str:
    for assignment in _assignments(user):
        if assignment.department is not None:
            return assignment.department.name
    return "平台" if roles_of(user) else ""


def required_assurance(item: Any, step: Any = None) -> int:
    """The real-name level an item (or one of its steps) asks of the applicant."""
    step_level = getattr(step, "min_assurance_level", None)
    return max(item.min_assurance_level, step_level or 0)


def meets_assurance(person: Person | None, item: Any, step: Any = None) -> bool:
    return person is not None and person.assurance_level >= required_assurance(item, step)


def may_record_identity_check(user: Any) -> bool:
    """Counter clerks check a person's original document face to face and record it (real-name levels 3 and 4).

    The check is of the person in front of them, whatever the department: any
    window serves anyone (无差别受理). Other staff roles do not check documents.
    """
    return has_any_role(user, {Role.COUNTER_CLERK})


def acts_for(user: Any, person_id: int) -> bool:
    """Whether ``user`` holds an active delegation (帮办代办) from the person."""
    if not getattr(user, "is_authenticated", False):
        return False
    delegations = Delegation.objects.active().filter(principal_id=person_id)
    own = Q(agent_user=user)
    if getattr(user, "person_id", None) is not None:
        own |= Q(agent_person_id=user.person_id)
    return delegations.filter(own).exists()


def may_manage_service_accounts(user: Any) -> bool:
    """Platform administrators and department administrators manage department systems' service accounts."""
    return is_platform_admin(user) or bool(department_scope(user, {Role.DEPARTMENT_ADMIN}))


def can_manage_service_account(user: Any, department_code: str | None) -> bool:
    """A service account of ``department_code``: its department's administrators (and above), or the platform's."""
    if is_platform_admin(user):
        return True
    return department_code is not None and in_scope(user, department_code, {Role.DEPARTMENT_ADMIN})
