"""The one refusal type of identity services, and the audit of a refused request."""

from __future__ import annotations

from typing import Any

from yiwang.core.audit import record_event
from yiwang.core.problems import ServiceError


class IdentityError(ServiceError):
    """An identity rule was broken; ``code`` is stable, ``detail`` is for people (Chinese)."""

    # The API does not confirm what exists: a forbidden user, role or person answers as a missing one.
    concealed = frozenset({"forbidden"})
    statuses = {
        "not_found": 404,
        "throttled": 429,
        "locked": 429,
        "code_too_soon": 429,
        "code_limit": 429,
        "reveal_limit": 429,
    }


def record_event_denied(user: Any, action: str, ip: str | None) -> None:
    """Audit a refused request that reached no service (a page the user may not open)."""
    record_event(
        "permission.denied", actor=user if getattr(user, "pk", None) else None, ip=ip, detail={"action": action}
    )
