"""The grid drawn as an inline SVG: the base layer of a map that needs no tile server."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from django.template.loader import render_to_string
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from shapely.geometry import MultiPolygon

from yiwang.hotline.geometry.shapes import CellGeometry, CellShape, check_coordinates, grid_bounds

MAP_TEMPLATE = "hotline/_grid_map.svg"

DEFAULT_MAP_WIDTH = 800
# Margin around the grid, as a share of its larger side, so edge cells and a point just outside stay visible.
MAP_MARGIN = 0.04


@dataclass(frozen=True)
class SvgProjection:
    """Equirectangular projection from lon/lat to SVG user units (y grows downwards).

    ``x = (lon - min_lon) * scale * lon_factor`` and ``y = (max_lat - lat) * scale``,
    where ``scale`` is SVG units per degree of latitude and ``lon_factor`` the
    cosine of the map's middle latitude, which keeps distances true in both
    directions near the middle. ``svg_map`` writes these four numbers on the
    ``<svg>`` element as ``data-min-lon``, ``data-max-lat``, ``data-scale`` and
    ``data-lon-factor`` for the browser to turn a click back into lon/lat.
    """

    min_lon: float
    max_lat: float
    scale: float
    lon_factor: float
    width: float
    height: float

    @classmethod
    def fit(
        cls,
        bounds: tuple[float, float, float, float],
        *,
        width: float = DEFAULT_MAP_WIDTH,
        margin: float = MAP_MARGIN,
    ) -> SvgProjection:
        """The projection that fits ``(min_lon, min_lat, max_lon, max_lat)``, plus a margin, into ``width``."""
        if not (math.isfinite(width) and width > 0):
            raise ValueError("width must be a positive number")
        min_lon, min_lat, max_lon, max_lat = bounds
        lon_factor = math.cos(math.radians((min_lat + max_lat) / 2))
        # Pad in true-distance terms so the margin looks the same on every side.
        pad_lat = max(max_lon - min_lon, max_lat - min_lat, 1e-6) * margin
        pad_lon = pad_lat / lon_factor
        min_lon, max_lon = min_lon - pad_lon, max_lon + pad_lon
        min_lat, max_lat = min_lat - pad_lat, max_lat + pad_lat
        scale = width / ((max_lon - min_lon) * lon_factor)
        return cls(min_lon, max_lat, scale, lon_factor, float(width), (max_lat - min_lat) * scale)

    def to_svg_xy(self, lon: float, lat: float) -> tuple[float, float]:
        """SVG user coordinates of a lon/lat point."""
        return (lon - self.min_lon) * self.scale * self.lon_factor, (self.max_lat - lat) * self.scale

    def from_svg_xy(self, x: float, y: float) -> tuple[float, float]:
        """The lon/lat of a point in SVG user coordinates (the inverse of ``to_svg_xy``)."""
        return self.min_lon + x / (self.scale * self.lon_factor), self.max_lat - y / self.scale


def svg_projection(
    cells: Sequence[CellShape],
    *,
    width: float = DEFAULT_MAP_WIDTH,
    include: Iterable[tuple[float, float]] = (),
) -> SvgProjection:
    """The projection ``svg_map`` uses for these cells (and any extra lon/lat points to keep in view)."""
    if not cells:
        raise ValueError("a map needs at least one cell")
    min_lon, min_lat, max_lon, max_lat = grid_bounds(cells)
    for lon, lat in include:
        min_lon, max_lon = min(min_lon, lon), max(max_lon, lon)
        min_lat, max_lat = min(min_lat, lat), max(max_lat, lat)
    return SvgProjection.fit((min_lon, min_lat, max_lon, max_lat), width=width)


def svg_map(
    cells: Sequence[CellShape],
    *,
    highlight: str | Iterable[str] | None = None,
    point: tuple[float, float] | None = None,
    width: float = DEFAULT_MAP_WIDTH,
    labels: bool = True,
) -> SafeString:
    """The grid drawn as an inline SVG: the offline base layer of the report map.

    Each cell is a ``<path>`` with ``data-code`` (and ``data-division``) and a
    ``<title>`` holding its name, so screen readers and hover tips name it;
    ``highlight`` marks one or more cells by code, ``point`` (lon, lat) draws
    a marker. The template engine escapes every text from the data, so the
    result is safe to put in a page as it is.
    """
    if point is not None:
        point = check_coordinates(*point)
    projection = svg_projection(cells, width=width, include=[point] if point else ())
    highlighted = {highlight} if isinstance(highlight, str) else set(highlight or ())
    context: dict[str, Any] = {
        "width": _number(projection.width),
        "height": _number(projection.height),
        # Full precision (repr), so the browser turns a click back into the same lon/lat as the server.
        "min_lon": repr(projection.min_lon),
        "max_lat": repr(projection.max_lat),
        "scale": repr(projection.scale),
        "lon_factor": repr(projection.lon_factor),
        # Highlighted cells come last so that no neighbour's outline is drawn over theirs.
        "cells": [
            _drawn_cell(cell, projection, cell.code in highlighted)
            for cell in sorted(cells, key=lambda cell: cell.code in highlighted)
        ],
        "labels": _labels(cells, projection) if labels else None,
        "point": None,
    }
    if point is not None:
        x, y = projection.to_svg_xy(*point)
        context["point"] = {"x": _number(x), "y": _number(y)}
    return render_to_string(MAP_TEMPLATE, context)


def _drawn_cell(cell: CellShape, projection: SvgProjection, chosen: bool) -> dict[str, Any]:
    title = _("%(name)s（%(code)s）") % {"name": cell.name, "code": cell.code}
    return {
        "chosen": chosen,
        "d": _path_data(cell.geometry, projection),
        "code": _xml_text(cell.code),
        "division": _xml_text(cell.division) if cell.division else None,
        "title": _xml_text(title),
    }


def _labels(cells: Sequence[CellShape], projection: SvgProjection) -> list[dict[str, str]]:
    anchors = shapely.point_on_surface(np.array([cell.geometry for cell in cells], dtype=object))
    placed = []
    for cell, anchor in zip(cells, anchors, strict=True):
        x, y = projection.to_svg_xy(anchor.x, anchor.y)
        placed.append({"x": _number(x), "y": _number(y), "code": _xml_text(cell.code)})
    return placed


def _path_data(geometry: CellGeometry, projection: SvgProjection) -> str:
    polygons = geometry.geoms if isinstance(geometry, MultiPolygon) else [geometry]
    commands = []
    for polygon in polygons:
        for ring in [polygon.exterior, *polygon.interiors]:
            points = [projection.to_svg_xy(lon, lat) for lon, lat in ring.coords[:-1]]
            commands.append("M" + "L".join(f"{_number(x)} {_number(y)}" for x, y in points) + "Z")
    return "".join(commands)


def _number(value: float) -> str:
    # Two decimals are a hundredth of a pixel at the drawn size: finer adds bytes, not detail.
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


# Characters XML 1.0 does not allow at all; an SVG containing one will not parse.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _xml_text(text: str) -> str:
    # Only removes what XML cannot carry; escaping is the template engine's job.
    return _XML_ILLEGAL.sub("", text)
