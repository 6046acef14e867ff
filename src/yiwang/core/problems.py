"""RFC 9457 problem details: the one error path of the API.

Every refusal a service raises is a :class:`ServiceError` (or a thin subclass
named after its app) carrying a stable ``code``, the HTTP ``status`` the API
answers with and a translatable Chinese message. ``yiwang.api`` registers one
handler for it; :class:`ApiProblemMiddleware` turns the answers Django and
Django Ninja give outside any operation (unknown path, 405, 414) into the
same documents. :func:`problems` declares them on every operation, so the
OpenAPI document lists every error an operation can return.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import Schema
from pydantic import ConfigDict

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

PROBLEM_CONTENT_TYPE = "application/problem+json"
API_PREFIX = "/api/v1/"
# Longest path plus query string the API answers. gunicorn refuses request
# lines over its own limit (raised to its maximum, 8190 bytes, by ``yiwang
# serve``) with a plain-text 414 before the application sees them; below that,
# the API answers a problem document itself.
MAX_API_URI_BYTES = 4096


class ServiceError(Exception):
    """A request a service refuses: ``code`` is stable for programs, ``message`` is for people.

    The HTTP status comes, in this order, from the ``status`` argument, the
    class's ``statuses`` map (for apps whose codes need different statuses)
    or the class's ``status``. Codes in ``concealed`` refuse an object the
    caller may not see: the API answers them exactly like a missing object.
    Extra keyword arguments (``field``, ``problems``…) travel with the refusal
    and appear in the problem document.
    """

    status: int = 400
    statuses: ClassVar[Mapping[str, int]] = {}
    concealed: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, code: str, message: StrOrPromise, *, status: int | None = None, **extra: Any) -> None:
        # Rendered now, in the language of the request that was refused.
        self.message = str(message)
        super().__init__(self.message)
        self.code = code
        self.status = 404 if code in self.concealed else status or self.statuses.get(code, type(self).status)
        self.extra = extra

    @property
    def detail(self) -> str:
        return self.message

    @property
    def field(self) -> str:
        """The form field the refusal is about, or ``""``."""
        return str(self.extra.get("field") or "")


TITLES: dict[int, StrOrPromise] = {
    400: gettext_lazy("请求无效"),
    401: gettext_lazy("未登录"),
    403: gettext_lazy("无权访问"),
    404: gettext_lazy("未找到"),
    405: gettext_lazy("不支持的请求方法"),
    409: gettext_lazy("冲突"),
    413: gettext_lazy("请求过大"),
    414: gettext_lazy("请求地址过长"),
    422: gettext_lazy("参数校验失败"),
    429: gettext_lazy("请求过于频繁"),
    500: gettext_lazy("服务器内部错误"),
}


def _plain(value: Any) -> Any:
    """JSON-ready form of a refusal's extra value (dataclasses such as a case's problems become objects)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def problem_response(
    request: HttpRequest | None, status: int, code: str, detail: StrOrPromise, **extra: Any
) -> HttpResponse:
    body = {
        "type": f"/api/v1/problems/{code}",
        "title": str(TITLES.get(status, _("错误"))),
        "status": status,
        "code": code,
        "detail": str(detail),
        **{name: _plain(value) for name, value in extra.items()},
    }
    if request is not None:
        body["instance"] = request.path
    return JsonResponse(
        body, status=status, content_type=PROBLEM_CONTENT_TYPE, json_dumps_params={"ensure_ascii": False}
    )


def service_error_response(request: HttpRequest, error: ServiceError) -> HttpResponse:
    """The problem document for a refusal; a concealed one reads exactly as a missing object."""
    if error.code in error.concealed:
        return problem_response(request, 404, "not_found", _("请求的资源不存在"))
    return problem_response(request, error.status, error.code, error.message, **error.extra)


# --- OpenAPI ---------------------------------------------------------------------------------------------


class FieldProblem(Schema):
    field: str
    reason: str


class Problem(Schema):
    """An RFC 9457 problem document; refusals may add members such as ``field``, ``problems`` or ``allowed``."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    code: str
    detail: str
    instance: str | None = None
    errors: list[FieldProblem] | None = None


def problems(*statuses: int) -> dict[int, type[Problem]]:
    """The error responses of an operation, to merge into its ``response=``: ``{200: Out, **problems(401, 404)}``."""
    return dict.fromkeys(sorted(statuses), Problem)


# --- answers outside any operation -------------------------------------------------------------------------


class ApiProblemMiddleware:
    """Answer unknown ``/api/v1/`` paths, 405s and over-long URIs there as problem documents too.

    Django answers an unknown path with its HTML 404 page and Django Ninja a
    wrong method with a plain-text 405; an API client gets neither format it
    was promised. Placed after ``LocaleMiddleware`` so details follow the
    request's language.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        query = request.META.get("QUERY_STRING", "")
        if len(request.path.encode()) + len(query.encode()) > MAX_API_URI_BYTES:
            return problem_response(
                request,
                414,
                "uri_too_long",
                _("请求地址过长，路径和查询参数合计不能超过%(limit)d字节") % {"limit": MAX_API_URI_BYTES},
            )
        if request.content_type == "multipart/form-data":
            # Parsed here, once, rather than first by the CSRF check or Ninja: there a body without a
            # boundary (MultiPartParserError) would end as a 500 instead of the client's mistake.
            try:
                request.POST  # noqa: B018 -- reading it parses the body, and Django keeps the result
            except MultiPartParserError:
                return problem_response(request, 400, "malformed_body", _("请求体无法解析：multipart 格式不正确"))
        response = self.get_response(request)
        if response.get("Content-Type", "").startswith(PROBLEM_CONTENT_TYPE):
            return response
        if response.status_code == 404:
            return problem_response(request, 404, "not_found", _("请求的接口不存在"))
        if response.status_code == 405:
            allowed = response.get("Allow", "")
            answer = problem_response(
                request,
                405,
                "method_not_allowed",
                _("该接口不支持%(method)s请求") % {"method": request.method},
                allowed=[m.strip() for m in allowed.split(",") if m.strip()],
            )
            answer["Allow"] = allowed
            return answer
        return response
