"""Grid cell geometry: GeoJSON loading and every refusal, point location, and the offline SVG map."""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from decimal import Decimal
from typing import Any

import pytest
import shapely
from django.utils.safestring import SafeString
from shapely.geometry import Polygon

from yiwang.hotline.geometry import checks, geojson, shapes, svg
from yiwang.hotline.geometry.geojson import GridLimits
from yiwang.hotline.geometry.locate import GridLocator, Location
from yiwang.hotline.geometry.shapes import CellShape, GridDataError, InvalidCoordinates

SVG = "{http://www.w3.org/2000/svg}"
# The test grids sit where the demo city is: about 102 m per 0.001 degree of longitude here.
LON, LAT = 113.30, 23.10
STEP = 0.01


# --- building GeoJSON for the tests ---


def ring(west: float, south: float, east: float, north: float) -> list[list[float]]:
    return [[west, south], [east, south], [east, north], [west, north], [west, south]]


def square(code: Any, col: int = 0, row: int = 0, *, name: Any = None, **properties: Any) -> dict[str, Any]:
    """A feature for the cell at (col, row) of a lattice of STEP-degree squares from (LON, LAT)."""
    west, south = LON + col * STEP, LAT + row * STEP
    return feature(
        {"type": "Polygon", "coordinates": [ring(west, south, west + STEP, south + STEP)]},
        code=code,
        name=f"第{code}网格" if name is None else name,
        **properties,
    )


def feature(geometry_object: Any, **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": properties, "geometry": geometry_object}


def collection(*features: Any, **members: Any) -> str:
    return json.dumps({"type": "FeatureCollection", "features": list(features), **members}, ensure_ascii=False)


def two_by_two() -> list[CellShape]:
    """A, B on the bottom row (west to east), C, D above them."""
    cells = [square("A", 0, 0), square("B", 1, 0), square("C", 0, 1), square("D", 1, 1)]
    return geojson.parse_grid_geojson(collection(*cells))


def refused(data: str | bytes, *, limits: GridLimits = geojson.DEFAULT_LIMITS) -> GridDataError:
    with pytest.raises(GridDataError) as caught:
        geojson.parse_grid_geojson(data, limits=limits)
    assert caught.value.message  # always something to tell the uploader
    return caught.value


# --- loading: what is accepted ---


def test_a_simple_grid_loads_in_file_order_with_its_properties() -> None:
    cells = geojson.parse_grid_geojson(
        collection(
            square("B-2", 1, 0, name=" 和平街道第二网格 ", worker="grid-worker", division="示范区", households=320),
            square("A-1", 0, 0, name="和平街道第一网格"),
        )
    )
    assert [cell.code for cell in cells] == ["B-2", "A-1"]
    first = cells[0]
    assert first.name == "和平街道第二网格"  # stripped
    assert first.worker == "grid-worker"
    assert first.division == "示范区"
    assert first.properties["households"] == 320
    assert cells[1].worker is None and cells[1].division is None
    assert first.geometry.geom_type == "Polygon"
    assert first.geometry.area == pytest.approx(STEP * STEP)
    assert first.geojson == square("B-2", 1, 0)["geometry"]


def test_bytes_with_a_byte_order_mark_and_altitudes_are_accepted() -> None:
    with_altitude = [[lon, lat, 12.5] for lon, lat in ring(LON, LAT, LON + STEP, LAT + STEP)]
    data = "\ufeff" + collection(feature({"type": "Polygon", "coordinates": [with_altitude]}, code="A", name="甲"))
    (cell,) = geojson.parse_grid_geojson(data.encode("utf-8"))
    assert cell.geojson["coordinates"][0][0] == [LON, LAT]  # altitude dropped


def test_multipolygons_and_holes_with_a_cell_inside_the_hole() -> None:
    outer = ring(LON, LAT, LON + 3 * STEP, LAT + 3 * STEP)
    hole = ring(LON + STEP, LAT + STEP, LON + 2 * STEP, LAT + 2 * STEP)[::-1]
    island = {
        "type": "MultiPolygon",
        "coordinates": [
            [ring(LON + 4 * STEP, LAT, LON + 5 * STEP, LAT + STEP)],
            [ring(LON + 6 * STEP, LAT, LON + 7 * STEP, LAT + STEP)],
        ],
    }
    cells = geojson.parse_grid_geojson(
        collection(
            feature({"type": "Polygon", "coordinates": [outer, hole]}, code="RING", name="环形网格"),
            square("CORE", 1, 1, name="中心网格"),
            feature(island, code="ISLAND", name="两块的网格"),
        )
    )
    assert [cell.geometry.geom_type for cell in cells] == ["Polygon", "Polygon", "MultiPolygon"]
    assert checks.find_overlaps(cells) == []
    assert GridLocator(cells).locate(LON + 1.5 * STEP, LAT + 1.5 * STEP) == Location("CORE", "inside", 0.0)


def test_wgs84_crs_member_is_accepted() -> None:
    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}
    assert len(geojson.parse_grid_geojson(collection(square("A"), crs=crs))) == 1


def test_a_sliver_below_the_tolerance_is_not_an_overlap() -> None:
    # B reaches 1e-9 degrees (about 0.1 mm) into A along a 1.1 km edge: about 0.1 square metres.
    sliver = 1e-9
    b = feature(
        {"type": "Polygon", "coordinates": [ring(LON + STEP - sliver, LAT, LON + 2 * STEP, LAT + STEP)]},
        code="B",
        name="乙",
    )
    cells = geojson.parse_grid_geojson(collection(square("A"), b))
    assert len(cells) == 2


def test_export_reads_back_to_the_same_cells() -> None:
    cells = two_by_two()
    again = geojson.parse_grid_geojson(json.dumps(geojson.feature_collection(cells)))
    assert again == cells
    assert [cell.geometry.equals(other.geometry) for cell, other in zip(cells, again, strict=True)] == [True] * 4


def test_a_stored_geometry_is_rebuilt_and_checked() -> None:
    (original,) = geojson.parse_grid_geojson(collection(square("A", division="示范区")))
    rebuilt = geojson.cell_from_geometry("A", "第A网格", json.dumps(original.geojson), {"division": "示范区"})
    assert rebuilt == original
    assert geojson.cell_from_geometry("A", "第A网格", original.geojson).geometry.equals(original.geometry)
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    with pytest.raises(GridDataError) as caught:
        geojson.cell_from_geometry("A", "甲", bowtie)
    assert caught.value.code == "polygon_invalid"


# --- loading: every refusal ---


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ("{", "invalid_json"),
        ("", "invalid_json"),
        ('{"type": "FeatureCollection", "features": [NaN]}', "invalid_json"),
        ('{"type": "FeatureCollection", "features": [], "x": Infinity}', "invalid_json"),
        (b"\xff\xfe{}", "invalid_json"),
        ("[" * 100_000 + "]" * 100_000, "invalid_json"),
        ("[]", "not_feature_collection"),
        ('"FeatureCollection"', "not_feature_collection"),
        (json.dumps(square("A")), "not_feature_collection"),
        (json.dumps({"type": "Polygon", "coordinates": [ring(0, 0, 1, 1)]}), "not_feature_collection"),
        ('{"type": "FeatureCollection"}', "features_missing"),
        ('{"type": "FeatureCollection", "features": {}}', "features_missing"),
        ('{"type": "FeatureCollection", "features": []}', "no_cells"),
    ],
)
def test_documents_that_are_not_a_grid_are_refused(data: str | bytes, code: str) -> None:
    assert refused(data).code == code


def test_invalid_json_says_where() -> None:
    error = refused('{\n"type": "FeatureCollection",\n"features": [,]}')
    assert "第 3 行" in error.message


@pytest.mark.parametrize(
    ("bad_feature", "code"),
    [
        ("not a feature", "not_feature"),
        ({"type": "Polygon", "coordinates": [ring(0, 0, 1, 1)]}, "not_feature"),
        ({"type": "Feature", "geometry": None}, "properties_missing"),
        ({"type": "Feature", "properties": None, "geometry": None}, "properties_missing"),
        (square(None), "code_missing"),
        (square("   "), "code_missing"),
        (square("B 1"), "code_invalid"),
        (square("<script>"), "code_invalid"),
        (square("-B"), "code_invalid"),
        (square("B" * 65), "code_invalid"),
        (square(12), "code_invalid"),
        (square("网格1"), "code_invalid"),
        (square("B", name=""), "name_missing"),
        (feature(square("B")["geometry"], code="B"), "name_missing"),
        (square("B", name="第一\n网格"), "name_invalid"),
        (square("B", name="abc\u202edef"), "name_invalid"),
        (square("B", name="长" * 101), "name_invalid"),
        (square("B", name=["甲"]), "name_invalid"),
        (square("B", worker=42), "property_invalid"),
        (square("B", division={"name": "示范区"}), "property_invalid"),
    ],
)
def test_features_without_a_usable_code_or_name_are_refused(bad_feature: Any, code: str) -> None:
    error = refused(collection(square("A"), bad_feature))
    assert error.code == code
    assert error.index == 1
    assert "第 2 个网格" in error.message


def test_a_refusal_names_the_cell_by_number_and_code() -> None:
    bad = feature({"type": "Point", "coordinates": [LON, LAT]}, code="SF-01-002", name="乙")
    error = refused(collection(square("SF-01-001"), bad))
    assert (error.code, error.index, error.cell_code) == ("not_polygon", 1, "SF-01-002")
    assert "第 2 个网格（编码 SF-01-002）" in error.message
    assert "Point" in error.message


def test_duplicate_codes_are_refused_naming_both_cells() -> None:
    error = refused(collection(square("A", 0), square("B", 1), square(" A ", 2)))
    assert (error.code, error.index, error.cell_code) == ("duplicate_code", 2, "A")
    assert "第 3 个网格" in error.message and "第 1 个网格" in error.message


@pytest.mark.parametrize(
    "bad_geometry",
    [
        None,
        {"type": "Point", "coordinates": [LON, LAT]},
        {"type": "LineString", "coordinates": [[LON, LAT], [LON + STEP, LAT]]},
        {"type": "GeometryCollection", "geometries": [{"type": "Polygon", "coordinates": [ring(0, 0, 1, 1)]}]},
        {"type": "polygon", "coordinates": [ring(0, 0, 1, 1)]},
        "Polygon",
    ],
)
def test_geometries_other_than_polygons_are_refused(bad_geometry: Any) -> None:
    error = refused(collection(feature(bad_geometry, code="A", name="甲")))
    assert (error.code, error.cell_code) == ("not_polygon", "A")


@pytest.mark.parametrize(
    ("coordinates", "code"),
    [
        (None, "coordinates_malformed"),
        ([], "coordinates_malformed"),
        ("113,23", "coordinates_malformed"),
        ([[["113.3", "23.1"], [113.31, 23.1], [113.31, 23.11], ["113.3", "23.1"]]], "coordinates_malformed"),
        ([[[True, 23.1], [113.31, 23.1], [113.31, 23.11], [True, 23.1]]], "coordinates_malformed"),
        ([[[113.3, 23.1, 0, 0], [113.31, 23.1], [113.31, 23.11], [113.3, 23.1]]], "coordinates_malformed"),
        ([[[113.3], [113.31, 23.1], [113.31, 23.11], [113.3]]], "coordinates_malformed"),
        ([[113.3, 23.1]], "coordinates_malformed"),
        ([[[113.3, 23.1], [113.31, 23.1], [113.3, 23.1]]], "ring_too_short"),
        ([[[113.3, 23.1], [113.31, 23.1], [113.31, 23.11], [113.3, 23.11]]], "ring_not_closed"),
        ([ring(200, 23.1, 201, 23.2)], "coordinates_out_of_range"),
        ([ring(113.3, 95, 113.4, 96)], "coordinates_out_of_range"),
        ([ring(-181, 23.1, -180, 23.2)], "coordinates_out_of_range"),
    ],
)
def test_malformed_and_out_of_range_coordinates_are_refused(coordinates: Any, code: str) -> None:
    error = refused(collection(feature({"type": "Polygon", "coordinates": coordinates}, code="A", name="甲")))
    assert (error.code, error.cell_code) == (code, "A")


def test_swapped_longitude_and_latitude_is_refused_with_a_hint() -> None:
    swapped = [[lat, lon] for lon, lat in ring(LON, LAT, LON + STEP, LAT + STEP)]
    error = refused(collection(feature({"type": "Polygon", "coordinates": [swapped]}, code="A", name="甲")))
    assert error.code == "coordinates_out_of_range"
    assert "写反" in error.message


def test_an_overflowing_number_is_out_of_range_not_infinity() -> None:
    text = collection(square("A")).replace(str(LON), "1e400", 1)
    assert refused(text).code == "coordinates_out_of_range"


def test_an_empty_multipolygon_is_refused() -> None:
    error = refused(collection(feature({"type": "MultiPolygon", "coordinates": []}, code="A", name="甲")))
    assert error.code == "coordinates_malformed"


@pytest.mark.parametrize(
    ("rings", "reason"),
    [
        # a bow tie: the boundary crosses itself
        ([[[LON, LAT], [LON + STEP, LAT + STEP], [LON + STEP, LAT], [LON, LAT + STEP], [LON, LAT]]], "自相交"),
        # a hole outside its shell
        ([ring(LON, LAT, LON + STEP, LAT + STEP), ring(LON + 2 * STEP, LAT, LON + 3 * STEP, LAT + STEP)], "洞"),
        # all points on one line
        ([[[LON, LAT], [LON + STEP, LAT], [LON + 2 * STEP, LAT], [LON, LAT]]], ""),
    ],
)
def test_invalid_polygons_are_refused_with_the_reason_in_chinese(rings: Any, reason: str) -> None:
    error = refused(collection(square("A"), feature({"type": "Polygon", "coordinates": rings}, code="B", name="乙")))
    assert (error.code, error.index, error.cell_code) == ("polygon_invalid", 1, "B")
    assert reason in error.message
    assert "Self-intersection" not in error.message


def test_overlapping_multipolygon_parts_are_invalid() -> None:
    first = [ring(LON, LAT, LON + 2 * STEP, LAT + STEP)]
    second = [ring(LON + STEP, LAT, LON + 3 * STEP, LAT + STEP)]
    parts = {"type": "MultiPolygon", "coordinates": [first, second]}
    assert refused(collection(feature(parts, code="A", name="甲"))).code == "polygon_invalid"


def test_overlapping_cells_are_refused_listing_every_pair() -> None:
    half_over = feature(
        {"type": "Polygon", "coordinates": [ring(LON + STEP / 2, LAT, LON + 1.5 * STEP, LAT + STEP)]},
        code="OVER",
        name="越界网格",
    )
    small = ring(LON + 0.1 * STEP, LAT + 0.1 * STEP, LON + 0.2 * STEP, LAT + 0.2 * STEP)
    inside = feature(
        {"type": "Polygon", "coordinates": [small]},
        code="SMALL",
        name="嵌套网格",
    )
    error = refused(collection(square("A", 0), square("B", 1), square("C", 3), half_over, inside))
    assert error.code == "cells_overlap"
    pairs = {tuple(sorted((a, b))): area for a, b, area in error.overlaps}
    assert set(pairs) == {("A", "OVER"), ("B", "OVER"), ("A", "SMALL")}
    # Half a 0.01-degree square at latitude 23.1: 0.005 * 0.01 degrees squared, cos-scaled.
    metres_per_degree = shapes.METRES_PER_DEGREE
    expected = 0.005 * 0.01 * metres_per_degree**2 * math.cos(math.radians(LAT + STEP / 2))
    assert pairs[("A", "OVER")] == pytest.approx(expected, rel=1e-3)
    assert "A 与 OVER" in error.message or "OVER 与 A" in error.message
    assert "SMALL" in error.message


def test_many_overlaps_are_summarised_in_the_message() -> None:
    stack = [square(f"S{n}", 0, 0) for n in range(5)]  # five copies of one square: ten pairs
    error = refused(collection(*stack))
    assert len(error.overlaps) == 10
    assert "另有 5 处重叠未列出" in error.message


def test_touching_cells_are_not_overlaps() -> None:
    assert checks.find_overlaps(two_by_two()) == []


def test_a_projected_crs_is_refused() -> None:
    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}}
    error = refused(collection(square("A"), crs=crs))
    assert error.code == "unsupported_crs"
    assert "EPSG::3857" in error.message
    assert refused(collection(square("A"), crs="EPSG:4326")).code == "unsupported_crs"


def test_a_grid_spanning_too_far_is_refused() -> None:
    stray = feature({"type": "Polygon", "coordinates": [ring(80, 40, 80.01, 40.01)]}, code="STRAY", name="错位网格")
    assert refused(collection(square("A"), stray)).code == "grid_too_wide"


def test_size_limits() -> None:
    four = collection(square("A", 0), square("B", 1), square("C", 2), square("D", 3))
    assert refused(four, limits=GridLimits(max_cells=3)).code == "too_many_cells"
    assert refused(four, limits=GridLimits(max_total_vertices=19)).code == "too_many_vertices"
    assert len(geojson.parse_grid_geojson(four, limits=GridLimits(max_total_vertices=20))) == 4
    error = refused(four, limits=GridLimits(max_vertices_per_cell=4))
    assert (error.code, error.index) == ("too_many_vertices", 0)
    assert refused(four, limits=GridLimits(max_bytes=len(four.encode()) - 1)).code == "file_too_large"
    assert refused(four.encode(), limits=GridLimits(max_bytes=100)).code == "file_too_large"
    # The limit is in bytes, not characters: each of these Chinese characters takes three.
    wide = collection(square("A", name="网" * 100))
    size = len(wide.encode("utf-8"))
    assert size > len(wide) + 150
    assert refused(wide, limits=GridLimits(max_bytes=size - 1)).code == "file_too_large"
    assert len(geojson.parse_grid_geojson(wide, limits=GridLimits(max_bytes=size))) == 1


def test_default_limits_refuse_a_huge_upload_before_parsing_it() -> None:
    huge = b" " * (geojson.MAX_BYTES + 1)
    assert refused(huge).code == "file_too_large"


def test_input_of_the_wrong_python_type_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        geojson.parse_grid_geojson({"type": "FeatureCollection"})  # type: ignore[arg-type]


# --- the demo grid ---


def test_demo_grid_tiles_one_contiguous_area_without_overlaps() -> None:
    cells = geojson.load_demo_grid()
    assert 12 <= len(cells) <= 20
    assert all(re.fullmatch(r"SF-\d{2}-\d{3}", cell.code) for cell in cells)
    assert len({cell.code for cell in cells}) == len(cells)
    assert all(cell.name.endswith("网格") for cell in cells)
    assert 2 <= len({cell.division for cell in cells}) <= 3
    assert "示范区" in {cell.division for cell in cells}  # the district the seed catalogue knows
    assert any(cell.worker == "grid-worker" for cell in cells)  # the demo grid worker account
    assert checks.find_overlaps(cells, tolerance_m2=0.0) == []
    union = shapely.union_all([cell.geometry for cell in cells])
    assert isinstance(union, Polygon)  # one piece
    assert len(union.interiors) == 0  # no gaps inside
    assert union.area == pytest.approx(sum(cell.geometry.area for cell in cells))
    west, south, east, north = union.bounds
    assert 113.0 < west < east < 113.5 and 22.9 < south < north < 23.3


def test_every_demo_cell_locates_its_own_interior() -> None:
    cells = geojson.load_demo_grid()
    locator = GridLocator(cells)
    for cell in cells:
        anchor = cell.geometry.point_on_surface()
        assert locator.locate(anchor.x, anchor.y) == Location(cell.code, "inside", 0.0)


# --- locating points ---


def test_a_point_inside_a_cell() -> None:
    locator = GridLocator(two_by_two())
    assert locator.locate(LON + 0.5 * STEP, LAT + 0.5 * STEP) == Location("A", "inside", 0.0)
    assert locator.locate(LON + 1.5 * STEP, LAT + 1.5 * STEP) == Location("D", "inside", 0.0)
    assert len(locator) == 4
    assert locator.cell("C").name == "第C网格"


def test_a_point_just_inside_an_edge_is_inside() -> None:
    locator = GridLocator(two_by_two())
    # 1e-6 degrees is about 10 cm: well beyond the border tolerance.
    assert locator.locate(LON + STEP - 1e-6, LAT + 0.5 * STEP) == Location("A", "inside", 0.0)
    assert locator.locate(LON + STEP + 1e-6, LAT + 0.5 * STEP) == Location("B", "inside", 0.0)


def test_a_point_on_a_shared_border_goes_to_the_lowest_code() -> None:
    cells = two_by_two()
    for ordering in (cells, cells[::-1]):
        locator = GridLocator(ordering)
        assert locator.locate(LON + STEP, LAT + 0.5 * STEP) == Location("A", "border", 0.0)  # A|B
        assert locator.locate(LON + 1.5 * STEP, LAT + STEP) == Location("B", "border", 0.0)  # B|D
        assert locator.locate(LON + STEP, LAT + STEP) == Location("A", "border", 0.0)  # the corner of all four


def test_a_point_on_the_outer_edge_is_on_that_cells_border() -> None:
    locator = GridLocator(two_by_two())
    assert locator.locate(LON + 1.5 * STEP, LAT + 2 * STEP) == Location("D", "border", 0.0)


def test_a_point_outside_goes_to_the_nearest_cell_with_its_distance() -> None:
    locator = GridLocator(two_by_two())
    location = locator.locate(LON + 2 * STEP + 0.003, LAT + 1.5 * STEP)
    assert location is not None
    assert (location.code, location.how) == ("D", "nearest")
    expected = 0.003 * shapes.METRES_PER_DEGREE * math.cos(math.radians(LAT + 1.5 * STEP))
    assert location.distance_m == pytest.approx(expected, rel=1e-6)
    assert 300 < location.distance_m < 310
    south = locator.locate(LON + 0.5 * STEP, LAT - 0.002)
    assert south is not None and south.code == "A"
    assert south.distance_m == pytest.approx(0.002 * shapes.METRES_PER_DEGREE, rel=1e-6)


def test_a_point_off_a_corner_measures_to_the_corner() -> None:
    locator = GridLocator(two_by_two())
    location = locator.locate(LON - 0.003, LAT - 0.004)
    assert location is not None and location.code == "A"
    assert location.distance_m == pytest.approx(shapes.distance_m(LON - 0.003, LAT - 0.004, LON, LAT), rel=1e-6)


def test_a_point_equally_near_two_cells_goes_to_the_lowest_code() -> None:
    cells = two_by_two()
    for ordering in (cells, cells[::-1]):
        location = GridLocator(ordering).locate(LON + STEP, LAT - 0.002)  # below the A|B border
        assert location is not None and (location.code, location.how) == ("A", "nearest")


def test_a_point_far_outside_the_city_is_nowhere() -> None:
    locator = GridLocator(two_by_two())
    assert locator.locate(LON - 0.02, LAT) is None  # about 2 km west
    assert locator.locate(-70.0, -33.0) is None  # the other side of the world
    assert GridLocator(two_by_two(), max_distance_m=3000).locate(LON - 0.02, LAT) is not None
    unlimited = GridLocator(two_by_two(), max_distance_m=None).locate(LON - 1, LAT)
    assert unlimited is not None and unlimited.code == "A"
    assert unlimited.distance_m == pytest.approx(shapes.distance_m(LON - 1, LAT, LON, LAT), rel=1e-3)


def test_the_distance_limit_is_inclusive() -> None:
    locator = GridLocator(two_by_two(), max_distance_m=500)
    just_in = LAT - 499 / shapes.METRES_PER_DEGREE
    just_out = LAT - 501 / shapes.METRES_PER_DEGREE
    assert locator.locate(LON + 0.5 * STEP, just_in) is not None
    assert locator.locate(LON + 0.5 * STEP, just_out) is None


@pytest.mark.parametrize(
    ("lon", "lat"),
    [
        (math.nan, LAT),
        (LON, math.nan),
        (math.inf, LAT),
        (LON, -math.inf),
        (180.0001, LAT),
        (-181, LAT),
        (LON, 90.5),
        (LON, -91),
        ("113.3", LAT),
        (LON, None),
        (True, LAT),
        ([LON], LAT),
    ],
)
def test_bad_coordinates_are_refused(lon: Any, lat: Any) -> None:
    locator = GridLocator(two_by_two())
    with pytest.raises(InvalidCoordinates) as caught:
        locator.locate(lon, lat)
    assert isinstance(caught.value, ValueError)
    assert str(caught.value)


def test_decimal_and_integer_coordinates_are_accepted() -> None:
    locator = GridLocator(two_by_two())
    location = locator.locate(Decimal("113.305"), Decimal("23.105"))  # type: ignore[arg-type]
    assert location == Location("A", "inside", 0.0)
    assert shapes.check_coordinates(180, -90) == (180.0, -90.0)


def test_a_locator_needs_cells_with_distinct_codes_and_a_sane_limit() -> None:
    cells = two_by_two()
    with pytest.raises(ValueError, match="at least one"):
        GridLocator([])
    with pytest.raises(ValueError, match="distinct"):
        GridLocator([cells[0], cells[0]])
    for bad in (-1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="max_distance_m"):
            GridLocator(cells, max_distance_m=bad)


def test_great_circle_distance() -> None:
    assert shapes.distance_m(LON, 0, LON, 1) == pytest.approx(111_195, rel=1e-4)
    assert shapes.distance_m(0, 0, 180, 0) == pytest.approx(math.pi * shapes.EARTH_RADIUS_M)
    assert shapes.distance_m(LON, LAT, LON, LAT) == 0.0


# --- the offline map ---


def parse_svg(svg: str) -> ET.Element:
    # Our own output, parsed to check it is well-formed XML; nothing untrusted is fetched.
    return ET.fromstring(svg)  # noqa: S314


def test_svg_map_draws_every_cell_with_its_code_and_name() -> None:
    cells = geojson.load_demo_grid()
    drawn = svg.svg_map(cells)
    assert isinstance(drawn, SafeString)
    root = parse_svg(drawn)
    paths = root.findall(f".//{SVG}path")
    assert {path.get("data-code") for path in paths} == {cell.code for cell in cells}
    by_code = {path.get("data-code"): path for path in paths}
    for cell in cells:
        path = by_code[cell.code]
        title = path.find(f"{SVG}title")
        assert title is not None and title.text is not None and cell.name in title.text
        assert path.get("data-division") == cell.division
    assert root.get("role") == "group" and root.get("aria-label")
    labels = [text.text for text in root.findall(f".//{SVG}text")]
    assert sorted(label or "" for label in labels) == sorted(cell.code for cell in cells)
    assert not parse_svg(svg.svg_map(cells, labels=False)).findall(f".//{SVG}text")


def test_svg_map_escapes_names_from_uploads() -> None:
    hostile = '<script>alert("x")</script>&\'"'
    cells = geojson.parse_grid_geojson(
        collection(square("A", name=hostile, division='"><script>alert(1)</script>'), square("B", 1))
    )
    drawn = svg.svg_map(cells, highlight="A")
    assert "<script" not in drawn
    root = parse_svg(drawn)
    path = next(path for path in root.iter(f"{SVG}path") if path.get("data-code") == "A")
    assert path.get("data-division") == '"><script>alert(1)</script>'
    title = path.find(f"{SVG}title")
    assert title is not None and title.text is not None and hostile in title.text


def test_the_map_template_escapes_markup_in_cell_names_codes_and_divisions() -> None:
    (cell,) = two_by_two()[:1]
    # Built directly, as from a database row: nothing upstream has cleaned these texts.
    hostile = CellShape(
        "A&B",
        "<script>alert(\"名\")</script> & '单'",
        {"division": '区"><script>x</script>'},
        cell.geometry,
        cell.geojson,
    )
    drawn = svg.svg_map([hostile], highlight="A&B")
    assert "<script" not in drawn
    assert "&lt;script&gt;alert(&quot;名&quot;)&lt;/script&gt; &amp; &#x27;单&#x27;" in drawn
    assert 'data-code="A&amp;B"' in drawn and ">A&amp;B</text>" in drawn
    assert 'data-division="区&quot;&gt;&lt;script&gt;x&lt;/script&gt;"' in drawn
    root = parse_svg(drawn)
    (path,) = root.iter(f"{SVG}path")
    assert path.get("data-code") == "A&B"
    assert path.get("data-division") == '区"><script>x</script>'
    title = path.find(f"{SVG}title")
    assert title is not None and title.text == "<script>alert(\"名\")</script> & '单'（A&B）"
    assert [text.text for text in root.iter(f"{SVG}text")] == ["A&B"]


def test_svg_map_drops_characters_xml_cannot_carry() -> None:
    (cell,) = two_by_two()[:1]
    # Built directly, as a caller might from a database row that never went through parse_grid_geojson.
    odd = CellShape("A", "甲\x00乙\x1b丙", {"division": "区\x0b"}, cell.geometry, cell.geojson)
    root = parse_svg(svg.svg_map([odd]))
    title = root.find(f".//{SVG}path/{SVG}title")
    assert title is not None and title.text is not None and "甲乙丙" in title.text


def test_svg_map_highlights_cells_and_marks_the_point() -> None:
    cells = two_by_two()
    root = parse_svg(svg.svg_map(cells, highlight=["B", "C"], point=(LON + 0.5 * STEP, LAT + 0.5 * STEP)))
    highlighted = {
        path.get("data-code") for path in root.iter(f"{SVG}path") if "grid-cell--highlight" in (path.get("class") or "")
    }
    assert highlighted == {"B", "C"}
    (marker,) = root.iter(f"{SVG}circle")
    projection = projection_of(root)
    lon, lat = projection.from_svg_xy(float(marker.get("cx", "nan")), float(marker.get("cy", "nan")))
    assert lon == pytest.approx(LON + 0.5 * STEP, abs=1e-5)
    assert lat == pytest.approx(LAT + 0.5 * STEP, abs=1e-5)
    single = parse_svg(svg.svg_map(cells, highlight="D"))
    assert [p.get("data-code") for p in single.iter(f"{SVG}path") if "highlight" in (p.get("class") or "")] == ["D"]


def test_a_point_outside_the_grid_stays_in_view() -> None:
    root = parse_svg(svg.svg_map(two_by_two(), point=(LON - 0.01, LAT - 0.01)))
    (marker,) = root.iter(f"{SVG}circle")
    _x, _y, width, height = (float(value) for value in (root.get("viewBox") or "").split())
    assert 0 < float(marker.get("cx", "nan")) < width
    assert 0 < float(marker.get("cy", "nan")) < height


def test_svg_map_refuses_a_bad_point_and_an_empty_grid() -> None:
    with pytest.raises(InvalidCoordinates):
        svg.svg_map(two_by_two(), point=(math.nan, LAT))
    with pytest.raises(ValueError, match="at least one cell"):
        svg.svg_map([])
    with pytest.raises(ValueError, match="width"):
        svg.svg_map(two_by_two(), width=0)


def exterior(cell: CellShape) -> list[tuple[float, float]]:
    assert isinstance(cell.geometry, Polygon)
    return [(lon, lat) for lon, lat in cell.geometry.exterior.coords]


def projection_of(root: ET.Element) -> svg.SvgProjection:
    """The projection as the browser sees it: from the data attributes of the <svg> element."""
    _x, _y, width, height = (float(value) for value in (root.get("viewBox") or "").split())
    return svg.SvgProjection(
        min_lon=float(root.get("data-min-lon", "nan")),
        max_lat=float(root.get("data-max-lat", "nan")),
        scale=float(root.get("data-scale", "nan")),
        lon_factor=float(root.get("data-lon-factor", "nan")),
        width=width,
        height=height,
    )


def test_projection_round_trip_and_orientation() -> None:
    cells = geojson.load_demo_grid()
    projection = svg.svg_projection(cells, width=640)
    for cell in cells:
        for lon, lat in exterior(cell):
            x, y = projection.to_svg_xy(lon, lat)
            assert 0 <= x <= projection.width and 0 <= y <= projection.height
            back_lon, back_lat = projection.from_svg_xy(x, y)
            assert back_lon == pytest.approx(lon, abs=1e-12)
            assert back_lat == pytest.approx(lat, abs=1e-12)
    west_x, north_y = projection.to_svg_xy(113.26, 23.13)
    east_x, south_y = projection.to_svg_xy(113.32, 23.10)
    assert west_x < east_x and north_y < south_y  # east is right, north is up
    # Equirectangular with cos(lat): a kilometre east and a kilometre north are about as long on screen.
    metres_per_degree_east = shapes.METRES_PER_DEGREE * math.cos(math.radians(23.115))
    east_km = projection.to_svg_xy(113.30 + 1000 / metres_per_degree_east, 23.115)
    north_km = projection.to_svg_xy(113.30, 23.115 + 1000 / shapes.METRES_PER_DEGREE)
    origin = projection.to_svg_xy(113.30, 23.115)
    assert east_km[0] - origin[0] == pytest.approx(origin[1] - north_km[1], rel=1e-6)


def test_the_drawn_paths_use_the_projection_on_the_svg_element() -> None:
    cells = geojson.load_demo_grid()
    root = parse_svg(svg.svg_map(cells, width=1000))
    projection = projection_of(root)
    by_code = {cell.code: cell for cell in cells}
    for path in root.iter(f"{SVG}path"):
        cell = by_code[path.get("data-code") or ""]
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path.get("d") or "")]
        drawn = [projection.from_svg_xy(x, y) for x, y in zip(numbers[::2], numbers[1::2], strict=True)]
        assert len(drawn) == len(exterior(cell)) - 1
        for (lon, lat), (cell_lon, cell_lat) in zip(drawn, exterior(cell), strict=False):
            # Two decimals of an SVG unit: about 1 metre at this width.
            assert lon == pytest.approx(cell_lon, abs=1e-5)
            assert lat == pytest.approx(cell_lat, abs=1e-5)


def test_a_click_on_a_label_locates_its_cell() -> None:
    cells = geojson.load_demo_grid()
    root = parse_svg(svg.svg_map(cells))
    projection = projection_of(root)
    locator = GridLocator(cells)
    for text in root.iter(f"{SVG}text"):
        lon, lat = projection.from_svg_xy(float(text.get("x", "nan")), float(text.get("y", "nan")))
        location = locator.locate(lon, lat)
        assert location is not None and location.code == text.text
