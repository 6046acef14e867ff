"""The refusals of case handling: each has a stable ``code``, an HTTP status and a message for people."""

from __future__ import annotations

from yiwang.cases import definitions


class CaseError(Exception):
    """A refused request, with a stable code and a message for the person who made it."""

    status = 400

    def __init__(self, code: str, message: str, *, problems: list[definitions.Problem] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.problems = problems or []


class CaseActionRefused(CaseError):
    """An action the transition table, the policy or the case's version does not allow."""

    status = 409


class CaseNotFound(CaseError):
    status = 404


class CaseThrottled(CaseError):
    status = 429
