"""The consumer side's transports: how a request reaches the provider that holds a data service.

A data service names its transport (``DataService.transport``). ``local``, the
default, reads this node's provider tables (:mod:`yiwang.exchange.sources`).
A service held by another node names another transport, which the app that
speaks to other nodes (``yiwang.exchange.nodes``) registers when Django
starts; the services of this app never know how the answer travelled.

A transport answers the asked fields of the subject, None when the provider
holds no record, and raises :class:`ProviderUnavailable` when the provider
cannot answer now (down, timed out, refused the connection).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from . import sources
from .constants import LOCAL_TRANSPORT

if TYPE_CHECKING:
    from .models import DataService


class ProviderUnavailable(Exception):
    """The provider cannot answer now; the caller falls back (an upload instead of a fetched material)."""


# transport(service, subject, fields) -> {field: value} for the asked fields, or None (no record)
Transport = Callable[["DataService", sources.Subject, Sequence[str]], dict[str, str] | None]

_transports: dict[str, Transport] = {}


def register_transport(name: str, transport: Transport) -> None:
    """Make a transport known; registering the same name again replaces it (``ready()`` may run twice)."""
    _transports[name] = transport


def unregister_transport(name: str) -> None:
    if name != LOCAL_TRANSPORT:
        _transports.pop(name, None)


def transport_for(name: str) -> Transport:
    """The transport registered under ``name``; an unknown one is a provider nobody can reach now."""
    transport = _transports.get(name)
    if transport is None:
        raise ProviderUnavailable(name)
    return transport


def local_transport(service: DataService, subject: sources.Subject, fields: Sequence[str]) -> dict[str, str] | None:
    """The provider on this node: its table, only the fields asked for."""
    answer = sources.lookup(service.backend, subject)
    if answer is None:
        return None
    return {field: answer.get(field, "") for field in fields}


register_transport(LOCAL_TRANSPORT, local_transport)
