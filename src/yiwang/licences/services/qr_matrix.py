"""QR code matrices of the documents' payloads, encoded by ZXing's C++ library (zxing-cpp).

A licence's QR code holds a ``YW1:`` Base45 payload of about 430 characters
(version 12 or 13 at error correction M). segno encodes it in pure Python in
about 2.4 ms, more than the rest of the PDF page; zxing-cpp does the whole
symbol, the choice of the best of the eight masks included, in about 0.8 ms.
"""

from __future__ import annotations

import numpy as np
import zxingcpp

ERROR_CORRECTION = "M"  # 15 % of the symbol may be damaged: a printed licence gets folded and scuffed


class QrTooLong(ValueError):
    """The text does not fit in the largest QR code (version 40) at this error correction level."""


def matrix(text: str) -> list[bytes]:
    """The QR code of ``text`` (error correction M) as rows of 0/1 bytes (1 = dark), without the quiet zone."""
    try:
        code = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level=ERROR_CORRECTION)
    except ValueError as error:
        raise QrTooLong(str(error)) from error
    # One pixel per module, black (0) for dark: the image is the module matrix itself.
    pixels = np.asarray(code.to_image(scale=1, add_quiet_zones=False))
    dark = (pixels < 128).astype(np.uint8)
    return [row.tobytes() for row in dark]
