"""Checks on a whole grid once its cells are read: valid polygons, one city's span, no overlaps."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import shapely
from django.utils.translation import gettext as _

from yiwang.hotline.geometry.shapes import METRES_PER_DEGREE, CellShape, GridDataError, Where, grid_bounds

# Two cells whose shared area is below this are taken as touching, not
# overlapping: traced boundaries disagree by slivers of a few square
# centimetres after rounding coordinates to six decimals.
OVERLAP_TOLERANCE_M2 = 1.0
# How many overlapping pairs an error message lists; the error keeps them all.
OVERLAPS_LISTED = 5

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


def check_validity(cells: Sequence[CellShape]) -> None:
    """Refuse the first cell (in file order) whose boundary GEOS finds invalid or whose area is zero."""
    geometries = np.array([cell.geometry for cell in cells], dtype=object)
    valid = shapely.is_valid(geometries)
    empty = shapely.area(geometries) <= 0.0
    for position in np.flatnonzero(~valid | empty).tolist():
        cell = cells[position]
        # Cells are checked in file order, so a cell's position is its feature index.
        where = Where(position, cell.code)
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


def check_span(cells: Sequence[CellShape], max_span_degrees: float) -> None:
    """Refuse a grid wider or taller than ``max_span_degrees``: more likely a mistyped cell than a city."""
    min_lon, min_lat, max_lon, max_lat = grid_bounds(cells)
    span = max(max_lon - min_lon, max_lat - min_lat)
    if span > max_span_degrees:
        raise GridDataError(
            "grid_too_wide",
            _(
                "网格的范围跨越了 %(span).1f 度，超过上限 %(limit)g 度，不像是一个城市的网格。"
                "请检查是否有网格的坐标写错了。"
            )
            % {"span": span, "limit": max_span_degrees},
        )


def check_overlaps(cells: Sequence[CellShape]) -> None:
    """Refuse a grid whose cells overlap, listing the largest overlaps first."""
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
