"""gmssl, the independent SM2 implementation the tests check our signatures with, given its key safely.

gmssl 3.2.2's CryptSM2 takes the public key as hex and drops a leading "04"
with ``str.lstrip("04")``, which strips every leading '0' and '4'
character: a key whose X coordinate starts with 0x04 (one in 256) or, given
with its prefix, with a '0' or '4' hex digit, is silently read as another
point and every signature then fails. The point is set after construction.
"""

from __future__ import annotations

from gmssl import sm2 as gm_sm2


def gmssl_sm2(public_point: bytes, *, private_hex: str = "", asn1: bool = False) -> gm_sm2.CryptSM2:
    """gmssl's SM2 for the 64-byte public point X || Y (no 0x04 prefix)."""
    assert len(public_point) == 64
    gm = gm_sm2.CryptSM2(private_key=private_hex, public_key="", asn1=asn1)
    gm.public_key = public_point.hex()
    return gm
