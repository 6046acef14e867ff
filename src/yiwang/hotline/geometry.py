"""Grid cells (网格) as geometry: loading them from GeoJSON, locating a point, drawing the offline map.

This module is pure: no database, no network. It gives the hotline app three
things:

- ``parse_grid_geojson`` reads an uploaded GeoJSON FeatureCollection of grid
  cells and refuses, with a ``GridDataError`` that names the offending cell,
  anything that would make routing ambiguous or unsafe: broken JSON, missing
  codes or names, duplicate codes, non-polygons, invalid (self-intersecting)
  polygons, coordinates outside the lon/lat range, overlapping cells, and
  files too large to handle.
- ``GridLocator`` answers "which cell is this point in?" with an STRtree: the
  cell that contains it, a deterministic choice on a border, or the nearest
  cell within a distance limit when the point falls outside every cell.
- ``svg_map`` draws the grid itself as an inline SVG, the base layer of a map
  that needs no tile server; ``SvgProjection`` turns lon/lat into SVG
  coordinates and back, so that a click on the map can become a report's
  location.

Coordinates are WGS84 longitude/latitude, as RFC 7946 requires. Data exported
from Chinese web maps is often in GCJ-02 or BD-09, which are offset from
WGS84 by several hundred metres; such data must be converted before upload,
since nothing in the numbers themselves shows which datum they are in.
"""

from __future__ import annotations

import html
import json
import math
import numbers
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, TypeAlias

import numpy as np
import shapely
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from shapely.geometry import MultiPolygon, Point, Polygon

CellGeometry: TypeAlias = Polygon | MultiPolygon
LocationKind: TypeAlias = Literal["inside", "border", "nearest"]

DEMO_GRID_PATH = Path(__file__).resolve().parent / "data" / "demo_grid.geojson"

# Limits on an upload. A large city has tens of thousands of cells, each
# traced along streets with at most a few hundred vertices; these leave a wide
# margin above that while keeping a hostile file from exhausting memory.
MAX_BYTES = 32 * 1024 * 1024
MAX_CELLS = 50_000
MAX_VERTICES_PER_CELL = 10_000
MAX_TOTAL_VERTICES = 1_000_000
# A grid wider than this is not one city's grid: it is usually a stray cell
# with mistyped coordinates. It also keeps the local projection used for
# distances accurate.
MAX_GRID_SPAN_DEGREES = 15.0
MAX_CODE_CHARS = 64
MAX_NAME_CHARS = 100
MAX_PROPERTY_CHARS = 200
# Two cells whose shared area is below this are taken as touching, not
# overlapping: traced boundaries disagree by slivers of a few square
# centimetres after rounding coordinates to six decimals.
OVERLAP_TOLERANCE_M2 = 1.0
# How many overlapping pairs an error message lists; the error keeps them all.
OVERLAPS_LISTED = 5

# A point closer than this to a cell's edge is on the edge: far below the
# precision of a GPS fix or a click on a map, far above floating-point rounding.
BORDER_TOLERANCE_M = 0.01
# Beyond this distance from every cell a point is not in the city's grid.
DEFAULT_MAX_DISTANCE_M = 1000.0

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)
METRES_PER_DEGREE = EARTH_RADIUS_M * math.pi / 180.0

_CODE_PATTERN = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_.\-]*\Z")
# Control, format (bidi overrides), surrogate and line/paragraph separators: they
# have no place in a cell's name and some can disguise text on screen.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_WGS84_CRS_NAMES = frozenset(
    {"urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:OGC::CRS84", "urn:ogc:def:crs:EPSG::4326", "EPSG:4326"}
)
_POLYGON_TYPES = frozenset({"Polygon", "MultiPolygon"})

# GEOS explains invalid geometry in English, as "<reason>[<x> <y>]".
_VALIDITY_REASON = re.compile(r"\A(?P<reason>[^\[]+?)\s*(?:\[(?P<x>\S+)\s+(?P<y>\S+)\])?\s*\Z")


def _validity_reasons() -> dict[str, str]:
    return {
        "Self-intersection": _("边界自相交"),
        "Ring Self-intersection": _("边界线自身打结（同一条边界多次经过同一点）"),
        "Hole lies outside shell": _("内部的“洞”落在外边界之外"),
        "Nested holes": _("内部的“洞”互相嵌套"),
        "Interior is disconnected": _("内部被“洞”分割成了互不相连的几块"),
        "Nested shells": _("多个部分互相嵌套"),
        "Duplicate Rings": _("包含重复的边界"),
        "Too few points": _("边界的点太少，围不成一个区域"),
        "Invalid Coordinate": _("包含无效的坐标"),
        "Ring is not closed": _("边界没有闭合"),
    }


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
class GridLimits:
    """Size limits on grid data; the defaults suit one city."""

    max_bytes: int = MAX_BYTES
    max_cells: int = MAX_CELLS
    max_vertices_per_cell: int = MAX_VERTICES_PER_CELL
    max_total_vertices: int = MAX_TOTAL_VERTICES
    max_span_degrees: float = MAX_GRID_SPAN_DEGREES


DEFAULT_LIMITS = GridLimits()


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
class Location:
    """Where a point falls: the cell's code, how it was chosen, and its distance from that cell in metres."""

    code: str
    how: LocationKind
    distance_m: float


# --- loading ---


def parse_grid_geojson(data: str | bytes, *, limits: GridLimits = DEFAULT_LIMITS) -> list[CellShape]:
    """Read grid cells from a GeoJSON FeatureCollection of Polygon and MultiPolygon features.

    Each feature needs the properties ``code`` and ``name``; ``worker`` and
    ``division`` are optional strings, and other properties are kept as they
    are. Raises ``GridDataError`` for anything that cannot be loaded as it is.
    Cells come back in the order of the file.
    """
    document = _decode(data, limits)
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        found = document.get("type") if isinstance(document, dict) else None
        raise GridDataError(
            "not_feature_collection",
            _("文件必须是 GeoJSON 的 FeatureCollection（要素集合），实际是：%(found)s。")
            % {"found": found if isinstance(found, str) else _("不是 GeoJSON 对象")},
        )
    _check_crs(document.get("crs"))
    features = document.get("features")
    if not isinstance(features, list):
        raise GridDataError("features_missing", _("FeatureCollection 缺少 features 列表。"))
    if not features:
        raise GridDataError("no_cells", _("文件中没有任何网格。"))
    if len(features) > limits.max_cells:
        raise GridDataError(
            "too_many_cells",
            _("网格数量（%(count)d 个）超过上限 %(limit)d 个。请分批导入。")
            % {"count": len(features), "limit": limits.max_cells},
        )

    checked: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = []
    first_index_of: dict[str, int] = {}
    total_vertices = 0
    for index, feature in enumerate(features):
        code, name, properties, raw_geometry = _feature_parts(feature, index)
        if code in first_index_of:
            raise GridDataError(
                "duplicate_code",
                _("第 %(number)d 个网格的编码 %(code)s 与第 %(first)d 个网格重复。每个网格的编码必须唯一。")
                % {"number": index + 1, "code": code, "first": first_index_of[code] + 1},
                index=index,
                cell_code=code,
            )
        first_index_of[code] = index
        geojson, vertices = _check_geometry(raw_geometry, _Where(index, code), limits)
        total_vertices += vertices
        if total_vertices > limits.max_total_vertices:
            raise GridDataError(
                "too_many_vertices",
                _("网格边界的顶点总数超过上限 %(limit)d 个（到第 %(number)d 个网格为止）。请简化边界后再导入。")
                % {"limit": limits.max_total_vertices, "number": index + 1},
                index=index,
                cell_code=code,
            )
        checked.append((code, name, properties, geojson))

    shapes = _shapes([geojson for _code, _name, _properties, geojson in checked])
    cells = [
        CellShape(code, name, properties, shape, geojson)
        for (code, name, properties, geojson), shape in zip(checked, shapes, strict=True)
    ]
    _check_validity(cells)
    _check_span(cells, limits)
    _check_overlaps(cells)
    return cells


def cell_from_geometry(
    code: str,
    name: str,
    geometry: Mapping[str, Any] | str,
    properties: Mapping[str, Any] | None = None,
    *,
    limits: GridLimits = DEFAULT_LIMITS,
) -> CellShape:
    """Rebuild one cell from a stored GeoJSON geometry (a dict or its JSON text), checking it as an upload is.

    Overlaps with other cells are not checked here: that needs the whole grid
    (``parse_grid_geojson`` or ``find_overlaps``).
    """
    raw = _decode(geometry, limits) if isinstance(geometry, str) else dict(geometry)
    feature = {"type": "Feature", "properties": {**(properties or {}), "code": code, "name": name}, "geometry": raw}
    clean_code, clean_name, clean_properties, raw_geometry = _feature_parts(feature, 0)
    geojson, _vertices = _check_geometry(raw_geometry, _Where(0, clean_code), limits)
    cell = CellShape(clean_code, clean_name, clean_properties, _shapes([geojson])[0], geojson)
    _check_validity([cell])
    return cell


def load_demo_grid() -> list[CellShape]:
    """The demo city's grid (示范市), shipped with the app."""
    return parse_grid_geojson(DEMO_GRID_PATH.read_bytes())


def feature_collection(cells: Iterable[CellShape]) -> dict[str, Any]:
    """The cells as a GeoJSON FeatureCollection, as ``parse_grid_geojson`` reads it back."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {**cell.properties, "code": cell.code, "name": cell.name},
                "geometry": cell.geojson,
            }
            for cell in cells
        ],
    }


def find_overlaps(
    cells: Sequence[CellShape], *, tolerance_m2: float = OVERLAP_TOLERANCE_M2
) -> list[tuple[str, str, float]]:
    """Pairs of cells that share more than ``tolerance_m2`` square metres, as ``(code_a, code_b, area_m2)``."""
    if len(cells) < 2:
        return []
    geometries = np.array([cell.geometry for cell in cells], dtype=object)
    tree = shapely.STRtree(geometries)
    left, right = tree.query(geometries, predicate="intersects")
    pairs = left < right
    left, right = left[pairs], right[pairs]
    # Neighbours share edges; only pairs whose interiors meet need the (costly) intersection.
    interiors_meet = shapely.relate_pattern(geometries[left], geometries[right], "T********")
    left, right = left[interiors_meet], right[interiors_meet]
    if not len(left):
        return []
    shared = shapely.intersection(geometries[left], geometries[right])
    # Areas are in square degrees; one degree of longitude shrinks with the cosine of latitude.
    latitudes = shapely.get_y(shapely.centroid(shared))
    areas_m2 = shapely.area(shared) * METRES_PER_DEGREE**2 * np.cos(np.radians(np.nan_to_num(latitudes)))
    found = [
        (cells[a].code, cells[b].code, float(area))
        for a, b, area in zip(left.tolist(), right.tolist(), areas_m2.tolist(), strict=True)
        if area > tolerance_m2
    ]
    return sorted(found, key=lambda pair: (-pair[2], pair[0], pair[1]))


@dataclass(frozen=True)
class _Where:
    """Which feature a problem belongs to, for messages."""

    index: int
    code: str | None

    def describe(self) -> str:
        if self.code:
            return _("第 %(number)d 个网格（编码 %(code)s）") % {"number": self.index + 1, "code": self.code}
        return _("第 %(number)d 个网格") % {"number": self.index + 1}

    def error(self, code: str, problem: str) -> GridDataError:
        return GridDataError(code, f"{self.describe()}{problem}", index=self.index, cell_code=self.code)


def _refuse_constant(name: str) -> float:
    raise GridDataError("invalid_json", _("文件中出现了 %(value)s，这不是合法的 JSON 数值。") % {"value": name})


def _decode(data: str | bytes, limits: GridLimits) -> Any:
    if isinstance(data, str):
        # A character takes at least one byte, so only a string near the limit needs encoding to be measured.
        size = len(data) if len(data) > limits.max_bytes else len(data.encode("utf-8", "surrogatepass"))
    elif isinstance(data, bytes | bytearray | memoryview):
        size = len(data)
    else:
        raise TypeError(f"GeoJSON must be str or bytes, not {type(data).__name__}")
    if size > limits.max_bytes:
        raise GridDataError(
            "file_too_large",
            _("文件大小超过上限 %(limit)s MB。请简化边界或分批导入。") % {"limit": f"{limits.max_bytes / 1048576:g}"},
        )
    if not isinstance(data, str):
        try:
            data = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise GridDataError(
                "invalid_json", _("文件不是 UTF-8 编码的文本。请用 UTF-8 编码另存后再导入。")
            ) from error
    try:
        return json.loads(data, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise GridDataError(
            "invalid_json",
            _("文件不是合法的 JSON：第 %(line)d 行第 %(column)d 列附近有错误。")
            % {"line": error.lineno, "column": error.colno},
        ) from error
    except RecursionError as error:
        raise GridDataError("invalid_json", _("文件的 JSON 嵌套层数过深。")) from error


def _check_crs(crs: Any) -> None:
    # RFC 7946 dropped "crs"; older tools still write it, and a projected CRS
    # (metres) would otherwise show up only as a confusing range error.
    if crs is None:
        return
    name = crs.get("properties", {}).get("name") if isinstance(crs, dict) else None
    if not isinstance(name, str) or name not in _WGS84_CRS_NAMES:
        raise GridDataError(
            "unsupported_crs",
            _("文件声明的坐标系（%(crs)s）不是 WGS84 经纬度。请转换为 WGS84（EPSG:4326）后再导入。")
            % {"crs": name if isinstance(name, str) else _("无法识别")},
        )


def _clean_text(value: Any, *, max_chars: int) -> str | None:
    """The stripped text, or None when it is not a usable single-line string."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > max_chars:
        return None
    # isprintable() is a fast, stricter test (it also refuses spaces other than " "); fall back to the real rule.
    if not text.isprintable() and any(unicodedata.category(char) in _REFUSED_CATEGORIES for char in text):
        return None
    return text


def _feature_parts(feature: Any, index: int) -> tuple[str, str, dict[str, Any], Any]:
    where = _Where(index, None)
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise where.error("not_feature", _("不是 GeoJSON 的 Feature（要素）对象。"))
    properties = feature.get("properties")
    if not isinstance(properties, dict):
        raise where.error("properties_missing", _("缺少 properties（属性），无法读取编码和名称。"))
    raw_code = properties.get("code")
    if raw_code is None or (isinstance(raw_code, str) and not raw_code.strip()):
        raise where.error("code_missing", _("缺少编码（属性 code）。"))
    code = _clean_text(raw_code, max_chars=MAX_CODE_CHARS)
    if code is None or not _CODE_PATTERN.match(code):
        shown = raw_code if isinstance(raw_code, str) else json.dumps(raw_code, ensure_ascii=False)[:MAX_CODE_CHARS]
        raise where.error(
            "code_invalid",
            _("的编码“%(code)s”不符合要求：只能使用字母、数字和“-”“_”“.”，以字母或数字开头，最长 %(limit)d 个字符。")
            % {"code": _printable(shown), "limit": MAX_CODE_CHARS},
        )
    where = _Where(index, code)
    raw_name = properties.get("name")
    if raw_name is None or (isinstance(raw_name, str) and not raw_name.strip()):
        raise where.error("name_missing", _("缺少名称（属性 name）。"))
    name = _clean_text(raw_name, max_chars=MAX_NAME_CHARS)
    if name is None:
        raise where.error(
            "name_invalid",
            _("的名称不符合要求：必须是不超过 %(limit)d 个字符的单行文字，不能含控制字符。")
            % {"limit": MAX_NAME_CHARS},
        )
    for optional in ("worker", "division"):
        value = properties.get(optional)
        if value is not None and (value != "" and _clean_text(value, max_chars=MAX_PROPERTY_CHARS) is None):
            raise where.error(
                "property_invalid",
                _("的属性 %(key)s 必须是不超过 %(limit)d 个字符的单行文字。")
                % {"key": optional, "limit": MAX_PROPERTY_CHARS},
            )
    clean_properties = dict(properties)
    clean_properties["code"] = code
    clean_properties["name"] = name
    for optional in ("worker", "division"):
        if isinstance(clean_properties.get(optional), str):
            clean_properties[optional] = clean_properties[optional].strip()
    return code, name, clean_properties, feature.get("geometry")


def _printable(text: str) -> str:
    return "".join(char if unicodedata.category(char) not in _REFUSED_CATEGORIES else "�" for char in text)


def _check_geometry(raw: Any, where: _Where, limits: GridLimits) -> tuple[dict[str, Any], int]:
    """Check a GeoJSON geometry's structure and coordinates; return it cleaned (2-D floats) and its vertex count."""
    if not isinstance(raw, dict) or raw.get("type") not in _POLYGON_TYPES:
        found = raw.get("type") if isinstance(raw, dict) else None
        raise where.error(
            "not_polygon",
            _("的几何类型是 %(found)s，网格只能是 Polygon（多边形）或 MultiPolygon（多多边形）。")
            % {"found": found if isinstance(found, str) else _("空")},
        )
    coordinates = raw.get("coordinates")
    counter = _VertexCounter(where, limits.max_vertices_per_cell)
    if raw["type"] == "Polygon":
        return {"type": "Polygon", "coordinates": _rings(coordinates, where, counter)}, counter.count
    if not isinstance(coordinates, list) or not coordinates:
        raise where.error("coordinates_malformed", _("的坐标格式不正确：MultiPolygon 至少要有一个多边形。"))
    polygons = [_rings(part, where, counter) for part in coordinates]
    return {"type": "MultiPolygon", "coordinates": polygons}, counter.count


def _shapes(geojsons: Sequence[dict[str, Any]]) -> list[CellGeometry]:
    """Shapely geometries for checked GeoJSON geometries, built in bulk (much faster than one by one)."""
    shapes: list[CellGeometry | None] = [None] * len(geojsons)
    for kind, geometry_type in (
        ("Polygon", shapely.GeometryType.POLYGON),
        ("MultiPolygon", shapely.GeometryType.MULTIPOLYGON),
    ):
        positions = [index for index, geojson in enumerate(geojsons) if geojson["type"] == kind]
        if not positions:
            continue
        polygons_of = [
            [geojsons[index]["coordinates"]] if kind == "Polygon" else geojsons[index]["coordinates"]
            for index in positions
        ]
        coordinates: list[list[float]] = []
        ring_offsets, polygon_offsets, geometry_offsets = [0], [0], [0]
        for polygons in polygons_of:
            for rings in polygons:
                for ring in rings:
                    coordinates.extend(ring)
                    ring_offsets.append(len(coordinates))
                polygon_offsets.append(len(ring_offsets) - 1)
            geometry_offsets.append(len(polygon_offsets) - 1)
        offsets = (
            (ring_offsets, polygon_offsets) if kind == "Polygon" else (ring_offsets, polygon_offsets, geometry_offsets)
        )
        built = shapely.from_ragged_array(
            geometry_type,
            np.asarray(coordinates, dtype=np.float64),
            tuple(np.asarray(level, dtype=np.int64) for level in offsets),
        )
        for index, shape in zip(positions, built.tolist(), strict=True):
            shapes[index] = shape
    return [shape for shape in shapes if shape is not None]


@dataclass
class _VertexCounter:
    where: _Where
    limit: int
    count: int = 0

    def add(self, vertices: int) -> None:
        self.count += vertices
        if self.count > self.limit:
            raise self.where.error(
                "too_many_vertices",
                _("的边界顶点超过上限 %(limit)d 个。请简化边界后再导入。") % {"limit": self.limit},
            )


def _rings(raw: Any, where: _Where, counter: _VertexCounter) -> list[list[list[float]]]:
    if not isinstance(raw, list) or not raw:
        raise where.error("coordinates_malformed", _("的坐标格式不正确：多边形至少要有一条外边界。"))
    rings = []
    for ring in raw:
        if not isinstance(ring, list):
            raise where.error("coordinates_malformed", _("的坐标格式不正确：边界应是坐标点的列表。"))
        counter.add(len(ring))
        positions = _positions(ring, where)
        if len(positions) < 4:
            raise where.error("ring_too_short", _("的边界至少需要 4 个坐标点（首尾两点相同）。"))
        if positions[0] != positions[-1]:
            raise where.error("ring_not_closed", _("的边界没有闭合：第一个点和最后一个点必须相同。"))
        rings.append(positions)
    return rings


_PLAIN_NUMBERS = frozenset({int, float})


def _positions(ring: list[Any], where: _Where) -> list[list[float]]:
    # The hot loop of a large upload: exact type checks (which also keep out bool) before the general ones.
    positions = []
    for raw in ring:
        if type(raw) is not list or not 2 <= len(raw) <= 3:
            raise _malformed_position(raw, where)
        for value in raw:
            if type(value) not in _PLAIN_NUMBERS and not _is_number(value):
                raise _malformed_position(raw, where)
        lon, lat = float(raw[0]), float(raw[1])
        # Comparisons with NaN are false, so this also refuses NaN and infinities.
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            raise where.error(
                "coordinates_out_of_range",
                _(
                    "的坐标 [%(lon)s, %(lat)s] 超出了 WGS84 经纬度的范围（经度 -180 到 180，纬度 -90 到 90）。"
                    "请检查经度和纬度是否写反，或数据是否使用了投影坐标（米）。"
                )
                % {"lon": f"{lon:g}", "lat": f"{lat:g}"},
            )
        # An optional third number (altitude) is allowed by GeoJSON and dropped here.
        positions.append([lon, lat])
    return positions


def _malformed_position(raw: Any, where: _Where) -> GridDataError:
    try:
        shown = json.dumps(raw, ensure_ascii=False)[:60]
    except (TypeError, ValueError):
        shown = type(raw).__name__
    return where.error(
        "coordinates_malformed",
        _("的坐标格式不正确：%(found)s 不是 [经度, 纬度]。") % {"found": _printable(shown)},
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_validity(cells: Sequence[CellShape]) -> None:
    geometries = np.array([cell.geometry for cell in cells], dtype=object)
    valid = shapely.is_valid(geometries)
    empty = shapely.area(geometries) <= 0.0
    for position in np.flatnonzero(~valid | empty).tolist():
        cell = cells[position]
        # Cells are checked in file order, so a cell's position is its feature index.
        where = _Where(position, cell.code)
        if valid[position]:
            raise where.error("polygon_invalid", _("的边界无效：%(reason)s。") % {"reason": _("面积为零")})
        raise where.error(
            "polygon_invalid",
            _("的边界无效：%(reason)s。请在 GIS 软件中修复后再导入。")
            % {"reason": _explain_validity(shapely.is_valid_reason(cell.geometry))},
        )


def _explain_validity(reason: str) -> str:
    match = _VALIDITY_REASON.match(reason)
    if match is None:
        return reason
    described = _validity_reasons().get(match["reason"], match["reason"])
    if match["x"] is None:
        return described
    try:
        lon, lat = float(match["x"]), float(match["y"])
    except ValueError:
        return described
    return _("%(reason)s（位置约在经度 %(lon).6f、纬度 %(lat).6f）") % {"reason": described, "lon": lon, "lat": lat}


def _check_span(cells: Sequence[CellShape], limits: GridLimits) -> None:
    min_lon, min_lat, max_lon, max_lat = _bounds(cells)
    span = max(max_lon - min_lon, max_lat - min_lat)
    if span > limits.max_span_degrees:
        raise GridDataError(
            "grid_too_wide",
            _(
                "网格的范围跨越了 %(span).1f 度，超过上限 %(limit)g 度，不像是一个城市的网格。"
                "请检查是否有网格的坐标写错了。"
            )
            % {"span": span, "limit": limits.max_span_degrees},
        )


def _check_overlaps(cells: Sequence[CellShape]) -> None:
    overlaps = find_overlaps(cells)
    if not overlaps:
        return
    listed = _("；").join(
        _("%(a)s 与 %(b)s 重叠约 %(area).1f 平方米") % {"a": a, "b": b, "area": area}
        for a, b, area in overlaps[:OVERLAPS_LISTED]
    )
    more = len(overlaps) - OVERLAPS_LISTED
    suffix = _("；另有 %(more)d 处重叠未列出") % {"more": more} if more > 0 else ""
    raise GridDataError(
        "cells_overlap",
        _("网格之间不能重叠，否则无法确定上报点归哪个网格：%(listed)s%(suffix)s。")
        % {"listed": listed, "suffix": suffix},
        cell_code=overlaps[0][0],
        overlaps=overlaps,
    )


def _bounds(cells: Iterable[CellShape]) -> tuple[float, float, float, float]:
    boxes = shapely.bounds(np.array([cell.geometry for cell in cells], dtype=object))
    return (
        float(boxes[:, 0].min()),
        float(boxes[:, 1].min()),
        float(boxes[:, 2].max()),
        float(boxes[:, 3].max()),
    )


# --- locating a point ---


def check_coordinates(lon: Any, lat: Any) -> tuple[float, float]:
    """``(lon, lat)`` as floats, or ``InvalidCoordinates`` when they are not a point on Earth."""
    if not (type(lon) in _PLAIN_NUMBERS or _is_real(lon)) or not (type(lat) in _PLAIN_NUMBERS or _is_real(lat)):
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


class GridLocator:
    """Finds the grid cell for a point; build it once per grid and share it (it is read-only).

    Geometry is kept in a local equirectangular projection in metres centred
    on the grid, so that tolerances and the nearest cell are measured in
    metres; the distance reported for a point outside every cell is the
    great-circle distance to that cell's nearest edge.
    """

    def __init__(self, cells: Iterable[CellShape], *, max_distance_m: float | None = DEFAULT_MAX_DISTANCE_M) -> None:
        # Sorted by code, so that the lowest index among candidates is the lowest code.
        ordered = sorted(cells, key=lambda cell: cell.code)
        if not ordered:
            raise ValueError("GridLocator needs at least one cell")
        codes = [cell.code for cell in ordered]
        if len(set(codes)) != len(codes):
            raise ValueError("GridLocator needs distinct cell codes")
        if max_distance_m is not None and not (math.isfinite(max_distance_m) and max_distance_m >= 0):
            raise ValueError("max_distance_m must be a non-negative number or None")
        self.max_distance_m = max_distance_m
        self._cells = ordered
        self._by_code = {cell.code: cell for cell in ordered}
        min_lon, min_lat, max_lon, max_lat = _bounds(ordered)
        self._origin_lon = (min_lon + max_lon) / 2
        self._origin_lat = (min_lat + max_lat) / 2
        self._x_per_degree = METRES_PER_DEGREE * math.cos(math.radians(self._origin_lat))
        self._y_per_degree = METRES_PER_DEGREE
        projected = shapely.transform(np.array([cell.geometry for cell in ordered], dtype=object), self._project_array)
        shapely.prepare(projected)
        self._geometries = projected
        self._boundaries = shapely.boundary(projected)
        self._tree = shapely.STRtree(projected)

    def __len__(self) -> int:
        return len(self._cells)

    @property
    def cells(self) -> Sequence[CellShape]:
        """The cells, in code order."""
        return tuple(self._cells)

    def cell(self, code: str) -> CellShape:
        """The cell with this code (``KeyError`` if there is none)."""
        return self._by_code[code]

    def locate(self, lon: float, lat: float) -> Location | None:
        """The cell for a WGS84 point, or None when it lies farther than ``max_distance_m`` from every cell.

        Inside a cell: that cell (``how="inside"``). On an edge (within
        ``BORDER_TOLERANCE_M``): the touching cell with the lowest code
        (``"border"``). Outside every cell: the nearest one, ties going to the
        lowest code (``"nearest"``). Raises ``InvalidCoordinates`` for
        coordinates that are not a point on Earth.
        """
        lon, lat = check_coordinates(lon, lat)
        point = Point(*self._project(lon, lat))
        # The common case first: the cells the point touches exactly (usually one), tested one by one.
        touching = self._tree.query(point, predicate="intersects")
        for index in sorted(touching.tolist()):
            if self._geometries[index].contains_properly(point) and (
                self._boundaries[index].distance(point) > BORDER_TOLERANCE_M
            ):
                return Location(self._cells[index].code, "inside", 0.0)
        # On an edge or within the tolerance of one: every cell that close is a candidate.
        near = self._tree.query(point, predicate="dwithin", distance=BORDER_TOLERANCE_M)
        if len(near):
            return Location(self._cells[int(near.min())].code, "border", 0.0)
        return self._nearest(point, lon, lat)

    def _nearest(self, point: Point, lon: float, lat: float) -> Location | None:
        # Projected distances rank the cells; the great-circle distance to the winner is what is reported.
        nearest, distances = self._tree.query_nearest(point, return_distance=True, all_matches=True)
        closest = float(distances.min())
        ties = self._tree.query(point, predicate="dwithin", distance=closest + BORDER_TOLERANCE_M)
        index = int(ties.min()) if len(ties) else int(nearest.min())
        edge = shapely.get_coordinates(shapely.shortest_line(self._geometries[index], point))[0]
        edge_lon, edge_lat = self._unproject(float(edge[0]), float(edge[1]))
        metres = distance_m(lon, lat, edge_lon, edge_lat)
        if self.max_distance_m is not None and metres > self.max_distance_m:
            return None
        return Location(self._cells[index].code, "nearest", metres)

    def _project(self, lon: float, lat: float) -> tuple[float, float]:
        return (lon - self._origin_lon) * self._x_per_degree, (lat - self._origin_lat) * self._y_per_degree

    def _project_array(self, coordinates: np.ndarray[Any, np.dtype[np.float64]]) -> np.ndarray[Any, Any]:
        projected = np.empty_like(coordinates)
        projected[:, 0] = (coordinates[:, 0] - self._origin_lon) * self._x_per_degree
        projected[:, 1] = (coordinates[:, 1] - self._origin_lat) * self._y_per_degree
        return projected

    def _unproject(self, x: float, y: float) -> tuple[float, float]:
        return self._origin_lon + x / self._x_per_degree, self._origin_lat + y / self._y_per_degree


# --- offline map ---

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
    min_lon, min_lat, max_lon, max_lat = _bounds(cells)
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
    a marker. Every text from the data is escaped, so the result is safe to
    put in a page as it is.
    """
    if point is not None:
        point = check_coordinates(*point)
    projection = svg_projection(cells, width=width, include=[point] if point else ())
    highlighted = {highlight} if isinstance(highlight, str) else set(highlight or ())
    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" class="grid-map"'
        f' viewBox="0 0 {_number(projection.width)} {_number(projection.height)}"'
        f' width="{_number(projection.width)}" height="{_number(projection.height)}"'
        f' role="group" aria-label="{_escape(_("网格地图"))}" data-projection="equirectangular"'
        f' data-min-lon="{projection.min_lon!r}" data-max-lat="{projection.max_lat!r}"'
        f' data-scale="{projection.scale!r}" data-lon-factor="{projection.lon_factor!r}">',
        f"<title>{_escape(_('网格地图'))}</title>",
        '<g class="grid-cells" fill="#eef3fb" stroke="#4a6fa5" stroke-width="1"'
        ' stroke-linejoin="round" fill-rule="evenodd">',
    ]
    # Highlighted cells come last so that no neighbour's outline is drawn over theirs.
    for cell in sorted(cells, key=lambda cell: cell.code in highlighted):
        chosen = cell.code in highlighted
        attributes = [
            f'class="grid-cell{" grid-cell--highlight" if chosen else ""}"',
            f'd="{_path_data(cell.geometry, projection)}"',
            f'data-code="{_escape(cell.code)}"',
        ]
        if cell.division:
            attributes.append(f'data-division="{_escape(cell.division)}"')
        if chosen:
            attributes.append('fill="#ffe08a" stroke="#a05a00" stroke-width="2.5"')
        title = _("%(name)s（%(code)s）") % {"name": cell.name, "code": cell.code}
        parts.append(f"<path {' '.join(attributes)}><title>{_escape(title)}</title></path>")
    parts.append("</g>")
    if labels:
        parts.append(
            '<g class="grid-labels" aria-hidden="true" font-size="10" text-anchor="middle"'
            ' fill="#2d3e57" pointer-events="none">'
        )
        anchors = shapely.point_on_surface(np.array([cell.geometry for cell in cells], dtype=object))
        for cell, anchor in zip(cells, anchors, strict=True):
            x, y = projection.to_svg_xy(anchor.x, anchor.y)
            parts.append(f'<text x="{_number(x)}" y="{_number(y)}">{_escape(cell.code)}</text>')
        parts.append("</g>")
    if point is not None:
        x, y = projection.to_svg_xy(*point)
        parts.append(
            f'<circle class="grid-point" cx="{_number(x)}" cy="{_number(y)}" r="6"'
            ' fill="#d93025" stroke="#ffffff" stroke-width="2">'
            f"<title>{_escape(_('上报位置'))}</title></circle>"
        )
    parts.append("</svg>")
    # Every piece above is either fixed markup or passed through _escape.
    return mark_safe("".join(parts))  # noqa: S308


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


def _escape(text: str) -> str:
    return html.escape(_XML_ILLEGAL.sub("", text), quote=True)
