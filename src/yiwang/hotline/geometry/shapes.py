"""Grid cells as shapes: the cell type, the refusals shared by the package, and distances on Earth.

Coordinates are WGS84 longitude/latitude, as RFC 7946 requires. Data exported
from Chinese web maps is often in GCJ-02 or BD-09, which are offset from
WGS84 by several hundred metres; such data must be converted before upload,
since nothing in the numbers themselves shows which datum they are in.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeAlias

import numpy as np
import shapely
from django.utils.translation import gettext as _
from shapely.geometry import MultiPolygon, Polygon

CellGeometry: TypeAlias = Polygon | MultiPolygon

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)
METRES_PER_DEGREE = EARTH_RADIUS_M * math.pi / 180.0

# Exact types tested first in hot loops; they also keep out bool, which is an int.
PLAIN_NUMBERS = frozenset({int, float})


class GridDataError(ValueError):
    """Grid data that may not be loaded: ``code`` is stable for programs, ``message`` is for the uploader.

    ``index`` is the position (from 0) of the offending feature in the
    FeatureCollection and ``cell_code`` its code, when the problem belongs to
    one feature. For overlaps, ``overlaps`` lists every pair found as
    ``(code_a, code_b, area_m2)``.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        index: int | None = None,
        cell_code: str | None = None,
        overlaps: Sequence[tuple[str, str, float]] = (),
    ) -> None:
        self.code = code
        self.message = message
        self.index = index
        self.cell_code = cell_code
        self.overlaps = list(overlaps)
        super().__init__(f"{code}: {message}")


class InvalidCoordinates(ValueError):
    """A longitude/latitude pair that is not a point on Earth; the message can be shown to the user."""


@dataclass(frozen=True)
class CellShape:
    """One grid cell: its code and name, its other properties, and its boundary.

    ``geojson`` is the boundary as a GeoJSON geometry object (two-dimensional
    coordinates, no foreign members), ready to be stored as text and read
    back with ``cell_from_geometry``.
    """

    code: str
    name: str
    properties: dict[str, Any]
    geometry: CellGeometry = field(compare=False)
    geojson: dict[str, Any]

    @property
    def worker(self) -> str | None:
        """The grid worker named in the data, if any."""
        value = self.properties.get("worker")
        return value if isinstance(value, str) and value else None

    @property
    def division(self) -> str | None:
        """The district (or other division) named in the data, if any."""
        value = self.properties.get("division")
        return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class Where:
    """Which feature (by position in the file, and code once known) a problem belongs to, for messages."""

    index: int
    code: str | None

    def describe(self) -> str:
        if self.code:
            return _("第 %(number)d 个网格（编码 %(code)s）") % {"number": self.index + 1, "code": self.code}
        return _("第 %(number)d 个网格") % {"number": self.index + 1}

    def error(self, code: str, problem: str) -> GridDataError:
        return GridDataError(code, f"{self.describe()}{problem}", index=self.index, cell_code=self.code)


def grid_bounds(cells: Iterable[CellShape]) -> tuple[float, float, float, float]:
    """``(min_lon, min_lat, max_lon, max_lat)`` of all the cells together."""
    boxes = shapely.bounds(np.array([cell.geometry for cell in cells], dtype=object))
    return (
        float(boxes[:, 0].min()),
        float(boxes[:, 1].min()),
        float(boxes[:, 2].max()),
        float(boxes[:, 3].max()),
    )


def check_coordinates(lon: Any, lat: Any) -> tuple[float, float]:
    """``(lon, lat)`` as floats, or ``InvalidCoordinates`` when they are not a point on Earth."""
    if not (type(lon) in PLAIN_NUMBERS or _is_real(lon)) or not (type(lat) in PLAIN_NUMBERS or _is_real(lat)):
        raise InvalidCoordinates(_("经纬度必须是数字。"))
    lon_value, lat_value = float(lon), float(lat)
    if not (math.isfinite(lon_value) and math.isfinite(lat_value)):
        raise InvalidCoordinates(_("经纬度必须是有限的数字。"))
    if not -180.0 <= lon_value <= 180.0:
        raise InvalidCoordinates(_("经度必须在 -180 到 180 之间。"))
    if not -90.0 <= lat_value <= 90.0:
        raise InvalidCoordinates(_("纬度必须在 -90 到 90 之间。"))
    return lon_value, lat_value


def _is_real(value: Any) -> bool:
    # Decimal comes from forms and databases; bool is an int but never a coordinate.
    return isinstance(value, numbers.Real | Decimal) and not isinstance(value, bool)


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres between two WGS84 points (haversine on the mean Earth radius)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(lon2 - lon1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))
