"""The refusals of case handling: each has a stable ``code``, an HTTP status and a message for people."""

from __future__ import annotations

from yiwang.core.problems import ServiceError


class CaseError(ServiceError):
    """A refused request, with a stable code and a message for the person who made it.

    An incomplete application carries ``problems`` (a list of ``definitions.Problem``) in ``extra``.
    """


class CaseActionRefused(CaseError):
    """An action the transition table, the policy or the case's version does not allow."""

    status = 409


class CaseNotFound(CaseError):
    status = 404


class CaseThrottled(CaseError):
    status = 429
