"""Request helpers every app shares: the client's address and a safe redirect target.

The client address feeds every throttle, lockout, 好差评 flood rule and audit
record, so it is read in this one place, honouring
``settings.YIWANG_TRUSTED_PROXIES`` (docs/configuration.md).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme

FORWARDED_FOR = "HTTP_X_FORWARDED_FOR"


def _valid_address(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def address_from_meta(meta: Mapping[str, Any]) -> str | None:
    """The client's address from a WSGI environ (``request.META`` or a copy of it).

    With N trusted proxies, each appending the address it saw to
    ``X-Forwarded-For``, the N-th entry from the right is the one the outermost
    trusted proxy wrote; entries further left came from the client and are never
    believed. Too few entries or a malformed one fall back to ``REMOTE_ADDR``.
    """
    remote = str(meta.get("REMOTE_ADDR") or "").strip() or None
    trusted = int(getattr(settings, "YIWANG_TRUSTED_PROXIES", 0))
    if trusted <= 0:
        return remote
    header = str(meta.get(FORWARDED_FOR) or "")
    entries = [entry.strip() for entry in header.split(",")] if header.strip() else []
    if len(entries) < trusted:
        return remote
    return _valid_address(entries[-trusted]) or remote


def client_address(request: HttpRequest) -> str | None:
    """The address of the client that sent ``request``, or None when unknown."""
    return address_from_meta(request.META)


def safe_next(request: HttpRequest, fallback: str) -> str:
    """The ``next`` parameter when it points back into this site, else ``fallback``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback
