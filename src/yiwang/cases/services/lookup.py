"""The public lookup (办件查询) by number and code, throttled per address."""

from __future__ import annotations

from django.utils.translation import gettext as _

from yiwang.accounts import services as accounts_services
from yiwang.cases.services.errors import CaseThrottled

# Wrong number/code pairs an address may try before it is locked out for a while.
LOOKUP_FAILURE_LIMIT = 20


def check_lookup_allowed(ip: str) -> None:
    """Refuse lookups from an address that guessed wrong too often (the code is short enough to guess)."""
    if accounts_services.throttle_locked_until(f"case-lookup:{ip}") is not None:
        raise CaseThrottled("too_many_attempts", _("查询失败次数过多，请稍后再试"))


def record_failed_lookup(ip: str) -> None:
    accounts_services.throttle_failure(f"case-lookup:{ip}", limit=LOOKUP_FAILURE_LIMIT)
