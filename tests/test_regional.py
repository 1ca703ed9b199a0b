"""Regional maths on tiny tensors, and the sampler's bootstrapping/centring with a recording backend."""

import torch

import semanticdraw_widgets as sdw
from helpers import rect_mask
from semanticdraw_widgets.backends.toy import ToyBackend
from semanticdraw_widgets.engine.regional import (aggregate_x0, bootstrap_inputs, classifier_free_guidance,
                                                  predicted_noise, renoise, roll_layers)


def test_aggregate_averages_where_covered_and_fills_the_rest():
    x0 = torch.stack([torch.full((1, 2, 2), 1.0), torch.full((1, 2, 2), 3.0)])[None]  # (1, P=2, 1, 2, 2)
    weights = torch.zeros(1, 2, 1, 2, 2)
    weights[0, 0, 0, 0, 0] = 1  # only layer 0
    weights[0, :, 0, 0, 1] = 1  # both layers: mean 2
    weights[0, 1, 0, 1, 0] = 0.5  # half covered by layer 1: half 3, half fill
    fill = torch.full((1, 1, 2, 2), -1.0)
    out = aggregate_x0(x0, weights, fill)[0, 0]
    assert out.tolist() == [[1.0, 2.0], [1.0, -1.0]]


def test_renoise_with_the_predicted_noise_recovers_the_forward_process():
    x0, eps = torch.randn(1, 4, 3, 3), torch.randn(1, 4, 3, 3)
    alpha, sigma = torch.tensor(0.6), torch.tensor(0.8)
    x = alpha * x0 + sigma * eps
    assert torch.allclose(predicted_noise(x, x0, alpha, sigma), eps, atol=1e-5)
    # deterministic (DDIM) move to a lower level keeps the same noise direction
    nxt = renoise(x0, eps, torch.zeros_like(eps), torch.tensor(0.8), torch.tensor(0.6), torch.tensor(0.0))
    assert torch.allclose(nxt, 0.8 * x0 + 0.6 * eps)


def test_cfg_is_identity_at_scale_one():
    a, b = torch.randn(3), torch.randn(3)
    torch.testing.assert_close(classifier_free_guidance(a, b, 1.0), b)  # allclose had no atol for values near 0: flaky


def test_bootstrap_inputs_and_rolls():
    x = torch.ones(1, 1, 4, 4)
    w = torch.zeros(2, 1, 4, 4)
    w[:, :, :2] = 1
    boot = bootstrap_inputs(x, w, torch.zeros(1, 1, 4, 4))
    assert boot[:, :, :2].eq(1).all() and boot[:, :, 2:].eq(0).all()
    rolled = roll_layers(boot, [(1, 0), (0, 0)])
    assert torch.equal(roll_layers(rolled, [(1, 0), (0, 0)], reverse=True), boot)


class RecordingToy(ToyBackend):
    """The toy model, recording every model input."""

    def __init__(self):
        super().__init__()
        self.inputs = []

    def predict_x0(self, x, step_index, schedule, cond):
        self.inputs.append((x.clone(), step_index.clone()))
        return super().predict_x0(x, step_index, schedule, cond)


def corner_scene():
    mask = rect_mask(64, 64, 0, 0, 16, 16)  # a small region in the top-left corner
    return sdw.Scene(width=64, height=64, seed=5, background=sdw.Background(prompt="white"),
                     regions=[sdw.Region(prompt="red", mask=mask)])


def test_regions_are_centred_and_surrounded_only_during_bootstrap_steps():
    backend = RecordingToy()
    image, trace = sdw.generate(backend, corner_scene(), steps=4, bootstrap_steps=2, trace=True)
    f = backend.scale_factor
    region_mask = torch.from_numpy(rect_mask(64, 64, 0, 0, 16, 16)).float()[::f, ::f]  # (16, 16) latent
    plain = backend.encode_images(torch.ones(1, 3, 64, 64))[0]
    for step, (x, _) in enumerate(backend.inputs):
        background_row, region_row = x[0], x[1]
        x_t = trace.steps[step].x_t
        assert torch.allclose(background_row, x_t), "the background layer always sees x_t"
        if step < 2:
            # centred: the region's core now sits around the canvas centre (latent 16x16, region 4x4)
            centred_mask = torch.roll(region_mask, (6, 6), (0, 1))
            inside = centred_mask.bool()
            assert torch.allclose(region_row[:, inside], torch.roll(x_t, (6, 6), (1, 2))[:, inside])
            # outside its mask the region sees the plain latent noised to this step's level, not x_t
            outside = ~inside
            level = trace.steps[step].noise_level
            distance_to_plain = (region_row[:, outside] - (1 - level ** 2) ** 0.5 * plain[:, :1, :1].reshape(4, 1)).std()
            assert not torch.allclose(region_row[:, outside], torch.roll(x_t, (6, 6), (1, 2))[:, outside])
            assert distance_to_plain < 1.2 * level
        else:
            assert torch.allclose(region_row, x_t), "no centring or surround after the bootstrap steps"


def test_no_bootstrap_means_every_layer_sees_x_t():
    backend = RecordingToy()
    _, trace = sdw.generate(backend, corner_scene(), steps=3, bootstrap_steps=0, trace=True)
    for step, (x, _) in enumerate(backend.inputs):
        assert torch.allclose(x[1], trace.steps[step].x_t)


def test_bootstrapping_changes_the_first_prediction_only_through_the_region():
    backend = ToyBackend()  # a textured prompt, so the surround and centring matter to its prediction
    scene = corner_scene().with_region(0, prompt="red bricks")
    _, with_boot = sdw.generate(backend, scene, steps=4, bootstrap_steps=1, trace=True)
    _, without = sdw.generate(backend, scene, steps=4, bootstrap_steps=0, trace=True)
    first_with, first_without = with_boot.steps[0], without.steps[0]
    assert torch.equal(first_with.x_t, first_without.x_t)
    assert torch.equal(first_with.x0_layers[0], first_without.x0_layers[0]), "background layer untouched"
    assert not torch.allclose(first_with.x0_layers[1], first_without.x0_layers[1], atol=1e-3)


# --- the published background rule, negative-prompt strength, photo-only scenes (make_plan) ---------------

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from semanticdraw_widgets.engine.plan import SamplerOptions, make_plan  # noqa: E402


def blurred_half_scene(seed=0):
    """A red left half (drawn edge at x = 256) on white, blurred by 16 px."""
    return sdw.Scene(width=512, height=512, seed=seed, background=sdw.Background(prompt="white"),
                     regions=[sdw.Region(prompt="red", mask=rect_mask(512, 512, 0, 0, 512, 256), mask_blur=16)])


def red_edge(image) -> float:
    """Where the red share of the picture crosses 50%, in pixels right of the drawn edge (negative: left)."""
    a = np.asarray(image, np.float32) / 255
    profile = (a[..., 0] - a[..., 1])[64:448].mean(0)  # redness per column
    share = (profile - profile[400:].mean()) / (profile[:100].mean() - profile[400:].mean())
    i = int(np.nonzero(share < 0.5)[0][0])
    return i - 1 + (share[i - 1] - 0.5) / (share[i - 1] - share[i]) + 0.5 - 256


@pytest.mark.parametrize("mode", ["continuous", "discrete"])
def test_the_background_layer_takes_what_the_regions_leave(toy, mode):
    scene = blurred_half_scene().with_(regions=[*blurred_half_scene().regions,
                                                 sdw.Region(prompt="blue", mask=rect_mask(512, 512, 0, 200, 512, 400))])
    plan = make_plan(toy, scene, toy.make_schedule(4), SamplerOptions(mask_mode=mode, cover_alpha=1.0))
    weights = plan.weights[:, :, 0]  # (S, P, h, w), layer 0 is the background
    expected = (1 - weights[:, 1:].sum(1)).clamp(0, 1)
    torch.testing.assert_close(weights[:, 0], expected)
    assert (weights[:, 1:].sum(1) > 1).any(), "the two regions overlap somewhere: there the background gets 0"


def test_published_background_rule_lets_a_blurred_region_grow_outward_as_the_noise_falls(toy):
    # Measured on the toy: with the background quantized like a region (the rule before) the 50% edge sat
    # 1.3 px (4 steps) and 2.0 px (8 steps) outside the drawn edge; with 1 − Σ regions it moves out.
    edges = {steps: red_edge(sdw.generate(toy, blurred_half_scene(), steps=steps)) for steps in (1, 2, 4, 8)}
    assert abs(edges[1]) < 1.0
    assert 2.0 < edges[2] < 4.0
    assert 7.0 < edges[4] < 9.5
    assert 11.0 < edges[8] < 13.5


def test_discrete_masks_with_blur_shrink_regions_at_one_or_two_steps(toy):
    # the quantization threshold is the noise level itself, so at σ ≈ 1 only the blurred mask's core passes
    edges = {steps: red_edge(sdw.generate(toy, blurred_half_scene(), steps=steps, mask_mode="discrete"))
             for steps in (1, 2, 8)}
    assert edges[1] < -40 and edges[2] < -12
    assert edges[8] > 0, "with enough steps the discrete region reaches past its drawn edge again"


def test_negative_embeddings_are_lerped_toward_the_background_negative_by_prompt_strength(toy):
    scene = sdw.Scene(width=64, height=64, seed=0, background=sdw.Background(prompt="white", negative_prompt="blue"),
                      regions=[sdw.Region(prompt="red", negative_prompt="green", prompt_strength=0.25,
                                          mask=rect_mask(64, 64, 0, 0, 32, 32))])
    plan = make_plan(toy, scene, toy.make_schedule(4), SamplerOptions(guidance_scale=3.0))
    encode = lambda text: toy.encode_prompts([text])["appearance"][0]  # noqa: E731
    background_negative, region_negative = encode("blue"), encode("green, blue")
    torch.testing.assert_close(plan.uncond["appearance"][0], background_negative)  # the background layer
    torch.testing.assert_close(plan.uncond["appearance"][1],
                               background_negative + 0.25 * (region_negative - background_negative))
    torch.testing.assert_close(plan.cond["appearance"][1], encode("white") + 0.25 * (encode("red") - encode("white")))


@pytest.mark.parametrize("method", ["semanticdraw", "multidiffusion"])
def test_a_scene_with_only_a_background_image_renders_the_photo(toy, method):
    photo = np.random.default_rng(0).random((64, 64, 3)).astype(np.float32)
    scene = sdw.Scene(width=64, height=64, seed=0, background=sdw.Background(prompt="white", image=photo))
    image = sdw.generate(toy, scene, steps=3, method=method)
    assert np.abs(np.asarray(image, np.float32) / 255 - photo).max() <= 1 / 255
    stream = sdw.Stream(toy, scene, steps=3)
    frames = [stream.tick() for _ in range(3)]
    assert np.array_equal(np.asarray(frames[-1].image), np.asarray(image))
