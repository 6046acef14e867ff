"""The refusals of the licences app: each has a stable ``code``, an HTTP status and a message for people."""

from __future__ import annotations

from typing import ClassVar

from yiwang.core.problems import ServiceError


class LicenceError(ServiceError):
    """A refused licence request."""

    statuses: ClassVar[dict[str, int]] = {
        "forbidden": 403,
        "share_expired": 410,
        "share_used": 410,
        "share_withdrawn": 410,
        "licence_not_valid": 409,
        "already_taken": 409,
    }
    # A licence or share one may not see reads exactly as a missing one.
    concealed: ClassVar[frozenset[str]] = frozenset({"not_found"})
