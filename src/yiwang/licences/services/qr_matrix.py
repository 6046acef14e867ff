"""QR code matrices for the licences' payloads, fast: alphanumeric mode, error correction M, mask 0.

A licence's QR code (a ``YW1:`` Base45 payload of about 430 characters,
version 12) cost segno about 2.4 ms of pure Python: Reed-Solomon over each
block, placing some 2,900 bits one by one and masking them. Everything
about a symbol but its data is fixed by its version, so here each version's
function patterns, format and version information, and the order and mask
of its data modules are worked out once; a payload then costs its
Reed-Solomon remainders (one big-integer shift register per block) and one
numpy scatter.

:func:`matrix` gives exactly the symbol ``segno.make(text, error="m",
mask=0, boost_error=False)`` gives (the tests compare them for every
version); short text (which segno may make a Micro QR code of) and text
that segno would not encode as one alphanumeric segment (purely numeric
text, lower-case letters, other characters) is handed to segno itself.
Tables of the standard that cannot be computed (the error correction blocks
and alignment pattern positions of each version) are read from segno's
constants, so both encoders share them.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import segno
from segno import consts as segno_consts

ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_VALUE = {char: index for index, char in enumerate(ALPHANUMERIC)}
_FORMAT_M_MASK0 = 0x5412  # BCH(15,5) of error level M (00) and mask 000, XOR the fixed pattern
_PAD = (0xEC, 0x11)


# --- GF(256) and Reed-Solomon ------------------------------------------------------------------

_EXP = [0] * 512
_LOG = [0] * 256
_x = 1
for _i in range(255):
    _EXP[_i] = _x
    _LOG[_x] = _i
    _x <<= 1
    if _x & 0x100:
        _x ^= 0x11D
for _i in range(255, 512):
    _EXP[_i] = _EXP[_i - 255]


def _multiply(a: int, b: int) -> int:
    return 0 if a == 0 or b == 0 else _EXP[_LOG[a] + _LOG[b]]


@functools.cache
def _shift_table(degree: int) -> tuple[int, ...]:
    """For each factor f, the generator's lower coefficients times f as one big-endian integer."""
    generator = [1]  # highest power first: (x - a^0)(x - a^1)...(x - a^(degree-1))
    for power in range(degree):
        root = _EXP[power]
        generator = [
            coefficient ^ _multiply(previous, root)
            for coefficient, previous in zip([*generator, 0], [0, *generator], strict=True)
        ]
    lower = generator[1:]
    return tuple(int.from_bytes(bytes(_multiply(f, c) for c in lower), "big") for f in range(256))


def _remainder(data: bytes, degree: int) -> bytes:
    """The Reed-Solomon error correction codewords of ``data`` (a shift register in one integer)."""
    table = _shift_table(degree)
    top = 8 * (degree - 1)
    keep = (1 << (8 * degree)) - 1
    register = 0
    for byte in data:
        register = ((register << 8) & keep) ^ table[byte ^ (register >> top)]
    return register.to_bytes(degree, "big")


# --- symbol layout per version ------------------------------------------------------------------


class _Modules:
    """A symbol's function modules as they are set: which are dark, which are taken."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.dark = np.zeros((size, size), dtype=np.uint8)
        self.function = np.zeros((size, size), dtype=bool)

    def put(self, row: int, column: int, value: bool) -> None:
        self.dark[row, column] = value
        self.function[row, column] = True

    def square(self, centre_row: int, centre_column: int, radius: int, light_rings: tuple[int, ...]) -> None:
        for dy in range(-radius, radius + 1):
            for dx in range(-radius, radius + 1):
                row, column = centre_row + dy, centre_column + dx
                if 0 <= row < self.size and 0 <= column < self.size:
                    self.put(row, column, max(abs(dx), abs(dy)) not in light_rings)


def _patterns(modules: _Modules, version: int) -> None:
    """Timing, finder (with separators) and alignment patterns."""
    size = modules.size
    for i in range(size):
        modules.put(6, i, i % 2 == 0)
        modules.put(i, 6, i % 2 == 0)
    for row, column in ((3, 3), (3, size - 4), (size - 4, 3)):
        modules.square(row, column, 4, (2, 4))
    centres = segno_consts.ALIGNMENT_POS[version - 2] if version > 1 else ()
    last = len(centres) - 1
    for i, row in enumerate(centres):
        for j, column in enumerate(centres):
            if (i, j) not in {(0, 0), (0, last), (last, 0)}:  # those are under finder patterns
                modules.square(row, column, 2, (1,))


def _format_and_version(modules: _Modules, version: int) -> None:
    """Both copies of the format information, the dark module and (version 7 on) the version information."""
    size = modules.size
    for i in range(15):
        bit = bool(_FORMAT_M_MASK0 >> i & 1)
        # First copy, around the top-left finder.
        if i < 6:
            modules.put(i, 8, bit)
        elif i < 8:
            modules.put(i + 1, 8, bit)
        elif i == 8:
            modules.put(8, 7, bit)
        else:
            modules.put(8, 14 - i, bit)
        # Second copy, split between the top-right and bottom-left finders.
        if i < 8:
            modules.put(8, size - 1 - i, bit)
        else:
            modules.put(size - 15 + i, 8, bit)
    modules.put(size - 8, 8, True)  # the dark module
    if version < 7:
        return
    remainder = version
    for _ in range(12):
        remainder = (remainder << 1) ^ ((remainder >> 11) * 0x1F25)
    version_bits = version << 12 | remainder
    for i in range(18):
        bit = bool(version_bits >> i & 1)
        a, b = size - 11 + i % 3, i // 3
        modules.put(b, a, bit)
        modules.put(a, b, bit)


def _data_order(function: np.ndarray) -> list[int]:
    """Flat indices of the data modules in placement order: two-column strips zigzagging from the bottom right."""
    size = len(function)
    order: list[int] = []
    right = size - 1
    while right >= 1:
        if right == 6:
            right = 5  # the vertical timing pattern is skipped
        upward = ((right + 1) & 2) == 0
        for step in range(size):
            row = size - 1 - step if upward else step
            order.extend(row * size + column for column in (right, right - 1) if not function[row, column])
        right -= 2
    return order


class _Layout:
    """A version's fixed modules and where its data bits go."""

    def __init__(self, version: int) -> None:
        size = 17 + 4 * version
        self.version, self.size = version, size
        modules = _Modules(size)
        _patterns(modules, version)
        _format_and_version(modules, version)
        positions = np.array(_data_order(modules.function), dtype=np.intp)
        self.positions = positions
        # Mask 0 darkens every data module whose row + column is even.
        self.mask = ((positions // size + positions % size) % 2 == 0).astype(np.uint8)
        self.base = modules.dark.reshape(-1)
        groups: Any = segno_consts.ECC[version]
        groups = groups[segno_consts.ERROR_LEVEL_M]
        self.blocks = [(g.num_data, g.num_total - g.num_data) for g in groups for _ in range(g.num_blocks)]
        self.data_codewords = sum(data for data, _ec in self.blocks)


@functools.cache
def _layout(version: int) -> _Layout:
    return _Layout(version)


def _count_bits(version: int) -> int:
    return 9 if version <= 9 else 11 if version <= 26 else 13


def _version_for(length: int) -> int | None:
    for version in range(1, 41):
        needed = 4 + _count_bits(version) + 11 * (length // 2) + 6 * (length % 2)
        if needed <= _layout(version).data_codewords * 8:
            return version
    return None


def _data_bits(text: str, version: int) -> tuple[int, int]:
    """The mode, count and character bits of ``text`` as one integer and its bit length."""
    value, length = 0b0010, 4
    value = value << _count_bits(version) | len(text)
    length += _count_bits(version)
    for i in range(0, len(text) - 1, 2):
        value = value << 11 | (_VALUE[text[i]] * 45 + _VALUE[text[i + 1]])
        length += 11
    if len(text) % 2:
        value = value << 6 | _VALUE[text[-1]]
        length += 6
    return value, length


def _codewords(text: str, layout: _Layout) -> bytes:
    value, length = _data_bits(text, layout.version)
    capacity = layout.data_codewords * 8
    terminator = min(4, capacity - length)
    value, length = value << terminator, length + terminator
    # segno pads a stream that already ends on a byte boundary with a whole zero byte (8 - length % 8 bits)
    # before the pad codewords; readers stop at the terminator either way, and doing the same keeps every
    # symbol identical to the one segno made before.
    padding = 8 - length % 8 if length < capacity else 0
    value, length = value << padding, length + padding
    data = value.to_bytes(length // 8, "big")
    data += bytes(_PAD[i % 2] for i in range(layout.data_codewords - len(data)))
    blocks, ec_blocks, start = [], [], 0
    for data_count, ec_count in layout.blocks:
        block = data[start : start + data_count]
        start += data_count
        blocks.append(block)
        ec_blocks.append(_remainder(block, ec_count))
    longest = max(len(block) for block in blocks)
    interleaved = bytearray(block[i] for i in range(longest) for block in blocks if i < len(block))
    interleaved += bytes(block[i] for i in range(len(ec_blocks[0])) for block in ec_blocks)
    return bytes(interleaved)


_MICRO_LIMIT = 35  # segno makes a Micro QR code of short text (at most 18 alphanumeric characters at level M)


def _encodable(text: str) -> bool:
    # segno encodes purely numeric text in numeric mode: leave that (and anything not alphanumeric) to it.
    return len(text) > _MICRO_LIMIT and not text.isdigit() and all(char in _VALUE for char in text)


def matrix(text: str) -> list[bytes]:
    """The QR code of ``text`` (error correction M, mask 0) as rows of 0/1 bytes, without the quiet zone."""
    rows = _alphanumeric_matrix(text) if _encodable(text) else None
    if rows is None:
        code = segno.make(text, error="m", mask=0, boost_error=False)
        return [bytes(row) for row in code.matrix]
    return rows


def _alphanumeric_matrix(text: str) -> list[bytes] | None:
    """The symbol of alphanumeric ``text`` in the smallest version that holds it; None when none does."""
    version = _version_for(len(text))
    if version is None:
        return None
    layout = _layout(version)
    bits = np.unpackbits(np.frombuffer(_codewords(text, layout), dtype=np.uint8))
    data = layout.mask.copy()  # remainder bits are light before masking
    data[: len(bits)] ^= bits
    modules = layout.base.copy()
    modules[layout.positions] = data
    size = layout.size
    flat = modules.tobytes()
    return [flat[row * size : (row + 1) * size] for row in range(size)]
