"""The inbound endpoint: POST /exchange/v1/messages. No session, no CSRF token: the signature is the authentication."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import services


@csrf_exempt
@require_POST
def messages(request: HttpRequest) -> HttpResponse:
    inbound = services.Inbound(
        method=request.method or "POST",
        target_uri=request.build_absolute_uri(),
        headers={name.lower(): value.strip() for name, value in request.headers.items()},
        body=request.body,
    )
    outbound = services.receive(inbound)
    response = HttpResponse(outbound.body, status=outbound.status, content_type=outbound.headers["content-type"])
    for name, value in outbound.headers.items():
        response[name] = value
    return response
