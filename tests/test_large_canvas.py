"""Canvases larger than the model: overlapping native-size windows, blended by a partition of unity,
all windows of all layers in one model call per step (backends/tiling.py)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import semanticdraw_widgets as sdw
from helpers import rect_mask
from semanticdraw_widgets.backends.tiling import blend_windows, cut_windows, plan_windows, window_weights


@settings(max_examples=60, deadline=None)
@given(height=st.integers(1, 200), width=st.integers(1, 200), window=st.integers(4, 64),
       overlap=st.sampled_from([0.0, 0.25, 0.5]))
def test_windows_cover_the_canvas_and_their_weights_sum_to_one(height, width, window, overlap):
    windows = plan_windows(height, width, window, overlap)
    covered = torch.zeros(height, width)
    for top, left, wh, ww in windows:
        assert wh == min(window, height) and ww == min(window, width)
        assert 0 <= top and top + wh <= height and 0 <= left and left + ww <= width
        covered[top: top + wh, left: left + ww] += 1
    assert covered.min() >= 1
    weights = window_weights(height, width, windows, ramp=max(1, int(window * overlap)))
    assert torch.allclose(weights.sum(0), torch.ones(height, width))
    x = torch.randn(2, 3, height, width)
    assert torch.allclose(blend_windows(cut_windows(x, windows), windows, weights, x.shape), x, atol=1e-5)


def wide_scene(width=192, height=64, seed=4):
    return sdw.Scene(width=width, height=height, seed=seed, background=sdw.Background(prompt="a quiet sky"),
                     regions=[sdw.Region(prompt="a red apple", mask=rect_mask(height, width, 8, 40, 56, 150)),
                              sdw.Region(prompt="green grass", mask=rect_mask(height, width, 40, 0, 64, 60))])


class BatchSpy:
    def __init__(self, module):
        self.module, self.forward, self.shapes = module, module.forward, []
        module.forward = self

    def __call__(self, *args, **kwargs):
        sample = args[0] if args else kwargs["hidden_states"]  # UNets take it first, SD3's transformer by name
        self.shapes.append(tuple(sample.shape))
        return self.forward(*args, **kwargs)

    def close(self):
        self.module.forward = self.forward


def test_a_wide_canvas_runs_every_window_of_every_layer_in_one_call(tiny_sd):
    scene = wide_scene()
    spy = BatchSpy(tiny_sd.unet)
    try:
        image = sdw.generate(tiny_sd, scene, steps=2)
    finally:
        spy.close()
    windows = plan_windows(32, 96, tiny_sd.window, tiny_sd.window_overlap)
    assert len(windows) == 4 and image.size == (192, 64)
    layers = len(scene.regions) + 1
    assert spy.shapes == [(len(windows) * layers, 4, 32, 32)] * 2, "one call per step, native-size windows"
    assert np.array_equal(np.asarray(image), np.asarray(sdw.generate(tiny_sd, scene, steps=2)))


def test_tiled_x0_is_the_weighted_blend_of_each_window_denoised_alone(tiny_sd):
    schedule = tiny_sd.make_schedule(4)
    cond = tiny_sd.encode_prompts(["a red apple", "green grass"])
    x = torch.randn(2, 4, 32, 80, generator=torch.Generator().manual_seed(0))
    steps = torch.tensor([1, 2])
    tiled = tiny_sd.predict_x0(x, steps, schedule, cond)
    windows, weights = tiny_sd.windows_for(32, 80)
    expected = torch.zeros_like(tiled)
    for j, (top, left, wh, ww) in enumerate(windows):
        alone = tiny_sd.predict_x0(x[..., top: top + wh, left: left + ww].contiguous(), steps, schedule, cond)
        expected[..., top: top + wh, left: left + ww] += weights[j, top: top + wh, left: left + ww] * alone
    assert torch.allclose(tiled, expected, atol=1e-4)
    tiny_sd.window = 0  # whole-canvas denoising on request
    try:
        assert not torch.allclose(tiny_sd.predict_x0(x, steps, schedule, cond), tiled, atol=1e-3)
    finally:
        tiny_sd.window = 32


def test_the_stream_on_a_wide_canvas_converges_to_generate(tiny_sd):
    scene = wide_scene(width=128)
    stream = sdw.Stream(tiny_sd, scene, steps=2)
    frame = [stream.tick() for _ in range(2)][-1]
    assert frame.converged
    expected = np.asarray(sdw.generate(tiny_sd, scene, steps=2), dtype=np.int16)
    assert np.abs(np.asarray(frame.image, dtype=np.int16) - expected).max() <= 1


@pytest.mark.parametrize("fixture", ["tiny_sdxl_folder", "tiny_sd3_folder"])
def test_wide_canvases_on_sdxl_and_sd3(request, fixture):
    backend = sdw.load_backend(request.getfixturevalue(fixture))
    spy = BatchSpy(backend.denoiser)
    try:
        image = sdw.generate(backend, wide_scene(width=128), steps=2, guidance_scale=2.0)
    finally:
        spy.close()
    windows = plan_windows(32, 64, backend.window, backend.window_overlap)
    assert image.size == (128, 64) and len(windows) == 3
    assert spy.shapes == [(2 * 3 * len(windows), backend.latent_channels, 32, 32)] * 2


def test_a_region_acts_only_through_the_windows_it_reaches(tiny_sd):
    """Windowing keeps regions local: a prompt edit at the left end of a 64x256 canvas leaves the far right
    untouched after 2 steps (influence spreads one window per step), unlike whole-canvas attention."""
    scene = sdw.Scene(width=256, height=64, seed=1, background=sdw.Background(prompt="a quiet sky"),
                      regions=[sdw.Region(prompt="a red apple", mask=rect_mask(64, 256, 0, 0, 64, 64))])
    edited = scene.with_region(0, prompt="a blue car")

    def final(s):
        return sdw.generate(tiny_sd, s, steps=2, trace=True, bootstrap_steps=0)[1].steps[-1].x0

    a, b = final(scene), final(edited)
    assert (a[..., :32] - b[..., :32]).abs().max() > 0.1
    assert torch.allclose(a[..., 96:], b[..., 96:], atol=1e-5)
    tiny_sd.window = 0
    try:
        assert (final(scene)[..., 96:] - final(edited)[..., 96:]).abs().max() > 1e-3
    finally:
        tiny_sd.window = 32


def test_a_512x2048_toy_canvas_keeps_every_regions_colour_in_generate_and_the_stream(toy):
    from semanticdraw_widgets.backends.toy_lexicon import describe

    height, width = 512, 2048
    boxes = {"red": (64, 64, 448, 448), "green": (64, 560, 448, 944), "blue": (64, 1104, 448, 1488),
             "yellow": (64, 1600, 448, 1984)}
    regions = [sdw.Region(prompt=name, mask=rect_mask(height, width, *box)) for name, box in boxes.items()]
    scene = sdw.Scene(width=width, height=height, seed=1, background=sdw.Background(prompt="white"), regions=regions)
    names = tuple(boxes) + ("white",)
    palette = np.array([describe(n)["primary"] for n in names])

    def adherence(image):
        pixels = np.asarray(image, dtype=np.float32) / 255
        nearest = ((pixels[:, :, None, :] - palette[None, None]) ** 2).sum(-1).argmin(-1)
        scores = {}
        for name, (top, left, bottom, right) in boxes.items():
            scores[name] = float((nearest[top + 16:bottom - 16, left + 16:right - 16] == names.index(name)).mean())
        scores["white"] = float((nearest[:, 456:552] == names.index("white")).mean())  # the gap between regions
        return scores

    image = sdw.generate(toy, scene, steps=4)
    assert image.size == (width, height)
    assert min(adherence(image).values()) >= 0.9, adherence(image)
    stream = sdw.Stream(toy, scene, steps=4)
    frame = stream.tick()
    while not frame.converged:
        frame = stream.tick()
    assert np.array_equal(np.asarray(frame.image), np.asarray(image))
