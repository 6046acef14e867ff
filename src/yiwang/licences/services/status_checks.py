"""The public status check's guard: an address that gets identifier and 核验码 wrong too often is refused a while.

The 核验码 is 8 characters printed on the licence and the identifier is on
it too, so a guesser holding an identifier could try codes one after
another. The failures are counted per client address with the accounts'
throttle (the same as the case lookup's); a typing mistake in the
identifier (a wrong check character) is refused before any lookup and not
counted: it reveals nothing.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from yiwang.accounts import services as accounts_services
from yiwang.licences.services.errors import LicenceError

# Wrong identifier/核验码 pairs an address may try in the throttle's window before it is locked out for a while.
STATUS_FAILURE_LIMIT = 20


def _key(ip: str) -> str:
    return f"licence-status:{ip}"


def check_status_allowed(ip: str) -> None:
    """Refuse (429 ``too_many_attempts``) an address locked out for too many wrong identifier/核验码 pairs."""
    if accounts_services.throttle_locked_until(_key(ip)) is not None:
        raise LicenceError("too_many_attempts", _("核验失败次数过多，请稍后再试"), status=429)


def record_failed_status_check(ip: str) -> None:
    """Count a wrong identifier/核验码 pair from ``ip``; the limit-th within the window locks the address out."""
    accounts_services.throttle_failure(_key(ip), limit=STATUS_FAILURE_LIMIT)
