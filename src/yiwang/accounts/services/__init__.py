"""Every change to identity goes through this package: registration, login, codes, second
factor, roles, delegations, organisations and reads of personal data.

Each function records its security-relevant outcome in the audit log
(core.audit), successful or not. The modules split the work by concern;
other apps and the app's own doors import the public names from here
(``from yiwang.accounts import services``), which is the app's public face.
"""

from yiwang.accounts.services.assurance import (
    find_person_at_counter,
    household_match_problem,
    record_counter_check,
    valid_identity_licence,
    verify_by_household_register,
)
from yiwang.accounts.services.codes import seconds_until_resend, send_code, verify_code
from yiwang.accounts.services.delegation import (
    ActingFor,
    act_for_at_counter,
    act_for_by_delegation,
    delegable_items,
    grant_delegation,
    register_at_counter,
    register_delegable_items,
    revoke_delegation,
)
from yiwang.accounts.services.errors import IdentityError, record_event_denied
from yiwang.accounts.services.login import (
    LoginOutcome,
    authenticate_password,
    authenticate_sms,
    logout_everywhere,
    record_login,
    register_citizen,
)
from yiwang.accounts.services.organisations import (
    add_organisation_agent,
    register_organisation,
    revoke_organisation_agent,
)
from yiwang.accounts.services.people import (
    clean_document,
    clean_mobile,
    clean_name,
    create_person,
    find_person,
    find_person_by_mobile,
    mobile_index,
)
from yiwang.accounts.services.personal_data import (
    RevealJustification,
    record_data_exchange,
    record_reveal,
    reveal_own_data,
    reveal_person_data,
    reveals_per_hour,
)
from yiwang.accounts.services.second_factor import confirm_totp, start_totp_enrolment, verify_second_factor
from yiwang.accounts.services.service_accounts import (
    create_service_account,
    revoke_service_account,
    rotate_service_account_secret,
)
from yiwang.accounts.services.staff import (
    create_staff,
    grant_role,
    reset_password,
    reset_second_factor,
    revoke_role,
    set_account_active,
)
from yiwang.accounts.services.throttling import throttle_failure, throttle_locked_until

__all__ = [
    "ActingFor",
    "IdentityError",
    "LoginOutcome",
    "RevealJustification",
    "act_for_at_counter",
    "act_for_by_delegation",
    "add_organisation_agent",
    "authenticate_password",
    "authenticate_sms",
    "clean_document",
    "clean_mobile",
    "clean_name",
    "confirm_totp",
    "create_person",
    "create_service_account",
    "create_staff",
    "delegable_items",
    "find_person",
    "find_person_at_counter",
    "find_person_by_mobile",
    "grant_delegation",
    "grant_role",
    "household_match_problem",
    "logout_everywhere",
    "mobile_index",
    "record_counter_check",
    "record_data_exchange",
    "record_event_denied",
    "record_login",
    "record_reveal",
    "register_at_counter",
    "register_citizen",
    "register_delegable_items",
    "register_organisation",
    "reset_password",
    "reset_second_factor",
    "reveal_own_data",
    "reveal_person_data",
    "reveals_per_hour",
    "revoke_delegation",
    "revoke_organisation_agent",
    "revoke_role",
    "revoke_service_account",
    "rotate_service_account_secret",
    "seconds_until_resend",
    "send_code",
    "set_account_active",
    "start_totp_enrolment",
    "throttle_failure",
    "throttle_locked_until",
    "valid_identity_licence",
    "verify_by_household_register",
    "verify_code",
    "verify_second_factor",
]
