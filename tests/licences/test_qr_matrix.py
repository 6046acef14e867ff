"""The fast QR matrices give the very symbols segno gives, for every version, and hand other text to segno."""

from __future__ import annotations

import random

import pytest
import segno

from yiwang.licences.services import qr_matrix


def _segno(text: str, *, micro: bool | None = None) -> list[bytes]:
    return [bytes(row) for row in segno.make(text, error="m", mask=0, boost_error=False, micro=micro).matrix]


def _longest(version: int) -> int:
    """The most alphanumeric characters a version holds at error level M."""
    if version == 0:
        return 0
    bits = qr_matrix._layout(version).data_codewords * 8 - 4 - qr_matrix._count_bits(version)
    return bits // 11 * 2 + (bits % 11 >= 6)


@pytest.mark.parametrize("version", range(1, 41))
def test_every_version_matches_segno_at_its_fullest_and_at_a_random_length(version: int) -> None:
    rng = random.Random(version)
    longest = _longest(version)
    for length in {longest, longest - 1, _longest(version - 1) + 1, rng.randint(_longest(version - 1) + 1, longest)}:
        text = "".join(rng.choice(qr_matrix.ALPHANUMERIC) for _ in range(length))
        if text.isdigit():
            continue
        assert qr_matrix._version_for(len(text)) == version
        # Not a Micro QR code, even where segno would make one: the layout of every version is checked.
        assert qr_matrix._alphanumeric_matrix(text) == _segno(text, micro=False), (version, length)
        assert qr_matrix.matrix(text) == _segno(text), (version, length)


def test_a_licence_payload_is_version_13_and_the_same_as_segno() -> None:
    rng = random.Random(7)
    text = "YW1:" + "".join(rng.choice(qr_matrix.ALPHANUMERIC) for _ in range(423))  # 427 characters, as in bench
    rows = qr_matrix.matrix(text)
    assert len(rows) == 17 + 4 * 13 and all(len(row) == len(rows) for row in rows)
    assert set(b"".join(rows)) == {0, 1}
    assert rows == _segno(text)


@pytest.mark.parametrize(
    "text",
    [
        "1.2.156.3005.2.11990100MB0001X11P",  # short: segno makes a Micro QR code when it fits
        "ABC",
        "12345678901234567890123456789012345678901234567890",  # numeric mode
        "https://example.org/licences/verify/?p=YW1:ABC" * 2,  # lower case: byte mode
        "电子证照" * 12,
    ],
)
def test_other_text_is_encoded_by_segno(text: str) -> None:
    assert qr_matrix.matrix(text) == _segno(text)


def test_text_too_long_for_any_version_is_refused_as_segno_refuses_it() -> None:
    assert qr_matrix._alphanumeric_matrix("A" * (_longest(40) + 1)) is None
    with pytest.raises(segno.DataOverflowError):
        qr_matrix.matrix("A" * (_longest(40) + 1))
