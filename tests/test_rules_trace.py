"""Rules of engine/trace.py that mutation testing found undefended: the preview's value range, the messages a
user reads when a trace cannot be shown or animated, what Trace.save_animation hands the registered writer,
and the dtype a recorded tensor comes back in.

Traces here are built by hand (two prompts, 3-channel 2x3 latents, an identity projection), so
each rule is checked on exact numbers without running a model.
"""

import numpy as np
import pytest
import torch
from PIL import Image

import semanticdraw_widgets  # noqa: F401  (registers the animation writer, as importing the package does)
from semanticdraw_widgets.engine import trace as trace_module
from semanticdraw_widgets.engine.trace import Trace, TraceStep, check_trace, detach_to_cpu, register_animation_writer


def identity(latents):
    """A linear 'projection' that shows the first three latent channels as RGB unchanged."""
    return latents[:, :3]


def step(index=0, c=3, h=2, w=3, p=2, x_t=None, x0_layers=None, masks=None):
    x_t = torch.zeros(c, h, w) if x_t is None else x_t
    return TraceStep(index=index, timestep=999.0 - index, noise_level=1.0, bootstrap=False, x_t=x_t,
                     x0_layers=torch.zeros(p, c, h, w) if x0_layers is None else x0_layers, x0=torch.zeros(c, h, w),
                     masks=torch.ones(p, h, w) if masks is None else masks)


def toy_trace(*steps):
    return Trace(prompts=("sky", "sun"), project=identity, steps=list(steps))


def test_preview_clamps_the_projection_to_0_1_and_scales_by_255_rounded():
    values = torch.tensor([-0.5, 0.0, 0.2, 0.5, 1.0, 1.5])
    latent = torch.stack([values.reshape(2, 3), values.flip(0).reshape(2, 3), torch.full((2, 3), 0.25)])
    picture = toy_trace().preview(latent)
    assert picture.mode == "RGB" and picture.size == (3, 2)  # (width, height) of a (C, h=2, w=3) latent
    rgb = np.asarray(picture)
    expected = np.array([0, 0, 51, 128, 255, 255], np.uint8)  # below 0 is black, above 1 white: no wrap-around
    assert np.array_equal(rgb[..., 0].ravel(), expected)
    assert np.array_equal(rgb[..., 1].ravel(), expected[::-1])
    assert np.array_equal(rgb[..., 2], np.full((2, 3), 64, np.uint8))  # 0.25 * 255 = 63.75 -> 64


def test_save_animation_without_a_writer_says_how_to_get_one(monkeypatch):
    monkeypatch.setattr(trace_module, "_ANIMATION_WRITER", None)
    with pytest.raises(RuntimeError) as info:
        toy_trace(step()).save_animation("unused.gif")
    assert str(info.value) == ("no animation writer is registered: import semanticdraw_widgets.animation, or "
                               "call semanticdraw_widgets.save_animation(trace, path) directly")


def test_save_animation_hands_panels_fps_and_zoom_to_the_registered_writer(monkeypatch, tmp_path):
    monkeypatch.setattr(trace_module, "_ANIMATION_WRITER", None)  # restored after the test
    calls = []

    def writer(trace, path, **options):
        calls.append((trace, path, options))
        return tmp_path / "written.gif"

    register_animation_writer(writer)
    trace = toy_trace(step())
    assert trace.save_animation(tmp_path / "a.gif", panels=("x_t",), fps=7.5, zoom=3) == tmp_path / "written.gif"
    assert calls == [(trace, tmp_path / "a.gif", {"panels": ("x_t",), "fps": 7.5, "zoom": 3})]


def gif_durations(path):
    with Image.open(path) as gif:
        durations = []
        for k in range(gif.n_frames):
            gif.seek(k)
            durations.append(gif.info["duration"])
    return durations


def test_save_animation_defaults_to_2_frames_per_second_like_the_package_function(tmp_path):
    trace = toy_trace(step(0, x_t=torch.full((3, 2, 3), 0.2)), step(1, x_t=torch.full((3, 2, 3), 0.8)))
    assert gif_durations(trace.save_animation(tmp_path / "default.gif", panels=("x_t",))) == [500, 500]
    assert gif_durations(semanticdraw_widgets.save_animation(trace, tmp_path / "package.gif",
                                                             panels=("x_t",))) == [500, 500]
    assert gif_durations(trace.save_animation(tmp_path / "fast.gif", panels=("x_t",), fps=4)) == [250, 250]


def test_detach_to_cpu_returns_float32_without_grad():
    # the device half of the rule ("cpu") cannot be observed on a CPU-only machine
    for dtype in (torch.float16, torch.bfloat16, torch.float64):
        source = torch.tensor([0.5, -2.0], dtype=dtype, requires_grad=True)
        kept = detach_to_cpu(source)
        assert kept.dtype == torch.float32 and kept.device.type == "cpu" and not kept.requires_grad
        assert torch.equal(kept, torch.tensor([0.5, -2.0]))


def test_check_trace_refuses_a_non_trace_naming_its_type():
    with pytest.raises(TypeError) as info:
        check_trace([step()])
    assert str(info.value) == "expected a semanticdraw_widgets.Trace, got list"


def test_check_trace_refuses_an_empty_trace_saying_how_to_record_one():
    with pytest.raises(ValueError) as info:
        check_trace(toy_trace())
    assert str(info.value) == ("the trace has no steps: record one with generate(..., trace=True), or let a "
                               "SemanticDrawCanvas(..., trace=True) finish a frame first")


def test_check_trace_accepts_a_one_step_trace():
    assert check_trace(toy_trace(step())) is None


def test_check_trace_x_t_must_be_3d_and_shaped_like_the_first_steps():
    other = torch.zeros(3, 4, 4)  # a 3-d x_t of another size, with layers and masks that match it
    later = step(1, x_t=other, x0_layers=torch.zeros(2, 3, 4, 4), masks=torch.ones(2, 4, 4))
    with pytest.raises(ValueError) as info:
        check_trace(toy_trace(step(0), later))
    assert str(info.value) == "step 1: x_t must be (C, h, w) like step 0's (3, 2, 3), got (3, 4, 4)"
    batched = torch.zeros(1, 3, 2, 3)  # a 4-d x_t, the same in every step: still not (C, h, w)
    with pytest.raises(ValueError) as info:
        check_trace(toy_trace(step(0, x_t=batched), step(1, x_t=batched)))
    assert str(info.value) == "step 0: x_t must be (C, h, w) like step 0's (1, 3, 2, 3), got (1, 3, 2, 3)"


def test_check_trace_x0_layers_must_be_one_per_prompt():
    with pytest.raises(ValueError) as info:
        check_trace(toy_trace(step(0), step(1, x0_layers=torch.zeros(3, 3, 2, 3))))
    assert str(info.value) == "step 1: x0_layers must be (2, 3, 2, 3) for 2 prompts, got (3, 3, 2, 3)"


def test_check_trace_masks_must_be_one_per_prompt_at_latent_size():
    with pytest.raises(ValueError) as info:
        check_trace(toy_trace(step(0, masks=torch.ones(2, 3, 2))))
    assert str(info.value) == "step 0: masks must be (2, 2, 3), got (2, 3, 2)"
