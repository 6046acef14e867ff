"""The node endpoint answered right after the security middleware, past what only browser pages need (ADR 0026).

A peer's message carries no cookie, no session, no CSRF token and no language choice: its signature is
its authentication, and its answer is signed JSON. The middleware further down the stack (static files,
sessions, locale, CSRF, users, flash messages, the elderly mode, the portal's page headers) found
nothing to do for it, yet took about a third of the receiver's time. What stays in front of the
endpoint: the request id and access log line, the probes, the HTTPS redirect and HSTS (Django's
``SecurityMiddleware``), the host check (the view builds the absolute URI it verifies), the size limit
on the body, and Django's error handling around it all.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.utils import translation

EXCHANGE_PREFIX = "/exchange/v1/"

# An API answer: nothing in it may be framed, run as a page or cached along the way.
API_RESPONSE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


class ExchangeEndpointMiddleware:
    """Answer ``/exchange/v1/…`` by its view at once; every other request goes on down the stack."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(EXCHANGE_PREFIX):
            return self.get_response(request)
        try:
            match = resolve(request.path_info, getattr(request, "urlconf", None))
        except Resolver404:
            return self.get_response(request)  # an unknown path under the prefix: the usual 404 page
        request.resolver_match = match  # the access log names the route
        # The site's language, whatever an earlier request left active on this thread (no LocaleMiddleware).
        with translation.override(settings.LANGUAGE_CODE):
            response: HttpResponse = match.func(request, *match.args, **match.kwargs)
        for name, value in API_RESPONSE_HEADERS.items():
            response.headers.setdefault(name, value)
        return response
