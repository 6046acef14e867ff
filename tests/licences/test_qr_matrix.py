"""The QR codes drawn on sealed documents decode back to their payloads, and over-long text is refused."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest
import zxingcpp

from tests.licences.qr_support import NOW, claims
from yiwang.core import sm2
from yiwang.licences.services import qr, qr_matrix

BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def _decoded(rows: list[bytes]) -> zxingcpp.Barcode:
    """Read the matrix as a scanner would: four pixels a module, a four-module quiet zone, black on white."""
    modules = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(len(rows), -1)
    image = np.where(np.pad(modules, 4), 0, 255).astype(np.uint8).repeat(4, axis=0).repeat(4, axis=1)
    (code,) = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    return code


def test_a_signed_licence_payload_decodes_back_and_verifies() -> None:
    private = sm2.generate_private_key()
    signed = replace(claims(), platform_id="gd-yiwang", key_id=sm2.key_id(sm2.public_key_der(private)), signed_at=NOW)
    payload = qr.encode_signed(signed, private)
    rows = qr_matrix.matrix(payload)
    assert len(rows) == len(rows[0]) and (len(rows) - 17) % 4 == 0  # a square QR symbol of some version
    assert set(b"".join(rows)) == {0, 1}
    code = _decoded(rows)
    assert code.text == payload and code.ec_level == "M"
    decoded_claims, _tbs, _signature = qr.decode_qr_payload(code.text)
    assert decoded_claims.licence_id == claims().licence_id


@pytest.mark.parametrize("length", [1, 20, 430, 1500])
def test_text_of_any_length_that_fits_decodes_back(length: int) -> None:
    text = "".join(random.Random(length).choice(BASE45) for _ in range(length))
    assert _decoded(qr_matrix.matrix(text)).text == text


def test_non_alphanumeric_text_decodes_back() -> None:
    text = "https://example.org/licences/verify/?p=YW1:ABC 电子证照"
    assert _decoded(qr_matrix.matrix(text)).text == text


def test_text_too_long_for_any_version_is_refused() -> None:
    with pytest.raises(qr_matrix.QrTooLong):
        qr_matrix.matrix("A" * 3392)  # version 40 at level M holds 3,391 alphanumeric characters
