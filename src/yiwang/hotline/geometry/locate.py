"""Which grid cell a point is in: an STRtree over the cells in a local metric projection."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import numpy as np
import shapely
from shapely.geometry import Point

from yiwang.hotline.geometry.shapes import METRES_PER_DEGREE, CellShape, check_coordinates, distance_m, grid_bounds

LocationKind: TypeAlias = Literal["inside", "border", "nearest"]

# A point closer than this to a cell's edge is on the edge: far below the
# precision of a GPS fix or a click on a map, far above floating-point rounding.
BORDER_TOLERANCE_M = 0.01
# Beyond this distance from every cell a point is not in the city's grid.
DEFAULT_MAX_DISTANCE_M = 1000.0


@dataclass(frozen=True)
class Location:
    """Where a point falls: the cell's code, how it was chosen, and its distance from that cell in metres."""

    code: str
    how: LocationKind
    distance_m: float


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
        min_lon, min_lat, max_lon, max_lat = grid_bounds(ordered)
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
