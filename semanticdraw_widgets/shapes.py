"""Masks drawn from simple shapes in canvas pixels, for hand-written scene files: rect, ellipse and polygon.

Pixel (i, j) covers [i, i+1) x [j, j+1) and is inside a shape when its centre is.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from .validation import SceneError, is_number, short_repr

# Shape coordinates beyond this many pixels are refused (Pillow's polygon fill needs C integers).
MAX_COORDINATE = 1e6
SHAPE_HELP = (
    'use "data:image/png;base64,...", {"rect": [x0, y0, x1, y1]}, '
    '{"ellipse": [cx, cy, rx, ry]} or {"polygon": [[x, y], ...]}'
)


def _finite(value: Any) -> bool:
    """math.isfinite that is False (not OverflowError) for integers too large for a float."""
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _coords(value: Any, count: int, names: str, path: str) -> list[float]:
    if (not isinstance(value, list) or len(value) != count
            or not all(is_number(v) and _finite(v) for v in value)):
        raise SceneError(f"{path}: expected {count} numbers {names}, got {short_repr(value)}", field=path)
    if any(abs(float(v)) > MAX_COORDINATE for v in value):
        raise SceneError(f"{path}: coordinates must be within ±{MAX_COORDINATE:g} canvas pixels, got {short_repr(value)}",
                         field=path)
    return [float(v) for v in value]


def _pixel_centres(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel (i, j) covers [i, i+1) x [j, j+1); shapes are sampled at its centre."""
    xs = np.arange(width, dtype=np.float64) + 0.5
    ys = np.arange(height, dtype=np.float64) + 0.5
    return xs[None, :], ys[:, None]


def _rect_mask(value: Any, path: str, width: int, height: int) -> np.ndarray:
    x0, y0, x1, y1 = _coords(value, 4, "[x0, y0, x1, y1]", path)
    if x1 <= x0 or y1 <= y0:
        raise SceneError(f"{path}: need x0 < x1 and y0 < y1, got {short_repr(value)}", field=path)
    xs, ys = _pixel_centres(width, height)
    return (xs >= x0) & (xs < x1) & (ys >= y0) & (ys < y1)


def _ellipse_mask(value: Any, path: str, width: int, height: int) -> np.ndarray:
    cx, cy, rx, ry = _coords(value, 4, "[cx, cy, rx, ry]", path)
    if rx <= 0 or ry <= 0:
        raise SceneError(f"{path}: radii rx and ry must be positive, got {short_repr(value)}", field=path)
    xs, ys = _pixel_centres(width, height)
    return ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 <= 1.0


def _polygon_mask(value: Any, path: str, width: int, height: int) -> np.ndarray:
    if not isinstance(value, list) or len(value) < 3:
        raise SceneError(f"{path}: expected a list of at least 3 [x, y] points, got {short_repr(value)}", field=path)
    points = [tuple(_coords(p, 2, "[x, y]", f"{path}[{i}]")) for i, p in enumerate(value)]
    img = Image.new("L", (width, height), 0)
    ImageDraw.Draw(img).polygon(points, fill=255, outline=255)
    return np.asarray(img) > 127


SHAPES = {"rect": _rect_mask, "ellipse": _ellipse_mask, "polygon": _polygon_mask}


def shape_mask(kind: str, coords: Any, path: str, width: int, height: int) -> np.ndarray:
    """The (height, width) bool mask of one shape; SceneError (naming ``path``) when it covers no pixel."""
    mask = SHAPES[kind](coords, path, width, height)
    if not mask.any():
        raise SceneError(
            f"{path}: {short_repr(coords)} covers no pixel of the {width}x{height} canvas (it lies outside "
            f"it or between pixel centres); use coordinates within 0..{width} x 0..{height}",
            field=path)
    return mask
