"""Masks and background images to read-only float32 arrays at canvas size: the Scene's array normalisation.

Masks become float32 ``(H, W)`` in ``[0, 1]``, images float32 ``(H, W, 3)`` in ``[0, 1]``; 8-bit values are
divided by 255 by the one conversion in images.py, so round trips through PNG are bit-exact. Arrays drawn at
another resolution are resized to the canvas when their aspect ratio matches.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import numpy as np
from PIL import Image

from .fields import MAX_SIDE
from .images import from_uint8, mask_from_pil, open_image_bounded, photo_pixel_budget, pixel_budget, rgb_from_pil
from .validation import SceneError

ASPECT_TOLERANCE = 0.01


def freeze(arr: np.ndarray) -> np.ndarray:
    """Own, contiguous, read-only float32 copy with -0.0 folded to 0.0 (stable digests)."""
    out = np.array(arr, dtype=np.float32, order="C", copy=True)
    out += np.float32(0.0)  # -0.0 + 0.0 == +0.0, so equal masks have equal bytes
    out.flags.writeable = False
    return out


def digest(arr: np.ndarray) -> str:
    """Short sha1 of shape + float32 bytes: cheap identity for caches and equality."""
    h = hashlib.sha1(repr(tuple(arr.shape)).encode("ascii"))
    h.update(np.ascontiguousarray(arr, dtype=np.float32).tobytes())
    return h.hexdigest()[:16]


def to_uint8(arr: np.ndarray) -> np.ndarray:
    """Inverse of :func:`images.from_uint8` (rounded), used for PNG export."""
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


def _is_image_source(value: Any) -> bool:
    """PIL images, encoded image bytes, paths and binary files are decoded (bounded) by images.py."""
    return isinstance(value, (Image.Image, bytes, bytearray, memoryview, str, os.PathLike)) or hasattr(value, "read")


def normalize_mask(value: Any) -> np.ndarray:
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
        return from_uint8(arr)
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


def normalize_image(value: Any) -> np.ndarray:
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
        return from_uint8(arr)
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


def fit_mask(mask: np.ndarray, width: int, height: int, path: str) -> np.ndarray | None:
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


def fit_image(image: np.ndarray, width: int, height: int) -> np.ndarray | None:
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
