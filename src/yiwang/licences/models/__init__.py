"""Tables of the licences app, one module per concern."""

from yiwang.licences.models.licences import (
    Licence,
    LicenceEvent,
    LicenceShare,
    LicenceType,
    MaterialSaving,
    ShareVerification,
    WalletMaterial,
)

__all__ = [
    "Licence",
    "LicenceEvent",
    "LicenceShare",
    "LicenceType",
    "MaterialSaving",
    "ShareVerification",
    "WalletMaterial",
]
