"""Department systems' tokens (服务账号): what the token endpoint allows them and what their tokens mean.

A service account's client uses the client-credentials grant and nothing
else; a browser (OpenID Connect) client cannot use it. The validator in
``accounts.oidc`` asks :func:`service_account_of` which kind a client is.
:func:`caller_for_token` is the check the API's ``Access`` runs on a bearer
token (registered in ``yiwang.core.api_access`` at start-up): the token must
exist, be unexpired, belong to an active service account, and it carries
only the scopes the account still holds.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any
from urllib.parse import unquote_plus

from django.contrib.auth.hashers import check_password
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from yiwang.core.api_access import API_SCOPES, ServiceCaller
from yiwang.directory.selectors import department_and_descendants

from .models import ServiceAccount

SERVICE_GRANT_TYPE = "client_credentials"
_CACHE_ATTRIBUTE = "_yiwang_service_account"


def service_account_of(client: Any) -> ServiceAccount | None:
    """The service account of an OAuth client (any state), or None for a browser (OIDC) client."""
    if client is None or getattr(client, "pk", None) is None:
        return None
    if not hasattr(client, _CACHE_ATTRIBUTE):
        account = ServiceAccount.objects.select_related("department").filter(application_id=client.pk).first()
        setattr(client, _CACHE_ATTRIBUTE, account)
    cached: ServiceAccount | None = getattr(client, _CACHE_ATTRIBUTE)
    return cached


def is_service_client_id(client_id: str) -> bool:
    """Whether ``client_id`` names a service account's client (revoked ones included)."""
    return bool(client_id) and ServiceAccount.objects.filter(application__client_id=client_id).exists()


def presented_credentials(request: Any, basic_auth: str | None) -> tuple[str, str]:
    """The client id and secret a token request presented, from HTTP Basic or the body (empty if none)."""
    if basic_auth:
        try:
            decoded = base64.b64decode(basic_auth, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return "", ""
        client_id, _colon, secret = decoded.partition(":")
        return unquote_plus(client_id), unquote_plus(secret)
    return str(getattr(request, "client_id", "") or ""), str(getattr(request, "client_secret", "") or "")


def active_account_by_client_id(client_id: str) -> ServiceAccount | None:
    """The active service account whose client is ``client_id``, with its application."""
    if not client_id:
        return None
    return (
        ServiceAccount.objects.active()
        .select_related("application", "department")
        .filter(application__client_id=client_id)
        .first()
    )


def previous_secret_matches(account: ServiceAccount, secret: str) -> bool:
    """After a planned rotation, the old secret still authenticates the client until its overlap ends."""
    if not secret or not account.previous_secret or account.previous_secret_until is None:
        return False
    if account.previous_secret_until <= timezone.now():
        return False
    return check_password(secret, account.previous_secret)


def caller_for_token(token: str) -> ServiceCaller | None:
    """The department system a bearer token stands for, or None (unknown, expired, revoked, a user's token)."""
    checksum = hashlib.sha256(token.encode("utf-8")).hexdigest()
    access_token = (
        get_access_token_model()
        .objects.select_related("application")
        .filter(token_checksum=checksum)
        .only("expires", "scope", "user_id", "application__client_id", "application__name")
        .first()
    )
    if access_token is None or access_token.user_id is not None or access_token.is_expired():
        return None
    account = service_account_of(access_token.application)
    if account is None or not account.is_active:
        return None
    # Scopes taken from the account since the token was issued are no longer honoured.
    scopes = frozenset(str(access_token.scope).split()) & frozenset(account.scopes) & frozenset(API_SCOPES)
    code = account.department.code
    return ServiceCaller(
        client_id=access_token.application.client_id,
        name=access_token.application.name,
        department_code=code,
        department_codes=frozenset(department_and_descendants(code)),
        scopes=scopes,
    )
