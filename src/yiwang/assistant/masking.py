"""Personal data typed into a question, masked before anything is stored or shown to staff."""

from __future__ import annotations

import re

from yiwang.core import crypto

# 18-character resident ID numbers (the last may be X), 15-digit old ones; not inside longer digit runs.
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")
# Mainland mobiles, with or without +86 and separators.
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[-\s]?)?(1[3-9]\d[-\s]?\d{4}[-\s]?\d{4})(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Bank cards: 16 to 19 digits.
_CARD = re.compile(r"(?<!\d)\d{16,19}(?!\d)")


def mask(text: str) -> str:
    """``text`` with ID numbers, mobiles, bank cards and e-mail addresses masked (the ends kept, as on screen)."""
    text = _ID_NUMBER.sub(lambda m: crypto.mask_id_number(m.group(1)), text)
    text = _MOBILE.sub(lambda m: crypto.mask_mobile(re.sub(r"[-\s]", "", m.group(1))), text)
    text = _CARD.sub(lambda m: m.group(0)[:4] + "*" * (len(m.group(0)) - 8) + m.group(0)[-4:], text)
    return _EMAIL.sub("***@***", text)
