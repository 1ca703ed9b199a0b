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


# -- the mask pipeline's rules found by the mutation run of 3 December (second pass) ----------------------------

from semanticdraw_widgets.engine import masks as mask_ops  # noqa: E402


def test_a_layer_with_no_blur_is_left_exactly_as_it_is_beside_a_blurred_one():
    masks = torch.zeros(2, 16, 16)
    masks[:, 4:12, 4:12] = 1
    out = mask_ops.blur_masks(masks, torch.tensor([0.0, 1.5]))
    assert torch.equal(out[0], masks[0]), "std 0 is the identity tap, not a shifted one"
    assert not torch.equal(out[1], masks[1])


def test_a_blur_below_one_latent_pixel_still_blurs():
    masks = torch.zeros(1, 16, 16)
    masks[0, 4:12, 4:12] = 1
    assert not torch.equal(mask_ops.blur_masks(masks, torch.tensor([0.5])), masks)


def test_no_layers_means_nothing_to_blur():
    empty = torch.zeros(0, 8, 8)
    assert mask_ops.blur_masks(empty, torch.zeros(0)) is empty


def test_the_blur_kernel_reaches_three_standard_deviations():
    delta = torch.zeros(1, 21, 21)
    delta[0, 10, 10] = 1
    out = mask_ops.blur_masks(delta, torch.tensor([1.0]))
    rows = torch.nonzero(out[0].amax(1) > 0).flatten()
    assert (int(rows[0]), int(rows[-1])) == (7, 13), "taps at -3..3 for std 1"
    taps = torch.exp(-0.5 * torch.arange(-3.0, 4.0) ** 2)
    assert torch.allclose(out[0, 10, 7:14], taps / taps.sum() * (taps / taps.sum())[3])


def test_the_mask_steps_keep_the_masks_dtype():
    masks = torch.zeros(2, 16, 16, dtype=torch.float64)
    masks[:, 4:12, 4:12] = 1
    assert mask_ops.blur_masks(masks, torch.tensor([1.0, 2.0])).dtype == torch.float64
    half = masks.to(torch.float16)
    assert mask_ops.apply_strength(half, torch.tensor([0.5, 1.0], dtype=torch.float64)).dtype == torch.float16


@pytest.mark.parametrize("top, bottom, left, right", [(2, 11, 3, 6), (5, 6, 0, 15), (0, 16, 9, 10)])
def test_the_centring_shift_moves_the_masks_box_centre_to_the_canvas_centre(top, bottom, left, right):
    mask = torch.zeros(16, 16)
    mask[top, left:right] = 1  # only the box's first and last rows and columns are set: a box, not a blob
    mask[bottom - 1, left:right] = 1
    mask[top:bottom, left] = 1
    mask[top:bottom, right - 1] = 1
    centre_y, centre_x = (top + bottom) // 2, (left + right) // 2
    assert mask_ops.centering_shift(mask) == (8 - centre_y, 8 - centre_x)


def test_a_blurred_full_mask_stays_a_weight_of_at_most_one():
    """Blurring an all-ones mask with std 16 sums to 1 + 2.4e-7 in float32: the soft mask is clipped to [0, 1]."""
    soft, _ = mask_ops.shape_masks(torch.ones(1, 37, 53), blur=torch.tensor([16.0]), strengths=torch.ones(1),
                                   cover_alpha=0.0, noise_levels=torch.tensor([1.0, 0.5]), mode="continuous")
    assert float(soft.max()) <= 1.0 and float(soft.min()) >= 0.0


def test_cover_order_never_makes_a_weight_negative_under_several_layers():
    full = torch.ones(3, 4, 4)
    covered = mask_ops.apply_cover_order(full, 0.3)
    assert torch.allclose(covered[:, 0, 0], torch.tensor([0.3, 0.3, 1.0])), "two layers above hide no more than one"


def test_each_mask_mode_quantizes_by_its_own_rule():
    soft = torch.tensor([[[0.5, 0.75, 0.2]]])  # (P=1, h=1, w=3)
    levels = torch.tensor([0.5, 0.25])
    discrete = mask_ops.quantize_masks(soft, levels, "discrete")
    assert discrete[:, 0, 0].tolist() == [[0.0, 1.0, 0.0], [1.0, 1.0, 0.0]], "[m > sigma]: equal is out"
    continuous = mask_ops.quantize_masks(soft, levels, "continuous")
    assert torch.allclose(continuous[:, 0, 0], torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 0.8]]))
    semi = mask_ops.quantize_masks(soft, levels, "semi-continuous")
    assert torch.equal(semi[0], discrete[0]) and torch.equal(semi[1], continuous[1])
    assert mask_ops.quantize_masks(soft.half(), levels.double(), "continuous").dtype == torch.float16
    with pytest.raises(ValueError, match=r"^unknown mask mode 'soft': choose one of discrete, semi-continuous, "
                                         r"continuous$"):
        mask_ops.quantize_masks(soft, levels, "soft")


# -- batched text conditionings ---------------------------------------------------------------------------------

from semanticdraw_widgets.engine import conditioning as cond_ops  # noqa: E402


def test_one_conditioning_concatenates_to_itself():
    part = {"text": torch.arange(6.0).reshape(2, 3)}
    assert torch.equal(cond_ops.cat_conditioning([part])["text"], part["text"])


def test_taking_no_rows_gives_an_empty_batch():
    cond = {"text": torch.arange(6.0).reshape(2, 3)}
    assert cond_ops.take_conditioning(cond, [])["text"].shape == (0, 3)
    assert torch.equal(cond_ops.take_conditioning(cond, [1, 1])["text"], cond["text"][[1, 1]])


def test_a_prompt_strength_blend_keeps_the_conditionings_dtype():
    start = {"text": torch.zeros(2, 3, dtype=torch.float16)}
    end = {"text": torch.ones(2, 3, dtype=torch.float16)}
    blended = cond_ops.lerp_conditioning(start, end, torch.tensor([0.25, 1.0], dtype=torch.float64))["text"]
    assert blended.dtype == torch.float16 and blended[:, 0].tolist() == [0.25, 1.0]


# -- the regional formulas, term by term (docstring of engine/regional.py) --------------------------------------

from semanticdraw_widgets.engine import regional  # noqa: E402


def test_the_forward_process_adds_the_scaled_noise():
    clean, noise = torch.tensor([2.0, -1.0]), torch.tensor([0.5, 3.0])
    assert regional.noised(clean, noise, torch.tensor(0.8), torch.tensor(0.6)).tolist() == pytest.approx(
        [0.8 * 2.0 + 0.6 * 0.5, 0.8 * -1.0 + 0.6 * 3.0])


def test_a_bootstrapping_layer_sees_its_mask_of_x_and_the_plain_surround_elsewhere():
    x, plain = torch.full((1, 1, 1, 3), 2.0), torch.full((1, 1, 1, 3), 5.0)
    weights = torch.tensor([[[[1.0, 0.25, 0.0]]]])
    assert regional.bootstrap_inputs(x, weights, plain)[0, 0, 0].tolist() == [2.0, 0.25 * 2 + 0.75 * 5, 5.0]


def test_the_renoise_adds_the_predicted_and_the_fresh_noise():
    out = regional.renoise(torch.tensor(1.0), torch.tensor(2.0), torch.tensor(3.0), torch.tensor(0.5),
                           torch.tensor(0.25), torch.tensor(0.1))
    assert float(out) == pytest.approx(0.5 * 1.0 + 0.25 * 2.0 + 0.1 * 3.0)


@pytest.mark.parametrize("shift", [(2, 0), (0, -1), (1, 3)])
def test_a_layer_is_rolled_by_its_shift_along_either_axis_and_back(shift):
    layers = torch.arange(2 * 1 * 4 * 5, dtype=torch.float32).reshape(2, 1, 4, 5)
    shifts = [(0, 0), shift]
    rolled = regional.roll_layers(layers, shifts)
    assert torch.equal(rolled[0], layers[0])
    assert torch.equal(rolled[1], torch.roll(layers[1], shifts=shift, dims=(-2, -1)))
    assert torch.equal(regional.roll_layers(rolled, shifts, reverse=True), layers)


# -- the plan cache and an empty region list ---------------------------------------------------------------------

from semanticdraw_widgets.backends.toy import ToyBackend  # noqa: E402
from semanticdraw_widgets.engine.plan import PlanCache, shape_region_masks  # noqa: E402


def test_the_plan_cache_counts_each_new_text_once_from_zero():
    cache = PlanCache(ToyBackend())
    assert cache.encoded_texts == 0
    cache.encode(["red", "blue", "red"])
    cache.encode(["blue"])
    assert cache.encoded_texts == 2


def test_a_cache_store_holds_at_most_its_limit_dropping_the_oldest():
    store: dict = {}
    for key in "abc":
        PlanCache._remember(store, key, key.upper(), 2)
    assert list(store) == ["b", "c"]


def test_the_white_latents_are_kept_for_at_most_sixteen_sizes():
    cache = PlanCache(ToyBackend())
    for side in range(17):
        cache.plain_latent(8, 8 + 4 * side)
    assert len(cache._latents) == 16 and ("white", 8, 8) not in cache._latents


def test_no_regions_make_empty_mask_stacks_of_the_latent_size():
    schedule = ToyBackend().make_schedule(3)
    soft, steps = shape_region_masks([], [], [], SamplerOptions(), schedule, (6, 7), torch.device("cpu"))
    assert soft.shape == (0, 6, 7) and steps.shape == (3, 0, 6, 7)


def test_the_multidiffusion_reference_renoises_each_layer_to_the_next_steps_level():
    """x_{i+1,p} = α_{i+1} x̂0_p + ρ_{i+1} ε̂_p + φ_{i+1} z_{i,p}, with each layer's own z drawn after the shared noise."""
    from semanticdraw_widgets.engine.generate import seeded_noise, stream_noise_shapes

    backend = ToyBackend()
    scene = sdw.Scene(width=64, height=64, seed=5, background=sdw.Background(prompt="blue sky"),
                      regions=[sdw.Region(prompt="red apple", mask=rect_mask(64, 64, 8, 8, 40, 40))])
    _, trace = sdw.generate(backend, scene, steps=3, method="multidiffusion", trace=True)
    schedule = backend.make_schedule(3)
    layers = trace.steps[0].x0_layers.shape[0]
    shapes = stream_noise_shapes(backend, scene, 3)
    layer_fresh = seeded_noise(scene.seed, [*shapes, (3, layers, *shapes[0][1:])], torch.device("cpu"))[3]
    for i, step in enumerate(trace.steps[:-1]):
        expected = regional.renoise(step.x0_layers, step.eps_layers, layer_fresh[i], schedule.alphas[i + 1],
                                    schedule.pred_noise[i + 1], schedule.fresh_noise[i + 1])
        assert torch.allclose(step.x_next_layers, expected, atol=1e-5), f"step {i}"


# -- the Stream's constructor and reconfigure ----------------------------------------------------------------------

def _small_scene():
    return sdw.Scene(width=64, height=64, seed=1, background=sdw.Background(prompt="blue sky"),
                     regions=[sdw.Region(prompt="red apple", mask=rect_mask(64, 64, 8, 8, 40, 40))])


def test_a_stream_checks_and_keeps_every_option_it_is_given():
    with pytest.raises(ValidationError, match="^mask_mode must be one of"):
        sdw.Stream(ToyBackend(), _small_scene(), 2, mask_mode="soft")
    with pytest.raises(ValidationError, match=r"^trace_ticks must be an integer >= 0, got -1$"):
        sdw.Stream(ToyBackend(), _small_scene(), 2, trace_ticks=-1)
    stream = sdw.Stream(ToyBackend(), _small_scene(), 2, bootstrap_steps=0, mask_mode="discrete")
    assert (stream.options.bootstrap_steps, stream.options.mask_mode) == (0, "discrete")
    assert stream.model_calls == 0
    stream.tick()
    assert stream.model_calls == 1, "one batched model call per tick"


def test_a_stream_names_what_it_was_given_instead_of_a_scene_or_a_setting():
    stream = sdw.Stream(ToyBackend(), _small_scene(), 2)
    with pytest.raises(TypeError, match=r"^update\(\) needs a semanticdraw_widgets.Scene, got str$"):
        stream.update("scene.json")
    with pytest.raises(TypeError, match=r"^reconfigure\(\) got unknown settings \['sped'\]; known: steps, "):
        stream.reconfigure(sped=3)


def test_a_guidance_change_keeps_the_ring_and_cached_texts_and_a_steps_change_resizes_the_trace_buffer():
    backend = ToyBackend()
    encoded = []
    encode_prompts = backend.encode_prompts
    backend.encode_prompts = lambda prompts: encoded.extend(prompts) or encode_prompts(prompts)
    stream = sdw.Stream(backend, _small_scene(), 2, trace_ticks=5)
    for _ in range(3):
        stream.tick()
    traces, texts = len(stream.traces), len(encoded)
    assert traces > 0
    stream.reconfigure(mask_mode="discrete")
    assert len(stream.traces) == traces, "same steps: the ring and its traces go on"
    assert len(encoded) == texts, "the plan is rebuilt from the stream's cache: no text is encoded again"
    stream.reconfigure(steps=3)
    assert stream.traces.maxlen == 5 and len(stream.traces) == 0
    stream.reconfigure(steps=6)
    assert stream.traces.maxlen == 6, "at least one finished frame's worth of ticks"


# -- pruning --------------------------------------------------------------------------------------------------------

from semanticdraw_widgets.engine import pruning  # noqa: E402


def test_the_fill_is_needed_where_the_layers_other_than_the_background_sum_below_one():
    gap = torch.tensor([[1.0, 0.0], [1.0, 1.0]]).reshape(1, 1, 1, 2, 2)
    assert pruning.fill_needed(gap, None), "one pixel is uncovered, however much the others hold"
    two_halves = torch.full((1, 2, 1, 2, 2), 0.6)
    assert not pruning.fill_needed(two_halves, None), "0.6 + 0.6 covers every pixel"
    with_background = torch.stack([torch.ones(1, 2, 2), torch.full((1, 2, 2), 0.5)])[None]  # (1, 2, 1, 2, 2)
    assert pruning.fill_needed(with_background, 0), "the background's own weight does not count"
    assert not pruning.fill_needed(with_background, 1)


def test_a_pruned_plan_keeps_one_soft_mask_per_kept_layer_and_drops_a_background_nothing_falls_back_to():
    backend = ToyBackend()
    everywhere = np.ones((64, 64), bool)
    scene = sdw.Scene(width=64, height=64, seed=1, background=sdw.Background(prompt="blue sky"),
                      regions=[sdw.Region(prompt="grass", mask=everywhere),
                               sdw.Region(prompt="red apple", mask=np.zeros((64, 64), bool))])
    plan = make_plan(backend, scene, backend.make_schedule(2), SamplerOptions())
    pruned = pruning.prune_plan(plan)
    assert pruned.prompts == ("grass",) and pruned.soft_masks.shape[0] == 1 and pruned.background_layer is None
    image, trace = sdw.generate(backend, scene, steps=2, trace=True)
    assert set(trace.pruned) == {"blue sky", "red apple"} and image.size == (64, 64)
