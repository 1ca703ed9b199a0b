"""DenoisingInspector: panels of the right size, a slider over every step, isolation, live canvases, errors,
the prompt view, and both drawing surfaces (ipycanvas, a plain PNG image).

No browser: the tests read the arrays the inspector hands to its surface (and the PNG the image surface sends).
"""

import importlib.util
import io
import sys
import time
import types

import ipywidgets as widgets
import numpy as np
import pytest
import torch
import traitlets
from PIL import Image

import semanticdraw_widgets as sdw
from semanticdraw_widgets.widgets import inspector as inspector_module

from helpers import rect_mask

# the tests that read ipycanvas commands; without ipycanvas the inspector draws on the image surface
needs_ipycanvas = pytest.mark.skipif(importlib.util.find_spec("ipycanvas") is None, reason="ipycanvas not installed")

SIZE = 128


def three_regions(size=SIZE):
    s = size
    return sdw.Scene(width=s, height=s, seed=2, background=sdw.Background(prompt="white"),
                     regions=[sdw.Region(prompt="red bricks", mask=rect_mask(s, s, 0, 0, s // 3, s // 2)),
                              sdw.Region(prompt="blue", mask=rect_mask(s, s, s // 2, s // 3, s, s), mask_blur=6),
                              sdw.Region(prompt="green", mask=rect_mask(s, s, s // 3, 0, s, s // 4))])


@pytest.fixture(scope="module")
def toy_trace(toy):
    return sdw.generate(toy, three_regions(), steps=4, bootstrap_steps=2, trace=True)[1]


def recorded_draws(inspector, monkeypatch):
    """Collect every array the inspector puts on its canvas."""
    arrays = []
    real = inspector.canvas.put_image_data

    def put(array, x=0, y=0):
        arrays.append(array.copy())
        real(array, x, y)

    monkeypatch.setattr(inspector.canvas, "put_image_data", put)
    return arrays


def tile(inspector, frame, row, column):
    x, y = inspector.tile_origin(row, column)
    return frame[y: y + inspector.tile_h, x: x + inspector.tile_w]


@needs_ipycanvas
def test_toy_trace_panels_and_slider(toy_trace, toy):
    inspector = sdw.DenoisingInspector(toy_trace)
    latent = SIZE // toy.scale_factor  # 32 latent pixels -> zoom 4 -> 128 px tiles
    assert (inspector.tile_h, inspector.tile_w) == (latent * inspector.zoom,) * 2 and inspector.zoom == 4
    assert inspector.layer_rows == ["layer_inputs", "model_inputs", "x0_centred", "x0_layers"]
    # the slider counts steps from 1, as the caption does
    assert (inspector.slider.min, inspector.slider.max) == (1, 4) and inspector.play.max == 4
    assert inspector.slider.value == 1 and "step 1/4" in inspector.info.value
    assert inspector.columns == 5 and len(inspector.layer.options) == 1 + 4  # "all" + 4 layers
    frame = inspector.last_frame
    assert frame.shape == (inspector.height, inspector.width, 3)
    assert (inspector.canvas.width, inspector.canvas.height) == (inspector.width, inspector.height)
    assert inspector.width == inspector_module.GAP + 5 * (inspector.tile_w + inspector_module.GAP)
    # every layer's x̂0 tile is drawn, and it is that layer's x̂0 preview (dimmed outside its mask)
    step = toy_trace.steps[0]
    x0_preview = np.asarray(toy_trace.preview(step.x0_layers[1]))
    drawn = tile(inspector, frame, 4, 1)[:: inspector.zoom, :: inspector.zoom]
    mask = step.masks[1].numpy()
    inside = (mask > 0.999) & ~inspector_module.mask_edge(mask)
    tinted = np.clip(x0_preview + 0.25 * inspector_module.LAYER_COLOURS[1], 0, 255)  # the layer's tint
    assert inside.sum() > 20 and np.abs(drawn[inside] - tinted[inside]).max() <= 1
    assert "bootstrap step" in inspector.info.value and "noise level" in inspector.info.value


@needs_ipycanvas
def test_scrubbing_redraws_the_chosen_step(toy_trace, monkeypatch):
    inspector = sdw.DenoisingInspector(toy_trace)
    draws = recorded_draws(inspector, monkeypatch)
    inspector.slider.value = 4
    assert len(draws) == 1 and np.array_equal(draws[0], inspector.last_frame)
    expected = np.asarray(toy_trace.preview(toy_trace.steps[3].x_t))
    assert np.array_equal(tile(inspector, draws[0], 0, 0)[:: inspector.zoom, :: inspector.zoom], expected)
    assert "bootstrap step" not in inspector.info.value and "step 4/4" in inspector.info.value
    # the Play button drives the slider in the browser (a jslink, no kernel round trip per frame)
    assert inspector.play_link.source == (inspector.play, "value")
    assert inspector.play_link.target == (inspector.slider, "value")


@needs_ipycanvas
def test_isolating_a_layer_changes_what_is_drawn(toy_trace, monkeypatch):
    inspector = sdw.DenoisingInspector(toy_trace)
    draws = recorded_draws(inspector, monkeypatch)
    inspector.layer.value = 2
    isolated = draws[-1]
    assert not np.array_equal(isolated, draws[0] if len(draws) > 1 else inspector.compose(0, None)[0])
    for row in (1, 2, 3, 4):
        for column in (0, 1, 3):
            assert (tile(inspector, isolated, row, column) == inspector_module.EMPTY).all()
        assert not (tile(inspector, isolated, row, 2) == inspector_module.EMPTY).all()
    all_layers = inspector.compose(0, None)[0]
    assert not np.array_equal(tile(inspector, isolated, 0, 4), tile(inspector, all_layers, 0, 4)), "only its mask"
    # clicking a layer's tile isolates it; clicking it again shows every layer
    x, y = inspector.tile_origin(3, 1)
    inspector._on_click(x + 5, y + 5)
    assert inspector.isolated == 1
    inspector._on_click(x + 5, y + 5)
    assert inspector.isolated is None


def test_full_decode_of_the_selected_step(toy_trace):
    inspector = sdw.DenoisingInspector(toy_trace)
    inspector.slider.value = 4
    image = inspector.full_decode()
    assert image.size == (SIZE, SIZE) and inspector.picture.value[:4] == b"\x89PNG"
    assert inspector.picture.layout.display is None and "step 4/4" in inspector.picture_label.value


def test_a_decoded_picture_is_shown_only_under_its_own_step(toy_trace):
    # issue 18: a full decode at step 4 stayed under "step 1/4" after scrubbing
    inspector = sdw.DenoisingInspector(toy_trace)
    inspector.slider.value = 4
    inspector.full_decode()
    inspector.slider.value = 1
    assert "step 1/4" in inspector.info.value
    assert inspector.picture.layout.display == "none" and inspector.picture_label.layout.display == "none"
    inspector.slider.value = 4  # back at its step, the decode is still there to see
    assert inspector.picture.layout.display is None


def test_multidiffusion_trace_shows_the_averaged_next_latent(toy):
    _, trace = sdw.generate(toy, three_regions(), steps=3, method="multidiffusion", trace=True)
    inspector = sdw.DenoisingInspector(trace)
    assert inspector.layer_rows[-1] == "x_next_layers"
    labels = [text for text, _, _ in inspector.compose(0, None)[1]]
    assert "averaged x_{t+1}" in labels and not any("pre-averaged" in text for text in labels)
    assert inspector.last_frame.shape[0] == inspector.height


def test_tiny_sd_trace(tiny_sd, small_scene):
    _, trace = sdw.generate(tiny_sd, small_scene, steps=2, trace=True)
    inspector = sdw.DenoisingInspector(trace)
    latent = small_scene.height // tiny_sd.scale_factor
    assert inspector.tile_h == latent * inspector.zoom >= 128
    assert inspector.slider.max == 2 and len(inspector.layer.options) == 4
    assert inspector.last_frame.shape == (inspector.height, inspector.width, 3)
    assert inspector.full_decode().size == (small_scene.width, small_scene.height)


def test_clear_errors_for_empty_and_mismatched_traces(toy_trace, toy):
    with pytest.raises(ValueError, match="no steps.*trace=True"):
        sdw.DenoisingInspector(sdw.Trace(prompts=("white",), project=toy.latent_to_rgb))
    with pytest.raises(TypeError, match="needs a Trace"):
        sdw.DenoisingInspector(42)
    first = toy_trace.steps[0]
    bad = sdw.Trace(prompts=toy_trace.prompts[:2], project=toy.latent_to_rgb, steps=[first])
    with pytest.raises(ValueError, match=r"x0_layers must be \(2, 4, 32, 32\)"):
        sdw.DenoisingInspector(bad)
    small = sdw.TraceStep(index=1, timestep=1.0, noise_level=0.5, bootstrap=False, x_t=first.x_t[:, :16],
                          x0_layers=first.x0_layers, x0=first.x0, masks=first.masks)
    with pytest.raises(ValueError, match="x_t must be"):
        sdw.DenoisingInspector(sdw.Trace(prompts=toy_trace.prompts, project=toy.latent_to_rgb, steps=[first, small]))


class LiveSource(traitlets.HasTraits):
    """Stands in for a canvas: a `trace` attribute and a `status` trait."""

    status = traitlets.Dict({"state": "stopped"})

    def __init__(self, trace=None):
        super().__init__()
        self.trace = trace


def test_following_a_live_source(toy, toy_trace):
    source = LiveSource()
    inspector = sdw.DenoisingInspector(source)
    assert inspector.trace is None and "Waiting" in inspector.info.value
    source.trace = toy_trace
    source.status = {"state": "streaming"}
    assert inspector.trace is None, "only a finished picture refreshes"
    source.status = {"state": "idle"}
    assert inspector.trace is toy_trace and inspector.slider.max == 4
    _, newer = sdw.generate(toy, three_regions(), steps=2, trace=True)
    source.trace = newer
    assert inspector.refresh() and inspector.slider.max == 2
    assert not inspector.refresh(), "the same trace is not reloaded"
    inspector.follow(False)
    source.trace = toy_trace
    source.status = {"state": "streaming"}
    source.status = {"state": "idle"}
    assert inspector.trace is newer


def test_a_live_canvas(toy):
    canvas = sdw.SemanticDrawCanvas(toy, width=SIZE, height=SIZE, steps=2, trace=True)
    canvas.send = lambda *a, **k: None
    labels = np.zeros((SIZE, SIZE), np.uint8)
    labels[10:60, 10:70] = 1
    canvas.label_map = labels
    inspector = sdw.DenoisingInspector(canvas)
    canvas.start()
    try:
        deadline = time.monotonic() + 30
        while inspector.trace is None and time.monotonic() < deadline:
            time.sleep(0.05)  # waits for the stream, asserts nothing about time
        assert inspector.trace is not None and len(inspector.trace.prompts) == 2
        assert inspector.slider.max == 2  # set before the trace is: a reader never sees it half loaded
    finally:
        canvas.stop()
    with pytest.raises(ValueError, match="trace=True"):
        sdw.DenoisingInspector(sdw.SemanticDrawCanvas(toy, width=SIZE, height=SIZE))


def test_redraw_does_not_recompute_previews(toy_trace, monkeypatch):
    inspector = sdw.DenoisingInspector(toy_trace)
    calls = []
    monkeypatch.setattr(inspector.trace, "project", lambda latents: calls.append(1) or torch.zeros(1))
    for value in (2, 3, 4, 1):
        inspector.slider.value = value
    inspector.layer.value = 1
    assert calls == [], "previews are rendered once, when the trace is loaded"


def test_a_source_without_status_is_refreshed_by_hand(toy_trace):
    class Holder:
        trace = None

    holder = Holder()
    inspector = sdw.DenoisingInspector(holder)  # nothing to follow: no error, waits for refresh()
    assert inspector.trace is None and not inspector.refresh()
    holder.trace = toy_trace
    assert inspector.refresh() and inspector.trace is toy_trace
    with pytest.raises(ValueError, match="no `status` trait"):
        inspector.follow()
    with pytest.raises(ValueError, match="no `status` trait"):
        sdw.DenoisingInspector(holder, follow=True)


def test_the_centred_prediction_is_shown_on_bootstrap_steps(toy_trace):
    inspector = sdw.DenoisingInspector(toy_trace)
    step = toy_trace.steps[0]
    assert step.bootstrap and step.x0_centred is not None
    frame = inspector.compose(0, None)[0]
    expected = np.asarray(toy_trace.preview(step.x0_centred[1]))
    assert np.array_equal(tile(inspector, frame, 3, 1)[:: inspector.zoom, :: inspector.zoom], expected)
    later = inspector.compose(3, None)[0]  # not a bootstrap step: nothing was centred, the row stays empty
    assert (tile(inspector, later, 3, 1) == inspector_module.BACKGROUND).all()


def test_each_step_is_explained_in_words_with_the_noise_schedule(toy_trace):
    inspector = sdw.DenoisingInspector(toy_trace)
    assert "Bootstrapping: each region saw only its own mask" in inspector.info.value
    assert "mask threshold 0.998" in inspector.info.value and "<svg" in inspector.info.value
    inspector.slider.value = 4
    info = inspector.info.value
    assert "No bootstrapping" in info and "the result is the final picture" in info
    assert f"mask threshold {toy_trace.steps[3].noise_level:.3f}" in info
    assert info.count("<circle") == len(toy_trace) and "r='5'" in info  # one dot per step, the current one big


def test_the_bootstrap_surround_is_named_and_outlined(toy_trace):
    inspector = sdw.DenoisingInspector(toy_trace)
    labels = [text for text, _, _ in inspector.compose(0, None)[1]]
    assert any(text.startswith("saw: ") and "plain surround" in text for text in labels)
    later = [text for text, _, _ in inspector.compose(3, None)[1]]  # no bootstrapping: no surround to name
    assert not any("plain surround" in text for text in later)


# -- drawing surfaces ---------------------------------------------------------------------------------
def png_pixels(data):
    return np.asarray(Image.open(io.BytesIO(bytes(data))).convert("RGB"))


def test_auto_surface_is_a_plain_image_on_colab_or_without_ipycanvas(monkeypatch):
    has_ipycanvas = importlib.util.find_spec("ipycanvas") is not None
    assert inspector_module.choose_surface("auto") == ("ipycanvas" if has_ipycanvas else "image")
    assert inspector_module.choose_surface("image") == "image"
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert inspector_module.choose_surface("auto") == "image"  # googlecolab/colabtools#4157
    monkeypatch.delitem(sys.modules, "google.colab")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ipycanvas" else real(name, *a))
    assert inspector_module.choose_surface("auto") == "image"
    with pytest.raises(ValueError, match="surface='ipycanvas' needs ipycanvas.*surface='image'"):
        inspector_module.choose_surface("ipycanvas")
    with pytest.raises(ValueError, match="surface must be one of 'auto', 'ipycanvas', 'image', got 'svg'"):
        inspector_module.choose_surface("svg")


def test_the_image_surface_sends_the_composed_frame_as_a_png(toy_trace):
    inspector = sdw.DenoisingInspector(toy_trace, surface="image")
    assert isinstance(inspector.canvas, widgets.Image) and inspector.canvas.format == "png"
    assert not inspector.surface.clickable and "isolate a layer with the buttons" in inspector.info.value
    shown = png_pixels(inspector.canvas.value)
    assert shown.shape == (inspector.height, inspector.width, 3)
    # the tiles are the composed frame's, pixel for pixel; the labels are drawn above them, not over them
    x, y = inspector.tile_origin(4, 1)
    h, w = inspector.tile_h, inspector.tile_w
    assert np.array_equal(shown[y: y + h, x: x + w], inspector.last_frame[y: y + h, x: x + w])
    label_band = shown[y - inspector_module.LABEL: y, x: x + w]
    assert (label_band != inspector_module.BACKGROUND).any(axis=2).sum() > 30, "the label is drawn"
    assert (inspector.last_frame[y - inspector_module.LABEL: y, x: x + w] == inspector_module.BACKGROUND).all()
    # scrubbing and the isolate buttons redraw the picture
    inspector.slider.value = 3
    assert np.array_equal(png_pixels(inspector.canvas.value)[y: y + h, x: x + w], inspector.compose(2, None)[0][y: y + h, x: x + w])
    inspector.layer.value = 2
    isolated = png_pixels(inspector.canvas.value)
    assert (isolated[y: y + h, x: x + w] == inspector_module.EMPTY).all()
    assert np.array_equal(inspector.last_frame, inspector.compose(2, 2)[0])


@needs_ipycanvas
def test_both_surfaces_show_one_composed_frame(toy_trace, monkeypatch):
    on_canvas = sdw.DenoisingInspector(toy_trace, surface="ipycanvas")
    on_image = sdw.DenoisingInspector(toy_trace, surface="image")
    draws = recorded_draws(on_canvas, monkeypatch)
    for inspector in (on_canvas, on_image):
        inspector.slider.value = 2
        inspector.layer.value = 1
    assert np.array_equal(draws[-1], on_image.last_frame)
    assert on_canvas.surface.clickable and "click a layer's tile" in on_canvas.info.value
    # the step strip is part of the frame on both: the current step's box is outlined
    box = (on_canvas.width - 2 * inspector_module.GAP) / len(toy_trace)
    left = int(round(inspector_module.GAP + box + 1))  # step 2's box
    outline = inspector_module._rgb(inspector_module.TEXT_COLOUR)
    middle = inspector_module.STRIP // 2
    assert (on_image.last_frame[0, left + 4] == outline).all() and (on_image.last_frame[middle, left] == outline).all()
    assert not (on_image.compose(0, None)[0][0, left + 4] == outline).all(), "step 1 outlines its own box"


def test_the_image_surface_shortens_labels_to_their_tile():
    surface = inspector_module.ImageSurface()
    long = "x̂0 (pre-averaged): a very long prompt about red bricks and blue skies"
    fitted = surface.fit(long, 100)
    assert fitted.endswith("…") and surface.font.getlength(fitted) <= 100 and len(fitted) < len(long)
    assert surface.fit("x_t", 100) == "x_t"


# -- the prompt view ----------------------------------------------------------------------------------
def guided_scene(size=SIZE):
    s = size
    return sdw.Scene(width=s, height=s, seed=5, background=sdw.Background(prompt="blue sky", negative_prompt="grey"),
                     regions=[sdw.Region(prompt="red bricks sofa", mask=rect_mask(s, s, 0, 0, s // 2, s // 2),
                                         prompt_strength=0.7, negative_prompt="green"),
                              sdw.Region(prompt="yellow sun", mask=rect_mask(s, s, s // 2, s // 2, s, s))])


def test_the_prompt_view_says_what_each_layer_was_told(toy):
    _, trace = sdw.generate(toy, guided_scene(), steps=3, guidance_scale=2.5, trace=True)
    inspector = sdw.DenoisingInspector(trace, surface="image")
    view = inspector.prompt_view.value
    assert "What the model was told" in view
    assert "Words the model used: red, brick. Ignored (not in its vocabulary): “sofa”" in view
    assert "70% this prompt blended with 30% of the background prompt “blue sky” (prompt strength 0.7)" in view
    assert "100% this prompt (prompt strength 1)" in view and "the background prompt itself" in view
    assert "Guidance 2.5" in view and "the negative prompt “green, grey”" in view
    # the guidance halves: their size at this step, in words, and as tile rows above the guided x̂0
    gap = float((trace.steps[0].x0_cond[1] - trace.steps[0].x0_uncond[1]).abs()[:, trace.steps[0].masks[1] > 0.5].mean())
    assert f"the two guesses differ by {gap:.2f} on average inside the mask" in view
    assert inspector.layer_rows[-3:] == ["x0_uncond", "x0_cond", "x0_layers"]
    row = inspector.layer_rows.index("x0_uncond") + 1
    frame = inspector.compose(0, None)[0]
    expected = np.asarray(trace.preview(trace.steps[0].x0_uncond[1]))
    assert np.array_equal(tile(inspector, frame, row, 1)[:: inspector.zoom, :: inspector.zoom], expected)
    labels = [text for text, _, _ in inspector.compose(0, None)[1]]
    assert "uncond x̂0: red bricks sofa" in labels and "cond x̂0: yellow sun" in labels
    # per step: the numbers follow the slider; isolating a layer shows its prompt only
    inspector.slider.value = 3
    last = float((trace.steps[2].x0_cond[1] - trace.steps[2].x0_uncond[1]).abs()[:, trace.steps[2].masks[1] > 0.5].mean())
    assert f"differ by {last:.2f}" in inspector.prompt_view.value
    inspector.layer.value = 2
    assert "yellow sun" in inspector.prompt_view.value and "red bricks sofa" not in inspector.prompt_view.value


def test_the_prompt_view_without_guidance_and_with_declined_halves(toy):
    _, plain = sdw.generate(toy, guided_scene(), steps=2, trace=True)  # the toy's default guidance is 1
    inspector = sdw.DenoisingInspector(plain, surface="image")
    assert "Guidance off (scale 1)" in inspector.prompt_view.value and "x0_uncond" not in inspector.layer_rows
    _, declined = sdw.generate(toy, guided_scene(), steps=2, guidance_scale=2.0, trace=True, trace_cfg=False)
    inspector.load(declined)
    assert "not recorded (trace_cfg=False)" in inspector.prompt_view.value and "x0_uncond" not in inspector.layer_rows


def test_the_prompt_view_names_what_clip_cuts_off(tiny_sd, small_scene):
    from dataclasses import replace

    long = "red " * 30 + "and a small blue boat"  # 120 characters: the byte-level CLIP keeps 75 of them
    scene = replace(small_scene, regions=(replace(small_scene.regions[0], prompt=long), *small_scene.regions[1:]))
    _, trace = sdw.generate(tiny_sd, scene, steps=1, trace=True)
    view = sdw.DenoisingInspector(trace, surface="image").prompt_view.value
    assert "Cut off at the token limit, never seen" in view and "blue boat" in view.split("never seen")[1]
    assert "CLIP tokenizer" in view


def test_reading_prompts_happens_once_per_trace(toy_trace, monkeypatch):
    calls = []
    real = toy_trace.read_prompt
    monkeypatch.setattr(toy_trace, "read_prompt", lambda text: calls.append(text) or real(text))
    inspector = sdw.DenoisingInspector(toy_trace, surface="image")
    read = len(calls)
    assert read == len(set(toy_trace.prompts) | {p for p in toy_trace.negatives if p})
    for value in (2, 3, 4, 1):
        inspector.slider.value = value
    assert len(calls) == read, "a redraw reads no prompt again"


def test_without_dejavu_the_image_surface_writes_the_hat_as_a_caret(monkeypatch):
    real = inspector_module.ImageFont.truetype

    def missing(font, *args, **kwargs):  # no DejaVu installed; Pillow's own font (a byte stream) still loads
        if font == "DejaVuSans.ttf":
            raise OSError("cannot open resource")
        return real(font, *args, **kwargs)

    monkeypatch.setattr(inspector_module.ImageFont, "truetype", missing)
    surface = inspector_module.ImageSurface()  # Pillow's own font has no combining hat: it would draw a box
    assert surface.fit("x̂0 (pre-averaged)", 200) == "x^0 (pre-averaged)"
