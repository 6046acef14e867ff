"""Who may do what in the knowledge base: deny by default, department-scoped.

- **Drafting** (create, edit, submit, start a new version): department staff who answer for their
  department — reviewers, approvers and department administrators — for entries of their department tree;
  12345 operators for any department, since the one hotline answers every department's callers and meets
  the gaps first (their drafts still need the department to publish them).
- **Publishing** (publish, return with a reason, withdraw): the owning department's administrators, and
  platform administrators for every department; never the person who drafted, last edited or submitted the
  version (four-eyes, checked in :mod:`yiwang.knowledge.services`).
- **Unanswered questions**: everyone who may draft sees them and may turn one into a draft; dismissing one
  (for everybody) is for operators, department administrators and platform administrators.
- Reading published, currently valid entries is public.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet

from yiwang.accounts import policy as accounts_policy
from yiwang.accounts.constants import Role

if TYPE_CHECKING:
    from .models import Entry

# Department staff who write their department's answers.
EDITOR_ROLES = frozenset({Role.REVIEWER, Role.APPROVER, Role.DEPARTMENT_ADMIN})
PUBLISHER_ROLES = frozenset({Role.DEPARTMENT_ADMIN})
ALL = None  # every department


def _authenticated(user: Any) -> bool:
    return user is not None and bool(getattr(user, "is_authenticated", False)) and bool(user.is_active)


def is_platform_admin(user: Any) -> bool:
    return _authenticated(user) and accounts_policy.is_platform_admin(user)


def is_operator(user: Any) -> bool:
    return _authenticated(user) and accounts_policy.has_any_role(user, {Role.HOTLINE_OPERATOR})


def drafting_scope(user: Any) -> set[str] | None:
    """Department codes ``user`` may draft for: ``None`` means every department, empty means none."""
    if not _authenticated(user):
        return set()
    if is_platform_admin(user) or is_operator(user):
        return ALL
    scope = accounts_policy.department_scope(user, EDITOR_ROLES)
    # A platform-wide role is not among the editor roles, so the scope is always a set here.
    return set(scope) if scope is not None else ALL


def publishing_scope(user: Any) -> set[str] | None:
    if not _authenticated(user):
        return set()
    if is_platform_admin(user):
        return ALL
    scope = accounts_policy.department_scope(user, PUBLISHER_ROLES)
    return set(scope) if scope is not None else ALL


def _within(scope: set[str] | None, department_code: str) -> bool:
    return scope is ALL or department_code in scope


def may_use_desk(user: Any) -> bool:
    """The knowledge-base desk: whoever may draft for some department."""
    scope = drafting_scope(user)
    return scope is ALL or bool(scope)


def may_draft_for(user: Any, department_code: str) -> bool:
    return _within(drafting_scope(user), department_code)


def may_edit(user: Any, entry: Entry) -> bool:
    return may_draft_for(user, entry.department.code)


def may_publish(user: Any, entry: Entry) -> bool:
    """The role to publish, return or withdraw ``entry`` (four-eyes is the service's check)."""
    return _within(publishing_scope(user), entry.department.code)


def may_review(user: Any) -> bool:
    """The review queue: department administrators and platform administrators."""
    scope = publishing_scope(user)
    return scope is ALL or bool(scope)


def may_see(user: Any, entry: Entry) -> bool:
    """The staff view of an entry (drafts and history): its drafters and publishers."""
    return may_edit(user, entry) or may_publish(user, entry)


def visible_entries(user: Any, entries: QuerySet[Any]) -> QuerySet[Any]:
    """``entries`` (Entry rows) filtered to those ``user`` sees on the staff pages."""
    scopes = [drafting_scope(user), publishing_scope(user)]
    if ALL in scopes:
        return entries
    codes = set().union(*[scope for scope in scopes if scope is not None])
    return entries.filter(department__code__in=codes) if codes else entries.none()


def reviewable_entries(user: Any, entries: QuerySet[Any]) -> QuerySet[Any]:
    scope = publishing_scope(user)
    if scope is ALL:
        return entries
    return entries.filter(department__code__in=scope) if scope else entries.none()


def may_handle_questions(user: Any) -> bool:
    return may_use_desk(user)


def may_dismiss_questions(user: Any) -> bool:
    return is_operator(user) or may_review(user)
