"""Who may see and do what with applications and cases. Deny by default.

Staff act within their departments (and those below them); counter clerks
take and accept any item anywhere (一窗受理, 无差别受理); supervisors and
platform administrators see every case but take no handling action. The
applicant side is the applicant person, an agent of the applicant
organisation, or whoever the application was filled in by (a delegate).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from yiwang.accounts import policy as accounts_policy
from yiwang.accounts import selectors as accounts_selectors
from yiwang.accounts.constants import CASE_ROLES, PLATFORM_WIDE_ROLES, Role
from yiwang.cases.constants import OPEN_CASE_STATES, CaseState, ExtensionStatus, StepKind, TaskStatus
from yiwang.cases.models import Application, Case, CaseTask, Extension
from yiwang.cases.workflow import Actor, Transition


def _authenticated(user: Any) -> bool:
    return user is not None and bool(getattr(user, "is_authenticated", False))


def _organisation_ids(user: Any) -> set[int]:
    return set(accounts_selectors.organisations_represented(user).values_list("pk", flat=True))


def is_applicant_side(user: Any, *, person_id: int, organisation_id: int | None, created_by_id: int | None) -> bool:
    """The applicant, an agent of the applicant organisation, or the delegate who filled the application in."""
    if not _authenticated(user):
        return False
    if organisation_id is not None:
        return organisation_id in _organisation_ids(user)
    if user.person_id is not None and user.person_id == person_id:
        return True
    # A delegate (帮办代办) keeps access to what they filled in while they act for the person.
    return created_by_id == user.pk and accounts_policy.acts_for(user, person_id)


def can_edit_application(user: Any, application: Application) -> bool:
    """The applicant side, or the counter clerk who is filling it in at the counter."""
    if application.agent_id is not None and application.agent_id == getattr(user, "pk", None):
        return True
    return is_applicant_side(
        user,
        person_id=application.applicant_person_id,
        organisation_id=application.applicant_organisation_id,
        created_by_id=application.created_by_id,
    )


def meets_assurance(person_id: int, item: Any) -> bool:
    return accounts_policy.meets_assurance(accounts_selectors.get_person(person_id), item)


def is_bundle_applicant(user: Any, application: Application) -> bool:
    """Who follows a bundle submission: the applicant side of its application, or the clerk who filled it in."""
    return can_edit_application(user, application)


def is_case_applicant(user: Any, case: Case) -> bool:
    return is_applicant_side(
        user,
        person_id=case.applicant_person_id,
        organisation_id=case.applicant_organisation_id,
        created_by_id=case.application.created_by_id,
    ) or (case.agent_id is not None and case.agent_id == getattr(user, "pk", None))


def _department_codes(case: Case) -> set[str]:
    codes = {case.department.code}
    codes.update(CaseTask.objects.filter(case=case).values_list("department__code", flat=True).distinct())
    return codes


def is_case_staff(user: Any, case: Case) -> bool:
    """Staff who may work on the case: a case role in its department or a department of one of its tasks."""
    if not _authenticated(user):
        return False
    if accounts_policy.has_any_role(user, {Role.COUNTER_CLERK}):
        return True
    return any(accounts_policy.in_scope(user, code, CASE_ROLES) for code in _department_codes(case))


def can_view_case(user: Any, case: Case) -> bool:
    if not _authenticated(user):
        return False
    if accounts_policy.has_any_role(user, PLATFORM_WIDE_ROLES):
        return True
    return is_case_staff(user, case) or is_case_applicant(user, case)


def can_perform(user: Any, case: Case, step: Transition) -> bool:
    """Whether ``user`` (None: the platform itself) may take ``step`` on ``case``; the state is checked elsewhere."""
    if user is None:
        return Actor.SYSTEM in step.actors
    if not _authenticated(user):
        return False
    if Actor.APPLICANT in step.actors and is_case_applicant(user, case):
        return True
    if not step.roles:
        return False
    if Role.COUNTER_CLERK in step.roles and accounts_policy.has_any_role(user, {Role.COUNTER_CLERK}):
        return True
    return any(accounts_policy.in_scope(user, code, step.roles) for code in _department_codes(case))


def can_work_task(user: Any, task: CaseTask) -> bool:
    """A task is worked by its role within its department (counter tasks by any counter clerk)."""
    if not _authenticated(user):
        return False
    if task.role == Role.COUNTER_CLERK and accounts_policy.has_any_role(user, {Role.COUNTER_CLERK}):
        return True
    return accounts_policy.in_scope(user, task.department.code, {task.role})


def holds_task(user: Any, case: Case) -> bool:
    """An open task of the case waits for a role the user holds in that task's own department.

    Stricter than :func:`can_work_task`: a counter clerk of another department
    may accept at any window, but does not thereby hold the case's data.
    """
    if not _authenticated(user):
        return False
    tasks = CaseTask.objects.filter(case=case, status=TaskStatus.OPEN).select_related("department")
    return any(accounts_policy.in_scope(user, task.department.code, {task.role}) for task in tasks)


def may_reveal_applicant(user: Any, case: Case) -> bool:
    """Staff read the applicant's full data only while the case is open and they hold a task on it."""
    return case.state in OPEN_CASE_STATES and holds_task(user, case)


def handles_case(user: Any, case: Case) -> bool:
    """Who prints the case's documents with the applicant's full name: a holder of an open task, or whoever
    completed one (a decision document is printed after the decision, when no task of theirs is open)."""
    if not _authenticated(user):
        return False
    return holds_task(user, case) or CaseTask.objects.filter(case=case, completed_by_id=user.pk).exists()


def visible_cases(user: Any) -> QuerySet[Case]:
    """Cases ``user`` may open as staff: all for platform-wide roles, else those of their departments."""
    cases = Case.objects.all()
    if accounts_policy.has_any_role(user, PLATFORM_WIDE_ROLES | {Role.COUNTER_CLERK}):
        return cases
    scope = accounts_policy.department_scope(user, CASE_ROLES)
    if not scope:
        return cases.none()
    return cases.filter(Q(department__code__in=scope) | Q(tasks__department__code__in=scope)).distinct()


_ACCEPTANCE_KINDS = (StepKind.PRE_REVIEW, StepKind.ACCEPTANCE)


def _approver_tasks(scope: set[str] | None) -> Q:
    """An approver's own stages, plus every open task of a suspended case or one with an extension to decide."""
    pending_extension = Exists(Extension.objects.filter(case=OuterRef("case"), status=ExtensionStatus.REQUESTED))
    waiting_for_approver = Q(case__state=CaseState.SUSPENDED) | Q(pending_extension)
    if scope is None:
        return Q(role=Role.APPROVER) | waiting_for_approver
    in_departments = Q(department__code__in=scope) | Q(case__department__code__in=scope)
    return Q(role=Role.APPROVER, department__code__in=scope) | (waiting_for_approver & in_departments)


def task_scope(user: Any) -> Q | None:
    """The open tasks ``user`` works on, as a filter (None: none at all).

    The role that owns a stage sees its tasks. Two exceptions follow the
    transition table: reviewers may also accept, so they see their
    departments' acceptance tasks (not the counter's 制证 or 送达, which they
    could not work); approvers alone resume a suspended case and decide an
    extension request, so those cases reach their queue whichever stage's
    task is open.
    """
    conditions = Q(pk__in=[])
    matched = False
    reviewer_scope = accounts_policy.department_scope(user, {Role.REVIEWER})
    if reviewer_scope is None or reviewer_scope:
        departments = Q() if reviewer_scope is None else Q(department__code__in=reviewer_scope)
        conditions |= departments & (Q(role=Role.REVIEWER) | Q(role=Role.COUNTER_CLERK, kind__in=_ACCEPTANCE_KINDS))
        matched = True
    approver_scope = accounts_policy.department_scope(user, {Role.APPROVER})
    if approver_scope is None or approver_scope:
        conditions |= _approver_tasks(approver_scope)
        matched = True
    if accounts_policy.has_any_role(user, {Role.COUNTER_CLERK}):
        scope = accounts_policy.department_scope(user, {Role.COUNTER_CLERK})
        conditions |= (
            Q(role=Role.COUNTER_CLERK) if scope is None else Q(role=Role.COUNTER_CLERK, department__code__in=scope)
        )
        matched = True
    return conditions if matched else None


def department_system_may_read(department_codes: frozenset[str], case: Case) -> bool:
    """A department system (service account) reads a case of its department tree: the case's department or the
    department of one of its tasks (a parallel approval) lies in ``department_codes``."""
    return bool(department_codes) and bool(_department_codes(case) & department_codes)
