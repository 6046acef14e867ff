"""The one refusal type of identity services, and the audit of a refused request."""

from __future__ import annotations

from typing import Any

from yiwang.core.audit import record_event


class IdentityError(Exception):
    """An identity rule was broken; ``code`` is stable, ``detail`` is for people (Chinese)."""

    def __init__(self, code: str, detail: str, *, field: str = "") -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.field = field


def record_event_denied(user: Any, action: str, ip: str | None) -> None:
    """Audit a refused request that reached no service (a page the user may not open)."""
    record_event(
        "permission.denied", actor=user if getattr(user, "pk", None) else None, ip=ip, detail={"action": action}
    )
