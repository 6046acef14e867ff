"""Grid cells (网格) as geometry: loading them from GeoJSON, locating a point, drawing the offline map.

Pure code: no database, no network. One module per concern:

- ``shapes``: the cell type (``CellShape``), the refusals (``GridDataError``,
  ``InvalidCoordinates``), coordinates and great-circle distances;
- ``geojson``: ``parse_grid_geojson`` reads an uploaded FeatureCollection and
  refuses, naming the offending cell, anything that would make routing
  ambiguous or unsafe; ``cell_from_geometry`` rebuilds a stored cell;
- ``checks``: the whole-grid checks (valid polygons, span, overlaps);
- ``locate``: ``GridLocator`` answers "which cell is this point in?" with an
  STRtree;
- ``svg``: ``svg_map`` draws the grid as an inline SVG from a template, and
  ``SvgProjection`` turns lon/lat into SVG coordinates and back.

Import names from the module that defines them.
"""
