"""Brushes, palettes and the label map -> Scene step: pure functions, validated against the protocol's schema.

The schema itself (fields, defaults, limits) lives in ``protocol.py``; this module applies it to what
arrives from the browser, from palette files and from Python code alike.
"""

from __future__ import annotations

import json
import math
import re
from numbers import Real
from typing import Any, Mapping, Sequence

import numpy as np
from PIL import Image

from ..scene import Background, Region, Scene
from .protocol import (BRUSH_DEFAULTS, BRUSH_LIMITS, MAX_BRUSHES, MAX_TEXT_LENGTH, PALETTE_FORMAT, PALETTE_VERSION)

_COLOR = re.compile(r"#[0-9a-fA-F]{6}\Z")  # (\Z: "$" also matches before a final newline)
TEXT_FIELDS = ("name", "prompt", "negative_prompt")


class PaletteError(ValueError):
    """A palette, brush or background that cannot be used; the message names the field and the fix."""


def make_brush(name: str, color: str, prompt: str, **options: Any) -> dict[str, Any]:
    """A brush with the schema's defaults for every field not given."""
    return validate_brush({**BRUSH_DEFAULTS, "name": name, "color": color, "prompt": prompt, **options})


def validate_brush(raw: Any, where: str = "brush") -> dict[str, Any]:
    """A complete, normalised copy of one brush; PaletteError names the bad field."""
    if not isinstance(raw, Mapping):
        raise PaletteError(f"{where} must be an object with the fields {', '.join(BRUSH_DEFAULTS)}, "
                           f"got {type(raw).__name__}")
    unknown = set(raw) - set(BRUSH_DEFAULTS)
    if unknown:
        raise PaletteError(f"{where} has unknown keys {sorted(unknown)}; allowed: {', '.join(BRUSH_DEFAULTS)}")
    brush = {**BRUSH_DEFAULTS, **raw}
    for key in TEXT_FIELDS:
        brush[key] = _text(brush[key], f"{where}.{key}")
    if not isinstance(brush["color"], str) or not _COLOR.match(brush["color"]):
        raise PaletteError(f"{where}.color must be a hex colour like \"#d9503f\", got {brush['color']!r}")
    for key, (low, high) in BRUSH_LIMITS.items():
        value = brush[key]
        if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)) \
                or not low <= value <= high:
            raise PaletteError(f"{where}.{key} must be a number from {low:g} to {high:g}, got {value!r}")
        brush[key] = float(value)
    if not isinstance(brush["visible"], (bool, np.bool_)):
        raise PaletteError(f"{where}.visible must be true or false, got {brush['visible']!r}")
    brush["visible"] = bool(brush["visible"])
    return brush


def validate_brushes(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, Sequence) or isinstance(raw, (str, bytes)):
        raise PaletteError(f"brushes must be a list of brush objects, got {type(raw).__name__}")
    if len(raw) > MAX_BRUSHES:
        raise PaletteError(f"at most {MAX_BRUSHES} brushes fit the label map, got {len(raw)}")
    return [validate_brush(brush, f"brushes[{i}]") for i, brush in enumerate(raw)]


def validate_background(raw: Any) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        raise PaletteError('background must be an object {"prompt": ..., "negative_prompt": ...}')
    unknown = set(raw) - {"prompt", "negative_prompt"}
    if unknown:
        raise PaletteError(f"background has unknown keys {sorted(unknown)}; allowed: prompt, negative_prompt")
    return {key: _text(raw.get(key, ""), f"background.{key}") for key in ("prompt", "negative_prompt")}


def palette_to_json(brushes: Sequence[Mapping[str, Any]], background: Mapping[str, str]) -> str:
    return json.dumps({"format": PALETTE_FORMAT, "version": PALETTE_VERSION, "background": dict(background),
                       "brushes": [dict(b) for b in brushes]}, indent=2)


def palette_from_json(text: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Parse and validate a whole palette file; nothing is returned unless every field is good."""
    if not isinstance(text, (str, bytes)):
        raise PaletteError(f"a palette is JSON text, got {type(text).__name__}")
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        raise PaletteError(f"palette is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise PaletteError("a palette is a JSON object with format, version, background and brushes")
    if data.get("format") != PALETTE_FORMAT:
        raise PaletteError(f'not a palette file: "format" must be "{PALETTE_FORMAT}", got {data.get("format")!r} '
                           f"(export one with canvas.export_palette())")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= PALETTE_VERSION:
        raise PaletteError(f"palette version {version!r} is not supported: this version of semanticdraw_widgets "
                           f"reads versions 1 to {PALETTE_VERSION}; upgrade it to read newer files")
    unknown = set(data) - {"format", "version", "background", "brushes"}
    if unknown:
        raise PaletteError(f"palette has unknown keys {sorted(unknown)}; allowed: format, version, background, brushes")
    if "brushes" not in data:
        raise PaletteError('a palette needs a "brushes" list')
    return validate_brushes(data["brushes"]), validate_background(data.get("background", {}))


def scene_from_labels(labels: np.ndarray, brushes: Sequence[Mapping[str, Any]], background: Mapping[str, str], *,
                      seed: int, background_image: Image.Image | None = None) -> Scene:
    """The Scene a label map describes: brush i paints label i + 1; hidden and prompt-less brushes paint nothing."""
    height, width = labels.shape
    top = int(labels.max()) if labels.size else 0
    if top > len(brushes):
        raise PaletteError(f"the label map uses label {top}, but there are only {len(brushes)} brushes")
    regions = []
    for index, brush in enumerate(brushes, start=1):
        if not brush["visible"] or not brush["prompt"].strip():
            continue
        mask = labels == index
        if not mask.any():
            continue
        regions.append(Region(prompt=brush["prompt"], mask=mask, negative_prompt=brush["negative_prompt"],
                              prompt_strength=brush["prompt_strength"], mask_strength=brush["mask_strength"],
                              mask_blur=brush["mask_blur"]))
    return Scene(width=width, height=height, seed=seed,
                 background=Background(prompt=background["prompt"], negative_prompt=background["negative_prompt"],
                                       image=background_image),
                 regions=regions)


def painted_without_prompt(labels: np.ndarray, brushes: Sequence[Mapping[str, Any]]) -> list[str]:
    """Names of visible brushes that have strokes on the canvas but no prompt (so they paint nothing)."""
    used = set(np.unique(labels).tolist()) if labels.size else set()
    return [brush["name"] for index, brush in enumerate(brushes, start=1)
            if index in used and brush["visible"] and not brush["prompt"].strip()]


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise PaletteError(f"{field} must be text, got {type(value).__name__} {value!r}")
    if len(value) > MAX_TEXT_LENGTH:
        raise PaletteError(f"{field} is {len(value)} characters long; at most {MAX_TEXT_LENGTH} are allowed")
    return value


DEFAULT_BRUSHES = [
    make_brush("bricks", "#d9503f", "red bricks"),
    make_brush("grass", "#3fae4a", "green grass"),
    make_brush("sun", "#f2c230", "bright yellow light", mask_blur=8.0),
    make_brush("water", "#2d6fd6", "blue water with waves"),
]
DEFAULT_BACKGROUND = {"prompt": "blue sky with white clouds", "negative_prompt": ""}
