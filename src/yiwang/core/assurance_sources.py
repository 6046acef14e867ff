"""The registry of evidence for real-name levels 3 and 4: how identity (in ``accounts``) reaches higher apps.

Raising a person's real-name level (实名等级) may rest on evidence another
app holds: a match of name and resident ID against household registration,
asked through the data-sharing exchange, or a valid identity e-licence
(居民身份证电子证照) in the person's licence wallet. ``accounts`` sits below
both apps and never imports them; they register here when Django starts
(``AppConfig.ready``), and the identity services ask. Without a registered
provider the route is simply not offered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RegisterMatch:
    """The answer of a household-registration match.

    ``matched`` is True only when the register holds the person's resident ID
    under the same name. ``exchange_id`` names the recorded exchange (empty
    when no request reached the provider); ``code`` is "" on a match, else a
    stable reason (``name_mismatch``, ``no_record``, ``provider_unavailable``
    …) with ``detail`` for people.
    """

    matched: bool
    exchange_id: str
    code: str = ""
    detail: str = ""


@dataclass(frozen=True)
class IdentityLicence:
    """An identity e-licence of a person: which one, and whether it is valid today."""

    licence_id: int
    identifier: str
    type_name: str
    valid: bool
    status_label: str


# matcher(actor, person) -> RegisterMatch; the actor is the person's own login.
RegisterMatcher = Callable[[Any, Any], RegisterMatch]
# provider(person_id) -> the person's identity e-licences (current versions, any status).
IdentityLicenceProvider = Callable[[int], list[IdentityLicence]]

_matchers: dict[str, RegisterMatcher] = {}
_licence_providers: dict[str, IdentityLicenceProvider] = {}


def register_register_matcher(name: str, matcher: RegisterMatcher) -> None:
    """Make a household-registration matcher known; the same name again replaces it (``ready()`` may run twice)."""
    _matchers[name] = matcher


def unregister_register_matcher(name: str) -> None:
    _matchers.pop(name, None)


def register_matcher() -> RegisterMatcher | None:
    """The registered matcher (the first by name), or None when no app offers the data-source route."""
    return _matchers[min(_matchers)] if _matchers else None


def register_identity_licence_provider(name: str, provider: IdentityLicenceProvider) -> None:
    """Make a source of identity e-licences known; the same name again replaces it."""
    _licence_providers[name] = provider


def unregister_identity_licence_provider(name: str) -> None:
    _licence_providers.pop(name, None)


def identity_licences(person_id: int) -> list[IdentityLicence]:
    """Every registered provider's identity e-licences of the person."""
    found: list[IdentityLicence] = []
    for name in sorted(_licence_providers):
        found.extend(_licence_providers[name](person_id))
    return found


def identity_licences_available() -> bool:
    """Whether any app can vouch for identity e-licences (the face-to-face route to level 4 needs one)."""
    return bool(_licence_providers)
