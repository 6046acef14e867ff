"""Reads of identity data, already limited to what the caller may see."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from yiwang.core import crypto
from yiwang.directory import selectors as directory_selectors

from . import policy
from .constants import Role
from .models import (
    AssuranceRecord,
    DataAccessRecord,
    Delegation,
    Organisation,
    OrganisationAgent,
    Person,
    RoleAssignment,
    ServiceAccount,
    User,
)


def delegations_given(user: User) -> QuerySet[Delegation]:
    if user.person_id is None:
        return Delegation.objects.none()
    return Delegation.objects.filter(principal_id=user.person_id).select_related("agent_person").order_by("-id")


def delegations_received(user: User) -> QuerySet[Delegation]:
    query = Q(agent_user=user)
    if user.person_id is not None:
        query |= Q(agent_person_id=user.person_id)
    return Delegation.objects.active().filter(query).select_related("principal").order_by("-id")


def get_own_delegation(user: User, delegation_id: int) -> Delegation:
    """A delegation the user gave or received; the same 404 for a missing and a foreign one."""
    person_id = user.person_id
    delegation = (
        Delegation.objects.filter(pk=delegation_id)
        .filter(Q(principal_id=person_id) | Q(agent_person_id=person_id) | Q(agent_user=user))
        .first()
        if person_id is not None or user.is_authenticated
        else None
    )
    if delegation is None:
        raise Http404("授权不存在")
    return delegation


def data_access_records(user: User) -> QuerySet[DataAccessRecord]:
    """Who read the user's full personal data, newest first (the data tracker)."""
    if user.person_id is None:
        return DataAccessRecord.objects.none()
    return DataAccessRecord.objects.filter(person_id=user.person_id)


@dataclass(frozen=True)
class AssuranceStep:
    """One real-name check of a person as their account page shows it: level, how, when, by whom, evidence."""

    level: int
    level_label: str
    method_label: str
    at: dt.datetime
    checked_by: str
    exchange_id: str
    licence: str
    raised: bool


def assurance_history(person: Person) -> list[AssuranceStep]:
    """How the person reached each of their real-name levels (and later checks), oldest first.

    A person never checked since registering has no records: their one step
    is what their record says (self-declared, or the SMS-verified mobile).
    """
    records = list(AssuranceRecord.objects.filter(person=person).order_by("occurred_at", "id"))
    if not records:
        return [
            AssuranceStep(
                level=person.assurance_level,
                level_label=person.get_assurance_level_display(),
                method_label=person.get_assurance_method_display(),
                at=person.assurance_at,
                checked_by="",
                exchange_id="",
                licence="",
                raised=True,
            )
        ]
    steps = []
    for record in records:
        checked_by = " ".join(part for part in (record.department_name, record.checked_by_label) if part)
        licence = f"{record.licence_type_name} {record.licence_identifier}".strip()
        steps.append(
            AssuranceStep(
                level=record.level,
                level_label=record.get_level_display(),
                method_label=record.get_method_display(),
                at=record.occurred_at,
                checked_by=checked_by,
                exchange_id=record.exchange_id,
                licence=licence,
                # The first record keeps the level the person had before their first check.
                raised=record.raised or record is records[0],
            )
        )
    return steps


def organisations_represented(user: User) -> QuerySet[Organisation]:
    if user.person_id is None:
        return Organisation.objects.none()
    return Organisation.objects.filter(legal_representative_id=user.person_id).order_by("name")


def agencies(user: User) -> QuerySet[OrganisationAgent]:
    if user.person_id is None:
        return OrganisationAgent.objects.none()
    return OrganisationAgent.objects.active().filter(person_id=user.person_id).select_related("organisation")


def get_represented_organisation(user: User, organisation_id: int) -> Organisation:
    organisation = organisations_represented(user).filter(pk=organisation_id).first()
    if organisation is None:
        raise Http404("法人不存在")
    return organisation


def organisation_agents(organisation: Organisation) -> QuerySet[OrganisationAgent]:
    return organisation.agents.select_related("person").order_by("-id")


def get_person_for(actor: User, person_id: int) -> Person:
    """A person record the actor may look at (masked); 404 otherwise, so ids cannot be probed."""
    person = Person.objects.filter(pk=person_id).first()
    if person is None or not policy.can_read_person_data(actor, person):
        raise Http404("自然人不存在")
    return person


def staff_list(actor: Any) -> QuerySet[User]:
    return policy.manageable_staff(actor).order_by("username").prefetch_related("role_assignments__department")


def get_managed_user(actor: Any, user_id: int) -> User:
    user = staff_list(actor).filter(pk=user_id).first()
    if user is None:
        raise Http404("用户不存在")
    return user


def get_managed_assignment(actor: Any, assignment_id: int) -> RoleAssignment:
    assignment = (
        RoleAssignment.objects.active()
        .filter(pk=assignment_id, user__in=staff_list(actor))
        .select_related("department", "user")
        .first()
    )
    if assignment is None:
        raise Http404("角色授予不存在")
    return assignment


def active_roles(user: User) -> list[RoleAssignment]:
    return list(RoleAssignment.objects.active().filter(user=user).select_related("department"))


def get_person(person_id: int) -> Person:
    """A person by id, for other apps' services that hold only the id (no access check: callers check)."""
    return Person.objects.get(pk=person_id)


def person_contact(person_id: int) -> tuple[str, str]:
    """A person's name and mobile number in clear ("" when none), for a department that must call them back.

    No access check: the calling service decides that the caller may reach the person (e.g. a rectification).
    """
    person = Person.objects.filter(pk=person_id).only("name", "mobile_encrypted").first()
    if person is None:
        return "", ""
    return person.name, crypto.decrypt(person.mobile_encrypted) if person.mobile_encrypted else ""


def get_organisation(organisation_id: int) -> Organisation:
    """An organisation by id, for other apps' services that hold only the id (no access check: callers check)."""
    return Organisation.objects.get(pk=organisation_id)


def staff_holding(roles: Iterable[str], *, department_id: int | None) -> list[int]:
    """Ids of active accounts holding one of ``roles`` in the department (None: held without a department)."""
    return sorted(
        set(
            RoleAssignment.objects.active()
            .filter(role__in=list(roles), department_id=department_id, user__is_active=True)
            .values_list("user_id", flat=True)
        )
    )


def service_accounts(actor: Any) -> QuerySet[ServiceAccount]:
    """Department systems' service accounts ``actor`` manages: their department tree's, or all for the platform."""
    accounts = ServiceAccount.objects.select_related("application", "department").order_by(
        "revoked_at", "department__code", "id"
    )
    if policy.is_platform_admin(actor):
        return accounts
    scope = policy.department_scope(actor, {Role.DEPARTMENT_ADMIN})
    if not scope:
        return accounts.none()
    return accounts.filter(department__code__in=scope)


def service_account_departments(actor: Any) -> list[tuple[str, str]]:
    """(code, name) of the departments ``actor`` may register a department system for, in display order."""
    names = directory_selectors.department_names()
    if policy.is_platform_admin(actor):
        return names
    scope = policy.department_scope(actor, {Role.DEPARTMENT_ADMIN}) or set()
    return [(code, name) for code, name in names if code in scope]


def get_service_account(actor: Any, account_id: int) -> ServiceAccount:
    """A service account ``actor`` manages; 404 otherwise, exactly like a missing one."""
    account = service_accounts(actor).filter(pk=account_id).first()
    if account is None:
        raise Http404("服务账号不存在")
    return account
