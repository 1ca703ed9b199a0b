"""compare_methods: every method rendered and measured; the measurements on synthetic pictures."""

import numpy as np
import pytest

import semanticdraw_widgets as sdw
from helpers import rect_mask
from semanticdraw_widgets.compare import METHODS, object_in_mask, object_word, overlap_detail, region_adherence


@pytest.fixture(scope="module")
def comparison(toy):
    scene = sdw.Scene(width=128, height=128, seed=1, background=sdw.Background(prompt="white"),
                      regions=[sdw.Region(prompt="red", mask=rect_mask(128, 128, 0, 0, 128, 72), mask_blur=8),
                               sdw.Region(prompt="blue", mask=rect_mask(128, 128, 0, 56, 128, 128), mask_blur=8),
                               sdw.Region(prompt="a yellow ball", mask=rect_mask(128, 128, 80, 80, 128, 128))])
    return sdw.compare_methods(toy, scene, steps=2, seed=7)


def test_every_method_is_rendered_and_measured(comparison):
    assert list(comparison.images) == list(METHODS)
    assert [row["method"] for row in comparison.table] == list(METHODS)
    assert comparison.scene.seed == 7, "seed= overrides the scene's seed"
    for row in comparison.table:
        assert row["seconds"] > 0
        assert 0 <= row["adherence: red"] <= 1 and 0 <= row["adherence: blue"] <= 1
        assert {"ball area", "ball cut", "ball offset", "ball whole"} <= set(row)
        assert row["overlap detail"] is not None
    assert comparison.row("SemanticDraw")["adherence: red"] > 0.9
    with pytest.raises(KeyError, match="no method 'nope'"):
        comparison.row("nope")


def test_the_renders_are_what_generate_makes(toy, comparison):
    scene = comparison.scene
    assert np.array_equal(np.asarray(comparison.images["discrete masks"]),
                          np.asarray(sdw.generate(toy, scene, steps=2, mask_mode="discrete")))
    assert np.array_equal(np.asarray(comparison.images["MultiDiffusion"]),
                          np.asarray(sdw.generate(toy, scene, steps=2, method="multidiffusion")))


def test_grid_and_html_show_every_method(comparison):
    grid = comparison.grid(tile=100)
    assert grid.width == len(METHODS) * 108 + 8 and grid.height > 100
    page = comparison._repr_html_()
    assert page.count("<tr>") == len(METHODS) + 1 and "data:image/png;base64," in page
    assert "MultiDiffusion" in page and "ball whole" in page


def test_compare_rejects_a_non_scene(toy):
    with pytest.raises(TypeError, match="needs a semanticdraw_widgets.Scene"):
        sdw.compare_methods(toy, {"width": 64})


def disc(size, cy, cx, r):
    ys, xs = np.mgrid[:size, :size] + 0.5
    return (ys - cy) ** 2 + (xs - cx) ** 2 < r ** 2


@pytest.mark.parametrize(("centre", "whole", "cut"), [((64, 64), True, 0.0), ((40, 64), False, None), ((200, 200), False, 0.0)])
def test_object_in_mask_tells_whole_from_cut_and_missing(centre, whole, cut):
    mask = rect_mask(256, 256, 32, 32, 96, 96)
    rgb = np.ones((256, 256, 3), np.float32)
    rgb[disc(256, *centre, 20)] = (1.0, 0.85, 0.2)
    numbers = object_in_mask(rgb, mask, (1.0, 0.85, 0.2))
    assert numbers["whole"] is whole
    if cut is not None:
        assert numbers["cut"] == cut
    if centre == (64, 64):
        assert numbers["offset"] < 0.01 and abs(numbers["area"] - np.pi * 400 / 64 ** 2) < 0.02
    if centre == (200, 200):
        assert numbers["area"] == 0 and numbers["offset"] == 1.0


def test_region_adherence_counts_pixels_nearer_the_prompt_than_the_background():
    rgb = np.ones((64, 64, 3), np.float32)
    rgb[:, :16] = (0.9, 0.1, 0.1)
    mask = np.ones((64, 64), bool)
    share = region_adherence(rgb, mask, np.array([[0.9, 0.1, 0.1]]), np.array([[1.0, 1.0, 1.0]]))
    assert share == pytest.approx(16 / 64, abs=0.01)  # the canvas border is no mask edge: nothing eroded
    inner = rect_mask(64, 64, 0, 8, 64, 56)  # a mask edge at columns 8 and 56: its core is columns 16..47
    assert region_adherence(rgb, inner, np.array([[0.9, 0.1, 0.1]]), np.array([[1.0, 1.0, 1.0]])) == 0


def test_overlap_detail_needs_an_overlap_and_sees_noise():
    a, b = rect_mask(64, 64, 0, 0, 64, 40), rect_mask(64, 64, 0, 24, 64, 64)
    flat = np.full((64, 64, 3), 0.5, np.float32)
    noisy = flat + np.random.default_rng(0).normal(0, 0.1, (64, 64, 1)).astype(np.float32)
    assert overlap_detail(flat, [a, b], [0, 0]) == 0
    assert overlap_detail(noisy, [a, b], [0, 0]) > 0.01
    assert overlap_detail(noisy, [a], [0]) is None


def test_object_words():
    assert object_word("a red apple on grass") == "apple"
    assert object_word("suns") == "sun"
    assert object_word("red bricks") is None
