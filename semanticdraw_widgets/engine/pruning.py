"""Less work per frame where it is free: drop the model rows of layers that cannot change the picture.

Aggregation (see regional.py) weighs each layer's x̂0 by its per-step mask and falls back to the fill
(the background layer's x̂0, or the background image's latent) where the masks sum below one:

    x̂0 = (1 - u) Σ_p w_p x̂0_p / Σ_p w_p + u fill,   u = clip(1 - Σ_p w_p, 0, 1)

So a layer's rows can be skipped, with the same x̂0 up to float summation order, when

- its weight is zero at every step (a region not drawn yet, or one too weak for any noise level), and
- for the background layer, also nothing falls back to it: the other layers sum to >= 1 at every
  pixel and step (regions cover the whole canvas).

The unconditional batch needs no helper: ``make_plan`` builds ``uncond`` only when guidance > 1 and
``predict_regional`` doubles the rows only when ``uncond`` is set.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor

from .conditioning import take_conditioning
from .plan import Plan


def live_layers(weights: Tensor) -> Tensor:
    """(S, P, 1, h, w) per-step masks -> (P,) bool: layers with some weight at some step."""
    return weights.flatten(2).amax(dim=(0, 2)) > 0


def fill_needed(weights: Tensor, background_layer: int | None) -> bool:
    """Whether any pixel at any step falls back to the fill, i.e. the layers other than the background
    layer sum below one there. (S, P, 1, h, w) -> bool (one host read; call it once per plan, not per tick)."""
    others = weights.sum(1) if background_layer is None else weights.sum(1) - weights[:, background_layer]
    return bool((others < 1).any())


def layers_to_keep(weights: Tensor, background_layer: int | None) -> Tensor:
    """(P,) bool: the layers whose rows can change x̂0 at some step. Never empty (a batch needs a row)."""
    keep = live_layers(weights).cpu()
    if background_layer is not None and not keep[background_layer] and fill_needed(weights, background_layer):
        keep[background_layer] = True  # its x̂0 is the fill where the regions leave a gap
    if not keep.any():
        keep[0] = True  # e.g. a background image with no region drawn yet: x̂0 is the fill everywhere anyway
    return keep


def dropped_prompts(plan: Plan) -> tuple[str, ...]:
    """The prompts of the layers ``prune_plan`` drops from `plan`: a trace names them, so a layer that was
    not computed does not silently vanish from the record."""
    keep = layers_to_keep(plan.weights, plan.background_layer)
    return tuple(prompt for prompt, kept in zip(plan.prompts, keep.tolist()) if not kept)


def prune_plan(plan: Plan) -> Plan:
    """The plan without the layers ``layers_to_keep`` drops; the same plan object when none is dropped.

    A dropped background layer's fill becomes a zero latent: it is weighed by u = 0 everywhere, and
    ``start_latent`` noises a zero latent exactly as it does without a fill.
    """
    keep = layers_to_keep(plan.weights, plan.background_layer)
    if bool(keep.all()):
        return plan
    index = torch.nonzero(keep).flatten()
    kept = index.tolist()
    background_layer, fill_latent = plan.background_layer, plan.fill_latent
    if background_layer is not None:
        if keep[background_layer]:
            background_layer = kept.index(background_layer)
        else:
            background_layer = None
            fill_latent = torch.zeros_like(plan.plain_latent)
    device = plan.weights.device
    return replace(
        plan, prompts=tuple(plan.prompts[i] for i in kept), cond=take_conditioning(plan.cond, index),
        uncond=None if plan.uncond is None else take_conditioning(plan.uncond, index),
        weights=plan.weights[:, index.to(device)], soft_masks=plan.soft_masks[index.to(plan.soft_masks.device)],
        shifts=tuple(plan.shifts[i] for i in kept), bootstrap_layers=plan.bootstrap_layers[index],
        background_layer=background_layer, fill_latent=fill_latent,
        strengths=tuple(plan.strengths[i] for i in kept), negatives=tuple(plan.negatives[i] for i in kept))
