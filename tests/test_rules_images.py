"""Rules of images.py and runtime/flow.py that mutation testing found undefended (benchmarks/results/mutation.md)."""

from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from semanticdraw_widgets.images import (ImageTooLarge, PHOTO_MIN_BUDGET, _too_big, mask_from_pil,
                                         photo_pixel_budget, rgb_from_pil)
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
