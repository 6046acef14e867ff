"""The visible seal: a round red stamp drawn server-side (Pillow) from the department's name.

Drawn at four times the size and scaled down, so edges are smooth; the same
name always gives the same PNG (its SM3 is recorded in the seal and the
signed structure).
"""

from __future__ import annotations

import io
import math
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

SEAL_PIXELS = 300
_SCALE = 4
_RED = (214, 26, 26, 255)
# Serif CJK fonts look like the 宋体 of real seals; the first that exists is used.
_FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for candidate in _FONT_CANDIDATES:
        if Path(candidate).exists():
            return ImageFont.truetype(candidate, size)
    return ImageFont.load_default()


def _star_points(cx: float, cy: float, outer: float) -> list[tuple[float, float]]:
    inner = outer * 0.382  # a regular five-pointed star
    points = []
    for i in range(10):
        radius = outer if i % 2 == 0 else inner
        angle = -math.pi / 2 + i * math.pi / 5
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    return points


def _glyph(char: str, size: int) -> Image.Image:
    font = _font(size)
    tile = Image.new("RGBA", (size * 2, size * 2), (0, 0, 0, 0))
    ImageDraw.Draw(tile).text((size, size), char, font=font, fill=_RED, anchor="mm")
    return tile


def draw_seal(name: str, bottom_text: str = "") -> bytes:
    """A PNG (transparent background) of a round red seal: ``name`` around the top, a star, ``bottom_text``."""
    size = SEAL_PIXELS * _SCALE
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    centre = size / 2
    ring = size * 0.47
    draw.ellipse((centre - ring, centre - ring, centre + ring, centre + ring), outline=_RED, width=int(size * 0.03))
    draw.polygon(_star_points(centre, centre, size * 0.14), fill=_RED)

    text = name.strip() or "电子印章"
    glyph_size = int(size * (0.12 if len(text) <= 10 else 0.095 if len(text) <= 16 else 0.075))
    text_radius = ring - size * 0.03 - glyph_size * 0.65
    # Characters spread over up to 240 degrees of the top, centred at the top of the circle.
    span = min(math.radians(240), len(text) * glyph_size * 1.05 / text_radius)
    step = span / max(len(text) - 1, 1)
    start = -math.pi / 2 - span / 2
    for index, char in enumerate(text):
        angle = start + index * step if len(text) > 1 else -math.pi / 2
        tile = _glyph(char, glyph_size).rotate(-math.degrees(angle + math.pi / 2), resample=Image.Resampling.BICUBIC)
        x = centre + text_radius * math.cos(angle) - tile.width / 2
        y = centre + text_radius * math.sin(angle) - tile.height / 2
        image.alpha_composite(tile, (int(x), int(y)))

    if bottom_text:
        font = _font(int(size * 0.07))
        draw.text((centre, centre + size * 0.27), bottom_text, font=font, fill=_RED, anchor="mm")

    output = io.BytesIO()
    image.resize((SEAL_PIXELS, SEAL_PIXELS), Image.Resampling.LANCZOS).save(output, format="PNG", optimize=True)
    return output.getvalue()
