"""SDXL and SD3 run unchanged through generate, Stream, Session, the canvas, the CLI and the trace.

Tiny random pipelines built from configs, saved once per session and loaded with load_backend(folder).
"""

import asyncio
import json

import numpy as np
import pytest
import torch

import semanticdraw_widgets as sdw
from helpers import rect_mask
from semanticdraw_widgets.backends.previews import LATENT_RGB
from semanticdraw_widgets.engine.plan import SamplerOptions, make_plan

SIZE = 64
FAMILY_FIXTURES = {"sdxl": "tiny_sdxl_folder", "sd3": "tiny_sd3_folder"}


@pytest.fixture(scope="module", params=list(FAMILY_FIXTURES))
def family_backend(request):
    folder = request.getfixturevalue(FAMILY_FIXTURES[request.param])
    return sdw.load_backend(folder, device="cpu")


def regions_scene(seed=5, **background):
    return sdw.Scene(
        width=SIZE, height=SIZE, seed=seed,
        background=sdw.Background(prompt=background.pop("prompt", "a quiet sky"), **background),
        regions=[sdw.Region(prompt="a red apple", negative_prompt="rotten", mask=rect_mask(SIZE, SIZE, 8, 8, 40, 40),
                            prompt_strength=0.8),
                 sdw.Region(prompt="green grass", mask=rect_mask(SIZE, SIZE, 40, 0, 64, 64), mask_blur=4.0),
                 sdw.Region(prompt="a white cat", negative_prompt="dog", mask=rect_mask(SIZE, SIZE, 0, 40, 24, 64))])


def pixels(image):
    return np.asarray(image, dtype=np.float32)


def test_one_shot_with_regions_negatives_and_guidance_is_deterministic_per_seed(family_backend):
    scene = regions_scene()
    image, trace = sdw.generate(family_backend, scene, steps=3, guidance_scale=3.0, trace=True)
    assert image.size == (SIZE, SIZE) and len(trace) == 3
    assert trace.prompts == ("a quiet sky", "a red apple", "green grass", "a white cat")
    assert all(torch.isfinite(step.x0).all() for step in trace.steps)
    assert trace.steps[0].x0.shape[0] == family_backend.latent_channels
    again = sdw.generate(family_backend, scene, steps=3, guidance_scale=3.0)
    assert np.array_equal(pixels(image), pixels(again))
    other = sdw.generate(family_backend, scene.with_(seed=6), steps=3, guidance_scale=3.0)
    assert not np.array_equal(pixels(image), pixels(other))
    steered = scene.with_region(0, negative_prompt="a blue car at night")
    assert np.abs(pixels(sdw.generate(family_backend, steered, steps=3, guidance_scale=3.0)) - pixels(image)).mean() > 0.1


def test_prompt_strength_interpolates_every_conditioning_including_the_pooled_one(family_backend):
    scene = regions_scene()
    plan = make_plan(family_backend, scene, family_backend.make_schedule(2), SamplerOptions())
    rows = family_backend.encode_prompts(["a quiet sky", "a red apple"])
    assert set(plan.cond) == {"prompt_embeds", "pooled_prompt_embeds"}
    for key in plan.cond:
        expected = rows[key][0] + 0.8 * (rows[key][1] - rows[key][0])
        assert torch.allclose(plan.cond[key][1], expected, atol=1e-5), key
        assert torch.allclose(plan.cond[key][0], rows[key][0], atol=1e-5), "the background keeps its embedding"
    assert not torch.allclose(plan.cond["pooled_prompt_embeds"][1], rows["pooled_prompt_embeds"][1])


def test_inpainting_keeps_the_background_image_outside_the_regions(family_backend):
    photo = np.random.default_rng(1).uniform(0, 1, (SIZE, SIZE, 3)).astype(np.float32)
    scene = regions_scene(prompt="a photo", image=photo).with_(regions=regions_scene().regions[:1])
    out = pixels(sdw.generate(family_backend, scene, steps=2, guidance_scale=2.0)) / 255
    far = np.zeros((SIZE, SIZE), bool)
    far[48:, :] = True  # away from the apple region (and its area-averaged latent edge)
    assert np.abs(out[far] - photo[far]).max() <= 1 / 255 + 1e-6


def test_the_stream_converges_to_the_one_shot_picture(family_backend):
    scene = regions_scene()
    stream = sdw.Stream(family_backend, scene, steps=3, guidance_scale=2.0)
    frames = [stream.tick() for _ in range(3)]
    assert [f.converged for f in frames] == [False, False, True]
    expected = pixels(sdw.generate(family_backend, scene, steps=3, guidance_scale=2.0))
    assert np.abs(pixels(frames[-1].image) - expected).max() <= 1, "batched slots equal generate() up to 1/255"
    stream.update(scene.with_region(2, prompt="a black dog"))
    for _ in range(3):
        frame = stream.tick()
    assert frame.converged and not np.array_equal(pixels(frame.image), pixels(frames[-1].image))


def test_the_stream_inpaints_a_background_image_like_generate(family_backend):
    photo = np.random.default_rng(2).uniform(0, 1, (SIZE, SIZE, 3)).astype(np.float32)
    scene = regions_scene(prompt="a photo", image=photo)
    stream = sdw.Stream(family_backend, scene, steps=2, guidance_scale=2.0)
    frame = [stream.tick() for _ in range(2)][-1]
    expected = pixels(sdw.generate(family_backend, scene, steps=2, guidance_scale=2.0))
    assert frame.converged and np.abs(pixels(frame.image) - expected).max() <= 1


def test_a_session_settles_on_the_picture_generate_makes(family_backend):
    scene = regions_scene()
    with sdw.Session(family_backend, scene, steps=2) as session:
        session.start()
        frame = asyncio.run(session.settled(timeout=120))
    assert np.abs(pixels(frame.image) - pixels(sdw.generate(family_backend, scene, steps=2))).max() <= 1


def test_the_canvas_draws_with_the_family(family_backend):
    canvas = sdw.SemanticDrawCanvas(family_backend, width=SIZE, height=SIZE, steps=2)
    canvas.send = lambda content, buffers=None: None
    try:
        canvas.start()
        frame = asyncio.run(canvas.settled(timeout=120))
        assert frame.image.size == (SIZE, SIZE)
        expected = sdw.generate(family_backend, frame.scene, steps=2)
        assert np.abs(pixels(frame.image) - pixels(expected)).max() <= 1
    finally:
        canvas.stop()


@pytest.mark.parametrize("family", list(FAMILY_FIXTURES))
def test_the_cli_renders_with_a_model_folder(request, tmp_path, capsys, family):
    from semanticdraw_widgets.cli import main

    folder = request.getfixturevalue(FAMILY_FIXTURES[family])
    scene_file = tmp_path / "scene.json"
    scene_file.write_text(json.dumps({"width": SIZE, "height": SIZE, "background": {"prompt": "white"},
                                      "regions": [{"prompt": "red", "mask": {"rect": [0, 0, 32, 32]}}]}))
    out = tmp_path / "out.png"
    assert main(["render", str(scene_file), "-o", str(out), "--model", str(folder), "--steps", "2",
                 "--guidance", "2"]) == 0
    assert "wrote" in capsys.readouterr().out and out.stat().st_size > 0


def test_previews_use_the_familys_published_factors(family_backend):
    factors, bias = LATENT_RGB[family_backend.name]
    assert factors.shape == (family_backend.latent_channels, 3)
    latent = torch.randn(1, family_backend.latent_channels, 4, 4)
    expected = ((torch.einsum("nchw,cr->nrhw", latent, factors) + bias.view(1, 3, 1, 1) + 1) / 2).clamp(0, 1)
    assert torch.allclose(family_backend.latent_to_rgb(latent), expected)
    _, trace = sdw.generate(family_backend, regions_scene(), steps=2, trace=True)
    assert trace.preview(trace.steps[-1].x0).size == (SIZE // family_backend.scale_factor,) * 2
