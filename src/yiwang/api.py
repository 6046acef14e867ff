"""The public API under /api/v1/, with problem-details errors."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.constants import NOT_SET
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.renderers import JSONRenderer

from yiwang.accounts.api import router as accounts_router
from yiwang.cases.api import router as cases_router
from yiwang.catalog.api import router as catalog_router
from yiwang.core.api_access import API_SCOPES, BEARER_SCHEME, SESSION_SCHEME, TokenRefused, declared_access
from yiwang.core.problems import PROBLEM_CONTENT_TYPE, ServiceError, problem_response, service_error_response

logger = logging.getLogger(__name__)


class ReadableJSONRenderer(JSONRenderer):
    # Chinese as characters rather than escape sequences: fewer bytes, readable in logs.
    json_dumps_params = {"ensure_ascii": False}


_URI_TOO_LONG = {
    "description": "URI Too Long",
    "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


_PROBLEM = {"content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


class YiwangAPI(NinjaAPI):
    def operation_access(self) -> dict[str, list[Any] | None]:
        """Each operation's declared access (see ``yiwang.core.api_access.declared_access``) by operationId."""
        found: dict[str, list[Any] | None] = {}
        for router in self._get_bound_routers():
            for path_view in router.path_operations.values():
                for operation in path_view.operations:
                    operation_id = operation.operation_id or self.get_openapi_operation_id(operation)
                    # The operation's own auth=, else its router's, else the API's: NOT_SET at all three is
                    # an operation that declared nothing (and would be public by accident).
                    declared: Any = operation.auth_param
                    if declared is NOT_SET:
                        declared = router.auth if router.auth is not NOT_SET else self.auth
                    found[operation_id] = None if declared is NOT_SET else declared_access(declared)
        return found

    def _document_access(self, schema: Any) -> None:
        # Ninja's own security listing knows neither our Access objects nor scopes: each operation says
        # which sessions or department-system scopes it accepts, as OpenAPI security requirements.
        access = self.operation_access()
        for operations in schema["paths"].values():
            for operation in operations.values():
                declared = access.get(operation.get("operationId", ""))
                operation.pop("security", None)
                if not declared:
                    continue
                requirements: list[dict[str, list[str]]] = []
                if any(a.session and not a.anonymous for a in declared):
                    requirements.append({SESSION_SCHEME: []})
                scopes = sorted({scope for a in declared for scope in a.scopes})
                if scopes:
                    requirements.append({BEARER_SCHEME: scopes})
                if requirements:
                    operation["security"] = requirements
                    # No session or a malformed/unknown token: 401; a token without the scope, or CSRF: 403.
                    responses = operation.setdefault("responses", {})
                    for status, description in ((401, "Unauthorized"), (403, "Forbidden")):
                        if status not in responses and str(status) not in responses:
                            responses[status] = {"description": description, **_PROBLEM}
        components = schema.setdefault("components", {})
        components["securitySchemes"] = {
            SESSION_SCHEME: {
                "type": "apiKey",
                "in": "cookie",
                "name": settings.SESSION_COOKIE_NAME,
                "description": "浏览器登录会话（写操作须带 X-CSRFToken）",
            },
            BEARER_SCHEME: {
                "type": "oauth2",
                "description": "部门业务系统的服务账号：以客户端凭证模式（client_credentials）在令牌端点换取访问令牌，"
                "以 Authorization: Bearer 发送。见 docs/service-accounts.md。",
                "flows": {
                    "clientCredentials": {
                        "tokenUrl": "/o/token/",
                        "scopes": {name: str(text) for name, text in API_SCOPES.items()},
                    }
                },
            },
        }

    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None) -> Any:
        # Ninja lists every response under the renderer's media type; errors are sent as problem documents.
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        self._document_access(schema)
        for operations in schema["paths"].values():
            for operation in operations.values():
                responses = operation.get("responses", {})
                for status, response in responses.items():
                    content = response.get("content", {})
                    if int(status) >= 400 and "application/json" in content:
                        response["content"] = {PROBLEM_CONTENT_TYPE: content["application/json"]}
                # ApiProblemMiddleware answers any operation whose address is over-long with a 414 problem.
                responses.setdefault("414", _URI_TOO_LONG)
        return schema


api = YiwangAPI(
    renderer=ReadableJSONRenderer(),
    title="Yiwang 一网通办 API",
    version="1",
    description="一网通办平台开放接口。错误按 RFC 9457 返回 problem details，含稳定的 code 与中文 detail。",
    urls_namespace="api-v1",
)
api.add_router("/catalog/", catalog_router)
api.add_router("/accounts/", accounts_router)
api.add_router("/cases/", cases_router)
api.add_router("/hotline/", "yiwang.hotline.api.router")
api.add_router("/ratings/", "yiwang.feedback.api.router")
api.add_router("/assistant/", "yiwang.assistant.api.router")
# E-seals: the signed trust list and licence verification (/api/v1/licences/trust-list, /verify).
api.add_router("/licences/", "yiwang.licences.api_seals.router")
# The wallet (我的证照), 亮证 shares and the public status check (/api/v1/licences/wallet, /shares, /status).
api.add_router("/licences/", "yiwang.licences.api.router")
# 数据共享交换: the open catalogue, requests, one's exchanges and consents (/api/v1/exchange/…).
api.add_router("/exchange/", "yiwang.exchange.api.router")


def _field_errors(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
    result = []
    for error in errors:
        location = [str(part) for part in error.get("loc", []) if part not in ("query", "path", "body")]
        result.append({"field": ".".join(location), "reason": str(error.get("msg", _("无效")))})
    return result


@api.exception_handler(ServiceError)
def on_refusal(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    # Every app's refusals, with the status and code the refusal carries.
    return service_error_response(request, exc)


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return problem_response(
        request, 422, "invalid_parameters", _("请求参数不符合要求"), errors=_field_errors(exc.errors)
    )


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    detail = str(exc) if exc.args else _("请求的资源不存在")
    return problem_response(request, 404, "not_found", detail)


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return problem_response(request, 401, "not_authenticated", _("请先登录"))


@api.exception_handler(TokenRefused)
def on_token_refused(request: HttpRequest, exc: TokenRefused) -> HttpResponse:
    # RFC 6750 section 3: the header tells a client library what went wrong with its token.
    response = problem_response(request, exc.status, exc.error, exc.detail)
    response["WWW-Authenticate"] = exc.www_authenticate
    return response


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return problem_response(request, exc.status_code, f"http_{exc.status_code}", str(exc))


@api.exception_handler(Exception)
def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("Unhandled API error on %s", request.path)
    return problem_response(request, 500, "internal_error", _("服务器内部错误，请稍后重试"))
