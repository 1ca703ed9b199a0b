"""Engine rules that a mutant once removed with the suite still green (issue 15): each test here fails
when its rule is broken (the docstring of each says which deliberate breakage it was checked against).

Inputs are chosen so that the rule and its plausible wrong twins give different answers: overlapping
*soft* masks tell 1 − Σ from 1 − max, and every copy of the cover_alpha range check is reached on its own.
"""

import numpy as np
import pytest
import torch

import semanticdraw_widgets as sdw
from helpers import rect_mask
from semanticdraw_widgets.engine.masks import background_weights
from semanticdraw_widgets.engine.plan import SamplerOptions, make_plan
from semanticdraw_widgets.validation import ValidationError, check_run_options

SIZE = 64


def test_background_weight_is_one_minus_the_sum_of_overlapping_soft_regions():
    """Broken with ``1 - region_weights.amax(-3)``: 1 − max(0.3, 0.4) = 0.6, not 0.3."""
    regions = torch.zeros(2, 1, 3)  # (R, h, w)
    regions[0, 0] = torch.tensor([0.3, 0.0, 0.7])
    regions[1, 0] = torch.tensor([0.4, 0.0, 0.6])
    weights = background_weights(regions)
    assert weights.shape == (1, 1, 3)
    torch.testing.assert_close(weights[0, 0], torch.tensor([0.3, 1.0, 0.0]))  # 1 − 0.7; nothing; clipped at 0


def test_background_weight_keeps_leading_step_dimensions():
    """(S, R, h, w) -> (S, 1, h, w): the sum runs over the region axis, not the step axis."""
    regions = torch.tensor([[[[0.25]], [[0.25]]], [[[0.5]], [[0.0]]]])  # (S=2, R=2, 1, 1)
    torch.testing.assert_close(background_weights(regions), torch.tensor([[[[0.5]]], [[[0.5]]]]))


def soft_overlap_scene():
    """Two regions with soft (float) masks that overlap in the middle columns."""
    left = np.zeros((SIZE, SIZE), np.float32)
    left[:, :40] = 0.35
    right = np.zeros((SIZE, SIZE), np.float32)
    right[:, 24:] = 0.45
    return sdw.Scene(width=SIZE, height=SIZE, seed=1, background=sdw.Background(prompt="white"),
                     regions=[sdw.Region(prompt="red", mask=left), sdw.Region(prompt="blue", mask=right)])


@pytest.mark.parametrize("mode", ["continuous", "semi-continuous"])
def test_the_plans_background_layer_is_one_minus_the_sum_where_soft_regions_overlap(toy, mode):
    """The plan-level twin of the test above (the test in test_regional.py uses binary overlaps, where Σ
    and max agree): broken with max, the background here is 1 − 0.45 instead of 1 − 0.8 in the overlap."""
    plan = make_plan(toy, soft_overlap_scene(), toy.make_schedule(4), SamplerOptions(mask_mode=mode, cover_alpha=1.0))
    weights = plan.weights[:, :, 0]  # (S, P, h, w), layer 0 is the background
    regions = weights[:, 1:]
    both = (regions > 0).all(1) & (regions < 1).all(1)
    assert both.any(), "the two soft regions overlap somewhere with partial weights"
    assert (regions.sum(1) - regions.amax(1))[both].min() > 0.1, "there Σ and max differ"
    torch.testing.assert_close(weights[:, 0], (1 - regions.sum(1)).clamp(0, 1))


def test_cover_alpha_above_one_is_refused_by_the_sampler_options():
    """Broken by deleting the range check in SamplerOptions.__post_init__ (engine/plan.py)."""
    for bad in (1.5, -0.1):
        with pytest.raises(ValueError, match="cover_alpha"):
            SamplerOptions(cover_alpha=bad)
    assert SamplerOptions(cover_alpha=1.0).cover_alpha == 1.0 and SamplerOptions(cover_alpha=0.0).cover_alpha == 0.0


def test_cover_alpha_above_one_is_refused_by_the_shared_option_checker(toy):
    """Broken by dropping ``max=1.0`` from check_run_options (validation.py), which generate, Stream and
    Session use; the SamplerOptions copy would otherwise hide it."""
    for bad in (1.5, 1.0000001, -0.1):
        with pytest.raises(ValidationError, match="cover_alpha"):
            check_run_options(toy, steps=2, cover_alpha=bad)
    assert check_run_options(toy, steps=2, cover_alpha=1.0)["cover_alpha"] == 1.0


@pytest.mark.parametrize("entry", ["generate", "stream", "session"])
def test_every_entry_point_refuses_cover_alpha_above_one(toy, entry):
    scene = sdw.Scene(width=SIZE, height=SIZE, background=sdw.Background(prompt="white"),
                      regions=[sdw.Region(prompt="red", mask=rect_mask(SIZE, SIZE, 0, 0, 32, 32))])
    with pytest.raises(ValueError, match="cover_alpha"):
        if entry == "generate":
            sdw.generate(toy, scene, steps=2, cover_alpha=1.5)
        elif entry == "stream":
            sdw.Stream(toy, scene, 2, cover_alpha=1.5)
        else:
            sdw.Session(toy, scene, 2).reconfigure(cover_alpha=1.5)
