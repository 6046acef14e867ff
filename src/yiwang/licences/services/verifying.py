"""Checks shared by every verification (documents, QR payloads): a key's validity at signing time.

Pure functions: no database, so the offline QR verifier uses them as they are.
"""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext as _

from yiwang.licences.services.canonical import utc_text
from yiwang.licences.services.seal_types import TrustedKey, Verification, VerificationCode

# A signing time this far after "now" is refused: the signer's clock, not ours, would have to be wrong.
CLOCK_SKEW = dt.timedelta(minutes=5)


def refuse(code: VerificationCode, message: str, **extra: object) -> Verification:
    """A failed verification."""
    return Verification(ok=False, code=code, message=message, **extra)  # type: ignore[arg-type]


def key_problem(key: TrustedKey, signed_at: dt.datetime, now: dt.datetime) -> Verification | None:
    """Why ``key`` cannot vouch for a signature made at ``signed_at`` (None when it can).

    Revocation refuses everything the key signed: a revoked key may have been
    in someone else's hands, and the signing time is the signer's own claim.
    Retirement (rotation) only stops new signatures; validity is judged at
    the signing time, so a signature stays good after the key expires.
    """
    extra = {"key_id": key.key_id, "signer": key.owner_name, "signed_at": signed_at}
    if key.revoked_at is not None:
        reason = key.revocation_reason or _("未说明")
        return refuse(
            VerificationCode.KEY_REVOKED,
            _("签名密钥已于 %(when)s 吊销（原因：%(reason)s），其签名不再有效。")
            % {"when": utc_text(key.revoked_at), "reason": reason},
            **extra,
        )
    if signed_at > now + CLOCK_SKEW:
        return refuse(VerificationCode.KEY_EXPIRED, _("签名时间晚于当前时间，签名无效。"), **extra)
    if signed_at < key.valid_from or signed_at >= key.valid_to:
        return refuse(
            VerificationCode.KEY_EXPIRED,
            _("签名时间 %(when)s 不在签名密钥的有效期（%(start)s 至 %(end)s）内。")
            % {"when": utc_text(signed_at), "start": utc_text(key.valid_from), "end": utc_text(key.valid_to)},
            **extra,
        )
    if key.retired_at is not None and signed_at > key.retired_at:
        return refuse(
            VerificationCode.KEY_EXPIRED,
            _("签名密钥已于 %(when)s 停止签名（密钥已轮换），此后的签名无效。") % {"when": utc_text(key.retired_at)},
            **extra,
        )
    return None
