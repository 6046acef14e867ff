"""Who may do what in the licences app: deny by default."""

from __future__ import annotations

from typing import Any

from yiwang.accounts import policy as accounts_policy
from yiwang.accounts.constants import Role

# --- seals and signing keys (电子印章) ------------------------------------------------------------------------
# Department administrators see and rotate the seals of their departments (and those below); platform
# administrators all of them. Verifying a licence and reading the trust list are public (no rule needed).

SEAL_ROLES = (Role.DEPARTMENT_ADMIN,)


def may_manage_seals(user: Any) -> bool:
    """Whether the user has a seals page at all (department or platform administrators)."""
    return accounts_policy.is_platform_admin(user) or bool(accounts_policy.department_scope(user, SEAL_ROLES))


def may_manage_seal(user: Any, department_code: str) -> bool:
    """Whether the user may rotate the keys of a seal of ``department_code``."""
    return accounts_policy.is_platform_admin(user) or accounts_policy.in_scope(user, department_code, SEAL_ROLES)


# --- end of seals and signing keys --------------------------------------------------------------------------
