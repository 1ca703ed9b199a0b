"""Immutable, validated scene description for regional text-to-image generation.

A :class:`Scene` is the single source of truth handed from the widgets to the
diffusion engine: a canvas size, a seed, a :class:`Background` and a tuple of
:class:`Region` objects (one prompt + one soft mask each).  Everything is
validated and normalised once, at construction, so the engine never has to
second-guess its input: masks are float32 ``(H, W)`` arrays in ``[0, 1]`` at
canvas resolution, images are float32 ``(H, W, 3)`` arrays in ``[0, 1]``, and
all arrays are read-only so a scene can safely be shared, hashed and cached.

Equality and hashing are dataclasses' own, over the fields with each array replaced by its digest
(``mask_digest``, ``image_digest``). The value types live here; the rest is split by concern:

- limits of every field: the field table, fields.py (checked through validation.check_field)
- arrays (masks and images to float32 at canvas size): scene_arrays.py
- the JSON scene format (masks as PNG data URLs): scene_json.py
- masks drawn from shapes (rect, ellipse, polygon) in hand-written files: shapes.py
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import scene_json
from .fields import FIELDS, MAX_SEED as _MAX_SEED_INCLUSIVE, MAX_TEXT_LENGTH
from .scene_arrays import ASPECT_TOLERANCE  # noqa: F401  (re-exported)
from .scene_arrays import digest, fit_image, fit_mask, freeze, normalize_image, normalize_mask
from .scene_json import FORMAT_NAME, FORMAT_VERSION, MAX_SCENE_FILE_BYTES  # noqa: F401  (re-exported)
from .shapes import MAX_COORDINATE  # noqa: F401  (re-exported)
from .validation import SceneError, check_field, did_you_mean, is_int

__all__ = ["SceneError", "Region", "Background", "Scene", "FORMAT_NAME", "FORMAT_VERSION"]

# Limits of the scene's fields come from the field table (fields.py); these names stay for importers.
MIN_SIDE, MAX_SIDE, SIDE_MULTIPLE = FIELDS["width"].min, FIELDS["width"].max, FIELDS["width"].multiple_of
MAX_SEED = _MAX_SEED_INCLUSIVE + 1
MAX_BLUR = FIELDS["mask_blur"].max
MAX_PROMPT_LENGTH = MAX_TEXT_LENGTH


def _nested(err: SceneError, prefix: str) -> SceneError:
    """Re-raise a child object's error under its path in the parent (e.g. ``regions[2].mask``)."""
    path = f"{prefix}.{err.field}" if err.field else prefix
    return SceneError(f"{path}: {err.message}", field=path)


def _check(name: str, value: Any, path: str | None = None) -> Any:
    """A field of the table (fields.py), refused with a SceneError naming it."""
    return check_field(name, value, path=path, error=SceneError)


@dataclass(frozen=True, repr=False)
class Region:
    """One prompt painted through one soft mask.

    ``mask`` is normalised to a read-only float32 ``(H, W)`` array in ``[0, 1]``
    so the engine can use it directly and caches can key on :attr:`mask_digest`.
    """

    prompt: str
    mask: np.ndarray = field(compare=False)
    # Defaults live once, in the field table (fields.py), which the JS side and docs/limits.md are generated from.
    negative_prompt: str = FIELDS["negative_prompt"].default
    prompt_strength: float = FIELDS["prompt_strength"].default
    mask_strength: float = FIELDS["mask_strength"].default
    mask_blur: float = FIELDS["mask_blur"].default
    # Short stable hex digest of the mask (shape + float32 bytes): equality, hashing and caches use it.
    mask_digest: str = field(init=False, default="")

    def __post_init__(self) -> None:
        prompt = _check("prompt", self.prompt)
        if not prompt.strip():
            raise SceneError(
                "Region prompt is empty: give the region a text such as 'a red apple', or remove it",
                field="prompt",
            )
        values = {
            "prompt": prompt,
            "negative_prompt": _check("negative_prompt", self.negative_prompt),
            "prompt_strength": _check("prompt_strength", self.prompt_strength),
            "mask_strength": _check("mask_strength", self.mask_strength),
            "mask_blur": _check("mask_blur", self.mask_blur),
            "mask": freeze(normalize_mask(self.mask)),
        }
        values["mask_digest"] = digest(values["mask"])
        for key, value in values.items():
            object.__setattr__(self, key, value)

    def __repr__(self) -> str:  # compact: the mask as its size and coverage, not a page of numbers
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


@dataclass(frozen=True, repr=False)
class Background:
    """What goes behind the regions: a global prompt, an optional init image, a global negative prompt."""

    prompt: str = ""
    image: np.ndarray | None = field(default=None, compare=False)
    negative_prompt: str = ""
    # Short stable hex digest of the image, or None when there is no image.
    image_digest: str | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        image = None if self.image is None else freeze(normalize_image(self.image))
        object.__setattr__(self, "prompt", _check("prompt", self.prompt, "background.prompt"))
        object.__setattr__(self, "negative_prompt",
                           _check("negative_prompt", self.negative_prompt, "background.negative_prompt"))
        object.__setattr__(self, "image", image)
        object.__setattr__(self, "image_digest", None if image is None else digest(image))

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
    names = [f.name for f in dataclasses.fields(obj) if f.init]
    for key in changes:
        if key not in names:
            raise SceneError(f"{kind} has no field {key!r}{did_you_mean(key, names)}; fields are {names}")
    return dataclasses.replace(obj, **changes)


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


@dataclass(frozen=True)
class Scene:
    """A whole regional-generation request: canvas, seed, background and regions.

    Masks and the background image are resized to the canvas at construction
    (when their aspect ratio matches), so consumers can rely on every array
    being exactly ``(height, width)``.
    """

    width: int = FIELDS["width"].default
    height: int = FIELDS["height"].default
    seed: int = FIELDS["seed"].default
    background: Background = field(default_factory=Background)
    regions: tuple[Region, ...] = ()

    def __post_init__(self) -> None:
        width = _check("width", self.width)
        height = _check("height", self.height)
        seed = _check("seed", self.seed)
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

    def with_(self, **changes: Any) -> Scene:
        """Validated copy with some fields changed (e.g. ``scene.with_(seed=1)``)."""
        return _replace(self, "Scene", changes)

    def with_region(self, index: int, **changes: Any) -> Scene:
        """Validated copy with region ``index`` changed (e.g. a new prompt from a text box)."""
        n = len(self.regions)
        if not is_int(index) or not -n <= int(index) < n:
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

    # ----------------------------------------------------------------- JSON (scene_json.py) --

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict; masks/images become PNG data URLs."""
        return scene_json.scene_to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scene:
        """Build a Scene from :meth:`to_dict` output or a hand-written dict (shapes allowed)."""
        return _scene_from_dict(data)

    def to_json(self, indent: int | None = 2) -> str:
        """Serialise to the portable JSON scene format."""
        return scene_json.scene_to_json(self, indent)

    @classmethod
    def from_json(cls, text: str | bytes) -> Scene:
        """Parse a JSON scene; syntax errors become SceneError with line/column."""
        return _scene_from_dict(scene_json.read_json(text))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the scene as UTF-8 JSON to ``path``."""
        scene_json.write_scene_file(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Scene:
        """Read a scene file; errors are prefixed with the file name so users know which file is bad."""
        raw = scene_json.read_scene_file(path)
        try:
            return cls.from_json(raw)
        except SceneError as exc:
            raise SceneError(f"{os.fspath(path)}: {exc.message}", field=exc.field) from None


def _fit_region(region: Region, width: int, height: int, index: int) -> Region:
    resized = fit_mask(region.mask, width, height, f"regions[{index}].mask")
    return region if resized is None else dataclasses.replace(region, mask=resized)


def _fit_background(background: Background, width: int, height: int) -> Background:
    if background.image is None:
        return background
    resized = fit_image(background.image, width, height)
    return background if resized is None else dataclasses.replace(background, image=resized)


def _scene_from_dict(data: Any) -> Scene:
    """The Scene a JSON-like dict describes: scene_json checks its structure, the value types its values."""
    parts = scene_json.parse_scene(data, finish_region=_region_fitted)
    background = Background(**parts["background"])
    return Scene(width=parts["width"], height=parts["height"], seed=parts["seed"], background=background,
                 regions=tuple(parts["regions"]))


def _region_fitted(kwargs: dict[str, Any], index: int, width: int, height: int) -> Region:
    """A region from a file, fitted to its canvas at once (one full-resolution mask alive at a time)."""
    try:
        region = Region(**kwargs)
    except SceneError as exc:
        raise _nested(exc, f"regions[{index}]") from None
    return _fit_region(region, width, height, index)
