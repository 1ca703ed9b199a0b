"""Decode bombs that pass the pixel budget: a progressive JPEG whose cost is in its scan count."""

import io

import numpy as np
import pytest
from PIL import Image

from semanticdraw_widgets import images
from semanticdraw_widgets.images import MAX_JPEG_SCANS, count_jpeg_scans, open_image_bounded
from semanticdraw_widgets.validation import SceneError


def _progressive_jpeg(width: int = 256, height: int = 192) -> bytes:
    rng = np.random.default_rng(0)
    pixels = (rng.random((height, width, 3)) * 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", progressive=True, quality=90)
    return out.getvalue()


def _with_repeated_last_scan(data: bytes, extra: int) -> bytes:
    """The file with its last scan repeated ``extra`` times: each copy is another full decoding pass."""
    start = data.rfind(b"\xff\xda")
    return data[:-2] + data[start:-2] * extra + b"\xff\xd9"


def test_an_ordinary_progressive_jpeg_opens():
    data = _progressive_jpeg()
    assert 1 < count_jpeg_scans(io.BytesIO(data), MAX_JPEG_SCANS) <= 20
    image = open_image_bounded(data, max_pixels=10**6, field="background image", target_size=(64, 48))
    assert image.size[0] >= 64


@pytest.mark.parametrize("how", ["bytes", "path", "file", "pil"])
def test_a_jpeg_with_too_many_scans_is_refused_before_decoding(how, tmp_path, monkeypatch):
    data = _with_repeated_last_scan(_progressive_jpeg(), MAX_JPEG_SCANS)
    decoded = []
    real_load = Image.Image.load

    def spy_load(self):  # ImageFile.load decodes the scans; the refusal must come first
        decoded.append(self.size)
        return real_load(self)

    monkeypatch.setattr(images.Image.Image, "load", spy_load)
    from PIL import ImageFile
    monkeypatch.setattr(ImageFile.ImageFile, "load", spy_load)
    path = tmp_path / "bomb.jpg"
    path.write_bytes(data)
    source = {"bytes": data, "path": path, "file": io.BytesIO(data), "pil": None}[how]
    if how == "pil":
        source = Image.open(io.BytesIO(data))
    with pytest.raises(SceneError, match=r"background image: the JPEG has more than 64 scans.*baseline JPEG or a PNG"):
        open_image_bounded(source, max_pixels=10**6, field="background image")
    assert decoded == []


def test_scan_counting_stops_past_the_limit_and_keeps_the_file_position():
    data = _with_repeated_last_scan(_progressive_jpeg(), 500)
    fp = io.BytesIO(data)
    fp.seek(7)
    assert count_jpeg_scans(fp, 10) > 10
    assert fp.tell() == 7


def test_a_marker_split_across_read_chunks_is_counted():
    # FF at the end of one 1 MiB chunk and DA at the start of the next
    data = b"\x00" * ((1 << 20) - 1) + b"\xff\xda" + b"\x00" * 10 + b"\xff\xda"
    assert count_jpeg_scans(io.BytesIO(data), 100) == 2
