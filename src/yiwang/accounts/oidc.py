"""Single sign-on (统一身份认证) for other departments' systems: Yiwang as OpenID Connect provider.

django-oauth-toolkit (DOT) does the protocol; this module holds what is ours:

* :class:`YiwangOAuth2Validator` -- the claims released per scope, and the
  rules DOT leaves open: authorization code (with PKCE, S256) is the only
  flow, ID tokens are RS256, only active users get or use tokens, and every
  issued token is audited (``oidc.token_issued``).
* :func:`release_phone` -- the one full personal identifier a department can
  receive (scope ``phone``). Like ``services.reveal_person_data`` it records
  the read, so the citizen's data tracker (谁查看了我的信息) names the system.
* :func:`register_client` -- how the ``yiwang oidc-client`` command registers
  a department's system.
* The consent and token views (:class:`ConsentView`, :class:`TokenView`).

Claims by scope (``sub`` is DOT's default, ``str(user.pk)``: stable, and
carrying no personal data):

==========  ==================================================  ==========================
scope       claims                                              where
==========  ==================================================  ==========================
openid      sub                                                 ID token, userinfo
profile     name, preferred_username                            ID token, userinfo
identity    yiwang_document_type, yiwang_document_number_masked,  ID token, userinfo
            yiwang_assurance_level (1-4, see AssuranceLevel)
staff       yiwang_roles, yiwang_departments (staff only)       ID token, userinfo
phone       phone_number (E.164, full), phone_number_verified   userinfo only, recorded
==========  ==================================================  ==========================

Staff and the second factor: the authorization endpoint relies on the
Django session. Our login view (``accounts.views.login_view``) calls
``login()`` for staff only after their authenticator code was accepted, so a
staff member's session -- and hence any sign-in to a department system
through it -- has passed both factors. Any other way of creating a session
must keep that promise.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote_plus, urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from oauth2_provider import views as dot_views
from oauth2_provider.models import (
    AbstractApplication,
    get_access_token_model,
    get_application_model,
    get_refresh_token_model,
)
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.scopes import get_scopes_backend

from yiwang.core import crypto
from yiwang.core.api_access import API_SCOPES
from yiwang.core.audit import record_event
from yiwang.core.http import address_from_meta, client_address
from yiwang.core.middleware import CONTENT_SECURITY_POLICY

from . import policy, service_tokens
from .models import DataAccessRecord, OidcClientScopes, RedeemedAuthorizationCode, User

log = logging.getLogger(__name__)

# oauthlib's request object (oauthlib ships no type information).
OAuthRequest = Any

GRANT_TYPES = frozenset({"authorization_code", "refresh_token"})
# Set by ConsentView in the request's META for the validator (oauthlib sees headers, not the Django
# user): whether a user is logged in. A key without the HTTP_ prefix cannot come from the client.
SESSION_USER_KEY = "YIWANG_SESSION_USER"
PHONE_CLAIMS = ("phone_number", "phone_number_verified")
# Claims each scope releases, beyond sub (openid). Used for the discovery document too.
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": ("name", "preferred_username"),
    "identity": ("yiwang_document_type", "yiwang_document_number_masked", "yiwang_assurance_level"),
    "staff": ("yiwang_roles", "yiwang_departments"),
    "phone": PHONE_CLAIMS,
}


# How long an exchanged code is remembered, so that its replay still revokes what it gave.
REDEEMED_CODE_MEMORY = dt.timedelta(days=30)
# What a client may ask for unless registered with more (``yiwang oidc-client --scope``).
DEFAULT_CLIENT_SCOPES = ("openid", "profile")
# The validated authorization request shown on the consent page, kept in the session: the consent
# form's hidden fields are the browser's copy, and an edited copy must not widen what was consented to.
CONSENT_SESSION_KEY = "yiwang_oidc_consent"
CONSENT_FIELDS = (
    "client_id",
    "redirect_uri",
    "response_type",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "claims",
    "scope",
)

# Headings of the consent page; the descriptions are the SCOPES setting.
SCOPE_TITLES = {
    "openid": _("身份确认"),
    "profile": _("姓名"),
    "phone": _("手机号码"),
    "identity": _("证件与实名等级"),
    "staff": _("工作岗位"),
}


class OidcClientError(Exception):
    """A client registration was refused; the message says why (Chinese)."""


def _client_label(application: Any) -> str:
    return (application.name or application.client_id)[:200]


def _audit_target(application: Any) -> str:
    return f"oauth2_provider.Application:{application.pk}"


def release_phone(*, user: User, application: Any) -> dict[str, Any]:
    """The full mobile number for a client holding the citizen's ``phone`` consent; the read is recorded."""
    person = user.person
    if person is None or not person.mobile_encrypted:
        return {}
    mobile = crypto.decrypt(person.mobile_encrypted)
    label = _client_label(application)
    purpose = f"单点登录：{label}"[:200]
    with transaction.atomic():
        DataAccessRecord.objects.create(
            person=person,
            accessor=None,
            accessor_label=label,
            fields=["mobile"],
            purpose=purpose,
        )
        record_event(
            "pii.read",
            actor_label=f"oidc-client:{application.client_id}"[:200],
            on_behalf_of_person_id=person.pk,
            target=f"accounts.Person:{person.pk}",
            detail={
                "fields": ["mobile"],
                "purpose": purpose,
                "client_id": application.client_id,
                "consented_by": f"accounts.User:{user.pk}",
            },
        )
    return {"phone_number": f"+86{mobile}", "phone_number_verified": person.mobile_verified_at is not None}


def user_claims(user: User, scopes: list[str]) -> dict[str, Any]:
    """Claims for the ID token and userinfo, for the scopes granted (the phone number excepted)."""
    claims: dict[str, Any] = {}
    person = user.person
    if "profile" in scopes:
        claims["name"] = person.name if person is not None else (user.display_name or user.username)
        claims["preferred_username"] = user.username
    if "identity" in scopes and person is not None:
        claims["yiwang_document_type"] = person.document_type
        claims["yiwang_document_number_masked"] = person.document_number_masked
        claims["yiwang_assurance_level"] = person.assurance_level
    if "staff" in scopes and policy.is_staff_member(user):
        assignments = user.role_assignments.active().select_related("department").order_by("role", "department__code")
        claims["yiwang_roles"] = [
            {"role": a.role, "department": a.department.code if a.department else None} for a in assignments
        ]
        claims["yiwang_departments"] = sorted({a.department.code for a in assignments if a.department})
    return claims


def _active(user: Any) -> bool:
    return user is not None and bool(getattr(user, "is_active", False))


def allowed_scopes(application: Any) -> frozenset[str]:
    """The scopes ``application`` may ask for: its registered list, or only ``openid`` without one."""
    row = OidcClientScopes.objects.filter(application=application).first()
    return frozenset(row.scopes) if row is not None else frozenset({"openid"})


def _code_digest(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def _remember_redeemed_code(code: str, application: Any, access_token: str) -> None:
    """Note which tokens a code gave, so that a replay of the code can revoke them."""
    checksum = hashlib.sha256(access_token.encode("utf-8")).hexdigest()
    issued = get_access_token_model().objects.filter(token_checksum=checksum).first()
    refresh = get_refresh_token_model().objects.filter(access_token=issued).first() if issued else None
    # Keeps the table small; a code leaked and first replayed a month later is left to token expiry.
    RedeemedAuthorizationCode.objects.filter(redeemed_at__lt=timezone.now() - REDEEMED_CODE_MEMORY).delete()
    RedeemedAuthorizationCode.objects.update_or_create(
        code_digest=_code_digest(code),
        defaults={
            "application": application,
            "access_token_id": issued.pk if issued else None,
            "token_family": refresh.token_family if refresh else None,
        },
    )


def revoke_tokens_of_replayed_code(code: str, application: Any, *, ip: str | None) -> bool:
    """RFC 6749 4.1.2: a code used twice revokes what it gave the first time; False if it was never used."""
    redeemed = RedeemedAuthorizationCode.objects.filter(code_digest=_code_digest(code), application=application).first()
    if redeemed is None:
        return False
    with transaction.atomic():
        if redeemed.token_family:
            get_refresh_token_model().revoke_family(redeemed.token_family)
        if redeemed.access_token_id:
            token = get_access_token_model().objects.filter(pk=redeemed.access_token_id).first()
            if token is not None:
                token.revoke()
        record_event(
            "oidc.code_replayed",
            actor_label=f"oidc-client:{application.client_id}"[:200],
            target=_audit_target(application),
            ip=ip,
            detail={"client_id": application.client_id, "redeemed_at": redeemed.redeemed_at.isoformat()},
        )
    return True


class YiwangOAuth2Validator(OAuth2Validator):
    """DOT's validator with Yiwang's claims, flow restrictions and audit records."""

    oidc_claim_scope = {
        **OAuth2Validator.oidc_claim_scope,
        **{claim: scope for scope, claims in SCOPE_CLAIMS.items() for claim in claims},
    }

    # --- which clients and flows --------------------------------------------

    def validate_client_id(self, client_id: str, request: OAuthRequest, *args: Any, **kwargs: Any) -> bool:
        if not super().validate_client_id(client_id, request, *args, **kwargs):
            return False
        client = request.client
        if (
            client.authorization_grant_type != AbstractApplication.GRANT_AUTHORIZATION_CODE
            or client.algorithm != AbstractApplication.RS256_ALGORITHM
        ):
            # Registered in the admin with another flow or no ID token signing.
            log.warning("OIDC client %s refused: it must use authorization code and RS256", client_id)
            return False
        return True

    def validate_grant_type(
        self, client_id: str, grant_type: str, client: Any, request: OAuthRequest, *args: Any, **kwargs: Any
    ) -> bool:
        # Department systems (service accounts) use client credentials and nothing else; browser clients
        # never use it, whatever grant type an administrator set on their application.
        account = service_tokens.service_account_of(client)
        if account is not None:
            if grant_type != service_tokens.SERVICE_GRANT_TYPE or not account.is_active:
                return False
        elif grant_type not in GRANT_TYPES:
            return False
        return bool(super().validate_grant_type(client_id, grant_type, client, request, *args, **kwargs))

    def authenticate_client(self, request: OAuthRequest, *args: Any, **kwargs: Any) -> bool:
        if super().authenticate_client(request, *args, **kwargs):
            account = service_tokens.service_account_of(getattr(request, "client", None))
            return account is None or account.is_active
        # A planned rotation keeps a service account's previous secret working for a while
        # (docs/service-accounts.md). DOT has forgotten the client by now: it is looked up again.
        client_id, secret = service_tokens.presented_credentials(request, self._extract_basic_auth(request))
        account = service_tokens.active_account_by_client_id(client_id)
        if account is None or not service_tokens.previous_secret_matches(account, secret):
            return False
        request.client = account.application
        request.client_id = client_id
        return True

    def get_default_scopes(self, client_id: str, request: OAuthRequest, *args: Any, **kwargs: Any) -> list[str]:
        account = service_tokens.service_account_of(getattr(request, "client", None))
        if account is not None:
            return list(account.scopes)  # no scope asked for: everything the account holds
        return list(super().get_default_scopes(client_id, request, *args, **kwargs))

    def validate_response_type(
        self, client_id: str, response_type: str, client: Any, request: OAuthRequest, *args: Any, **kwargs: Any
    ) -> bool:
        if response_type != "code":
            return False
        return bool(super().validate_response_type(client_id, response_type, client, request, *args, **kwargs))

    # --- prompt=none (OpenID Connect Core 1.0, 3.1.2.6) ----------------------------

    def validate_silent_login(self, request: OAuthRequest) -> bool:
        # False answers login_required; the consent view marks requests of a logged-in user.
        return (request.headers or {}).get(SESSION_USER_KEY) == "1"

    def validate_silent_authorization(self, request: OAuthRequest) -> bool:
        # Citizens consent on our page each time; only a client trusted to skip it may sign in silently.
        return bool(getattr(request.client, "skip_authorization", False))

    def validate_scopes(
        self, client_id: str, scopes: list[str], client: Any, request: OAuthRequest, *args: Any, **kwargs: Any
    ) -> bool:
        account = service_tokens.service_account_of(client)
        if account is not None:
            # API scopes are not DOT's (OpenID Connect) scopes: the account's own list decides.
            return bool(scopes) and set(scopes) <= set(account.scopes) & set(API_SCOPES)
        # Each client asks only for what it was registered for; more is invalid_scope.
        if not set(scopes or []) <= allowed_scopes(client):
            log.warning("OIDC client %s refused: scopes %s beyond its allowed list", client_id, scopes)
            return False
        return bool(super().validate_scopes(client_id, scopes, client, request, *args, **kwargs))

    # --- only active users, codes once ---------------------------------------------

    def validate_code(
        self, client_id: str, code: str, client: Any, request: OAuthRequest, *args: Any, **kwargs: Any
    ) -> bool:
        if not super().validate_code(client_id, code, client, request, *args, **kwargs):
            revoke_tokens_of_replayed_code(code, client, ip=address_from_meta(request.headers))
            return False
        return _active(request.user)

    def validate_refresh_token(
        self, refresh_token: str, client: Any, request: OAuthRequest, *args: Any, **kwargs: Any
    ) -> bool:
        return bool(super().validate_refresh_token(refresh_token, client, request, *args, **kwargs)) and _active(
            request.user
        )

    def validate_bearer_token(self, token: str, scopes: list[str], request: OAuthRequest) -> bool:
        return bool(super().validate_bearer_token(token, scopes, request)) and _active(request.user)

    # --- claims -------------------------------------------------------------------

    def get_additional_claims(self, request: OAuthRequest) -> dict[str, Any]:
        return user_claims(request.user, list(request.scopes or []))

    def get_userinfo_claims(self, request: OAuthRequest) -> dict[str, Any]:
        claims: dict[str, Any] = dict(super().get_userinfo_claims(request))
        if "phone" in (request.scopes or []):
            claims.update(release_phone(user=request.user, application=request.client))
        return claims

    def get_discovery_claims(self, request: Any) -> list[str]:
        return ["sub", *(claim for claims in SCOPE_CLAIMS.values() for claim in claims)]

    # --- audit ----------------------------------------------------------------------

    def save_bearer_token(self, token: dict[str, Any], request: OAuthRequest, *args: Any, **kwargs: Any) -> None:
        super().save_bearer_token(token, request, *args, **kwargs)
        if request.grant_type == "authorization_code" and request.code:
            _remember_redeemed_code(request.code, request.client, str(token.get("access_token", "")))
        record_event(
            "oidc.token_issued",
            actor=request.user,
            actor_label=f"service-account:{request.client.client_id}"[:200] if request.user is None else None,
            target=_audit_target(request.client),
            ip=address_from_meta(request.headers),
            detail={
                "client_id": request.client.client_id,
                "grant_type": request.grant_type,
                "scopes": sorted(str(token.get("scope", "")).split()),
            },
        )


# --- clients ------------------------------------------------------------------------


def register_client(
    *, name: str, redirect_uris: list[str], public: bool = False, scopes: Iterable[str] = DEFAULT_CLIENT_SCOPES
) -> tuple[Any, str]:
    """Register a department's system; returns the application and its secret (shown once, "" if public).

    Only what a department needs is possible: authorization code with PKCE,
    RS256 ID tokens, exact redirect URIs (https only in production), and the
    ``scopes`` it may ask for (``openid`` always included).
    """
    wanted = sorted({"openid", *(scope.strip() for scope in scopes if scope.strip())})
    unknown = [scope for scope in wanted if scope not in get_scopes_backend().get_all_scopes()]
    if unknown:
        raise OidcClientError("未知的授权范围：" + "、".join(unknown))
    name = " ".join((name or "").split())
    if not 2 <= len(name) <= 255:
        raise OidcClientError("系统名称应为2至255个字符")
    if not redirect_uris:
        raise OidcClientError("至少需要一个回调地址（redirect URI）")
    application_model = get_application_model()
    if application_model.objects.filter(name=name).exists():
        raise OidcClientError(f"已有名为“{name}”的接入系统")
    application = application_model(
        name=name,
        client_type=application_model.CLIENT_PUBLIC if public else application_model.CLIENT_CONFIDENTIAL,
        authorization_grant_type=application_model.GRANT_AUTHORIZATION_CODE,
        redirect_uris=" ".join(redirect_uris),
        algorithm=application_model.RS256_ALGORITHM,
        skip_authorization=False,
    )
    if public:
        application.client_secret = ""
    secret = application.client_secret  # still the plain value: it is hashed when saved
    try:
        application.full_clean()
    except ValidationError as exc:  # DOT checks the redirect URIs against ALLOWED_REDIRECT_URI_SCHEMES
        raise OidcClientError("登记信息无效：" + "；".join(str(m) for m in exc.messages)) from exc
    with transaction.atomic():
        application.save()
        OidcClientScopes.objects.create(application=application, scopes=wanted)
        record_event(
            "oidc.client_registered",
            actor_label="system:oidc-client",
            target=_audit_target(application),
            detail={
                "client_id": application.client_id,
                "name": name,
                "client_type": application.client_type,
                "redirect_uris": redirect_uris,
                "scopes": wanted,
            },
        )
    return application, secret


# --- views ---------------------------------------------------------------------------


def _follows_our_own_form(request: HttpRequest) -> bool:
    """Whether a navigation was started from one of our pages (Fetch Metadata, else the Referer)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site == "same-origin"
    referer = urlsplit(request.headers.get("Referer", ""))
    return bool(referer.netloc) and referer.netloc == request.get_host() and referer.scheme == request.scheme


def _csp_allowing_form_target(uri: str) -> str:
    parts = urlsplit(uri)
    origin = f"{parts.scheme}://{parts.netloc}"
    return CONTENT_SECURITY_POLICY.replace("form-action 'self'", f"form-action 'self' {origin}")


def _basic_auth_client_id(request: HttpRequest) -> str:
    """The client_id of HTTP Basic client authentication (the secret is never looked at)."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header.lower().startswith("basic "):
        return ""
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return unquote_plus(decoded.partition(":")[0])


@method_decorator(never_cache, name="dispatch")
class ConsentView(dot_views.AuthorizationView):
    """DOT's authorization endpoint with our consent page, and the citizen's decision audited."""

    template_name = "oauth2_provider/authorize.html"

    def validate_authorization_request(self, request: HttpRequest) -> Any:
        # The validator answers prompt=none from this mark: login_required without a session user,
        # consent_required with one (see YiwangOAuth2Validator.validate_silent_login).
        user = getattr(request, "user", None)
        request.META[SESSION_USER_KEY] = "1" if user is not None and user.is_authenticated else "0"
        return super().validate_authorization_request(request)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response: HttpResponse = super().get(request, *args, **kwargs)
        oauth2_data = getattr(self, "oauth2_data", {})
        redirect_uri = oauth2_data.get("redirect_uri")
        if response.status_code == 200 and oauth2_data:
            self._remember_request(oauth2_data)
        if response.status_code == 200 and redirect_uri:
            # The site's CSP allows forms to post to our own origin only, and browsers apply
            # form-action to the redirect that follows: the consent form may also lead to the
            # (registered, just validated) redirect URI of this client.
            response.headers["Content-Security-Policy"] = _csp_allowing_form_target(redirect_uri)
        return response

    def redirect(self, redirect_to: str, application: Any) -> HttpResponse:
        response: HttpResponse = super().redirect(redirect_to, application)
        if self.request.method == "GET" and _follows_our_own_form(self.request):
            # This GET is the end of a redirect chain that began with one of our forms (the
            # login form, typically): the browser would apply that page's CSP form-action
            # ('self') to a redirect to the client and stop there. Continue with a page instead.
            if application is None:  # DOT passes none with errors found while validating the request
                client_id = self.request.GET.get("client_id", "")
                application = get_application_model().objects.filter(client_id=client_id).first()
            page = render(
                self.request,
                "oauth2_provider/return.html",
                {"return_url": response["Location"], "application": application},
            )
            page.headers["Refresh"] = f"0;url={response['Location']}"
            return page
        return response

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context_data(**kwargs)
        descriptions = get_scopes_backend().get_all_scopes()
        context["scope_items"] = [
            {"scope": scope, "title": SCOPE_TITLES.get(scope, scope), "description": descriptions.get(scope, "")}
            for scope in context.get("scopes", [])
        ]
        return context

    def _remember_request(self, oauth2_data: dict[str, Any]) -> None:
        remembered = {name: oauth2_data.get(name) for name in CONSENT_FIELDS if name != "scope"}
        remembered["scope"] = " ".join(oauth2_data.get("scopes", []))
        pending = dict(self.request.session.get(CONSENT_SESSION_KEY, {}))
        pending[str(oauth2_data.get("client_id", ""))] = remembered
        self.request.session[CONSENT_SESSION_KEY] = pending

    def form_valid(self, form: Any) -> HttpResponse:
        # The request this user saw on the consent page, not the form's hidden copy of it.
        pending = dict(self.request.session.get(CONSENT_SESSION_KEY, {}))
        remembered = pending.pop(str(form.cleaned_data.get("client_id", "")), None)
        if remembered is None:
            return render(
                self.request, "oauth2_provider/authorize.html", {"error": {"error": "invalid_request"}}, status=400
            )
        self.request.session[CONSENT_SESSION_KEY] = pending
        form.cleaned_data.update({name: remembered.get(name) or "" for name in CONSENT_FIELDS})
        response: HttpResponse = super().form_valid(form)
        application = get_application_model().objects.filter(client_id=form.cleaned_data.get("client_id")).first()
        if application is not None:
            record_event(
                "oidc.consent_given" if form.cleaned_data.get("allow") else "oidc.consent_refused",
                actor=self.request.user,
                target=_audit_target(application),
                ip=client_address(self.request),
                detail={
                    "client_id": application.client_id,
                    "scopes": sorted(str(form.cleaned_data.get("scope", "")).split()),
                },
            )
        return response


class DiscoveryView(dot_views.ConnectDiscoveryInfoView):
    """DOT's discovery document, stating only what we accept: RS256 ID tokens, code and refresh grants."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response: HttpResponse = super().get(request, *args, **kwargs)
        data = json.loads(response.content)
        data["id_token_signing_alg_values_supported"] = [AbstractApplication.RS256_ALGORITHM]
        data["grant_types_supported"] = sorted(GRANT_TYPES)
        data["claims_supported"] = sorted(data.get("claims_supported", []))
        data["revocation_endpoint"] = self._get_endpoint_url(request, "revoke-token", required=True)
        body = JsonResponse(data)
        body["Access-Control-Allow-Origin"] = "*"
        return body


def _unsupported_grant_type() -> HttpResponse:
    """RFC 6749 section 5.2: a grant type this server does not offer (the device flow, password...)."""
    response = JsonResponse({"error": "unsupported_grant_type"}, status=400)
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


class TokenView(dot_views.TokenView):
    """DOT's token endpoint; refusals (a wrong PKCE verifier, a replayed code) are audited.

    Browser (OpenID Connect) clients get authorization code and refresh
    grants; department systems' clients (service accounts) get client
    credentials. Any other grant, for either kind, is unsupported_grant_type.
    """

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        client_id = request.POST.get("client_id", "") or _basic_auth_client_id(request)
        offered = {service_tokens.SERVICE_GRANT_TYPE} if service_tokens.is_service_client_id(client_id) else GRANT_TYPES
        # DOT would answer other grants itself (the device flow with a 404 "device_not_found").
        if request.POST.get("grant_type", "") not in offered:
            response = _unsupported_grant_type()
        else:
            response = super().post(request, *args, **kwargs)
        if response.status_code >= 400:
            record_event(
                "oidc.token_refused",
                ip=client_address(request),
                detail={
                    "client_id": client_id[:100],
                    "grant_type": request.POST.get("grant_type", "")[:40],
                    "status": response.status_code,
                },
            )
        return response
