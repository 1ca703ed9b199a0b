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
    assert torch.allclose(classifier_free_guidance(a, b, 1.0), b)


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
