"""RFC 9457 problem details for every API error.

Each problem carries a stable machine ``code`` and a Chinese ``detail``; the
``type`` URI is derived from the code so clients can also key on it.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

PROBLEM_CONTENT_TYPE = "application/problem+json"


class ApiProblem(Exception):
    """Raise from an API view to answer with a problem document."""

    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.extra = extra


class ServiceError(Exception):
    """A request a service refuses: ``code`` is stable for programs, ``message`` is for people.

    ``status`` is the HTTP status an API answers it with; subclasses set it.
    """

    status = 400

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra


TITLES = {
    400: "请求无效",
    401: "未登录",
    403: "无权访问",
    404: "未找到",
    405: "不支持的请求方法",
    409: "冲突",
    413: "请求过大",
    422: "参数校验失败",
    429: "请求过于频繁",
    500: "服务器内部错误",
}


def problem_response(request: HttpRequest | None, status: int, code: str, detail: str, **extra: Any) -> HttpResponse:
    body = {
        "type": f"/api/v1/problems/{code}",
        "title": TITLES.get(status, "错误"),
        "status": status,
        "code": code,
        "detail": detail,
        **extra,
    }
    if request is not None:
        body["instance"] = request.path
    return JsonResponse(
        body, status=status, content_type=PROBLEM_CONTENT_TYPE, json_dumps_params={"ensure_ascii": False}
    )
