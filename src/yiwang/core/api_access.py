"""Who may call each API operation: a browser session, a department system's token, or anyone.

Every operation of ``/api/v1/`` declares its access through its own or its
router's ``auth=``: an :class:`Access` (a session, and/or a bearer token
carrying one of the named scopes), or ``None`` for a public operation.
``tests/core/test_api_access.py`` walks the API and fails on an operation
that declares nothing else, so a new endpoint cannot forget.

Department systems (service accounts, 服务账号) get their tokens from the
OAuth 2 token endpoint with the client-credentials grant; the accounts app
knows how to check one and registers that check here
(:func:`register_token_resolver`), since the kernel may not import it. A
token is accepted only by operations that name one of its scopes, and it
stands for its department: the operation reads ``request.auth`` (a
:class:`ServiceCaller`) and keeps to ``department_codes``.

Refusals follow RFC 6750: a malformed ``Authorization`` header answers 401
``invalid_request``; an unknown, expired or revoked token 401
``invalid_token``; a good token on an operation that does not accept its
scopes (session-only writes among them) 403 ``insufficient_scope``. Each is
a problem document with a ``WWW-Authenticate: Bearer`` header.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja.security import SessionAuth

if TYPE_CHECKING:
    from django.http import HttpRequest
    from django_stubs_ext import StrOrPromise

# The scopes a department system may hold, what each allows (shown to administrators and in the OpenAPI
# document). Add one only with an operation that accepts it.
API_SCOPES: dict[str, StrOrPromise] = {
    "cases:read": gettext_lazy("读取本部门（含下级部门）办件的状态、当前环节和期限，不含申请人个人信息"),
    "exchange:request": gettext_lazy(
        "以本部门（含下级部门）名义申请共享数据：由提供部门的共享策略和本人授权判定，只返回所申请的信息项"
    ),
    "exchange:read": gettext_lazy("读取本部门（含下级部门）申请或提供的数据交换记录（不含交换的数据本身）"),
}

BEARER_SCHEME = "departmentSystem"  # the OpenAPI security scheme of department systems' tokens
SESSION_SCHEME = "session"


@dataclass(frozen=True)
class ServiceCaller:
    """A department system, as its bearer token says: the operation's ``request.auth``."""

    client_id: str
    name: str
    department_code: str
    # The owning department and every department below it: the data the system may reach.
    department_codes: frozenset[str]
    scopes: frozenset[str]

    @property
    def label(self) -> str:
        """How audit records and case histories name the caller."""
        return f"service-account:{self.client_id}"


TokenResolver = Callable[[str], ServiceCaller | None]
_resolvers: list[TokenResolver] = []


def register_token_resolver(resolver: TokenResolver) -> None:
    """Install the check of a bearer token (the accounts app's, at start-up); registering again replaces it."""
    _resolvers[:] = [resolver]


def resolve_token(token: str) -> ServiceCaller | None:
    """The caller a valid, unexpired, unrevoked token stands for; None for any other token."""
    return _resolvers[0](token) if _resolvers else None


class TokenRefused(Exception):
    """A bearer token (or its header) refused; the API answers a problem with ``WWW-Authenticate``."""

    def __init__(self, status: int, error: str, detail: str, *, scopes: Iterable[str] = ()) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.scopes = tuple(sorted(scopes))

    @property
    def www_authenticate(self) -> str:
        value = f'Bearer realm="yiwang", error="{self.error}"'
        if self.scopes:
            value += f', scope="{" ".join(self.scopes)}"'
        return value


class Access:
    """The ``auth=`` of an operation: who may call it.

    ``Access()`` is a browser session only; ``Access("cases:read")`` a
    session or a department system's token holding ``cases:read``;
    ``Access("cases:read", session=False)`` tokens only;
    ``Access(anonymous=True)`` anyone, as the signed-in user if there is
    one (tokens are not looked at). A request that
    carries an ``Authorization`` header is judged by its token alone, never
    by a session cookie beside it.
    """

    def __init__(self, *scopes: str, session: bool = True, anonymous: bool = False, csrf: bool = True) -> None:
        unknown = set(scopes) - set(API_SCOPES)
        if unknown:
            raise ValueError(f"unknown API scopes: {sorted(unknown)}")
        if not scopes and not session:
            raise ValueError("an operation that takes neither a session nor a token is closed to all: say auth=None")
        self.scopes = frozenset(scopes)
        self.session = session
        # Public operations that still tell a signed-in user (rating as oneself): anyone may call them.
        self.anonymous = anonymous
        self._session_auth = SessionAuth(csrf=csrf)

    def __repr__(self) -> str:
        return f"Access({', '.join(sorted(self.scopes))}{', session' if self.session else ''})"

    def __call__(self, request: HttpRequest) -> Any:
        header = request.headers.get("Authorization")
        if header is not None and not self.anonymous:
            return self.authenticate_token(header)
        if self.anonymous:
            # The session check (and its CSRF check) only for a signed-in user; others run as anonymous.
            user = getattr(request, "user", None)
            return self.authenticate_session(request) if user is not None and user.is_authenticated else user
        if self.session:
            return self.authenticate_session(request)
        return None

    def authenticate_session(self, request: HttpRequest) -> Any:
        """The signed-in user (CSRF checked on writes), or None."""
        return self._session_auth(request)

    def authenticate_token(self, header: str) -> ServiceCaller:
        scheme, _space, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or " " in token:
            raise TokenRefused(401, "invalid_request", _("Authorization 请求头格式应为“Bearer 访问令牌”"))
        caller = resolve_token(token)
        if caller is None:
            raise TokenRefused(401, "invalid_token", _("访问令牌无效、已过期或已被吊销，请重新获取"))
        if not caller.scopes & self.scopes:
            if not self.scopes:
                detail = _("该接口只接受已登录用户的浏览器会话，不接受接入系统的访问令牌")
            else:
                detail = _("访问令牌的授权范围不包括该接口所需的：%(scopes)s") % {
                    "scopes": "、".join(sorted(self.scopes))
                }
            raise TokenRefused(403, "insufficient_scope", detail, scopes=self.scopes)
        return caller


def declared_access(auth: Any) -> list[Access] | None:
    """An operation's declaration: its ``Access`` objects, ``[]`` for an explicit ``auth=None`` (public),
    ``None`` when it declares nothing this module understands."""
    if auth is None:
        return []
    callbacks = list(auth) if isinstance(auth, list | tuple) else [auth]
    if callbacks and all(isinstance(callback, Access) for callback in callbacks):
        return callbacks
    return None


SESSION = Access()  # the default of routers whose operations are for signed-in users
