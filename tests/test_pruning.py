"""Dropping rows that cannot change the picture: the helpers on tiny tensors, and generate() with them."""

import sys

import numpy as np
import pytest
import torch

import semanticdraw_widgets as sdw
from helpers import rect_mask
from semanticdraw_widgets.backends.toy import ToyBackend
from semanticdraw_widgets.engine.plan import SamplerOptions, make_plan
from semanticdraw_widgets.engine.pruning import fill_needed, layers_to_keep, live_layers, prune_plan


def weights_of(*layers):
    """(S=2, P, 1, 2, 2) from per-layer (2, 2, 2) step x pixel lists."""
    return torch.tensor(layers, dtype=torch.float32).permute(1, 0, 2, 3)[:, :, None]


def test_live_layers_are_those_with_weight_at_some_step():
    w = weights_of([[[0, 0], [0, 0]], [[0, 0], [0, 0.1]]],  # late weight only: live
                   [[[0, 0], [0, 0]], [[0, 0], [0, 0]]])  # never: dead
    assert live_layers(w).tolist() == [True, False]


def test_background_is_kept_while_any_step_leaves_a_gap():
    full = [[[1, 1], [1, 1]], [[1, 1], [1, 1]]]
    gap_at_first_step = [[[1, 1], [1, 0.5]], [[1, 1], [1, 1]]]
    nothing = [[[0, 0], [0, 0]], [[0, 0], [0, 0]]]
    assert not fill_needed(weights_of(nothing, full), background_layer=0)
    assert layers_to_keep(weights_of(nothing, full), 0).tolist() == [False, True]
    assert fill_needed(weights_of(nothing, gap_at_first_step), background_layer=0)
    assert layers_to_keep(weights_of(nothing, gap_at_first_step), 0).tolist() == [True, True]
    # a background image (no background layer) and no live region: one row stays so a batch exists
    assert layers_to_keep(weights_of(nothing, nothing), None).tolist() == [True, False]


def scene_with(*regions, image=False):
    background = sdw.Background(prompt="white", image=np.ones((64, 64, 3), np.float32) * 0.5 if image else None)
    return sdw.Scene(width=64, height=64, seed=4, background=background, regions=list(regions))


EMPTY = sdw.Region(prompt="not drawn yet", mask=np.zeros((64, 64), bool))
LEFT = sdw.Region(prompt="red bricks", mask=rect_mask(64, 64, 0, 0, 64, 32))
RIGHT = sdw.Region(prompt="blue", mask=rect_mask(64, 64, 0, 32, 64, 64))
SMALL = sdw.Region(prompt="green", mask=rect_mask(64, 64, 8, 8, 24, 40))


@pytest.mark.parametrize("scene, kept_prompts", [
    (scene_with(SMALL, EMPTY), ("white", "green")),  # the empty region goes
    (scene_with(LEFT, RIGHT), ("red bricks", "blue")),  # the regions cover the canvas: no background rows
    (scene_with(LEFT, SMALL), ("white", "red bricks", "green")),  # a gap: everything stays
    (scene_with(EMPTY, SMALL, image=True), ("green",)),
])
def test_pruned_generate_renders_the_same_image_with_fewer_rows(monkeypatch, scene, kept_prompts):
    full_backend, pruned_backend = ToyBackend(), ToyBackend()
    with monkeypatch.context() as unpruned:  # generate prunes; the same call without it for comparison
        unpruned.setattr(sys.modules["semanticdraw_widgets.engine.generate"], "prune_plan", lambda plan: plan)
        full = sdw.generate(full_backend, scene, steps=4)
    plan = make_plan(pruned_backend, scene, pruned_backend.make_schedule(4), SamplerOptions())
    assert prune_plan(plan).prompts == kept_prompts
    pruned = sdw.generate(pruned_backend, scene, steps=4)
    assert np.abs(np.asarray(full, np.int16) - np.asarray(pruned, np.int16)).max() <= 1  # float summation order
    assert (full_backend.model_rows, pruned_backend.model_rows) == (4 * plan.num_layers, 4 * len(kept_prompts))


def test_nothing_to_drop_returns_the_same_plan():
    backend = ToyBackend()
    plan = make_plan(backend, scene_with(LEFT, SMALL), backend.make_schedule(4), SamplerOptions())
    assert prune_plan(plan) is plan


def test_unconditional_rows_exist_only_with_guidance_above_one():
    backend = ToyBackend()
    scene = scene_with(SMALL)
    for guidance, doubled in ((1.0, False), (0.5, False), (3.0, True)):
        rows_before = backend.model_rows
        sdw.generate(backend, scene, steps=2, guidance_scale=guidance)
        assert backend.model_rows - rows_before == 2 * 2 * (2 if doubled else 1)


def test_pruned_stream_shows_the_same_frames_with_half_the_rows(monkeypatch):
    scene = scene_with(LEFT, EMPTY, RIGHT)  # an undrawn region, and no gap for the background to fill
    edited = scene.with_region(0, prompt="yellow")

    def run(backend):
        stream = sdw.Stream(backend, scene, steps=3)
        latents = []
        for tick in range(6):
            if tick == 2:
                stream.update(edited)
            latents.append(stream.tick().latent)
        return latents, stream

    full_backend, pruned_backend = ToyBackend(), ToyBackend()
    with monkeypatch.context() as unpruned:  # the stream prunes; the same stream without it for comparison
        unpruned.setattr(sys.modules["semanticdraw_widgets.engine.stream"], "prune_plan", lambda plan: plan)
        full, _ = run(full_backend)
    pruned, stream = run(pruned_backend)
    for a, b in zip(full, pruned):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-5)
    assert pruned_backend.model_rows * 2 == full_backend.model_rows == 48  # 2 of 4 layers run
    frame = stream.tick()
    assert frame.converged
    assert np.array_equal(np.asarray(frame.image), np.asarray(sdw.generate(ToyBackend(), edited, steps=3)))
