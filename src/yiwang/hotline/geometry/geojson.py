"""Reading grid cells from GeoJSON, refusing anything that would make routing ambiguous or unsafe."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from django.utils.translation import gettext as _

from yiwang.hotline.geometry.checks import check_overlaps, check_span, check_validity
from yiwang.hotline.geometry.shapes import PLAIN_NUMBERS, CellGeometry, CellShape, GridDataError, Where

DEMO_GRID_PATH = Path(__file__).resolve().parent.parent / "data" / "demo_grid.geojson"

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

_CODE_PATTERN = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_.\-]*\Z")
# Control, format (bidi overrides), surrogate and line/paragraph separators: they
# have no place in a cell's name and some can disguise text on screen.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_WGS84_CRS_NAMES = frozenset(
    {"urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:OGC::CRS84", "urn:ogc:def:crs:EPSG::4326", "EPSG:4326"}
)
_POLYGON_TYPES = frozenset({"Polygon", "MultiPolygon"})


@dataclass(frozen=True)
class GridLimits:
    """Size limits on grid data; the defaults suit one city."""

    max_bytes: int = MAX_BYTES
    max_cells: int = MAX_CELLS
    max_vertices_per_cell: int = MAX_VERTICES_PER_CELL
    max_total_vertices: int = MAX_TOTAL_VERTICES
    max_span_degrees: float = MAX_GRID_SPAN_DEGREES


DEFAULT_LIMITS = GridLimits()


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
        geojson, vertices = _check_geometry(raw_geometry, Where(index, code), limits)
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
    check_validity(cells)
    check_span(cells, limits.max_span_degrees)
    check_overlaps(cells)
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
    geojson, _vertices = _check_geometry(raw_geometry, Where(0, clean_code), limits)
    cell = CellShape(clean_code, clean_name, clean_properties, _shapes([geojson])[0], geojson)
    check_validity([cell])
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
    where = Where(index, None)
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise where.error("not_feature", _("不是 GeoJSON 的 Feature（要素）对象。"))
    properties = feature.get("properties")
    if not isinstance(properties, dict):
        raise where.error("properties_missing", _("缺少 properties（属性），无法读取编码和名称。"))
    code = _cell_code(properties.get("code"), where)
    # From here on, messages name the cell by its code.
    where = Where(index, code)
    name = _cell_name(properties.get("name"), where)
    return code, name, _clean_properties(properties, code, name, where), feature.get("geometry")


def _cell_code(raw_code: Any, where: Where) -> str:
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
    return code


def _cell_name(raw_name: Any, where: Where) -> str:
    if raw_name is None or (isinstance(raw_name, str) and not raw_name.strip()):
        raise where.error("name_missing", _("缺少名称（属性 name）。"))
    name = _clean_text(raw_name, max_chars=MAX_NAME_CHARS)
    if name is None:
        raise where.error(
            "name_invalid",
            _("的名称不符合要求：必须是不超过 %(limit)d 个字符的单行文字，不能含控制字符。")
            % {"limit": MAX_NAME_CHARS},
        )
    return name


def _clean_properties(properties: dict[str, Any], code: str, name: str, where: Where) -> dict[str, Any]:
    """The feature's properties with the cleaned code and name, and ``worker``/``division`` checked and stripped."""
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
    return clean_properties


def _printable(text: str) -> str:
    return "".join(char if unicodedata.category(char) not in _REFUSED_CATEGORIES else "�" for char in text)


def _check_geometry(raw: Any, where: Where, limits: GridLimits) -> tuple[dict[str, Any], int]:
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
    where: Where
    limit: int
    count: int = 0

    def add(self, vertices: int) -> None:
        self.count += vertices
        if self.count > self.limit:
            raise self.where.error(
                "too_many_vertices",
                _("的边界顶点超过上限 %(limit)d 个。请简化边界后再导入。") % {"limit": self.limit},
            )


def _rings(raw: Any, where: Where, counter: _VertexCounter) -> list[list[list[float]]]:
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


def _positions(ring: list[Any], where: Where) -> list[list[float]]:
    # The hot loop of a large upload: exact type checks (which also keep out bool) before the general ones.
    positions = []
    for raw in ring:
        if type(raw) is not list or not 2 <= len(raw) <= 3:
            raise _malformed_position(raw, where)
        for value in raw:
            if type(value) not in PLAIN_NUMBERS and not _is_number(value):
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


def _malformed_position(raw: Any, where: Where) -> GridDataError:
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
