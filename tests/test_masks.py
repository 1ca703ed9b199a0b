"""Mask pipeline: cover order, separable blur, strength, per-step quantization (property tests)."""

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from semanticdraw_widgets.engine.masks import (MASK_MODES, apply_cover_order, apply_strength, blur_masks,
                                               centering_shift, downsample_masks, gaussian_kernel_1d,
                                               quantize_masks, shape_masks)

unit_floats = st.floats(0, 1, allow_nan=False, width=32)
masks_strategy = hnp.arrays(np.float32, hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=6),
                            elements=unit_floats)


@st.composite
def noise_levels(draw):
    """A decreasing schedule of noise levels in (0, 1)."""
    values = draw(st.lists(st.floats(0.01, 0.999), min_size=1, max_size=6, unique=True))
    return torch.tensor(sorted(values, reverse=True), dtype=torch.float32)


@settings(max_examples=60, deadline=None)
@given(masks=masks_strategy, levels=noise_levels(), mode=st.sampled_from(MASK_MODES))
def test_quantized_masks_are_in_range_and_grow_as_noise_falls(masks, levels, mode):
    q = quantize_masks(torch.from_numpy(masks), levels, mode)
    assert q.shape == (len(levels), *masks.shape)
    assert q.min() >= 0 and q.max() <= 1
    assert torch.all(q[1:] >= q[:-1] - 1e-6), "a mask must never shrink as the noise level falls"


@settings(max_examples=60, deadline=None)
@given(masks=masks_strategy, levels=noise_levels(), mode=st.sampled_from(MASK_MODES), bump=unit_floats)
def test_quantization_is_monotone_in_the_mask(masks, levels, mode, bump):
    lower = torch.from_numpy(masks)
    higher = (lower + bump).clamp(0, 1)
    assert torch.all(quantize_masks(higher, levels, mode) >= quantize_masks(lower, levels, mode))


@settings(max_examples=40, deadline=None)
@given(masks=hnp.arrays(np.bool_, (2, 5, 5)), levels=noise_levels())
def test_binary_masks_are_identical_in_every_mode(masks, levels):
    binary = torch.from_numpy(masks).float()
    results = [quantize_masks(binary, levels, mode) for mode in MASK_MODES]
    for result in results:
        assert torch.equal(result, binary[None].expand_as(result))


@settings(max_examples=40, deadline=None)
@given(masks=masks_strategy, levels=noise_levels())
def test_discrete_is_binary_and_semi_continuous_differs_only_on_the_last_step(masks, levels):
    m = torch.from_numpy(masks)
    discrete = quantize_masks(m, levels, "discrete")
    semi = quantize_masks(m, levels, "semi-continuous")
    assert set(discrete.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(semi[:-1], discrete[:-1])
    assert torch.equal(semi[-1], quantize_masks(m, levels, "continuous")[-1])


def test_a_mask_weaker_than_the_noise_joins_only_when_the_noise_falls_below_it():
    levels = torch.tensor([0.99, 0.8, 0.5, 0.2])
    q = quantize_masks(torch.full((1, 2, 2), 0.6), levels, "discrete")
    assert q[:, 0, 0, 0].tolist() == [0.0, 0.0, 1.0, 1.0]


def test_unknown_mode_is_rejected():
    with pytest.raises(ValueError, match="unknown mask mode 'fuzzy'"):
        quantize_masks(torch.ones(1, 2, 2), torch.tensor([0.5]), "fuzzy")


def test_cover_order_keeps_the_top_layer_and_dims_what_it_covers():
    bottom = torch.ones(4, 4)
    top = torch.zeros(4, 4)
    top[:2] = 1
    covered = apply_cover_order(torch.stack([bottom, top]), cover_alpha=0.3)
    assert torch.equal(covered[1], top)
    assert torch.allclose(covered[0, :2], torch.full((2, 4), 0.3))
    assert torch.equal(covered[0, 2:], torch.ones(2, 4))


@settings(max_examples=40, deadline=None)
@given(masks=masks_strategy, alpha=unit_floats)
def test_cover_order_never_adds_weight(masks, alpha):
    m = torch.from_numpy(masks)
    covered = apply_cover_order(m, alpha)
    assert torch.all(covered <= m + 1e-6)
    assert torch.equal(covered[-1], m[-1])


def test_blur_with_zero_std_is_identity_and_constant_masks_stay_constant():
    m = torch.rand(3, 9, 7)
    assert torch.equal(blur_masks(m, torch.zeros(3)), m)
    flat = torch.full((2, 9, 7), 0.7)
    assert torch.allclose(blur_masks(flat, torch.tensor([1.5, 4.0])), flat, atol=1e-6)


def test_blur_spreads_an_edge_by_its_own_std():
    m = torch.zeros(2, 1, 41)
    m[:, :, 20:] = 1
    blurred = blur_masks(m, torch.tensor([1.0, 4.0]))
    # just outside the edge, the wider blur leaks more
    assert 0 < blurred[0, 0, 17] < blurred[1, 0, 17]
    assert blurred[0, 0, 10] < 1e-4 < blurred[1, 0, 10]


def test_gaussian_kernel_is_normalised():
    assert torch.isclose(gaussian_kernel_1d(2.5, 8).sum(), torch.tensor(1.0))


def test_strength_scales_each_mask():
    out = apply_strength(torch.ones(2, 2, 2), torch.tensor([0.5, 1.0]))
    assert out[0].max() == 0.5 and out[1].min() == 1.0


def test_downsample_averages_area():
    m = torch.zeros(1, 8, 8)
    m[:, :, :4] = 1
    m[:, :, 4] = 1  # half of the second 4x4 block column... a quarter of its area
    small = downsample_masks(m, 4)
    assert small.shape == (1, 2, 2)
    assert torch.allclose(small[0, :, 0], torch.ones(2))
    assert torch.allclose(small[0, :, 1], torch.full((2,), 0.25))


def test_shape_masks_runs_the_whole_recipe():
    masks = torch.zeros(2, 16, 16)
    masks[0] = 1
    masks[1, 4:12, 4:12] = 1
    soft, per_step = shape_masks(downsample_masks(masks, 2), blur=torch.tensor([0.0, 1.0]),
                                 strengths=torch.tensor([1.0, 0.9]), cover_alpha=0.0,
                                 noise_levels=torch.tensor([0.9, 0.5]), mode="continuous")
    assert soft.shape == (2, 8, 8) and per_step.shape == (2, 2, 8, 8)
    assert soft[1].max() <= 0.9 + 1e-6
    assert soft[0, 4, 4] == 0  # the background is fully covered under the region's core


def test_centering_shift_moves_bbox_centre_to_canvas_centre():
    mask = torch.zeros(10, 20)
    mask[0:2, 0:4] = 1
    dy, dx = centering_shift(mask)
    rolled = torch.roll(mask, (dy, dx), (0, 1))
    rows = torch.nonzero(rolled.amax(1) > 0).flatten()
    cols = torch.nonzero(rolled.amax(0) > 0).flatten()
    assert (int(rows[0]) + int(rows[-1]) + 1) // 2 == 5
    assert (int(cols[0]) + int(cols[-1]) + 1) // 2 == 10
    assert centering_shift(torch.zeros(4, 4)) == (0, 0)
