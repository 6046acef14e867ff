"""The hotline's refusals: each has a stable ``code``, an HTTP status and a message for people."""

from __future__ import annotations

from yiwang.core.problems import ServiceError


class HotlineError(ServiceError):
    """A request the hotline refuses; ``code`` is stable, ``message`` is for people."""


class ActionRefused(HotlineError):
    status = 409


class NotAllowed(HotlineError):
    status = 403


class WorkOrderNotFound(HotlineError):
    status = 404
