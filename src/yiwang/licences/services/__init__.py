"""Every state change of the licences app, one module per concern; other apps use this public face.

- ``seals``: department seals and staff keys, ``seal_document`` / ``verify_document``;
- ``qr``: the QR payload codec (``encode_qr_payload`` / ``verify_qr_payload``), offline;
- ``trust``: this platform's signed trust list and the imported lists of other platforms;
- ``seal_types``: the published types (``SealedSignature``, ``Verification``, ``QrClaims``…);
- ``issuance``: licence types, issuing (from a case's 制证 or by hand), change, re-issue, revocation, expiry;
- ``licence_types``: creating and editing licence types from the staff page (what issued licences fix);
- ``wallet``: materials taken from the wallet into applications, the 六减 record, expiry reminders;
- ``shares``: 亮证, the holder's time-limited, single-use shares and their verification;
- ``documents``: the licence face and its sealed PDF;
- ``status_checks``: the public status check's lockout of addresses guessing 核验码;
- ``errors``: ``LicenceError``, the refusal of the licence services;
- ``archive``: the e-archive (电子档案): packages of finished cases and e-receipts sealed into the Merkle log.

``_sealing`` adapts the seals' API for issuance, documents and shares and is not imported from outside.
"""

from yiwang.licences.services.archive import (
    ArchiveError,
    archive_case,
    archive_finished_cases,
    archive_receipts,
    rotate_log_key,
)
from yiwang.licences.services.errors import LicenceError
from yiwang.licences.services.issuance import (
    change_licence,
    claims_of,
    clean_data,
    define_licence_type,
    expire_due_licences,
    expire_licence,
    issue_for_case,
    issue_licence,
    reissue_licence,
    revoke_licence,
    seal_intact,
    valid_until_for,
)
from yiwang.licences.services.licence_types import check_licence_type, save_licence_type
from yiwang.licences.services.shares import create_share, open_share, shareable_fields, withdraw_share
from yiwang.licences.services.status_checks import check_status_allowed, record_failed_status_check
from yiwang.licences.services.wallet import (
    offers,
    record_savings,
    release_material,
    remind_expiry,
    take_material,
    usable_licences,
)

__all__ = [
    "ArchiveError",
    "LicenceError",
    "archive_case",
    "archive_finished_cases",
    "archive_receipts",
    "change_licence",
    "check_licence_type",
    "check_status_allowed",
    "claims_of",
    "clean_data",
    "create_share",
    "define_licence_type",
    "expire_due_licences",
    "expire_licence",
    "issue_for_case",
    "issue_licence",
    "offers",
    "open_share",
    "record_failed_status_check",
    "record_savings",
    "reissue_licence",
    "release_material",
    "remind_expiry",
    "revoke_licence",
    "rotate_log_key",
    "save_licence_type",
    "seal_intact",
    "shareable_fields",
    "take_material",
    "usable_licences",
    "valid_until_for",
    "withdraw_share",
]
