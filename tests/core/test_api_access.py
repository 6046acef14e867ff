"""Every API operation declares who may call it (issue 15 part 5): a session, department systems' scopes, or
public -- so a new endpoint cannot forget, and a token is accepted only where an operation names its scope."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import HttpRequest
from django.test import RequestFactory
from ninja import NinjaAPI, Router

from yiwang.api import YiwangAPI
from yiwang.api import api as yiwang_api
from yiwang.core import api_access
from yiwang.core.api_access import API_SCOPES, BEARER_SCHEME, SESSION, Access, ServiceCaller, TokenRefused


def test_every_operation_declares_its_access() -> None:
    declared = yiwang_api.operation_access()
    assert len(declared) > 40
    undeclared = sorted(name for name, access in declared.items() if access is None)
    assert not undeclared, f"operations without auth=Access(...) or an explicit auth=None: {undeclared}"


def test_the_walk_catches_an_operation_that_declares_nothing_or_a_foreign_auth() -> None:
    from ninja.security import django_auth

    api = YiwangAPI(urls_namespace="undeclared-test")
    router = Router()

    @router.get("/forgot")
    def forgot(request: HttpRequest) -> dict[str, str]:
        return {}

    @router.get("/foreign", auth=django_auth)
    def foreign(request: HttpRequest) -> dict[str, str]:
        return {}

    @router.get("/public", auth=None)
    def public(request: HttpRequest) -> dict[str, str]:
        return {}

    @router.get("/scoped", auth=Access("cases:read"))
    def scoped(request: HttpRequest) -> dict[str, str]:
        return {}

    api.add_router("/", router)
    found = {name.rsplit("_", 1)[-1]: access for name, access in api.operation_access().items()}
    assert found["forgot"] is None and found["foreign"] is None
    assert found["public"] == []
    assert [a.scopes for a in found["scoped"] or []] == [frozenset({"cases:read"})]
    assert isinstance(api, NinjaAPI)


def test_the_openapi_document_states_the_bearer_scheme_and_each_operations_scopes() -> None:
    schema = yiwang_api.get_openapi_schema()
    schemes = schema["components"]["securitySchemes"]
    flow = schemes[BEARER_SCHEME]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "/o/token/"
    assert set(flow["scopes"]) == set(API_SCOPES)
    status = schema["paths"]["/api/v1/cases/{number}/status"]["get"]
    assert status["security"] == [{"session": []}, {BEARER_SCHEME: ["cases:read"]}]
    assert {"401", "403", "404"} <= {str(code) for code in status["responses"]}
    detail = schema["paths"]["/api/v1/cases/{number}"]["get"]
    assert detail["security"] == [{"session": []}]
    public = schema["paths"]["/api/v1/catalog/items"]["get"]
    assert "security" not in public
    # Every scope a department system can hold is accepted by at least one operation.
    accepted = {
        scope
        for operations in schema["paths"].values()
        for operation in operations.values()
        for requirement in operation.get("security", [])
        for scope in requirement.get(BEARER_SCHEME, [])
    }
    assert accepted == set(API_SCOPES)


def test_access_refuses_unknown_scopes_and_a_closed_declaration() -> None:
    with pytest.raises(ValueError, match="unknown"):
        Access("cases:everything")
    with pytest.raises(ValueError, match="auth=None"):
        Access(session=False)


def _request(header: str | None) -> Any:
    request = RequestFactory().get("/api/v1/x", headers={"Authorization": header} if header is not None else {})
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    return request


def test_access_judges_a_token_by_its_scopes(monkeypatch: pytest.MonkeyPatch) -> None:
    caller = ServiceCaller("abc", "系统", "market", frozenset({"market"}), frozenset({"cases:read"}))
    monkeypatch.setattr(api_access, "_resolvers", [lambda token: caller if token == "good" else None])
    assert Access("cases:read")(_request("Bearer good")) is caller
    with pytest.raises(TokenRefused) as refused:
        SESSION(_request("Bearer good"))
    assert (refused.value.status, refused.value.error) == (403, "insufficient_scope")
    with pytest.raises(TokenRefused) as refused:
        Access("cases:read")(_request("Bearer bad"))
    assert (refused.value.status, refused.value.error) == (401, "invalid_token")
    with pytest.raises(TokenRefused) as refused:
        Access("cases:read")(_request("Basic Z29vZA=="))
    assert (refused.value.status, refused.value.error) == (401, "invalid_request")
    # No header and no session: nobody (Ninja answers 401); a public-with-session operation ignores tokens.
    assert Access("cases:read")(_request(None)) is None
    assert Access(anonymous=True)(_request("Bearer bad")).is_anonymous
