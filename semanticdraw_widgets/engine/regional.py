"""Regional denoising maths of SemanticDraw, as pure functions over tensors.

One step for P layers (region prompts plus the background prompt) at noise level i:

    x̂0_p  = D(x_p, i, c_p)                                  each layer's x̂0 prediction
    x̂0    = Σ_p w_{p,i} x̂0_p / Σ_p w_{p,i}                   pre-averaging, where Σ w > 0
    x̂0    = (1 - b) x̂0 + b x_fill,   b = clip(1 - Σ_p w_{p,i}, 0, 1)
    x_{i+1} = α_{i+1} x̂0 + ρ_{i+1} ε̂ + φ_{i+1} z,    ε̂ = (x_i - α_i x̂0) / σ_i        (one re-noise)

Bootstrapping (steps i < B): layer p sees x_p = w_p x_i + (1 - w_p) z_i outside its mask, z_i being
the plain (white or background-image) latent noised to level i, and is rolled so its mask's
bounding-box centre sits at the canvas centre while the model runs.

MultiDiffusion (the reference this method improves on) instead re-noises every layer on its own and
averages the x_{i+1} samples, which blurs few-step samplers: see ``multidiffusion_average``.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor


def classifier_free_guidance(uncond: Tensor, cond: Tensor, scale: float) -> Tensor:
    """uncond + scale (cond - uncond); valid on x̂0 because x̂0 is affine in the model output at fixed x_t."""
    return uncond + scale * (cond - uncond)


def noised(clean: Tensor, noise: Tensor, alpha: Tensor, sigma: Tensor) -> Tensor:
    """Forward process x = alpha x0 + sigma eps."""
    return alpha * clean + sigma * noise


def bootstrap_inputs(x: Tensor, weights: Tensor, plain_noised: Tensor) -> Tensor:
    """Layer inputs (P, C, h, w) = w x + (1 - w) z for x (1|P, C, h, w), weights (P, 1, h, w)."""
    return weights * x + (1 - weights) * plain_noised


def roll_layers(x: Tensor, shifts: Sequence[tuple[int, int]], reverse: bool = False) -> Tensor:
    """Circularly roll each layer (P, C, h, w) by its (dy, dx), or back when `reverse`."""
    sign = -1 if reverse else 1
    return torch.stack([
        torch.roll(layer, shifts=(sign * dy, sign * dx), dims=(-2, -1)) if (dy or dx) else layer
        for layer, (dy, dx) in zip(x, shifts)
    ])


def aggregate_x0(x0_layers: Tensor, weights: Tensor, fill: Tensor) -> Tensor:
    """Pre-averaging: (B, P, C, h, w) predictions, (B, P, 1, h, w) weights, (B, C, h, w) fill -> (B, C, h, w)."""
    total = weights.sum(1)  # (B, 1, h, w)
    averaged = (weights * x0_layers).sum(1) / total.clamp_min(1e-8)
    uncovered = (1 - total).clamp(0, 1)
    return (1 - uncovered) * averaged + uncovered * fill


def predicted_noise(x: Tensor, x0: Tensor, alpha: Tensor, sigma: Tensor) -> Tensor:
    """ε̂ implied by x_i and x̂0 through x_i = alpha x0 + sigma eps."""
    return (x - alpha * x0) / sigma


def renoise(x0: Tensor, eps: Tensor, fresh: Tensor, alpha_next: Tensor, pred_scale: Tensor,
            fresh_scale: Tensor) -> Tensor:
    """x_{i+1} = α' x̂0 + ρ' ε̂ + φ' z: one re-noise after averaging."""
    return alpha_next * x0 + pred_scale * eps + fresh_scale * fresh


def multidiffusion_average(x_next_layers: Tensor, weights: Tensor, fill_next: Tensor) -> Tensor:
    """MultiDiffusion: average the layers' own next samples (B, P, C, h, w) with weights, fill the rest."""
    return aggregate_x0(x_next_layers, weights, fill_next)
