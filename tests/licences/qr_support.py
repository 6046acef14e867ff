"""Claims and trust lists for QR tests, built without the database."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from yiwang.core import sm2
from yiwang.licences.services import qr
from yiwang.licences.services.seal_types import QrClaims, TrustedKey, TrustList

NOW = dt.datetime(2026, 12, 7, 4, 0, tzinfo=dt.UTC)


def claims(**changes: object) -> QrClaims:
    base = QrClaims(
        licence_id="44030020261207000123",
        licence_type="食品经营许可证",
        holder_name="张*",
        holder_id_digest=qr.holder_digest("11010519491231002X", "44030020261207000123"),
        issued_on=dt.date(2026, 12, 7),
        expires_on=dt.date(2031, 12, 6),
        document_digest=sm2.sm3(b"the sealed licence record"),
        fields=(("经营者名称", "某某餐饮店"), ("经营项目", "热食类食品制售")),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def key_and_list(platform_id: str = "gd-yiwang", **key_changes: object) -> tuple[bytes, TrustedKey, TrustList]:
    private = sm2.generate_private_key()
    public = sm2.public_key_der(private)
    key = TrustedKey(
        key_id=sm2.key_id(public),
        public_key_der=public,
        owner_kind="seal",
        owner_id="market-01",
        owner_name="示范市市场监督管理局",
        department_code="market",
        valid_from=NOW - dt.timedelta(days=30),
        valid_to=NOW + dt.timedelta(days=3650),
    )
    key = replace(key, **key_changes)  # type: ignore[arg-type]
    trust = TrustList(
        platform_id=platform_id,
        platform_name="广东政务服务网",
        issued_at=NOW - dt.timedelta(hours=1),
        next_update=NOW + dt.timedelta(days=7),
        root_key_id="00" * 16,
        keys={key.key_id: key},
    )
    return private, key, trust


def signed(private: bytes, key: TrustedKey, platform_id: str = "gd-yiwang", **changes: object) -> str:
    complete = replace(claims(**changes), platform_id=platform_id, key_id=key.key_id, signed_at=NOW)
    return qr.encode_signed(complete, private)
