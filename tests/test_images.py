"""Bounded image decoding (images.py): budgets, bombs refused on the header, and one reading of each PIL mode."""

import base64
import io
import json
import struct
import subprocess
import sys
import textwrap
import tracemalloc
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile

from semanticdraw_widgets.images import (ImageTooLarge, mask_from_pil, open_image_bounded, photo_pixel_budget,
                                         pixel_budget, rgb_from_pil)
from semanticdraw_widgets.scene import Background, Region, Scene, SceneError

MB = 2**20


# ------------------------------------------------------------------------------------- builders --

def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_declaring(width: int, height: int, idat: bytes = b"") -> bytes:
    """A grayscale 8-bit PNG whose header declares width x height, with the given compressed data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", idat or zlib.compress(b"\0" * 64))
            + png_chunk(b"IEND", b""))


def zlib_bomb_png(side: int) -> bytes:
    """A valid all-black side x side PNG: a few tens of KB that inflate to side² bytes."""
    compressor = zlib.compressobj(9)
    row = b"\0" * (side + 1)  # filter byte + pixels
    parts = [compressor.compress(row) for _ in range(side)]
    parts.append(compressor.flush())
    return png_declaring(side, side, b"".join(parts))


def data_url(raw: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(raw).decode()


def encoded(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **options)
    return buf.getvalue()


@pytest.fixture
def no_pixel_decoding(monkeypatch):
    """Fail the test if any image's pixels get decoded: refusals must happen on the header."""
    def refuse(self):
        raise AssertionError(f"pixels of a {self.size} image were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


# -------------------------------------------------------------------------------------- budgets --

def test_budgets_follow_the_documented_rule():
    assert pixel_budget(512, 512) == 4096 * 4096
    assert pixel_budget(2048, 2048) == 16 * 2048 * 2048 == 8192 * 8192
    assert pixel_budget(4096, 4096) == 8192 * 8192  # capped
    assert photo_pixel_budget(512, 512) == 2**26 >= 8000 * 6000  # a 48-megapixel phone photo fits
    assert photo_pixel_budget(4096, 4096) == 2**26


# ------------------------------------------------------------------------------------------ bombs --

BOMBS = [
    ("header declares 100000x100000", lambda: png_declaring(100_000, 100_000)),
    ("header declares 9000x9000 (below Pillow's own limit)", lambda: png_declaring(9000, 9000)),
    ("zlib bomb 6000x6000", lambda: zlib_bomb_png(6000)),
]


@pytest.mark.parametrize("make", [b[1] for b in BOMBS], ids=[b[0] for b in BOMBS])
def test_bombs_are_refused_on_the_header(make, no_pixel_decoding):
    raw = make()
    assert len(raw) < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(ImageTooLarge, match=r"mask: .*(more than the 16,777,216 allowed|refused before decoding)"):
            open_image_bounded(raw, max_pixels=pixel_budget(512, 512), field="mask")
        with pytest.raises(SceneError, match=r"regions\[0\]\.mask"):
            Scene.from_json(json.dumps({"width": 512, "height": 512,
                                        "regions": [{"prompt": "x", "mask": data_url(raw)}]}))
        with pytest.raises(SceneError, match=r"background\.image"):
            Scene.from_json(json.dumps({"width": 512, "height": 512, "background": {"image": data_url(raw)},
                                        "regions": [{"prompt": "x", "mask": {"rect": [0, 0, 8, 8]}}]}))
        with pytest.raises(SceneError, match="mask"):
            Region(prompt="x", mask=raw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100 * MB


def test_a_zlib_bomb_costs_no_memory_in_a_fresh_process(tmp_path):
    # tracemalloc does not see Pillow's C buffers, so the peak resident size of a fresh process is
    # compared with and without the refusal.
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(zlib_bomb_png(9000))  # 81 Mpx of zeros (below Pillow's own limit), ~80 KB on disk
    script = textwrap.dedent(f"""
        import resource, sys
        from semanticdraw_widgets.scene import Region, SceneError
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if sys.argv[1] == "bomb":
            try:
                Region(prompt="x", mask={str(bomb)!r})
            except SceneError as error:
                assert "9000x9000" in str(error) or "refused" in str(error), error
            else:
                raise SystemExit("not refused")
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
    """)
    growth = {}
    for mode in ("bomb", "nothing"):
        result = subprocess.run([sys.executable, "-c", script, mode], capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        growth[mode] = int(result.stdout.split()[-1]) * 1024  # ru_maxrss is in KiB on Linux
    assert growth["bomb"] - growth["nothing"] < 100 * MB


def test_pillows_own_bomb_error_becomes_a_scene_error(no_pixel_decoding):
    with pytest.raises(ImageTooLarge, match="background: refused before decoding"):
        open_image_bounded(png_declaring(20_000, 20_000), max_pixels=10**12, field="background")


def test_a_pil_image_over_budget_is_refused_before_loading(no_pixel_decoding):
    lazy = Image.open(io.BytesIO(encoded(Image.new("L", (300, 200)))))
    with pytest.raises(ImageTooLarge, match=r"mask: the image is 300x200"):
        open_image_bounded(lazy, max_pixels=50_000, field="mask")


def test_unsupported_and_corrupt_files_are_scene_errors(tmp_path):
    with pytest.raises(SceneError, match="not an image in a supported format"):
        open_image_bounded(b"%!PS-Adobe-3.0 EPSF-3.0\n", max_pixels=10**6, field="mask")
    truncated = encoded(Image.new("L", (64, 64), 9))[:-30]
    with pytest.raises(SceneError, match="mask: could not decode"):
        open_image_bounded(truncated, max_pixels=10**6, field="mask")
    with pytest.raises(SceneError, match="mask: no image file"):
        open_image_bounded(tmp_path / "missing.png", max_pixels=10**6, field="mask")
    with pytest.raises(SceneError, match="mask: expected image bytes"):
        open_image_bounded(42, max_pixels=10**6, field="mask")


def test_a_large_jpeg_decodes_at_a_reduced_scale():
    photo = Image.radial_gradient("L").resize((2048, 1536)).convert("RGB")
    image = open_image_bounded(encoded(photo, "JPEG"), max_pixels=photo_pixel_budget(512, 384), field="image",
                               target_size=(512, 384))
    assert image.size == (512, 384)  # 1/4 scale: draft mode, the full-size pixels were never decoded
    full = open_image_bounded(encoded(photo, "JPEG"), max_pixels=photo_pixel_budget(512, 384), field="image")
    assert full.size == (2048, 1536)


def test_inputs_as_bytes_path_and_file(tmp_path):
    picture = Image.new("L", (16, 16), 255)
    path = tmp_path / "mask.png"
    picture.save(path)
    for source in (encoded(picture), path, str(path), open(path, "rb")):
        assert open_image_bounded(source, max_pixels=256, field="mask").size == (16, 16)
    region = Region(prompt="x", mask=path)
    assert region.mask.shape == (16, 16) and float(region.mask.min()) == 1.0


# ----------------------------------------------------------------------------------------- modes --

def test_16_bit_masks_are_scaled_not_clipped():
    values = np.array([[0, 5000], [32768, 65535]], dtype=np.uint16)
    expected = values.astype(np.float32) / np.float32(65535)
    for mode, dtype in (("I;16", "<u2"), ("I;16B", ">u2")):
        image = Image.frombytes(mode, (2, 2), values.astype(dtype).tobytes())
        assert image.mode == mode
        assert np.array_equal(Region(prompt="x", mask=image).mask, expected)
    as_i = Image.fromarray(values.astype(np.int32))
    assert as_i.mode == "I"
    assert np.array_equal(Region(prompt="x", mask=as_i).mask, expected)
    assert abs(float(Region(prompt="x", mask=Image.fromarray(values)).mask[0, 1]) - 0.0763) < 1e-4


def test_a_16_bit_png_in_a_scene_file_is_scaled(tmp_path):
    values = np.full((64, 64), 5000, dtype=np.uint16)
    raw = encoded(Image.fromarray(values))
    scene = Scene.from_json(json.dumps({"width": 64, "height": 64,
                                        "regions": [{"prompt": "x", "mask": data_url(raw)}]}))
    assert np.allclose(scene.regions[0].mask, 5000 / 65535)


def test_mode_f_masks_and_backgrounds_are_read_as_values_in_0_1():
    half = Image.fromarray(np.full((8, 8), 0.5, np.float32))
    assert half.mode == "F"
    assert np.all(Region(prompt="x", mask=half).mask == 0.5)
    assert np.all(Background(image=half).image == 0.5)


def test_16_bit_backgrounds_are_scaled_too():
    image = Image.fromarray(np.full((8, 8), 65535, np.uint16))
    assert np.all(Background(image=image).image == 1.0)


MASK_MODES = [
    # (mode, builder, expected mask value at the white/opaque pixel)
    ("1", lambda: Image.new("1", (4, 4), 1), 1.0),
    ("L", lambda: Image.new("L", (4, 4), 51), 0.2),
    ("LA", lambda: Image.new("LA", (4, 4), (0, 102)), 0.4),
    ("RGB", lambda: Image.new("RGB", (4, 4), (255, 255, 255)), 1.0),
    ("RGBA", lambda: Image.new("RGBA", (4, 4), (0, 0, 0, 255)), 1.0),
    ("P", lambda: Image.new("L", (4, 4), 255).convert("P"), 1.0),
    ("P with transparency", lambda: p_with_transparency(), 0.0),
]


def p_with_transparency() -> Image.Image:
    image = Image.new("P", (4, 4), 1)
    image.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    image.info["transparency"] = 1  # the white index is see-through: alpha wins, so the mask is empty
    return image


@pytest.mark.parametrize("make, expected", [m[1:] for m in MASK_MODES], ids=[m[0] for m in MASK_MODES])
def test_every_common_mode_reads_as_documented(make, expected):
    image = make()
    mask = Region(prompt="x", mask=image).mask
    assert mask.dtype == np.float32 and mask.shape == (4, 4)
    assert np.allclose(mask, expected, atol=1 / 255)
    # and through a PNG file, as a scene file would carry it
    assert np.allclose(mask_from_pil(Image.open(io.BytesIO(encoded(image)))), mask)


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGB", "RGBA", "I;16", "I", "F"])
def test_every_mode_makes_a_background(mode):
    image = Image.new("RGB", (4, 4), (255, 255, 255)).convert("L")
    if mode in ("I;16", "I"):
        image = Image.fromarray(np.full((4, 4), 65535, np.uint16 if mode == "I;16" else np.int32))
    elif mode == "F":
        image = Image.fromarray(np.ones((4, 4), np.float32))
    else:
        image = image.convert(mode)
    picture = rgb_from_pil(image)
    assert picture.shape == (4, 4, 3) and picture.dtype == np.float32
    assert np.allclose(picture, 1.0)
