"""The portable JSON scene format: scene files and ``Scene.to_dict``/``from_dict`` (masks as PNG data URLs).

This module reads and writes the format's structure (keys, header, PNG data URLs, shapes) and hands plain,
checked values to scene.py, which builds the Region/Background/Scene objects; so it never imports scene.py.
Hand-written files may describe masks as shapes (shapes.py) instead of PNGs.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from PIL import Image

from .fields import FIELDS
from .files import read_bytes_bounded, write_text_atomic
from .images import ImageTooLarge, open_image_bounded, photo_pixel_budget, pixel_budget
from .scene_arrays import to_uint8
from .shapes import SHAPE_HELP, SHAPES, shape_mask
from .validation import SceneError, check_field, check_json_depth, did_you_mean, is_int

FORMAT_NAME = "semanticdraw-scene"
FORMAT_VERSION = 1
# Scene files larger than this are refused before reading (a 4096x4096 scene with a few PNG masks
# is a few tens of MB).
MAX_SCENE_FILE_BYTES = 512 * 2**20
# Decoded mask pixels one scene file may hold beyond one canvas per region: four masks at 4x the
# canvas's resolution per side. Without it a 2 MB file of 100 identical blank 4096x4096 PNGs
# decoded to 2 GB of masks.
MASK_FILE_EXTRA_CANVASES = 64
PNG_PREFIX = "data:image/png;base64,"

SCENE_KEYS = ("format", "version", "width", "height", "seed", "background", "regions")
BACKGROUND_KEYS = ("prompt", "negative_prompt", "image")
REGION_KEYS = ("prompt", "negative_prompt", "prompt_strength", "mask_strength", "mask_blur", "mask")


def png_data_url(arr: np.ndarray, mode: str) -> str:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(arr)).convert(mode).save(buf, format="PNG")
    return PNG_PREFIX + base64.b64encode(buf.getvalue()).decode("ascii")


def scene_to_dict(scene: Any) -> dict[str, Any]:
    """Plain JSON-ready dict of a Scene; masks/images become PNG data URLs."""
    bg = scene.background
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "width": scene.width,
        "height": scene.height,
        "seed": scene.seed,
        "background": {
            "prompt": bg.prompt,
            "negative_prompt": bg.negative_prompt,
            "image": None if bg.image is None else png_data_url(to_uint8(bg.image), "RGB"),
        },
        "regions": [{
            "prompt": region.prompt,
            "negative_prompt": region.negative_prompt,
            "prompt_strength": region.prompt_strength,
            "mask_strength": region.mask_strength,
            "mask_blur": region.mask_blur,
            "mask": png_data_url(to_uint8(region.mask), "L"),
        } for region in scene.regions],
    }


def scene_to_json(scene: Any, indent: int | None = 2) -> str:
    return json.dumps(scene_to_dict(scene), indent=indent, allow_nan=False, ensure_ascii=False)


def read_json(text: str | bytes) -> Any:
    """Parse JSON text; syntax errors become SceneError with line/column."""
    if not isinstance(text, (str, bytes, bytearray)):
        raise SceneError(f"from_json expects JSON text (str or bytes), got {type(text).__name__}")
    try:
        return json.loads(text)
    except RecursionError:
        raise SceneError("invalid JSON: nested too deeply to be a scene file; check that this is the "
                         "right file") from None
    except json.JSONDecodeError as exc:
        raise SceneError(
            f"invalid JSON at line {exc.lineno} column {exc.colno} (char {exc.pos}): {exc.msg}; "
            "fix the file or re-save it with Scene.save"
        ) from None
    except UnicodeDecodeError as exc:
        raise SceneError(f"invalid JSON: not UTF-8 text ({exc}); save the file as UTF-8") from None


def read_scene_file(path: str | os.PathLike[str]) -> bytes:
    """The bytes of a scene file: a regular file of at most MAX_SCENE_FILE_BYTES (no device, no FIFO)."""
    return read_bytes_bounded(path, MAX_SCENE_FILE_BYTES, "scene file", SceneError)


def write_scene_file(scene: Any, path: str | os.PathLike[str]) -> None:
    """Write the scene's JSON; an existing file is replaced only once the new one is whole."""
    write_text_atomic(path, scene.to_json() + "\n")


def check_object(value: Any, path: str, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SceneError(f"{path}: expected an object ({what}), got {type(value).__name__}", field=path)
    return value


def check_keys(data: Mapping[str, Any], allowed: tuple[str, ...], path: str) -> None:
    """Unknown keys are refused so typos like "promt" do not silently fall back to defaults."""
    for key in data:
        if key not in allowed:
            where = f"{path}: unknown key" if path else "unknown key"
            raise SceneError(
                f"{where} {key!r}{did_you_mean(key, allowed)}; allowed keys are {list(allowed)}",
                field=path or None,
            )


def check_header(data: Mapping[str, Any]) -> None:
    """``format`` and ``version`` are optional (hand-written files) but must be right when given."""
    if "format" in data and data["format"] != FORMAT_NAME:
        raise SceneError(
            f"format: expected {FORMAT_NAME!r}, got {data['format']!r}; this is not a SemanticDraw scene file",
            field="format",
        )
    if "version" in data:
        version = data["version"]
        if not is_int(version) or version < 1:
            raise SceneError(f"version: expected a positive integer, got {version!r}", field="version")
        if version > FORMAT_VERSION:
            raise SceneError(
                f"version: this file uses scene format version {version}, but this semanticdraw_widgets "
                f"reads only version {FORMAT_VERSION}; upgrade the package (pip install -U semanticdraw_widgets)",
                field="version",
            )


def parse_scene(data: Any, finish_region: Callable[[dict[str, Any], int, int, int], Any] | None = None
                ) -> dict[str, Any]:
    """Check a scene dict's structure and decode its images and shapes: the Scene's arguments, as plain values.

    ``regions`` is a list of Region keyword dicts (checked by the Region itself, in scene.py), or of what
    ``finish_region(kwargs, index, width, height)`` makes of each, called as soon as that region's mask is
    decoded, so a full-resolution mask need not outlive its region. The file's PNG masks may decode to at
    most (regions + MASK_FILE_EXTRA_CANVASES) canvases of pixels together.
    """
    data = check_object(data, "scene", "a SemanticDraw scene")
    check_json_depth(data, "scene", error=SceneError)
    check_header(data)
    check_keys(data, SCENE_KEYS, "")
    width = check_field("width", data.get("width", FIELDS["width"].default), error=SceneError)
    height = check_field("height", data.get("height", FIELDS["height"].default), error=SceneError)
    seed = check_field("seed", data.get("seed", FIELDS["seed"].default), error=SceneError)
    background = _background_from_dict(data.get("background", {}), width, height)
    raw_regions = data.get("regions", [])
    if not isinstance(raw_regions, list):
        raise SceneError(f"regions: expected a list of region objects, got {type(raw_regions).__name__}",
                         field="regions")
    allowance = [(len(raw_regions) + MASK_FILE_EXTRA_CANVASES) * width * height]
    regions = []
    for index, raw in enumerate(raw_regions):
        kwargs = _region_from_dict(raw, index, width, height, allowance)
        regions.append(kwargs if finish_region is None else finish_region(kwargs, index, width, height))
    return {"width": width, "height": height, "seed": seed, "background": background, "regions": regions}


def _background_from_dict(data: Any, width: int, height: int) -> dict[str, Any]:
    data = check_object(data, "background", "with 'prompt', 'negative_prompt' and 'image'")
    check_keys(data, BACKGROUND_KEYS, "background")
    image = data.get("image")
    if image is not None:
        if not isinstance(image, str):
            raise SceneError(
                f"background.image: expected null or a PNG data URL, got {type(image).__name__}",
                field="background.image",
            )
        image = _decode_png(image, "background.image", photo_pixel_budget(width, height), (width, height))
    return {"prompt": data.get("prompt", ""), "image": image, "negative_prompt": data.get("negative_prompt", "")}


def _region_from_dict(data: Any, index: int, width: int, height: int, allowance: list[int]) -> dict[str, Any]:
    path = f"regions[{index}]"
    data = check_object(data, path, "with 'prompt' and 'mask'")
    check_keys(data, REGION_KEYS, path)
    for required in ("prompt", "mask"):
        if required not in data:
            raise SceneError(f"{path}.{required}: missing; every region needs a prompt and a mask",
                             field=f"{path}.{required}")
    mask = _mask_from_json(data["mask"], f"{path}.mask", width, height, allowance)
    return {**{k: data[k] for k in REGION_KEYS if k in data and k != "mask"}, "mask": mask}


def _mask_from_json(value: Any, path: str, width: int, height: int, allowance: list[int]) -> Any:
    """A mask in a file is a PNG data URL or a simple shape in canvas pixels.

    ``allowance`` holds the decoded pixels the file's masks may still use (a one-element list, shared).
    """
    if isinstance(value, str):
        if not value.strip().startswith(PNG_PREFIX):
            raise SceneError(f"{path}: not a PNG data URL or shape; {SHAPE_HELP}", field=path)
        budget = pixel_budget(width, height)
        try:
            image = _decode_png(value, path, min(budget, allowance[0]), (width, height))
        except ImageTooLarge:
            if allowance[0] >= budget:
                raise
            raise ImageTooLarge(
                f"{path}: the scene file's masks together decode to more than {MASK_FILE_EXTRA_CANVASES} canvases "
                f"of pixels beyond one per region; store masks at the canvas size ({width}x{height}), as "
                "Scene.save does", field=path) from None
        allowance[0] -= image.width * image.height
        return image
    if isinstance(value, Mapping):
        if len(value) != 1 or next(iter(value)) not in SHAPES:
            raise SceneError(
                f"{path}: not a PNG data URL or shape; expected exactly one of 'rect', 'ellipse', 'polygon', "
                f"got keys {list(value)}; {SHAPE_HELP}",
                field=path,
            )
        kind, coords = next(iter(value.items()))
        return shape_mask(kind, coords, f"{path}.{kind}", width, height)
    raise SceneError(f"{path}: not a PNG data URL or shape (got {type(value).__name__}); {SHAPE_HELP}",
                     field=path)


def _decode_png(text: str, path: str, max_pixels: int, size: tuple[int, int]) -> Image.Image:
    """Decode a PNG data URL fully (so corrupt data fails here, with the field path).

    The PNG header is checked against `max_pixels` (a budget tied to the canvas) before any pixel
    is decoded, so a small file declaring a huge image costs nothing.
    """
    text = text.strip()
    if not text.startswith(PNG_PREFIX):
        raise SceneError(f"{path}: not a PNG data URL; expected text starting with {PNG_PREFIX!r}", field=path)
    try:
        raw = base64.b64decode(text[len(PNG_PREFIX):], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SceneError(f"{path}: could not decode the PNG data URL ({exc}); re-export the image",
                         field=path) from None
    try:
        return open_image_bounded(raw, max_pixels=max_pixels, field=path, target_size=size, formats=("PNG",))
    except ImageTooLarge:
        raise
    except SceneError as exc:
        detail = exc.message.split(": ", 1)[-1]
        raise SceneError(f"{path}: could not decode the PNG data URL ({detail}); re-export the image",
                         field=path) from None
