"""Tables of the licences app, one module per concern."""

from yiwang.licences.models.archive import ArchiveEntry, ArchiveKind, ArchiveLog, ArchiveLogKey, TreeHead
from yiwang.licences.models.licences import (
    Licence,
    LicenceEvent,
    LicenceShare,
    LicenceType,
    MaterialSaving,
    SealedDocument,
    ShareVerification,
    WalletMaterial,
)
from yiwang.licences.models.seals import ForeignPlatform, KeyPurpose, PlatformKey, Seal, SealStatus, SigningKey

__all__ = [
    "ArchiveEntry",
    "ArchiveKind",
    "ArchiveLog",
    "ArchiveLogKey",
    "ForeignPlatform",
    "KeyPurpose",
    "Licence",
    "LicenceEvent",
    "LicenceShare",
    "LicenceType",
    "MaterialSaving",
    "PlatformKey",
    "Seal",
    "SealStatus",
    "SealedDocument",
    "ShareVerification",
    "SigningKey",
    "TreeHead",
    "WalletMaterial",
]
