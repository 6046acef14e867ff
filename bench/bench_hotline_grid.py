"""Grid cell geometry: loading a 10,000-cell city grid and locating report points in it.

In-process and without the database. A synthetic city of 100 x 100 cells
(about 200 m each, with jittered shared corners so that the cells are
irregular quadrilaterals that still tile exactly) is written as GeoJSON;
loading times ``parse_grid_geojson`` with every check (overlaps included)
plus building the ``GridLocator``. Then 100,000 random points over the
city's box, widened by 2% on each side so that a few fall outside every cell,
are located one by one through ``GridLocator.locate``.
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time
from collections import Counter

from _setup import REPO, bench

COLUMNS = ROWS = 100
STEP_DEGREES = 0.002
WEST, NORTH = 113.2, 23.2
POINTS = 100_000
OUTSIDE_MARGIN = 0.02


def synthetic_city(rng: random.Random) -> str:
    """GeoJSON text of a COLUMNS x ROWS grid whose inner corners are moved at random by up to a fifth of a cell."""
    jitter = STEP_DEGREES / 5
    corners: dict[tuple[int, int], list[float]] = {}
    for i in range(COLUMNS + 1):
        for j in range(ROWS + 1):
            lon = WEST + i * STEP_DEGREES + (rng.uniform(-jitter, jitter) if 0 < i < COLUMNS else 0.0)
            lat = NORTH - j * STEP_DEGREES + (rng.uniform(-jitter, jitter) if 0 < j < ROWS else 0.0)
            corners[i, j] = [round(lon, 7), round(lat, 7)]
    features = []
    for i in range(COLUMNS):
        for j in range(ROWS):
            ring = [corners[i, j], corners[i, j + 1], corners[i + 1, j + 1], corners[i + 1, j], corners[i, j]]
            features.append(
                {
                    "type": "Feature",
                    "properties": {
                        "code": f"BM-{i:03d}-{j:03d}",
                        "name": f"第{i + 1}列第{j + 1}行网格",
                        "division": f"第{i // 25 + 1}区",
                    },
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                }
            )
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)


def main() -> None:
    os.environ.setdefault("YIWANG_VAR_DIR", tempfile.mkdtemp(prefix="yiwang-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yiwang.settings")
    sys.path.insert(0, str(REPO / "src"))
    import django

    django.setup()
    from yiwang.hotline.geometry.geojson import parse_grid_geojson
    from yiwang.hotline.geometry.locate import GridLocator

    rng = random.Random(20261123)
    text = synthetic_city(rng)

    started = time.perf_counter()
    cells = parse_grid_geojson(text)
    parsed = time.perf_counter()
    locator = GridLocator(cells)
    load_s = time.perf_counter() - started
    print(
        f"{len(cells)} cells, {len(text) / 1e6:.1f} MB of GeoJSON: parse and check {parsed - started:.2f} s,"
        f" locator {load_s - (parsed - started):.2f} s",
        file=sys.stderr,
    )

    span_lon, span_lat = COLUMNS * STEP_DEGREES, ROWS * STEP_DEGREES
    west, south = WEST - span_lon * OUTSIDE_MARGIN, NORTH - span_lat * (1 + OUTSIDE_MARGIN)
    width, height = span_lon * (1 + 2 * OUTSIDE_MARGIN), span_lat * (1 + 2 * OUTSIDE_MARGIN)
    points = [(west + rng.random() * width, south + rng.random() * height) for _ in range(POINTS)]
    for lon, lat in points[:1000]:  # warm up
        locator.locate(lon, lat)

    outcomes: Counter[str] = Counter()
    started = time.perf_counter()
    for lon, lat in points:
        location = locator.locate(lon, lat)
        outcomes[location.how if location else "none"] += 1
    locate_s = time.perf_counter() - started
    print(f"{POINTS} points: {dict(sorted(outcomes.items()))}", file=sys.stderr)

    bench("hotline.grid_locate_us", locate_s / POINTS * 1e6, "us")
    bench("hotline.grid_load_s_10k", load_s, "s")


if __name__ == "__main__":
    main()
