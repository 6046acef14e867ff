"""The consumer side's transports: how a request reaches the provider that holds a data service.

A data service names its transport (``DataService.transport``). ``local``, the
default, reads this node's provider tables (:mod:`yiwang.exchange.sources`).
A service held by another node names ``node:<peer code>``, served by the
transport :mod:`yiwang.exchange.remote` registers when Django starts (over
the signed messages of ``yiwang.exchange.nodes``); the services of this app
never know how the answer travelled.

A transport is called as ``transport(service, subject, fields, request)``
and answers the asked fields of the subject, None when the provider holds no
record; it raises :class:`ProviderUnavailable` when the provider cannot
answer now (down, timed out, refused the connection) and
:class:`ProviderRefused` when a provider elsewhere applied its own policy
and said no. ``request`` says who asks and why (the consumer department, the
purpose, the case, the consent relied on), which a remote provider needs to
apply its policy; a remote transport writes the other node's code and
exchange id back into it.

A name ``<family>:<rest>`` that is not registered itself is served by the
transport registered as ``<family>:`` (``node:`` serves ``node:gd-node``,
``node:zj-node`` …), so a new peer needs no new registration.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import sources
from .constants import LOCAL_TRANSPORT

if TYPE_CHECKING:
    from .models import DataService


class ProviderUnavailable(Exception):
    """The provider cannot answer now; the caller falls back (an upload instead of a fetched material)."""


class ProviderRefused(Exception):
    """A provider on another node refused the request under its own policy: ``code`` is its refusal code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass
class TransportRequest:
    """Who asks and why, for a provider that applies its own policy; the transport fills the ``peer_`` fields.

    ``consent`` is the consent this node relies on, as the evidence a remote
    provider is shown (id, consumer, fields, purpose, given and expiry times);
    None when the share needs none.
    """

    exchange_id: str
    consumer_code: str
    consumer_name: str
    purpose: str
    legal_basis: str = ""
    case_reference: str = ""
    consent: dict[str, Any] | None = None
    peer_node: str = field(default="", init=False)
    peer_exchange_id: str = field(default="", init=False)


# transport(service, subject, fields, request) -> {field: value} for the asked fields, or None (no record)
Transport = Callable[["DataService", sources.Subject, Sequence[str], TransportRequest], dict[str, str] | None]

_transports: dict[str, Transport] = {}


def register_transport(name: str, transport: Transport) -> None:
    """Make a transport known; registering the same name again replaces it (``ready()`` may run twice)."""
    _transports[name] = transport


def unregister_transport(name: str) -> None:
    if name != LOCAL_TRANSPORT:
        _transports.pop(name, None)


def transport_for(name: str) -> Transport:
    """The transport registered under ``name`` (or its ``family:``); an unknown one is a provider nobody can
    reach now."""
    transport = _transports.get(name)
    if transport is None and ":" in name:
        transport = _transports.get(name.split(":", 1)[0] + ":")
    if transport is None:
        raise ProviderUnavailable(name)
    return transport


def local_transport(
    service: DataService, subject: sources.Subject, fields: Sequence[str], request: TransportRequest | None = None
) -> dict[str, str] | None:
    """The provider on this node: its table, only the fields asked for."""
    answer = sources.lookup(service.backend, subject)
    if answer is None:
        return None
    return {field: answer.get(field, "") for field in fields}


register_transport(LOCAL_TRANSPORT, local_transport)
