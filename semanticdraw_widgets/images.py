"""Bounded image decoding and the one PIL-image -> array conversion for masks and pictures.

Every image the package accepts (a mask or background given as a PIL image, a path, bytes or a file
object; a PNG inside a scene file; an upload in the widget) goes through :func:`open_image_bounded`:
the header is read first and an image with more pixels than the budget is refused **before** any
pixel is decoded, so a few hundred bytes that declare 100000x100000 pixels, or a small PNG of a huge
blank canvas (a zlib bomb), cost nothing. The budgets are tied to the canvas:

- masks: ``pixel_budget(w, h) = min(max(16 w h, 4096²), 8192²)``: a mask may have 4x the canvas's
  resolution per side (or 4096x4096 on small canvases), never more than 8192x8192 (64 Mi pixels);
- photos (background images): ``photo_pixel_budget(w, h) = max(4 w h, 2**26)``: 64 Mi pixels, so
  a 48-megapixel phone photo (8000x6000) fits any canvas; canvases are at most 4096x4096, so the
  budget never exceeds 64 Mi pixels either. A JPEG is decoded at the smallest of 1/1, 1/2, 1/4, 1/8
  scale that still covers ``target_size`` (``Image.draft``), so a 4000x3000 photo for a 512x512
  canvas decodes at 1000x750.
- a JPEG with more than ``MAX_JPEG_SCANS`` (64) scans is refused before decoding: a progressive JPEG
  costs one pass over all its pixels per scan, so a small file with thousands of scans is a CPU bomb
  that the pixel budget does not see (ordinary encoders write about 10).

Pixel values (``mask_from_pil`` / ``rgb_from_pil``):

- 8-bit modes (1, L, P, RGB, ...) are divided by 255; 16-bit modes (I;16, I;16B, I;16L, and mode I
  holding 16-bit data, as 16-bit PNGs open) are divided by 65535: **scaled, not clipped**;
- float images (mode F) are taken as values in [0, 1] (a float outside [0, 1] is refused by the
  Scene rather than clipped), for masks and backgrounds alike;
- a mask with an alpha channel (LA, RGBA, PA, P with transparency) is its alpha; otherwise its
  luminance (white = inside). A background image's alpha is ignored (its RGB is used).
"""

from __future__ import annotations

import io
import os
import warnings
from typing import IO, Any, Sequence, Union

import numpy as np
from PIL import Image, UnidentifiedImageError

from .files import write_bytes_atomic
from .validation import SceneError

__all__ = ["save_image_atomic", "open_image_bounded", "ImageTooLarge", "pixel_budget", "photo_pixel_budget", "mask_from_pil", "rgb_from_pil",
           "IMAGE_FORMATS", "MAX_BUDGET", "MAX_JPEG_SCANS"]

MASK_MIN_BUDGET = 4096 * 4096
# A progressive JPEG is decoded in one pass over the whole coefficient buffer per scan, so its cost is
# scans x pixels whatever its byte size: a 700 KB file declaring 8000x8000 with thousands of tiny
# scans takes a minute. Encoders write about 10 scans (Pillow/libjpeg 10, mozjpeg up to ~20); the
# JPEG standard sets no limit, libjpeg-turbo leaves it to the caller (djpeg -maxscans).
MAX_JPEG_SCANS = 64
MAX_BUDGET = 8192 * 8192
PHOTO_MIN_BUDGET = 2**26
# Formats a user may reasonably hand us. Pillow can open more (EPS runs Ghostscript, for one), so
# everything else is refused.
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")

ImageSource = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]", IO[bytes], Image.Image]


def pixel_budget(width: int, height: int) -> int:
    """Most pixels a mask for a ``width`` x ``height`` canvas may have: min(max(16 w h, 4096²), 8192²)."""
    return min(max(16 * int(width) * int(height), MASK_MIN_BUDGET), MAX_BUDGET)


def photo_pixel_budget(width: int, height: int) -> int:
    """Most pixels a background photo for a ``width`` x ``height`` canvas may have: max(4 w h, 2**26)."""
    return max(4 * int(width) * int(height), PHOTO_MIN_BUDGET)


class ImageTooLarge(SceneError):
    """An image refused from its header: more pixels than the budget (nothing was decoded)."""


def _too_big(field: str, width: int, height: int, max_pixels: int) -> SceneError:
    side = int(max_pixels ** 0.5)
    return ImageTooLarge(
        f"{field}: the image is {width}x{height} ({width * height:,} pixels), more than the {max_pixels:,} "
        f"allowed here (about {side}x{side}); scale it down before using it",
        field=field)


def open_image_bounded(source: ImageSource, *, max_pixels: int, field: str,
                       target_size: tuple[int, int] | None = None,
                       formats: Sequence[str] = IMAGE_FORMATS) -> Image.Image:
    """Open an image, refusing it from its header when it has more than ``max_pixels`` pixels.

    source: bytes, a path, a binary file object or a PIL image (checked, returned as is).
    target_size: (width, height) the image will be resized to; JPEGs then decode at a reduced scale.
    Returns a fully loaded PIL image of at most ``max_pixels`` pixels. Every failure is a SceneError
    naming ``field``.
    """
    if isinstance(source, Image.Image):
        # Possibly not loaded yet (from Image.open): the size is the header's, so this check is early.
        if source.width * source.height > max_pixels:
            raise _too_big(field, source.width, source.height, max_pixels)
        if source.width == 0 or source.height == 0:
            raise SceneError(f"{field}: the image is empty ({source.width}x{source.height})", field=field)
        if source.format == "JPEG" and getattr(source, "fp", None) is not None:  # opened, not yet decoded
            _check_jpeg_scans(source, field)
        try:
            source.load()
        except Exception as exc:  # noqa: BLE001 - a lazily opened image may still be corrupt
            raise SceneError(f"{field}: could not decode the image ({exc}); re-export it", field=field) from None
        return source
    if isinstance(source, (bytes, bytearray, memoryview)):
        fp: Any = io.BytesIO(bytes(source))
    elif isinstance(source, (str, os.PathLike)):
        fp = os.fspath(source)
        if not os.path.isfile(fp):
            raise SceneError(f"{field}: no image file {fp!r}; check the path", field=field)
    elif hasattr(source, "read"):
        fp = source
    else:
        raise SceneError(f"{field}: expected image bytes, a path, a file or a PIL image, "
                         f"got {type(source).__name__}", field=field)
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb guard (Image.MAX_IMAGE_PIXELS) warns, then errors: both become our message.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(fp, formats=list(formats))  # reads the header only
            if image.width * image.height > max_pixels:
                raise _too_big(field, image.width, image.height, max_pixels)
            if image.width == 0 or image.height == 0:
                raise SceneError(f"{field}: the image is empty ({image.width}x{image.height})", field=field)
            if image.format == "JPEG":
                _check_jpeg_scans(image, field)
            if target_size is not None and image.format == "JPEG":
                image.draft(image.mode, (int(target_size[0]), int(target_size[1])))
            image.load()
    except SceneError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # (Pillow's own guard fired first, at a higher limit than ours; say ours only)
        raise ImageTooLarge(f"{field}: refused before decoding: the image has far more than the {max_pixels:,} "
                            f"pixels allowed here; scale it down before using it", field=field) from None
    except UnidentifiedImageError:
        raise SceneError(f"{field}: not an image in a supported format ({', '.join(formats)})", field=field) from None
    except MemoryError:
        raise SceneError(f"{field}: out of memory decoding the image; scale it down", field=field) from None
    except Exception as exc:  # noqa: BLE001 - Pillow raises OSError, ValueError, SyntaxError, struct.error, ...
        raise SceneError(f"{field}: could not decode the image ({type(exc).__name__}: {exc}); re-export it",
                         field=field) from None
    return image


def count_jpeg_scans(fp: IO[bytes], limit: int) -> int:
    """Start-of-scan markers (FF DA) in a JPEG stream, counting stops past ``limit``; restores ``fp``'s position.

    In entropy-coded data a 0xFF byte is always followed by 0x00 or a restart marker, so FF DA occurs
    only as a marker (or inside an embedded thumbnail, which only over-counts).
    """
    position = fp.tell()
    fp.seek(0)
    count, carry = 0, b""
    try:
        while count <= limit:
            chunk = fp.read(1 << 20)
            if not chunk:
                break
            block = carry + chunk
            count += block.count(b"\xff\xda")
            carry = block[-1:] if block[-1:] == b"\xff" else b""
    finally:
        fp.seek(position)
    return count


def _check_jpeg_scans(image: Image.Image, field: str) -> None:
    scans = count_jpeg_scans(image.fp, MAX_JPEG_SCANS)
    if scans > MAX_JPEG_SCANS:
        raise SceneError(
            f"{field}: the JPEG has more than {MAX_JPEG_SCANS} scans (ordinary photos have about 10), which would "
            "take minutes to decode; re-save it as a baseline JPEG or a PNG", field=field)


_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N")


def _scaled_16bit(image: Image.Image, field: str) -> np.ndarray:
    """I;16* and mode I (how 16-bit PNGs open) -> float32 / 65535; mode I outside 0..65535 is refused."""
    values = np.asarray(image)
    if image.mode == "I" and values.size and (int(values.min()) < 0 or int(values.max()) > 65535):
        raise SceneError(
            f"{field}: a 32-bit integer image (mode I) is read as 16-bit data 0..65535, but its values span "
            f"{int(values.min())}..{int(values.max())}; save it as 8- or 16-bit, or pass a float array in [0, 1]",
            field=field)
    return values.astype(np.float32) / np.float32(65535.0)


def _converted(image: Image.Image, mode: str, field: str) -> Image.Image:
    """image.convert(mode), or a SceneError for modes Pillow cannot convert (e.g. LAB)."""
    try:
        return image.convert(mode)
    except (ValueError, OSError) as exc:
        raise SceneError(f"{field}: cannot read a mode {image.mode} image ({exc}); convert it to L, RGB or RGBA "
                         "first", field=field) from None


def from_uint8(arr: np.ndarray) -> np.ndarray:
    """The one uint8 -> [0, 1] conversion, shared by every path (images, masks, scenes) so round trips are bit-exact."""
    return arr.astype(np.float32) / np.float32(255.0)


_from_uint8 = from_uint8  # the name it had


def mask_from_pil(image: Image.Image, field: str = "mask") -> np.ndarray:
    """(H, W) float32 mask from a PIL image (see the module docstring for the per-mode rule)."""
    mode = image.mode
    if mode == "F":
        return np.asarray(image, dtype=np.float32)
    if mode in _SIXTEEN_BIT or mode == "I":
        return _scaled_16bit(image, field)
    if mode == "P" and "transparency" in image.info:
        image, mode = _converted(image, "RGBA", field), "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        # the alpha band is the mode's last letter: "A", or "a" in the premultiplied RGBa and La
        return _from_uint8(np.asarray(image.getchannel(mode[-1])))
    if mode == "1":
        return np.asarray(image, dtype=bool).astype(np.float32)
    if mode != "L":
        image = _converted(image, "L", field)
    return _from_uint8(np.asarray(image))


def rgb_from_pil(image: Image.Image, field: str = "image") -> np.ndarray:
    """(H, W, 3) float32 picture from a PIL image (see the module docstring for the per-mode rule)."""
    mode = image.mode
    if mode == "F":
        gray = np.asarray(image, dtype=np.float32)
    elif mode in _SIXTEEN_BIT or mode == "I":
        gray = _scaled_16bit(image, field)
    else:
        return _from_uint8(np.asarray(image if mode == "RGB" else _converted(image, "RGB", field)))
    return np.repeat(gray[:, :, None], 3, axis=2)


def save_image_atomic(image: Image.Image, path: str | os.PathLike[str], format: str | None = None) -> None:
    """Save ``image`` to ``path`` (format from the extension unless given), encoded in memory first and
    renamed into place, so a failed encode or write leaves the old file and no partial one."""
    if format is None:
        suffix = os.path.splitext(os.fspath(path))[1].lower()
        format = Image.registered_extensions().get(suffix)
        if format is None:
            raise ValueError(f"{os.fspath(path)}: unknown image extension {suffix!r}; end the name with .png or .jpg")
    buffer = io.BytesIO()
    image.save(buffer, format=format)
    write_bytes_atomic(path, buffer.getvalue())
