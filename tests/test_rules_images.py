"""Rules of images.py and runtime/flow.py that mutation testing found undefended (benchmarks/results/mutation.md)."""

import io
import pickle
import struct
import zlib
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from semanticdraw_widgets.images import (MAX_JPEG_SCANS, ImageTooLarge, PHOTO_MIN_BUDGET, _too_big, count_jpeg_scans,
                                         mask_from_pil, open_image_bounded, photo_pixel_budget, pixel_budget,
                                         rgb_from_pil)
from semanticdraw_widgets.runtime.flow import FlowControl
from semanticdraw_widgets.validation import SceneError


def test_the_photo_budget_is_four_times_the_canvas_or_64_mi_pixels():
    assert photo_pixel_budget(64, 64) == PHOTO_MIN_BUDGET == 2**26
    assert photo_pixel_budget(4096, 8192) == 4 * 4096 * 8192  # past the floor: 4 w h, not 4 w / h or 4 / w h
    assert photo_pixel_budget(8192, 4096) == 4 * 4096 * 8192


def test_the_too_large_message_names_the_field_the_size_and_the_side():
    error = _too_big("regions[2].mask", 300, 200, 10_000)
    assert isinstance(error, ImageTooLarge) and error.field == "regions[2].mask"
    assert str(error) == ("regions[2].mask: the image is 300x200 (60,000 pixels), more than the 10,000 allowed "
                          "here (about 100x100); scale it down before using it")


def image_i(values):
    return Image.fromarray(np.array(values, np.int32))


def test_mode_i_is_read_as_16_bit_and_refused_outside_0_65535_naming_the_field():
    np.testing.assert_allclose(mask_from_pil(image_i([[0, 65535]])), [[0.0, 1.0]])
    np.testing.assert_allclose(rgb_from_pil(image_i([[0, 65535]]))[..., 1], [[0.0, 1.0]])
    for bad in ([[0, 65536]], [[-1, 5]]):
        with pytest.raises(SceneError, match="mode I") as caught:
            mask_from_pil(image_i(bad), "background.image")
        assert caught.value.field == "background.image"
        with pytest.raises(SceneError, match="mode I") as caught:
            rgb_from_pil(image_i(bad), "background.image")
        assert caught.value.field == "background.image"


def test_16_bit_images_are_not_range_checked_like_mode_i():
    image = Image.fromarray(np.array([[0, 65535]], np.uint16))
    np.testing.assert_allclose(mask_from_pil(image), [[0.0, 1.0]])


def test_float_images_stay_float32_and_unclipped():
    image = Image.fromarray(np.array([[0.25, 1.5]], np.float32))
    mask = mask_from_pil(image)
    assert mask.dtype == np.float32 and mask.tolist() == [[0.25, 1.5]]
    rgb = rgb_from_pil(image)
    assert rgb.dtype == np.float32 and rgb.shape == (1, 2, 3) and rgb[0, 1].tolist() == [1.5, 1.5, 1.5]


def test_a_palette_image_is_a_mask_by_luminance_unless_it_has_transparency():
    image = Image.new("P", (2, 1))
    image.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    image.putpixel((1, 0), 1)
    assert mask_from_pil(image).tolist() == [[0.0, 1.0]], "no transparency: white is inside"
    image.info["transparency"] = 1  # palette entry 1 is transparent
    assert mask_from_pil(image).tolist() == [[1.0, 0.0]], "with transparency: the alpha is the mask"


def test_rgb_pictures_keep_their_colours_and_other_modes_convert():
    rgb = Image.fromarray(np.array([[[255, 0, 51]]], np.uint8))
    np.testing.assert_allclose(rgb_from_pil(rgb), [[[1.0, 0.0, 0.2]]])
    np.testing.assert_allclose(rgb_from_pil(rgb.convert("RGBA")), [[[1.0, 0.0, 0.2]]])


def test_an_unconvertible_mode_is_refused_naming_the_field():
    class Odd:
        mode, info = "LAB", {}

        def convert(self, mode):
            raise ValueError("conversion not supported")

    for read in (mask_from_pil, rgb_from_pil):
        with pytest.raises(SceneError) as caught:
            read(Odd(), "regions[0].mask")
        assert caught.value.field == "regions[0].mask"
        assert str(caught.value).endswith("convert it to L, RGB or RGBA first")


def test_an_ack_that_frees_no_slot_keeps_the_waiting_frame_back():
    flow = FlowControl(1, 2.0, last_ack=0.0)
    first, second = SimpleNamespace(seq=1), SimpleNamespace(seq=2)
    assert flow.offer(first) is first and flow.offer(second) is None
    assert flow.ack(0, 1.0) is None and flow.in_flight == 1, "an ack older than every frame in flight frees nothing"
    assert flow.ack(1, 1.0) is second and flow.in_flight == 1


def test_the_test_images_have_the_modes_they_claim():
    assert image_i([[0]]).mode == "I" and Image.fromarray(np.array([[0]], np.uint16)).mode == "I;16"
    assert Image.fromarray(np.array([[0.0]], np.float32)).mode == "F"


def _two_pixels(mode):
    """A 2x1 image of `mode` whose left pixel is black and opaque and whose right one is white and transparent."""
    base = Image.new("RGBA", (2, 1))
    base.putpixel((0, 0), (0, 0, 0, 255))
    base.putpixel((1, 0), (255, 255, 255, 0))
    if mode == "La":  # (Pillow's RGBA -> La conversion drops the alpha; LA -> La keeps it)
        return base.convert("LA").convert("La")
    return base if mode == "RGBA" else base.convert(mode)


@pytest.mark.parametrize("mode", ["RGBA", "LA", "PA", "RGBa", "La"])
def test_a_mask_with_an_alpha_channel_is_its_alpha(mode):
    """RGBa and La (premultiplied) name their alpha band "a": reading band "A" raised a bare ValueError."""
    image = _two_pixels(mode)
    assert image.mode == mode
    mask = mask_from_pil(image)
    assert mask.dtype == np.float32 and mask.tolist() == [[1.0, 0.0]], f"{mode}: alpha, not luminance"


@pytest.mark.parametrize("mode", ["RGB", "L", "CMYK", "P"])
def test_a_mask_without_alpha_is_its_luminance(mode):
    image = Image.new("RGB", (2, 1))
    image.putpixel((1, 0), (255, 255, 255))
    image = image if mode == "RGB" else image.convert(mode)
    mask = mask_from_pil(image)
    assert mask.dtype == np.float32 and mask.shape == (1, 2)
    np.testing.assert_allclose(mask, [[0.0, 1.0]], atol=1 / 255)


def test_a_one_bit_mask_is_zero_or_one_in_float32():
    image = Image.new("1", (3, 1))
    image.putpixel((1, 0), 1)
    mask = mask_from_pil(image)
    assert mask.dtype == np.float32 and mask.tolist() == [[0.0, 1.0, 0.0]]


def test_eight_bit_values_are_divided_by_255_exactly():
    image = Image.fromarray(np.array([[0, 51, 128, 255]], np.uint8))
    assert mask_from_pil(image).tolist() == (np.array([[0, 51, 128, 255]], np.float32) / np.float32(255)).tolist()
    picture = rgb_from_pil(image)
    assert picture.dtype == np.float32 and picture.shape == (1, 4, 3)
    assert picture[0, :, 0].tolist() == mask_from_pil(image)[0].tolist()


def test_a_16_bit_picture_is_grey_divided_by_65535():
    image = Image.fromarray(np.array([[0, 13107, 65535]], np.uint16))
    picture = rgb_from_pil(image)
    assert picture.dtype == np.float32 and picture.shape == (1, 3, 3)
    np.testing.assert_allclose(picture[0], [[0.0] * 3, [0.2] * 3, [1.0] * 3], rtol=1e-6)
    np.testing.assert_allclose(mask_from_pil(image), [[0.0, 0.2, 1.0]], rtol=1e-6)


# ------------------------------------------------------------------------------ pixel_budget --

def test_the_mask_budget_is_sixteen_times_the_canvas_between_the_floor_and_the_cap():
    assert 4096 * 4096 < pixel_budget(1024, 2048) == 16 * 1024 * 2048 < 8192 * 8192


# ------------------------------------------------------------------------ open_image_bounded --

def _encoded(image, fmt="PNG", **options):
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def _png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_declaring(width, height):
    """A grey 8-bit PNG whose header declares width x height (its pixel data is a few zero bytes)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + _png_chunk(b"IEND", b""))


def test_a_pil_image_of_exactly_the_budget_is_accepted():
    image = Image.new("L", (300, 200))
    assert open_image_bounded(image, max_pixels=60_000, field="mask") is image
    with pytest.raises(ImageTooLarge):
        open_image_bounded(image, max_pixels=59_999, field="mask")


@pytest.mark.parametrize("size", [(0, 3), (3, 0)])
def test_an_empty_pil_image_is_refused_naming_the_field(size):
    with pytest.raises(SceneError) as caught:
        open_image_bounded(Image.new("L", size), max_pixels=100, field="regions[1].mask")
    assert str(caught.value) == f"regions[1].mask: the image is empty ({size[0]}x{size[1]})"
    assert caught.value.field == "regions[1].mask"


@pytest.mark.parametrize("size", [(1, 3), (3, 1)])
def test_a_one_pixel_wide_image_is_not_empty(size):
    image = Image.new("L", size)
    assert open_image_bounded(image, max_pixels=100, field="mask").size == size
    assert open_image_bounded(_encoded(image), max_pixels=100, field="mask").size == size


def test_only_a_jpeg_has_its_scans_counted():
    """A PNG whose bytes hold many FF DA pairs (here in a text chunk) is not a scan bomb."""
    info = PngImagePlugin.PngInfo()
    info.add_text("comment", "\xff\xda" * (MAX_JPEG_SCANS + 10))
    raw = _encoded(Image.new("L", (4, 4)), pnginfo=info)
    assert raw.count(b"\xff\xda") > MAX_JPEG_SCANS
    lazy = Image.open(io.BytesIO(raw))
    assert open_image_bounded(lazy, max_pixels=100, field="mask").size == (4, 4)


def test_a_jpeg_image_without_a_file_opens():
    """An unpickled JPEG (e.g. sent to another process) keeps its format but has no ``fp`` attribute."""
    image = pickle.loads(pickle.dumps(Image.open(io.BytesIO(_encoded(Image.new("RGB", (8, 8)), "JPEG")))))
    assert image.format == "JPEG" and not hasattr(image, "fp")
    assert open_image_bounded(image, max_pixels=100, field="image").size == (8, 8)


def _truncated_png():
    return _encoded(Image.new("L", (64, 64), 9))[:-30]


def test_a_lazily_opened_corrupt_image_is_refused_naming_the_field():
    with pytest.raises(SceneError) as caught:
        open_image_bounded(Image.open(io.BytesIO(_truncated_png())), max_pixels=10**6, field="regions[0].mask")
    assert str(caught.value) == "regions[0].mask: could not decode the image (image file is truncated); re-export it"
    assert caught.value.field == "regions[0].mask"


def test_a_corrupt_file_is_refused_naming_the_field_and_the_error_type():
    with pytest.raises(SceneError) as caught:
        open_image_bounded(_truncated_png(), max_pixels=10**6, field="regions[0].mask")
    assert str(caught.value) == ("regions[0].mask: could not decode the image (OSError: image file is truncated); "
                                 "re-export it")
    assert caught.value.field == "regions[0].mask"


def test_a_missing_path_and_a_wrong_source_type_name_the_field(tmp_path):
    missing = str(tmp_path / "missing.png")
    with pytest.raises(SceneError) as caught:
        open_image_bounded(missing, max_pixels=100, field="regions[0].mask")
    assert str(caught.value) == f"regions[0].mask: no image file {missing!r}; check the path"
    assert caught.value.field == "regions[0].mask"
    with pytest.raises(SceneError) as caught:
        open_image_bounded(42, max_pixels=100, field="regions[0].mask")
    assert str(caught.value) == "regions[0].mask: expected image bytes, a path, a file or a PIL image, got int"
    assert caught.value.field == "regions[0].mask"


@pytest.mark.parametrize("side", [10_000, 20_000])  # Pillow warns past 89 Mi pixels and errors past twice that
def test_pillows_bomb_warning_and_error_are_refused_as_too_large_naming_the_field(side):
    with pytest.raises(ImageTooLarge) as caught:
        open_image_bounded(_png_declaring(side, side), max_pixels=10**12, field="background")
    assert str(caught.value) == ("background: refused before decoding: the image has far more than the "
                                 "1,000,000,000,000 pixels allowed here; scale it down before using it")
    assert caught.value.field == "background"


def test_other_pillow_warnings_do_not_refuse_an_image():
    """A PNG with an invalid APNG frame count: Pillow warns and reads the default image."""
    raw = _encoded(Image.new("L", (5, 4), 7))
    at = raw.index(b"IDAT") - 4
    raw = raw[:at] + _png_chunk(b"acTL", struct.pack(">II", 0, 0)) + raw[at:]
    with pytest.warns(UserWarning, match="Invalid APNG"):
        image = open_image_bounded(raw, max_pixels=100, field="mask")
    assert image.size == (5, 4) and image.getpixel((0, 0)) == 7


def test_only_the_allowed_formats_open_and_the_refusal_lists_them():
    with pytest.raises(SceneError) as caught:
        open_image_bounded(_encoded(Image.new("L", (2, 2)), "PCX"), max_pixels=100, field="regions[0].mask")
    assert str(caught.value) == ("regions[0].mask: not an image in a supported format "
                                 "(PNG, JPEG, WEBP, GIF, BMP, TIFF)")
    assert caught.value.field == "regions[0].mask"
    jpeg = _encoded(Image.new("RGB", (2, 2)), "JPEG")
    with pytest.raises(SceneError, match=r"^mask: not an image in a supported format \(PNG, GIF\)$"):
        open_image_bounded(jpeg, max_pixels=100, field="mask", formats=("PNG", "GIF"))


def test_a_jpeg_decodes_at_the_smallest_scale_covering_both_target_sides():
    wide = _encoded(Image.new("RGB", (2048, 256), (90, 90, 90)), "JPEG")
    # 1/4 covers 512 wide (1/8 would not), though 1/8 would still cover 32 high
    assert open_image_bounded(wide, max_pixels=10**6, field="image", target_size=(512, 32)).size == (512, 64)


def test_running_out_of_memory_while_reading_is_refused_naming_the_field():
    class OutOfMemory(io.BytesIO):
        def read(self, size=-1):
            raise MemoryError

    with pytest.raises(SceneError) as caught:
        open_image_bounded(OutOfMemory(_encoded(Image.new("L", (2, 2)))), max_pixels=100, field="background.image")
    assert str(caught.value) == "background.image: out of memory decoding the image; scale it down"
    assert caught.value.field == "background.image"


# -------------------------------------------------------------------------- count_jpeg_scans --

SOS = b"\xff\xda"  # start of scan
MIB = 1 << 20


def test_scan_counting_reads_from_the_start_of_the_stream_and_restores_the_position():
    fp = io.BytesIO(SOS + b"\x00" * 8 + SOS)
    fp.seek(5)
    assert count_jpeg_scans(fp, 10) == 2
    assert fp.tell() == 5


def test_scan_counting_adds_up_the_chunks_until_it_is_past_the_limit():
    """At exactly the limit after the first 1 MiB chunk, counting goes on (the limit itself is allowed)."""
    data = (SOS * 2).ljust(MIB, b"\x00") + SOS
    assert count_jpeg_scans(io.BytesIO(data), 2) == 3


def test_a_chunk_ending_in_ff_carries_only_that_byte_into_the_next():
    data = (b"\x00\x00" + SOS).ljust(MIB - 1, b"\x00") + b"\xff" + b"\xda"
    assert count_jpeg_scans(io.BytesIO(data), 10) == 2


def test_scan_counting_reads_at_most_1_mib_at_a_time_and_stops_once_past_the_limit():
    reads = []

    class Spy(io.BytesIO):
        def read(self, size=-1):
            reads.append(size)
            return super().read(size)

    assert count_jpeg_scans(Spy(SOS * (3 * MIB // 2)), 10) > 10
    assert reads and all(isinstance(size, int) and 0 < size <= MIB for size in reads), reads
    assert len(reads) == 1, "the first chunk is already past the limit: the rest of the file is not read"


# ------------------------------------------------------------------------- _check_jpeg_scans --

def _jpeg_with_scans(scans):
    """A small progressive JPEG whose last scan is repeated until the file has ``scans`` scans."""
    pixels = (np.random.default_rng(0).random((24, 32, 3)) * 255).astype(np.uint8)
    data = _encoded(Image.fromarray(pixels), "JPEG", progressive=True, quality=90)
    have = data.count(SOS)
    assert 1 < have < scans
    start = data.rfind(SOS)
    data = data[:-2] + data[start:-2] * (scans - have) + b"\xff\xd9"
    assert count_jpeg_scans(io.BytesIO(data), 10**6) == scans
    return data


def test_a_jpeg_with_the_most_scans_allowed_opens_and_one_more_is_refused_naming_the_field():
    assert open_image_bounded(_jpeg_with_scans(MAX_JPEG_SCANS), max_pixels=10**6, field="image").size == (32, 24)
    with pytest.raises(SceneError) as caught:
        open_image_bounded(_jpeg_with_scans(MAX_JPEG_SCANS + 1), max_pixels=10**6, field="background.image")
    assert str(caught.value) == (
        "background.image: the JPEG has more than 64 scans (ordinary photos have about 10), which would take "
        "minutes to decode; re-save it as a baseline JPEG or a PNG")
    assert caught.value.field == "background.image"


# ------------------------------------------------------------------ mask_from_pil, rgb_from_pil --

def test_a_mask_or_picture_read_without_a_field_names_mask_or_image():
    bad = image_i([[0, 65536]])
    with pytest.raises(SceneError) as caught:
        mask_from_pil(bad)
    assert caught.value.field == "mask" and str(caught.value).startswith("mask: a 32-bit integer image")
    with pytest.raises(SceneError) as caught:
        rgb_from_pil(bad)
    assert caught.value.field == "image" and str(caught.value).startswith("image: a 32-bit integer image")


def test_a_palette_mask_whose_transparency_pillow_cannot_apply_is_refused_naming_the_field():
    image = Image.new("P", (2, 1))
    image.info["transparency"] = (1, 2, 3)  # an RGB colour: P images take an index or per-entry alpha bytes
    with pytest.raises(SceneError) as caught:
        mask_from_pil(image, "regions[3].mask")
    assert caught.value.field == "regions[3].mask"
    assert str(caught.value).startswith("regions[3].mask: cannot read a mode P image (")
