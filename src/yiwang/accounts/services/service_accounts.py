"""Department systems' service accounts (服务账号): create, rotate the secret, revoke.

A service account is a django-oauth-toolkit application registered for the
client-credentials grant, owned by a department, with the API scopes it may
hold. Department administrators manage their department tree's accounts,
platform administrators all; every change and every refusal is audited.
The secret is returned once and kept only as a hash.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import get_access_token_model, get_application_model

from yiwang.accounts import policy
from yiwang.accounts.models import ServiceAccount, User
from yiwang.accounts.services.errors import IdentityError
from yiwang.core.api_access import API_SCOPES
from yiwang.core.audit import record_event


def _target(account: ServiceAccount) -> str:
    return f"accounts.ServiceAccount:{account.pk}"


def _refuse(actor: User, action: str, *, target: str = "", **detail: Any) -> IdentityError:
    record_event("permission.denied", actor=actor, target=target, detail={"action": action, **detail})
    return IdentityError("forbidden", _("无权管理该部门的服务账号"))


def _clean_scopes(scopes: Iterable[str] | str) -> list[str]:
    if isinstance(scopes, str):  # "cases:read cases:write", as the token endpoint writes them
        scopes = scopes.split()
    wanted = sorted({scope.strip() for scope in scopes if scope and scope.strip()})
    unknown = [scope for scope in wanted if scope not in API_SCOPES]
    if unknown:
        raise IdentityError(
            "invalid_scope", _("未知的授权范围：%(scopes)s") % {"scopes": "、".join(unknown)}, field="scopes"
        )
    if not wanted:
        raise IdentityError("invalid_scope", _("请至少选择一个授权范围"), field="scopes")
    return wanted


def create_service_account(
    *,
    actor: User,
    name: str,
    department: Any,
    scopes: Iterable[str] | str,
    description: str = "",
    ip: str | None = None,
) -> tuple[ServiceAccount, str]:
    """Register a department system; returns the account and its client secret (shown this once).

    The client may use the client-credentials grant only, with ``scopes``
    (API scopes, see ``yiwang.core.api_access.API_SCOPES``); its tokens
    reach ``department`` and the departments below it.
    """
    code = getattr(department, "code", None)
    if department is None or not policy.can_manage_service_account(actor, code):
        raise _refuse(actor, "create_service_account", department=code)
    wanted = _clean_scopes(scopes)
    name = " ".join((name or "").split())
    if not 2 <= len(name) <= 255:
        raise IdentityError("invalid_name", _("系统名称应为2至255个字符"), field="name")
    application_model = get_application_model()
    if application_model.objects.filter(name=name).exists():
        raise IdentityError("name_taken", _("已有同名的接入系统"), field="name")
    secret = generate_client_secret()
    application = application_model(
        name=name,
        client_type=application_model.CLIENT_CONFIDENTIAL,
        authorization_grant_type=application_model.GRANT_CLIENT_CREDENTIALS,
        redirect_uris="",
        client_secret=secret,  # hashed when saved
        skip_authorization=False,
    )
    with transaction.atomic():
        application.save()
        account = ServiceAccount.objects.create(
            application=application,
            department=department,
            scopes=wanted,
            description=" ".join((description or "").split())[:500],
            created_by=actor,
        )
        record_event(
            "service_account.created",
            actor=actor,
            target=_target(account),
            ip=ip,
            detail={"client_id": application.client_id, "name": name, "department": code, "scopes": wanted},
        )
    return account, secret


def _active_for(actor: User, account: ServiceAccount, action: str) -> None:
    if not policy.can_manage_service_account(actor, account.department.code):
        raise _refuse(actor, action, target=_target(account))
    if not account.is_active:
        raise IdentityError("revoked", _("该服务账号已吊销"), status=409)


def rotate_service_account_secret(
    *, actor: User, account: ServiceAccount, at_once: bool = False, ip: str | None = None
) -> str:
    """Give the account a new client secret, returned once.

    A planned rotation (``at_once=False``) keeps the previous secret working
    for ``SERVICE_ACCOUNT_SECRET_OVERLAP_HOURS`` so the system can switch
    without downtime; tokens already issued run to their expiry. For a leaked
    secret (``at_once=True``) the old secret stops at once and every token of
    the account is deleted.
    """
    _active_for(actor, account, "rotate_service_account_secret")
    overlap = dt.timedelta(hours=settings.SERVICE_ACCOUNT_SECRET_OVERLAP_HOURS)
    now = timezone.now()
    secret = generate_client_secret()
    with transaction.atomic():
        application = get_application_model().objects.select_for_update().get(pk=account.application.pk)
        keep_previous = not at_once and overlap > dt.timedelta(0)
        account.previous_secret = application.client_secret if keep_previous else ""
        account.previous_secret_until = now + overlap if keep_previous else None
        account.secret_rotated_at = now
        account.save(update_fields=["previous_secret", "previous_secret_until", "secret_rotated_at"])
        application.client_secret = secret
        application.save(update_fields=["client_secret", "updated"])
        deleted = 0
        if at_once:
            deleted, _rows = get_access_token_model().objects.filter(application_id=account.application.pk).delete()
        record_event(
            "service_account.secret_rotated",
            actor=actor,
            target=_target(account),
            ip=ip,
            detail={
                "client_id": application.client_id,
                "at_once": at_once,
                "previous_secret_until": account.previous_secret_until.isoformat()
                if account.previous_secret_until
                else None,
                "tokens_deleted": deleted,
            },
        )
    account.application = application
    return secret


def revoke_service_account(*, actor: User, account: ServiceAccount, ip: str | None = None) -> None:
    """Revoke the account: its tokens stop working at once and its client can get no new ones."""
    _active_for(actor, account, "revoke_service_account")
    with transaction.atomic():
        updated = ServiceAccount.objects.filter(pk=account.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_by=actor, previous_secret="", previous_secret_until=None
        )
        deleted, _rows = get_access_token_model().objects.filter(application_id=account.application.pk).delete()
        account.refresh_from_db()
        if updated:
            record_event(
                "service_account.revoked",
                actor=actor,
                target=_target(account),
                ip=ip,
                detail={"client_id": account.application.client_id, "tokens_deleted": deleted},
            )
