"""Tables of the licences app, one module per concern."""

from yiwang.licences.models.seals import ForeignPlatform, KeyPurpose, PlatformKey, Seal, SealStatus, SigningKey

__all__ = ["ForeignPlatform", "KeyPurpose", "PlatformKey", "Seal", "SealStatus", "SigningKey"]
