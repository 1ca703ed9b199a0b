"""The trace records every quantity of a regional step, per method, exactly; recording off does no work."""

import sys

import numpy as np
import pytest
import torch
from PIL import Image

import semanticdraw_widgets as sdw
import semanticdraw_widgets.engine.generate  # noqa: F401  (the module, not the function of that name)
from semanticdraw_widgets.engine import sampler
from semanticdraw_widgets.engine.masks import background_weights, quantize_masks
from semanticdraw_widgets.engine.regional import aggregate_x0, roll_layers
from semanticdraw_widgets.trace_view import PANELS

from helpers import rect_mask

generate_module = sys.modules["semanticdraw_widgets.engine.generate"]

SIZE = 128


def scene(seed=0):
    """A small off-centre region (so centring shifts are non-zero), a blurred one, and a white background."""
    return sdw.Scene(width=SIZE, height=SIZE, seed=seed, background=sdw.Background(prompt="white"),
                     regions=[sdw.Region(prompt="red bricks", mask=rect_mask(SIZE, SIZE, 0, 0, 40, 48)),
                              sdw.Region(prompt="blue", mask=rect_mask(SIZE, SIZE, 60, 50, 128, 128), mask_blur=8)])


def close(a, b):
    return torch.allclose(a, b, atol=1e-5, rtol=1e-5)


def test_semanticdraw_trace_is_complete_and_consistent(toy):
    image, trace = sdw.generate(toy, scene(), steps=4, bootstrap_steps=2, trace=True)
    p, h = 3, SIZE // toy.scale_factor
    assert trace.method == "semanticdraw" and trace.decode is not None and len(trace) == 4
    for i, step in enumerate(trace.steps):
        assert step.layer_inputs.shape == step.model_inputs.shape == (p, 4, h, h)
        assert step.soft_masks.shape == step.masks.shape == (p, h, h)
        # x_t = α x̂0 + σ ε̂; the regions' masks are their soft masks quantized at this step's level, and the
        # background's is what the regions leave (the published rule)
        assert close(step.x_t, step.alpha * step.x0 + step.sigma * step.eps)
        levels = torch.tensor([s.noise_level for s in trace.steps])
        regions = quantize_masks(step.soft_masks[1:], levels)[i]
        assert close(step.masks[1:], regions)
        assert close(step.masks[0], background_weights(regions[None])[0, 0])
        assert close(step.x0, aggregate_x0(step.x0_layers[None], step.masks[None, :, None],
                                           step.x0_layers[None, 0])[0])
        # what the model ran on is what each layer saw, rolled by this step's shifts
        assert close(step.model_inputs, roll_layers(step.layer_inputs, step.shifts))
        if step.bootstrap:
            assert step.shifts[1] != (0, 0), "the corner region is centred while bootstrapping"
            assert not close(step.layer_inputs[1], step.x_t), "it sees a plain surround"
        else:
            assert all(s == (0, 0) for s in step.shifts) and close(step.layer_inputs[1], step.x_t)
        if i + 1 < len(trace):
            assert torch.equal(step.x_next, trace.steps[i + 1].x_t)
            assert step.next_alpha == pytest.approx(trace.steps[i + 1].alpha)
            assert step.next_pred_noise is not None and step.next_fresh_noise is not None
        else:
            assert step.next_alpha is None and torch.equal(step.x_next, step.x0)
    assert [s.bootstrap for s in trace.steps] == [True, True, False, False]
    final = trace.decode(trace.steps[-1].x_next[None])[0]
    assert np.array_equal(np.asarray(image), np.asarray(generate_module.to_pil(final)))


def test_multidiffusion_trace_records_each_layers_next_latent_not_a_pre_averaged_x0(toy):
    image, trace = sdw.generate(toy, scene(), steps=4, method="multidiffusion", trace=True)
    assert trace.method == "multidiffusion"
    for i, step in enumerate(trace.steps):
        assert step.method == "multidiffusion" and step.x0 is None and step.eps is None
        assert not step.bootstrap and all(s == (0, 0) for s in step.shifts)
        assert close(step.masks, step.soft_masks), "the reference uses the plain masks at every step"
        # every layer's own ε̂ and next latent, and the next latent is their weighted average
        assert close(step.x_t[None], step.alpha * step.x0_layers + step.sigma * step.eps_layers)
        fill = step.x_next_layers[None, 0]
        assert close(step.x_next, aggregate_x0(step.x_next_layers[None], step.masks[None, :, None], fill)[0])
        if i + 1 < len(trace):
            assert torch.equal(step.x_next, trace.steps[i + 1].x_t)
            assert not close(step.x_next_layers, step.x0_layers)
        else:
            assert torch.equal(step.x_next_layers, step.x0_layers), "at σ = 0 a layer's next latent is its x̂0"
    with pytest.raises(ValueError, match="multidiffusion"):
        trace.save_animation("unused.gif", panels=("x0",))


def test_guidance_halves_come_with_a_trace_unless_declined(toy):
    _, plain = sdw.generate(toy, scene(), steps=2, guidance_scale=2.5, trace=True, trace_cfg=False)
    assert plain.guidance == 2.5 and all(s.x0_cond is None and s.x0_uncond is None for s in plain.steps)
    _, unguided = sdw.generate(toy, scene(), steps=2, trace=True)  # the toy's default guidance 1: no halves exist
    assert all(s.x0_cond is None and s.x0_uncond is None for s in unguided.steps)
    _, full = sdw.generate(toy, scene(), steps=2, guidance_scale=2.5, trace=True)
    for step in full.steps:
        assert step.x0_cond.shape == step.x0_layers.shape
        assert close(step.x0_layers, step.x0_uncond + 2.5 * (step.x0_cond - step.x0_uncond))
        assert not close(step.x0_cond, step.x0_uncond), "negative prompts differ from the prompts"
    with pytest.raises(ValueError, match="trace=True"):
        sdw.generate(toy, scene(), steps=2, trace_cfg=True)


def test_tracing_off_does_no_trace_work(toy, monkeypatch):
    calls = {"trace_steps": 0, "detach": 0, "kept_guidance": 0}

    def counting(name, fn):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(generate_module, "trace_steps", counting("trace_steps", generate_module.trace_steps))
    monkeypatch.setattr(sampler, "detach_to_cpu", counting("detach", sampler.detach_to_cpu))
    real_predict = generate_module.predict_regional

    def predict(*args, **kwargs):
        pred = real_predict(*args, **kwargs)
        calls["kept_guidance"] += pred.guidance_parts is not None
        return pred

    monkeypatch.setattr(generate_module, "predict_regional", predict)
    for method in ("semanticdraw", "multidiffusion"):
        sdw.generate(toy, scene(), steps=3, guidance_scale=2.0, method=method)
    assert calls == {"trace_steps": 0, "detach": 0, "kept_guidance": 0}
    sdw.generate(toy, scene(), steps=3, guidance_scale=2.0, trace=True, trace_cfg=True)
    assert calls["trace_steps"] == 3 and calls["detach"] > 0 and calls["kept_guidance"] == 3  # the counters work


def test_stream_trace_keeps_its_call_signature_and_gains_the_new_fields(toy):
    stream = sdw.Stream(toy, scene(), steps=3, trace_ticks=3)
    for _ in range(3):
        stream.tick()
    trace = stream.last_trace()
    assert [s.index for s in trace.steps] == [0, 1, 2]
    assert all(s.layer_inputs is not None and s.soft_masks is not None for s in trace.steps)
    assert trace.steps[0].bootstrap and trace.steps[0].shifts[1] != (0, 0)
    assert all(s.x_next is not None for s in trace.steps), "the stream records each step's next latent"
    # the same latents panels fall back to for traces without x_next (the next x_t, the final x̂0)
    from semanticdraw_widgets.trace_view import next_latent

    assert torch.equal(next_latent(trace.steps[0], trace.steps), trace.steps[1].x_t)
    assert torch.equal(next_latent(trace.steps[-1], trace.steps), trace.steps[-1].x0)


def test_stream_trace_animates(toy, tmp_path):
    stream = sdw.Stream(toy, scene(), steps=2, trace_ticks=2)
    stream.tick(), stream.tick()
    path = stream.last_trace().save_animation(tmp_path / "stream.gif", panels=("x_t", "x_next", "x0_layers"))
    assert len(gif_frames(path)) == 2


def gif_frames(path):
    with Image.open(path) as gif:
        frames = []
        for k in range(gif.n_frames):
            gif.seek(k)
            frames.append(np.asarray(gif.convert("RGB")))
    return frames


def test_gif_has_one_labelled_frame_per_step(toy, tmp_path):
    from semanticdraw_widgets import animation

    _, trace = sdw.generate(toy, scene(), steps=3, trace=True)
    panels = ("x_t", "x0_layers", "x0", "masks")
    path = trace.save_animation(tmp_path / "denoise.gif", panels=panels, fps=4, zoom=2)
    frames = gif_frames(path)
    assert len(frames) == 3
    tile = (SIZE // toy.scale_factor) * 2
    width = animation.GAP + 3 * (tile + animation.GAP)  # x0_layers is the widest row: 3 layers
    height = animation.CAPTION + len(panels) * (tile + animation.LABEL + animation.GAP) + animation.GAP
    assert frames[0].shape == (height, width, 3)
    background = np.array(animation.BACKGROUND)
    caption = frames[0][: animation.CAPTION]
    assert (np.abs(caption.astype(int) - background).sum(-1) > 60).sum() > 50, "the caption has text"
    first_label = frames[0][animation.CAPTION + tile: animation.CAPTION + tile + animation.LABEL, :tile]
    assert (np.abs(first_label.astype(int) - background).sum(-1) > 60).sum() > 10, "tiles are labelled"
    assert not np.array_equal(frames[0], frames[-1])
    # the caption changes with the step (its text names it)
    assert not np.array_equal(frames[0][: animation.CAPTION], frames[1][: animation.CAPTION])


def test_animation_rejects_bad_panels_and_formats(toy, tmp_path):
    _, trace = sdw.generate(toy, scene(), steps=2, trace=True)
    with pytest.raises(ValueError, match="unknown panel 'x0_averaged'.*x_t"):
        trace.save_animation(tmp_path / "a.gif", panels=("x_t", "x0_averaged"))
    with pytest.raises(ValueError, match="trace_cfg=True"):
        trace.save_animation(tmp_path / "a.gif", panels=("x0_cond",))
    with pytest.raises(ValueError, match=r"\.gif or \.mp4"):
        trace.save_animation(tmp_path / "a.webm")
    with pytest.raises(ValueError, match="no steps"):
        sdw.Trace(prompts=("a",), project=toy.latent_to_rgb).save_animation(tmp_path / "a.gif")
    assert set(PANELS) >= {"x_t", "layer_inputs", "model_inputs", "x0_layers", "x0", "eps", "x_next", "masks"}


def test_every_recorded_panel_renders(toy, tmp_path):
    _, trace = sdw.generate(toy, scene(), steps=2, guidance_scale=2.0, trace=True, trace_cfg=True)
    names = [n for n in PANELS if n != "x_next_layers"]
    assert len(gif_frames(trace.save_animation(tmp_path / "all.gif", panels=names))) == 2


def test_mp4_needs_imageio_ffmpeg(toy, tmp_path, monkeypatch):
    _, trace = sdw.generate(toy, scene(), steps=2, trace=True)
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # as if it were not installed
    with pytest.raises(ImportError, match="pip install imageio-ffmpeg"):
        trace.save_animation(tmp_path / "denoise.mp4")


def test_mp4_when_imageio_ffmpeg_is_installed(toy, tmp_path):
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    _, trace = sdw.generate(toy, scene(), steps=3, trace=True)
    path = trace.save_animation(tmp_path / "denoise.mp4", fps=3)
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = reader.__next__()
    frames = list(reader)
    assert len(frames) == 3
    assert meta["size"][0] % 2 == 0 and meta["size"][1] % 2 == 0


def test_a_stream_trace_records_x_next_and_the_centred_prediction(toy):
    import torch

    from semanticdraw_widgets.engine.regional import roll_layers

    size = 64
    mask = np.zeros((size, size), bool)
    mask[0:24, 40:64] = True
    scene = sdw.Scene(width=size, height=size, seed=3, background=sdw.Background(prompt="blue sky"),
                      regions=[sdw.Region(prompt="sun", mask=mask)])
    stream = sdw.Stream(toy, scene, steps=3, trace_ticks=3)
    frame = stream.tick()
    while not frame.converged:
        frame = stream.tick()
    trace = stream.last_trace()
    for k in range(2):  # each step's x_next is the next step's x_t, recorded, not inferred
        assert trace.steps[k].x_next is not None and torch.equal(trace.steps[k].x_next, trace.steps[k + 1].x_t)
    assert torch.equal(trace.steps[-1].x_next, frame.latent)
    first = trace.steps[0]  # the centred x̂0, rolled back, is the recorded x̂0 of each bootstrapped layer
    assert torch.equal(roll_layers(first.x0_centred, first.shifts, reverse=True), first.x0_layers)
    assert trace.steps[1].x0_centred is None


def test_pruned_layers_are_named_in_the_trace(toy):
    size = 64
    full = np.ones((size, size), bool)
    scene = sdw.Scene(width=size, height=size, seed=1, background=sdw.Background(prompt="blue sky"),
                      regions=[sdw.Region(prompt="red bricks", mask=full)])
    _, trace = sdw.generate(toy, scene, steps=2, trace=True)
    assert trace.prompts == ("red bricks",) and trace.pruned == ("blue sky",)  # covered: never computed
    stream = sdw.Stream(toy, scene, steps=2, trace_ticks=2)
    stream.tick(), stream.tick()
    assert stream.last_trace().pruned == ("blue sky",)


def strength_scene(size=64):
    """A background, a region at prompt strength 0.6 with its own negative prompt and an unknown word, and a
    region that covers nothing (pruned), so the recorded per-layer texts must follow the kept layers."""
    return sdw.Scene(width=size, height=size, seed=4,
                     background=sdw.Background(prompt="blue sky", negative_prompt="grey"),
                     regions=[sdw.Region(prompt="empty", mask=np.zeros((size, size), bool)),
                              sdw.Region(prompt="red bricks sofa", mask=rect_mask(size, size, 0, 0, 32, 32),
                                         prompt_strength=0.6, negative_prompt="green")])


def test_a_trace_records_what_each_layers_text_conditioning_was_made_of(toy):
    _, trace = sdw.generate(toy, strength_scene(), steps=2, trace=True, guidance_scale=2.0)
    assert trace.prompts == ("blue sky", "red bricks sofa") and trace.pruned == ("empty",)
    assert trace.strengths == (1.0, 0.6) and trace.background_layer == 0
    assert trace.negatives == ("grey", "green, grey") and trace.anchor == ("blue sky", "grey")
    reading = trace.read_prompt("red bricks sofa")
    assert reading.used == ("red", "brick") and reading.ignored == ("sofa",) and "lexicon" in reading.reader
    stream = sdw.Stream(toy, strength_scene(), steps=2, trace_ticks=2, guidance_scale=2.0)
    stream.tick(), stream.tick()
    streamed = stream.last_trace()
    assert (streamed.strengths, streamed.negatives, streamed.anchor) == (trace.strengths, trace.negatives, trace.anchor)
    for step in streamed.steps:  # a stream's trace has the guidance halves too, and they make its x̂0
        assert close(step.x0_layers, step.x0_uncond + 2.0 * (step.x0_cond - step.x0_uncond))


def test_a_stream_that_does_not_trace_keeps_no_guidance_halves(toy, monkeypatch):
    kept = []
    real = sampler.predict_regional

    def predict(*args, **kwargs):
        pred = real(*args, **kwargs)
        kept.append(pred.guidance_parts is not None)
        return pred

    monkeypatch.setattr(sys.modules["semanticdraw_widgets.engine.stream"], "predict_regional", predict)
    sdw.Stream(toy, strength_scene(), steps=2, guidance_scale=2.0).tick()
    sdw.Stream(toy, strength_scene(), steps=2, guidance_scale=2.0, trace_ticks=2).tick()
    assert kept == [False, True]


def test_clip_reading_keeps_75_tokens_and_names_the_cut_tail():
    from semanticdraw_widgets.backends.base import clip_reading, read_prompt
    from semanticdraw_widgets.testing import byte_level_clip_tokenizer

    tokenizer = byte_level_clip_tokenizer()  # one token per character (spaces end words, they are no token)
    short = clip_reading(tokenizer, "a red apple")
    assert short.used == ("a", "red", "apple") and short.truncated == "" and "75" in short.reader
    cut = clip_reading(tokenizer, "a" * 70 + " red apple")  # 78 tokens: the cut falls inside "apple"
    assert cut.used == ("a" * 70, "red", "ap") and cut.truncated == "ple" and "78 tokens" in cut.reader

    class Remote:  # a backend that says nothing about its vocabulary: every word passes
        name = "remote"

    fallback = read_prompt(Remote(), "a red  apple")
    assert fallback.used == ("a", "red", "apple") and "not known" in fallback.reader
