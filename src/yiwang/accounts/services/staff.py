"""Staff accounts and their roles: creating staff, granting and revoking roles within the actor's authority."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.accounts import policy
from yiwang.accounts.constants import (
    Role,
)
from yiwang.accounts.models import (
    RecoveryCode,
    RoleAssignment,
    TotpDevice,
    User,
)
from yiwang.accounts.services.errors import IdentityError
from yiwang.core.audit import record_event


def create_staff(
    *, actor: User, username: str, display_name: str, department: Any, roles: Iterable[str], password: str
) -> User:
    """Create a staff account in ``department`` with roles the actor may grant."""
    roles = list(roles)
    for role in roles:
        if not policy.can_grant_role(actor, role, department):
            record_event("permission.denied", actor=actor, detail={"action": "create_staff", "role": role})
            raise IdentityError("forbidden", _("无权在该部门授予此角色"))
    username = (username or "").strip()
    if not username or len(username) > 64 or not username.replace("-", "").replace("_", "").isalnum():
        raise IdentityError("invalid_username", _("工号只能包含字母、数字、-和_，不超过64位"), field="username")
    if User.objects.filter(username=username).exists():
        raise IdentityError("username_taken", _("该工号已存在"), field="username")
    probe = User(username=username, display_name=display_name)
    try:
        password_validation.validate_password(password, probe)
    except ValidationError as exc:
        raise IdentityError("weak_password", "；".join(exc.messages), field="password") from exc
    with transaction.atomic():
        user = User(username=username, display_name=display_name[:64], is_staff=False)
        user.set_password(password)
        user.save()
        for role in roles:
            _grant(actor, user, role, department)
        record_event("account.staff_created", actor=actor, target=f"accounts.User:{user.pk}")
    return user


def _grant(actor: User | None, user: User, role: str, department: Any) -> RoleAssignment:
    assignment, _created = RoleAssignment.objects.get_or_create(
        user=user,
        role=role,
        department=department,
        revoked_at=None,
        defaults={"granted_by": actor},
    )
    record_event(
        "role.granted",
        actor=actor,
        target=f"accounts.User:{user.pk}",
        detail={"role": role, "department": getattr(department, "code", None)},
    )
    return assignment


def grant_role(*, actor: User, user: User, role: str, department: Any) -> RoleAssignment:
    """Grant a role; refused (and audited) outside the actor's authority or to themselves."""
    if role not in Role.values or not policy.can_grant_role(actor, role, department) or actor.pk == user.pk:
        record_event(
            "permission.denied",
            actor=actor,
            target=f"accounts.User:{user.pk}",
            detail={"action": "grant_role", "role": role, "department": getattr(department, "code", None)},
        )
        raise IdentityError("forbidden", _("无权授予该角色"))
    if user.person_id is not None and not policy.is_platform_admin(actor):
        # Citizen logins stay citizen logins: staff work from staff accounts.
        record_event("permission.denied", actor=actor, target=f"accounts.User:{user.pk}", detail={"action": "grant"})
        raise IdentityError("forbidden", _("不能为个人账户授予工作角色"))
    if not policy.can_manage_user(actor, user) and user.role_assignments.active().exists():
        record_event("permission.denied", actor=actor, target=f"accounts.User:{user.pk}", detail={"action": "grant"})
        raise IdentityError("forbidden", _("无权管理该用户"))
    with transaction.atomic():
        return _grant(actor, user, role, department)


def revoke_role(*, actor: User, assignment: RoleAssignment) -> None:
    if not policy.can_grant_role(actor, assignment.role, assignment.department) or actor.pk == assignment.user_id:
        record_event(
            "permission.denied",
            actor=actor,
            target=f"accounts.RoleAssignment:{assignment.pk}",
            detail={"action": "revoke_role"},
        )
        raise IdentityError("forbidden", _("无权撤销该角色"))
    with transaction.atomic():
        updated = RoleAssignment.objects.filter(pk=assignment.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_by=actor
        )
        if updated:
            record_event(
                "role.revoked",
                actor=actor,
                target=f"accounts.User:{assignment.user_id}",
                detail={"role": assignment.role, "department": getattr(assignment.department, "code", None)},
            )


# --- account administration by a department administrator ------------------------------------------------------


def _refuse_unless_administrable(actor: User, user: User, action: str) -> None:
    if not policy.can_administer_account(actor, user):
        record_event("permission.denied", actor=actor, target=f"accounts.User:{user.pk}", detail={"action": action})
        raise IdentityError("forbidden", _("无权管理该账户"))


def _end_sessions(user: User) -> None:
    # Every session of the account stops matching its hash: whoever held the old factor is signed out.
    User.objects.filter(pk=user.pk).update(session_epoch=F("session_epoch") + 1)
    user.refresh_from_db(fields=["session_epoch"])


def reset_second_factor(*, actor: User, user: User, ip: str | None = None) -> None:
    """Remove a staff member's authenticator and recovery codes; they enrol a new one at their next login.

    For a lost phone. Every session of the account ends; audited.
    """
    _refuse_unless_administrable(actor, user, "reset_second_factor")
    with transaction.atomic():
        TotpDevice.objects.filter(user=user).delete()
        RecoveryCode.objects.filter(user=user).delete()
        _end_sessions(user)
        record_event("account.second_factor_reset", actor=actor, target=f"accounts.User:{user.pk}", ip=ip)


def reset_password(*, actor: User, user: User, ip: str | None = None) -> str:
    """Give a staff member a new random password, returned once for the administrator to hand over.

    Every session of the account ends; audited (the password itself never is).
    """
    _refuse_unless_administrable(actor, user, "reset_password")
    password = secrets.token_urlsafe(12)
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        _end_sessions(user)
        record_event("account.password_reset", actor=actor, target=f"accounts.User:{user.pk}", ip=ip)
    return password


def set_account_active(*, actor: User, user: User, active: bool, ip: str | None = None) -> None:
    """Disable (停用) or enable (启用) a staff account; a disabled account cannot sign in. Audited."""
    _refuse_unless_administrable(actor, user, "enable_account" if active else "disable_account")
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(is_active=active)
        user.refresh_from_db(fields=["is_active"])
        if not active:
            _end_sessions(user)
        record_event(
            "account.enabled" if active else "account.disabled",
            actor=actor,
            target=f"accounts.User:{user.pk}",
            ip=ip,
        )
