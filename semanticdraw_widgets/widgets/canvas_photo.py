"""The canvas's uploaded photo: decoded once per upload (and refused once), bounded before a pixel is decoded."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

from ..images import open_image_bounded, photo_pixel_budget
from ..scene import SceneError

# An uploaded photo may be far larger than the canvas (a phone photo on a 512x512 canvas), but not unbounded:
# its header is checked against images.photo_pixel_budget before a pixel is decoded.
MAX_PHOTO_BYTES = 64 * 2**20


def open_photo(data: bytes | Path, width: int, height: int) -> Image.Image:
    """Decode an uploaded photo with its size checked from the header first (a bomb costs nothing)."""
    if isinstance(data, bytes) and len(data) > MAX_PHOTO_BYTES:
        raise SceneError(f"background image is {len(data) / 2**20:.0f} MB; upload one under "
                         f"{MAX_PHOTO_BYTES // 2**20} MB", field="background.image")
    image = open_image_bounded(data, max_pixels=photo_pixel_budget(width, height), field="background image",
                               target_size=(width, height))
    return ImageOps.exif_transpose(image).convert("RGB")


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


class PhotoCache:
    """The photo fitted to the canvas, by digest of the upload: decoded once, and a refusal is remembered too."""

    def __init__(self, width: int, height: int) -> None:
        self.size = (width, height)
        self._entry: tuple[bytes, Image.Image | None, SceneError | None] = (b"", None, None)

    def fitted(self, data: Any) -> Image.Image | None:
        if not len(data):
            return None
        digest = hashlib.blake2b(data, digest_size=16).digest()
        if self._entry[0] != digest:
            try:
                photo = open_photo(bytes(data), *self.size)
                self._entry = (digest, ImageOps.fit(photo, self.size, Image.Resampling.BICUBIC), None)
            except SceneError as error:
                self._entry = (digest, None, error)
        if self._entry[2] is not None:
            raise self._entry[2]
        return self._entry[1]
