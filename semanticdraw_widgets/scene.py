"""Immutable, validated scene description for regional text-to-image generation.

A :class:`Scene` is the single source of truth handed from the widgets to the
diffusion engine: a canvas size, a seed, a :class:`Background` and a tuple of
:class:`Region` objects (one prompt + one soft mask each).  Everything is
validated and normalised once, at construction, so the engine never has to
second-guess its input: masks are float32 ``(H, W)`` arrays in ``[0, 1]`` at
canvas resolution, images are float32 ``(H, W, 3)`` arrays in ``[0, 1]``, and
all arrays are read-only so a scene can safely be shared, hashed and cached.

Scenes round-trip through a small JSON format (masks as PNG data URLs) so that
palettes and scenes can be saved, shared and hand-written; hand-written files
may describe masks as simple shapes (rect, ellipse, polygon) instead of PNGs.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import difflib
import hashlib
import io
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from .images import (ImageTooLarge, mask_from_pil, open_image_bounded, photo_pixel_budget, pixel_budget,
                     rgb_from_pil)
from .fields import FIELDS, MAX_SEED as MAX_SEED_INCLUSIVE, MAX_TEXT_LENGTH
from .validation import SceneError, check_field, check_json_depth, is_int, is_number
from .validation import describe as _describe

__all__ = ["SceneError", "Region", "Background", "Scene", "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "semanticdraw-scene"
FORMAT_VERSION = 1

# Limits of the scene's fields come from the field table (fields.py); these names stay for importers.
MIN_SIDE, MAX_SIDE, SIDE_MULTIPLE = FIELDS["width"].min, FIELDS["width"].max, FIELDS["width"].multiple_of
MAX_SEED = MAX_SEED_INCLUSIVE + 1
MAX_BLUR = FIELDS["mask_blur"].max
ASPECT_TOLERANCE = 0.01
MAX_PROMPT_LENGTH = MAX_TEXT_LENGTH
# Scene files larger than this are refused before reading (a 4096x4096 scene with a few PNG masks
# is a few tens of MB).
MAX_SCENE_FILE_BYTES = 512 * 2**20
# Shape coordinates beyond this many pixels are refused (Pillow's polygon fill needs C integers).
MAX_COORDINATE = 1e6

_PNG_PREFIX = "data:image/png;base64,"
_SHAPE_HELP = (
    'use "data:image/png;base64,...", {"rect": [x0, y0, x1, y1]}, '
    '{"ellipse": [cx, cy, rx, ry]} or {"polygon": [[x, y], ...]}'
)


def _nested(err: SceneError, prefix: str) -> SceneError:
    """Re-raise a child object's error under its path in the parent (e.g. ``regions[2].mask``)."""
    path = f"{prefix}.{err.field}" if err.field else prefix
    return SceneError(f"{path}: {err.message}", field=path)


# --------------------------------------------------------------------------- #
# small validators
# --------------------------------------------------------------------------- #


_is_int = is_int  # Python and numpy integers, not bools (see validation.py)
_is_number = is_number


def _check_text(value: Any, name: str, path: str) -> str:
    """Prompts must be real strings: a number or None usually means a mixed-up argument."""
    return check_field(name, value, path=path, error=SceneError)


def _check_unit_range(value: Any, name: str) -> float:
    """A strength or blur: a finite number in the field table's range, returned as a plain float."""
    return check_field(name, value, error=SceneError)


def _finite(value: Any) -> bool:
    """math.isfinite that is False (not OverflowError) for integers too large for a float."""
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _check_side(value: Any, name: str) -> int:
    """Canvas sides must be multiples of 8 (the VAE downsamples by 8) within a sane range."""
    return check_field(name, value, error=SceneError)


def _check_seed(value: Any) -> int:
    """Seeds feed torch.Generator.manual_seed, which needs a non-negative 63-bit integer."""
    return check_field("seed", value, error=SceneError)


def _short(value: Any) -> str:
    """repr for messages, kept short for huge or deeply nested values."""
    return _describe(value).rsplit(" (", 1)[0]


def _freeze(arr: np.ndarray) -> np.ndarray:
    """Own, contiguous, read-only float32 copy with -0.0 folded to 0.0 (stable digests)."""
    out = np.array(arr, dtype=np.float32, order="C", copy=True)
    out += np.float32(0.0)  # -0.0 + 0.0 == +0.0, so equal masks have equal bytes
    out.flags.writeable = False
    return out


def _digest(arr: np.ndarray) -> str:
    """Short sha1 of shape + float32 bytes: cheap identity for caches and equality."""
    h = hashlib.sha1(repr(tuple(arr.shape)).encode("ascii"))
    h.update(np.ascontiguousarray(arr, dtype=np.float32).tobytes())
    return h.hexdigest()[:16]


def _from_uint8(arr: np.ndarray) -> np.ndarray:
    """The one uint8 -> [0, 1] conversion, shared by every path so round trips are bit-exact."""
    return arr.astype(np.float32) / np.float32(255.0)


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_from_uint8` (rounded), used for PNG export."""
    return np.clip(np.round(arr * np.float32(255.0)), 0, 255).astype(np.uint8)


def _as_numeric_array(value: Any, name: str, field_name: str) -> np.ndarray:
    """Turn array-likes into an ndarray, refusing ragged or non-numeric input with a clear hint."""
    if value is None:
        raise SceneError(f"{name} is required: pass a numpy array, nested list or PIL image", field=field_name)
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise SceneError(
            f"{name} could not be read as an array ({exc}); pass equal-length rows of numbers",
            field=field_name,
        ) from None
    if arr.dtype.kind not in "biuf":
        raise SceneError(
            f"{name} has non-numeric dtype {arr.dtype}; pass bool, uint8 or float values",
            field=field_name,
        )
    if arr.size == 0:
        raise SceneError(f"{name} is empty (shape {tuple(arr.shape)}); pass a non-empty array", field=field_name)
    return arr


def _check_finite_unit(arr: np.ndarray, name: str, field_name: str, what: str) -> None:
    """Float inputs must already be in [0, 1]: silently clipping would hide a scaling bug."""
    if not np.all(np.isfinite(arr)):
        raise SceneError(
            f"{name} contains NaN or infinite values: replace them (e.g. np.nan_to_num) "
            f"or pass a clean {what}",
            field=field_name,
        )
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0.0 or hi > 1.0:
        raise SceneError(
            f"{name} float values must be within [0, 1], got range [{lo:g}, {hi:g}]; "
            f"rescale (e.g. divide by 255) or pass a uint8 array",
            field=field_name,
        )


# --------------------------------------------------------------------------- #
# mask / image normalisation
# --------------------------------------------------------------------------- #


def _is_image_source(value: Any) -> bool:
    """PIL images, encoded image bytes, paths and binary files are decoded (bounded) by images.py."""
    return isinstance(value, (Image.Image, bytes, bytearray, memoryview, str, os.PathLike)) or hasattr(value, "read")


def _normalize_mask(value: Any) -> np.ndarray:
    """Accept bool/uint8/float/int-0-1 arrays, nested lists, PIL images, image files or bytes; return float32.

    Images are bounded by the largest canvas's mask budget here; the Scene applies its own canvas's.
    PIL modes are read as images.mask_from_pil says (16-bit scaled by 65535, mode F as [0, 1] values).
    """
    if _is_image_source(value):
        if isinstance(value, Image.Image) and (value.width == 0 or value.height == 0):
            raise SceneError("mask is empty (size 0); pass a non-empty image", field="mask")
        image = open_image_bounded(value, max_pixels=pixel_budget(MAX_SIDE, MAX_SIDE), field="mask")
        arr = mask_from_pil(image, "mask")
    else:
        arr = _as_numeric_array(value, "mask", "mask")
    if arr.ndim != 2:
        raise SceneError(
            f"mask must be a 2-D (H, W) array, got shape {tuple(arr.shape)}; "
            "for a multi-channel image pick one channel or pass a PIL image",
            field="mask",
        )
    if arr.size > pixel_budget(MAX_SIDE, MAX_SIDE):  # before any conversion touches the pixels
        raise SceneError(
            f"a {arr.shape[1]}x{arr.shape[0]} mask is larger than any canvas allows (at most "
            f"{pixel_budget(MAX_SIDE, MAX_SIDE):,} pixels); pass an (H, W) mask the size of your canvas",
            field="mask",
        )
    kind = arr.dtype.kind
    if kind == "b":
        return arr.astype(np.float32)
    if arr.dtype == np.uint8:
        return _from_uint8(arr)
    if kind in "iu":
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > 1:
            raise SceneError(
                f"mask integer values must be 0 or 1 (dtype {arr.dtype}, range {lo}..{hi}); "
                "pass a uint8 array for 0-255 masks, a bool array, or floats in [0, 1]",
                field="mask",
            )
        return arr.astype(np.float32)
    _check_finite_unit(arr, "mask", "mask", "mask")
    return arr.astype(np.float32)


def _normalize_image(value: Any) -> np.ndarray:
    """Accept PIL images (any mode), image files or bytes, uint8 or float [0, 1] (H, W, 3|4) arrays.

    Returns float32 RGB. Images are bounded by the photo budget of the largest canvas; PIL modes are
    read as images.rgb_from_pil says (mode F as [0, 1] values, 16-bit scaled by 65535).
    """
    name = "background.image"
    if _is_image_source(value):
        if isinstance(value, Image.Image) and (value.width == 0 or value.height == 0):
            raise SceneError(f"{name} is empty (size 0); pass a non-empty image", field="image")
        image = open_image_bounded(value, max_pixels=photo_pixel_budget(MAX_SIDE, MAX_SIDE), field="image")
        arr = rgb_from_pil(image, "image")
        _check_finite_unit(arr, name, "image", "image")
        return arr
    arr = _as_numeric_array(value, name, "image")
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise SceneError(
            f"{name} must be an (H, W, 3) RGB or (H, W, 4) RGBA array, got shape {tuple(arr.shape)}; "
            "for grayscale pass a PIL image or np.stack([gray] * 3, axis=-1)",
            field="image",
        )
    arr = arr[:, :, :3]
    if arr.dtype == np.uint8:
        return _from_uint8(arr)
    if arr.dtype.kind != "f":
        raise SceneError(
            f"{name} has dtype {arr.dtype}; pass uint8 values 0-255 or floats in [0, 1]",
            field="image",
        )
    _check_finite_unit(arr, name, "image", "image")
    return arr.astype(np.float32)


def _aspect_matches(shape: tuple[int, int], width: int, height: int) -> bool:
    """Masks drawn at a different resolution are fine as long as they are not distorted."""
    h, w = shape
    return abs((w / h) / (width / height) - 1.0) <= ASPECT_TOLERANCE + 1e-9


def _resize_plane(plane: np.ndarray, width: int, height: int, resample: Image.Resampling) -> np.ndarray:
    """Resize one float32 plane through Pillow's mode "F" (no 8-bit quantisation)."""
    img = Image.fromarray(np.ascontiguousarray(plane, dtype=np.float32))
    out = np.asarray(img.resize((width, height), resample=resample), dtype=np.float32)
    return np.clip(out, 0.0, 1.0)


def _fit_mask(mask: np.ndarray, width: int, height: int, path: str) -> np.ndarray | None:
    """Resize a mask to the canvas (bilinear) or explain why it cannot be; None if already fits."""
    if mask.shape == (height, width):
        return None
    if mask.size > pixel_budget(width, height):
        raise SceneError(
            f"{path}: a {mask.shape[1]}x{mask.shape[0]} mask is too large for the {width}x{height} canvas "
            f"(at most {pixel_budget(width, height):,} pixels); pass a ({height}, {width}) mask", field=path)
    if not _aspect_matches(mask.shape, width, height):
        raise SceneError(
            f"{path}: shape {tuple(mask.shape)} does not match the {width}x{height} canvas and has a "
            f"different aspect ratio; pass a ({height}, {width}) mask",
            field=path,
        )
    return _resize_plane(mask, width, height, Image.Resampling.BILINEAR)


def _fit_image(image: np.ndarray, width: int, height: int) -> np.ndarray | None:
    """Resize a background image to the canvas (bicubic, float path); None if already fits."""
    if image.shape[:2] == (height, width):
        return None
    if image.shape[0] * image.shape[1] > photo_pixel_budget(width, height):
        raise SceneError(
            f"background.image: a {image.shape[1]}x{image.shape[0]} image is too large for the {width}x{height} "
            f"canvas (at most {photo_pixel_budget(width, height):,} pixels); scale it down", field="background.image")
    if not _aspect_matches(image.shape[:2], width, height):
        raise SceneError(
            f"background.image: shape {tuple(image.shape)} does not match the {width}x{height} canvas "
            f"and has a different aspect ratio; pass a ({height}, {width}, 3) image",
            field="background.image",
        )
    planes = [_resize_plane(image[:, :, c], width, height, Image.Resampling.BICUBIC) for c in range(3)]
    return np.stack(planes, axis=-1)


# --------------------------------------------------------------------------- #
# dataclasses
# --------------------------------------------------------------------------- #


@dataclass(frozen=True, eq=False, repr=False)
class Region:
    """One prompt painted through one soft mask.

    ``mask`` is normalised to a read-only float32 ``(H, W)`` array in ``[0, 1]``
    so the engine can use it directly and caches can key on :attr:`mask_digest`.
    """

    prompt: str
    mask: np.ndarray
    negative_prompt: str = ""
    prompt_strength: float = 1.0
    mask_strength: float = 1.0
    mask_blur: float = 0.0

    def __post_init__(self) -> None:
        prompt = _check_text(self.prompt, "prompt", "prompt")
        if not prompt.strip():
            raise SceneError(
                "Region prompt is empty: give the region a text such as 'a red apple', or remove it",
                field="prompt",
            )
        negative = _check_text(self.negative_prompt, "negative_prompt", "negative_prompt")
        values = {
            "prompt": prompt,
            "negative_prompt": negative,
            "prompt_strength": _check_unit_range(self.prompt_strength, "prompt_strength"),
            "mask_strength": _check_unit_range(self.mask_strength, "mask_strength"),
            "mask_blur": _check_unit_range(self.mask_blur, "mask_blur"),
            "mask": _freeze(_normalize_mask(self.mask)),
        }
        for key, value in values.items():
            object.__setattr__(self, key, value)
        object.__setattr__(self, "_mask_digest", _digest(values["mask"]))

    @property
    def mask_digest(self) -> str:
        """Short stable hex digest of the mask (shape + float32 bytes), for caches."""
        return self._mask_digest  # type: ignore[attr-defined]

    def _key(self) -> tuple:
        return (
            self.prompt,
            self.negative_prompt,
            self.prompt_strength,
            self.mask_strength,
            self.mask_blur,
            self.mask_digest,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Region):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        h, w = self.mask.shape
        return (
            f"Region(prompt={self.prompt!r}, mask=<{h}x{w} float32, coverage {float(self.mask.mean()):.0%}>, "
            f"negative_prompt={self.negative_prompt!r}, prompt_strength={self.prompt_strength:g}, "
            f"mask_strength={self.mask_strength:g}, mask_blur={self.mask_blur:g})"
        )

    def __reduce__(self) -> tuple:
        # Rebuild through the constructor so unpickled masks are read-only again.
        return (Region, (self.prompt, self.mask, self.negative_prompt, self.prompt_strength,
                         self.mask_strength, self.mask_blur))

    def with_(self, **changes: Any) -> Region:
        """Validated copy with some fields changed (regions are immutable)."""
        return _replace(self, "Region", changes)


@dataclass(frozen=True, eq=False, repr=False)
class Background:
    """What goes behind the regions: a global prompt, an optional init image, a global negative prompt."""

    prompt: str = ""
    image: np.ndarray | None = None
    negative_prompt: str = ""

    def __post_init__(self) -> None:
        prompt = _check_text(self.prompt, "prompt", "background.prompt")
        negative = _check_text(self.negative_prompt, "negative_prompt", "background.negative_prompt")
        image = None if self.image is None else _freeze(_normalize_image(self.image))
        object.__setattr__(self, "prompt", prompt)
        object.__setattr__(self, "negative_prompt", negative)
        object.__setattr__(self, "image", image)
        object.__setattr__(self, "_image_digest", None if image is None else _digest(image))

    @property
    def image_digest(self) -> str | None:
        """Short stable hex digest of the image, or None when there is no image."""
        return self._image_digest  # type: ignore[attr-defined]

    def _key(self) -> tuple:
        return (self.prompt, self.negative_prompt, self.image_digest)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Background):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        image = "None" if self.image is None else f"<{self.image.shape[0]}x{self.image.shape[1]} RGB float32>"
        return (
            f"Background(prompt={self.prompt!r}, image={image}, "
            f"negative_prompt={self.negative_prompt!r})"
        )

    def __reduce__(self) -> tuple:
        return (Background, (self.prompt, self.image, self.negative_prompt))

    def with_(self, **changes: Any) -> Background:
        """Validated copy with some fields changed."""
        return _replace(self, "Background", changes)


def _replace(obj: Any, kind: str, changes: dict[str, Any]) -> Any:
    """dataclasses.replace, but unknown field names raise SceneError listing the valid ones."""
    names = [f.name for f in dataclasses.fields(obj)]
    for key in changes:
        if key not in names:
            raise SceneError(f"{kind} has no field {key!r}{_did_you_mean(key, names)}; fields are {names}")
    return dataclasses.replace(obj, **changes)


def _did_you_mean(key: str, allowed: list[str]) -> str:
    match = difflib.get_close_matches(str(key), allowed, n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _check_regions(value: Any) -> tuple[Region, ...]:
    """Regions come as a list or tuple of Region objects; anything else is a usage mistake."""
    if isinstance(value, Region):
        raise SceneError("regions: expected a list of Region, got a single Region; wrap it in a list", field="regions")
    if not isinstance(value, (list, tuple)):
        raise SceneError(f"regions: expected a list or tuple of Region, got {type(value).__name__}", field="regions")
    for i, region in enumerate(value):
        if not isinstance(region, Region):
            raise SceneError(
                f"regions[{i}]: expected a Region, got {type(region).__name__}; "
                "build it with Region(prompt=..., mask=...) or use Scene.from_dict for plain dicts",
                field=f"regions[{i}]",
            )
    return tuple(value)


@dataclass(frozen=True, eq=False)
class Scene:
    """A whole regional-generation request: canvas, seed, background and regions.

    Masks and the background image are resized to the canvas at construction
    (when their aspect ratio matches), so consumers can rely on every array
    being exactly ``(height, width)``.
    """

    width: int = 512
    height: int = 512
    seed: int = 0
    background: Background = field(default_factory=Background)
    regions: tuple[Region, ...] = ()

    def __post_init__(self) -> None:
        width = _check_side(self.width, "width")
        height = _check_side(self.height, "height")
        seed = _check_seed(self.seed)
        background = self.background
        if not isinstance(background, Background):
            raise SceneError(
                f"background: expected a Background, got {type(background).__name__}; "
                "build one with Background(prompt=...) or use Scene.from_dict for plain dicts",
                field="background",
            )
        regions = _check_regions(self.regions)
        regions = tuple(_fit_region(r, width, height, i) for i, r in enumerate(regions))
        background = _fit_background(background, width, height)
        if not regions and not background.prompt.strip() and background.image is None:
            raise SceneError(
                "scene has nothing to draw: add at least one Region or give the background a prompt"
            )
        for key, value in (("width", width), ("height", height), ("seed", seed),
                           ("background", background), ("regions", regions)):
            object.__setattr__(self, key, value)

    def _key(self) -> tuple:
        return (self.width, self.height, self.seed, self.background, self.regions)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Scene):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def with_(self, **changes: Any) -> Scene:
        """Validated copy with some fields changed (e.g. ``scene.with_(seed=1)``)."""
        return _replace(self, "Scene", changes)

    def with_region(self, index: int, **changes: Any) -> Scene:
        """Validated copy with region ``index`` changed (e.g. a new prompt from a text box)."""
        n = len(self.regions)
        if not _is_int(index) or not -n <= int(index) < n:
            hint = f"use an index in 0..{n - 1}" if n else "add one with scene.with_(regions=[...]) first"
            raise SceneError(
                f"regions[{index}]: no such region; this scene has {n} region(s), {hint}",
                field=f"regions[{index}]",
            )
        regions = list(self.regions)
        try:
            regions[int(index)] = regions[int(index)].with_(**changes)
        except SceneError as exc:
            raise _nested(exc, f"regions[{index}]") from None
        return self.with_(regions=tuple(regions))

    # ----------------------------------------------------------------- JSON --

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict; masks/images become PNG data URLs."""
        bg = self.background
        return {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "width": self.width,
            "height": self.height,
            "seed": self.seed,
            "background": {
                "prompt": bg.prompt,
                "negative_prompt": bg.negative_prompt,
                "image": None if bg.image is None else _png_data_url(_to_uint8(bg.image), "RGB"),
            },
            "regions": [_region_to_dict(r) for r in self.regions],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scene:
        """Build a Scene from :meth:`to_dict` output or a hand-written dict (shapes allowed)."""
        return _scene_from_dict(data)

    def to_json(self, indent: int | None = 2) -> str:
        """Serialise to the portable JSON scene format."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> Scene:
        """Parse a JSON scene; syntax errors become SceneError with line/column."""
        if not isinstance(text, (str, bytes, bytearray)):
            raise SceneError(f"from_json expects JSON text (str or bytes), got {type(text).__name__}")
        try:
            data = json.loads(text)
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
        return _scene_from_dict(data)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the scene as UTF-8 JSON to ``path``."""
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(self.to_json())
            fh.write("\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Scene:
        """Read a scene file; errors are prefixed with the file name so users know which file is bad."""
        size = os.path.getsize(path)
        if size > MAX_SCENE_FILE_BYTES:
            raise SceneError(f"{os.fspath(path)}: {size:,} bytes is too large for a scene file "
                             f"(at most {MAX_SCENE_FILE_BYTES:,}); check that this is the right file")
        with open(path, "rb") as fh:
            raw = fh.read()
        try:
            return cls.from_json(raw)
        except SceneError as exc:
            raise SceneError(f"{os.fspath(path)}: {exc.message}", field=exc.field) from None


def _fit_region(region: Region, width: int, height: int, index: int) -> Region:
    resized = _fit_mask(region.mask, width, height, f"regions[{index}].mask")
    return region if resized is None else dataclasses.replace(region, mask=resized)


def _fit_background(background: Background, width: int, height: int) -> Background:
    if background.image is None:
        return background
    resized = _fit_image(background.image, width, height)
    return background if resized is None else dataclasses.replace(background, image=resized)


# --------------------------------------------------------------------------- #
# JSON helpers
# --------------------------------------------------------------------------- #


def _png_data_url(arr: np.ndarray, mode: str) -> str:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(arr)).convert(mode).save(buf, format="PNG")
    return _PNG_PREFIX + base64.b64encode(buf.getvalue()).decode("ascii")


def _region_to_dict(region: Region) -> dict[str, Any]:
    return {
        "prompt": region.prompt,
        "negative_prompt": region.negative_prompt,
        "prompt_strength": region.prompt_strength,
        "mask_strength": region.mask_strength,
        "mask_blur": region.mask_blur,
        "mask": _png_data_url(_to_uint8(region.mask), "L"),
    }


_SCENE_KEYS = ("format", "version", "width", "height", "seed", "background", "regions")
_BACKGROUND_KEYS = ("prompt", "negative_prompt", "image")
_REGION_KEYS = ("prompt", "negative_prompt", "prompt_strength", "mask_strength", "mask_blur", "mask")


def _check_object(value: Any, path: str, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SceneError(f"{path}: expected an object ({what}), got {type(value).__name__}", field=path)
    return value


def _check_keys(data: Mapping[str, Any], allowed: tuple[str, ...], path: str) -> None:
    """Unknown keys are refused so typos like "promt" do not silently fall back to defaults."""
    for key in data:
        if key not in allowed:
            where = f"{path}: unknown key" if path else "unknown key"
            raise SceneError(
                f"{where} {key!r}{_did_you_mean(key, list(allowed))}; allowed keys are {list(allowed)}",
                field=path or None,
            )


def _check_header(data: Mapping[str, Any]) -> None:
    """``format`` and ``version`` are optional (hand-written files) but must be right when given."""
    if "format" in data and data["format"] != FORMAT_NAME:
        raise SceneError(
            f"format: expected {FORMAT_NAME!r}, got {data['format']!r}; this is not a SemanticDraw scene file",
            field="format",
        )
    if "version" in data:
        version = data["version"]
        if not _is_int(version) or version < 1:
            raise SceneError(f"version: expected a positive integer, got {version!r}", field="version")
        if version > FORMAT_VERSION:
            raise SceneError(
                f"version: this file uses scene format version {version}, but this semanticdraw_widgets "
                f"reads only version {FORMAT_VERSION}; upgrade the package (pip install -U semanticdraw_widgets)",
                field="version",
            )


def _scene_from_dict(data: Any) -> Scene:
    data = _check_object(data, "scene", "a SemanticDraw scene")
    check_json_depth(data, "scene", error=SceneError)
    _check_header(data)
    _check_keys(data, _SCENE_KEYS, "")
    width = _check_side(data.get("width", 512), "width")
    height = _check_side(data.get("height", 512), "height")
    seed = _check_seed(data.get("seed", 0))
    background = _background_from_dict(data.get("background", {}), width, height)
    raw_regions = data.get("regions", [])
    if not isinstance(raw_regions, list):
        raise SceneError(f"regions: expected a list of region objects, got {type(raw_regions).__name__}",
                         field="regions")
    regions = [_region_from_dict(r, i, width, height) for i, r in enumerate(raw_regions)]
    return Scene(width=width, height=height, seed=seed, background=background, regions=tuple(regions))


def _background_from_dict(data: Any, width: int, height: int) -> Background:
    data = _check_object(data, "background", "with 'prompt', 'negative_prompt' and 'image'")
    _check_keys(data, _BACKGROUND_KEYS, "background")
    image = data.get("image")
    if image is not None:
        if not isinstance(image, str):
            raise SceneError(
                f"background.image: expected null or a PNG data URL, got {type(image).__name__}",
                field="background.image",
            )
        image = _decode_png(image, "background.image", photo_pixel_budget(width, height), (width, height))
    return Background(
        prompt=data.get("prompt", ""), image=image, negative_prompt=data.get("negative_prompt", "")
    )


def _region_from_dict(data: Any, index: int, width: int, height: int) -> Region:
    path = f"regions[{index}]"
    data = _check_object(data, path, "with 'prompt' and 'mask'")
    _check_keys(data, _REGION_KEYS, path)
    for required in ("prompt", "mask"):
        if required not in data:
            raise SceneError(f"{path}.{required}: missing; every region needs a prompt and a mask",
                             field=f"{path}.{required}")
    mask = _mask_from_json(data["mask"], f"{path}.mask", width, height)
    kwargs = {k: data[k] for k in _REGION_KEYS if k in data and k != "mask"}
    try:
        return Region(mask=mask, **kwargs)
    except SceneError as exc:
        raise _nested(exc, path) from None


def _mask_from_json(value: Any, path: str, width: int, height: int) -> Any:
    """A mask in a file is a PNG data URL or a simple shape in canvas pixels."""
    if isinstance(value, str):
        if not value.strip().startswith(_PNG_PREFIX):
            raise SceneError(f"{path}: not a PNG data URL or shape; {_SHAPE_HELP}", field=path)
        return _decode_png(value, path, pixel_budget(width, height), (width, height))
    if isinstance(value, Mapping):
        if len(value) != 1 or next(iter(value)) not in _SHAPES:
            raise SceneError(
                f"{path}: not a PNG data URL or shape; expected exactly one of 'rect', 'ellipse', 'polygon', "
                f"got keys {list(value)}; {_SHAPE_HELP}",
                field=path,
            )
        kind, coords = next(iter(value.items()))
        mask = _SHAPES[kind](coords, f"{path}.{kind}", width, height)
        if not mask.any():
            raise SceneError(
                f"{path}.{kind}: {_short(coords)} covers no pixel of the {width}x{height} canvas (it lies outside "
                f"it or between pixel centres); use coordinates within 0..{width} x 0..{height}",
                field=f"{path}.{kind}")
        return mask
    raise SceneError(f"{path}: not a PNG data URL or shape (got {type(value).__name__}); {_SHAPE_HELP}",
                     field=path)


def _decode_png(text: str, path: str, max_pixels: int, size: tuple[int, int]) -> Image.Image:
    """Decode a PNG data URL fully (so corrupt data fails here, with the field path).

    The PNG header is checked against `max_pixels` (a budget tied to the canvas) before any pixel
    is decoded, so a small file declaring a huge image costs nothing.
    """
    text = text.strip()
    if not text.startswith(_PNG_PREFIX):
        raise SceneError(f"{path}: not a PNG data URL; expected text starting with {_PNG_PREFIX!r}", field=path)
    try:
        raw = base64.b64decode(text[len(_PNG_PREFIX):], validate=True)
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


def _coords(value: Any, count: int, names: str, path: str) -> list[float]:
    if (not isinstance(value, list) or len(value) != count
            or not all(_is_number(v) and _finite(v) for v in value)):
        raise SceneError(f"{path}: expected {count} numbers {names}, got {_short(value)}", field=path)
    if any(abs(float(v)) > MAX_COORDINATE for v in value):
        raise SceneError(f"{path}: coordinates must be within ±{MAX_COORDINATE:g} canvas pixels, got {_short(value)}",
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
        raise SceneError(f"{path}: need x0 < x1 and y0 < y1, got {_short(value)}", field=path)
    xs, ys = _pixel_centres(width, height)
    return (xs >= x0) & (xs < x1) & (ys >= y0) & (ys < y1)


def _ellipse_mask(value: Any, path: str, width: int, height: int) -> np.ndarray:
    cx, cy, rx, ry = _coords(value, 4, "[cx, cy, rx, ry]", path)
    if rx <= 0 or ry <= 0:
        raise SceneError(f"{path}: radii rx and ry must be positive, got {_short(value)}", field=path)
    xs, ys = _pixel_centres(width, height)
    return ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 <= 1.0


def _polygon_mask(value: Any, path: str, width: int, height: int) -> np.ndarray:
    if not isinstance(value, list) or len(value) < 3:
        raise SceneError(f"{path}: expected a list of at least 3 [x, y] points, got {_short(value)}", field=path)
    points = [tuple(_coords(p, 2, "[x, y]", f"{path}[{i}]")) for i, p in enumerate(value)]
    img = Image.new("L", (width, height), 0)
    ImageDraw.Draw(img).polygon(points, fill=255, outline=255)
    return np.asarray(img) > 127


_SHAPES = {"rect": _rect_mask, "ellipse": _ellipse_mask, "polygon": _polygon_mask}
