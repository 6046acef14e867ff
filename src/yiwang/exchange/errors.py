"""The refusals of the exchange app: a stable ``code``, an HTTP status and a message for people.

The provider's policy names the rule that refused a request in ``rule``
(e.g. ``share_type:not_shared``, ``field_share_type:not_shared``,
``consent:revoked``), which the API's problem document carries.
"""

from __future__ import annotations

from typing import ClassVar

from yiwang.core.problems import ServiceError


class ExchangeError(ServiceError):
    """A refused data request, consent or material."""

    statuses: ClassVar[dict[str, int]] = {
        "forbidden": 403,
        "not_shared": 403,
        "field_not_shared": 403,
        "consent_required": 403,
        "consent_revoked": 403,
        "consent_expired": 403,
        "no_record": 404,
        "provider_unavailable": 503,
        "not_a_draft": 409,
    }
    # A service, consent or application one may not see reads exactly as a missing one.
    concealed: ClassVar[frozenset[str]] = frozenset({"not_found"})
