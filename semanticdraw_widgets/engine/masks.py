"""Mask pipeline of SemanticDraw (all at latent resolution, all pure functions over tensors).

For P layers with soft masks m_p in [0, 1] (layer 0 at the bottom, later layers on top):

1. cover ordering   m_p <- m_p (1 - (1 - cover_alpha) min(1, sum_{q>p} m_q))
   (for binary masks: m_p <- cover_alpha m_p wherever a later layer is present, as published; the
   soft form keeps area-averaged mask edges seamless instead of punching a gap under them)
2. blur             m_p <- G_{std_p} * m_p      (separable Gaussian, std in latent pixels)
3. strength         m_p <- strength_p * m_p
4. quantization against each step's noise level σ_i (σ_S = 0):
     discrete         [m > σ_i]
     continuous       clip((m - σ_{i+1}) / (σ_i - σ_{i+1}), 0, 1)
     semi-continuous  discrete, except continuous on the last step
   so a blurred mask grows from its core at high noise to its soft edge at low noise, and a mask whose
   strength is below σ_0 joins the picture only once the noise has fallen below its strength.
5. background        w_bg,i = clip(1 - Σ_regions w_{p,i}, 0, 1)   (``background_weights``, the published rule)
   the background prompt takes only what the regions leave at each step, so a blurred region grows
   outward as the noise falls: measured on the toy (blur 16 px, continuous), its 50% edge lies 3 px
   (2 steps), 8 px (4 steps) and 12 px (8 steps) outside the drawn edge.

Discrete masks with blur shrink regions at 1-2 steps: the threshold is the noise level itself (σ_0 ≈ 1),
so only a blurred mask's core passes; on the toy (blur 16 px) the 50% edge lies 44 px inside the drawn
edge at 1 step and 16 px at 2. Use continuous masks, or no blur, for 1-2 step sampling.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..fields import MASK_MODES  # noqa: F401  (the field table declares the mask modes)


def downsample_masks(masks: Tensor, factor: int) -> Tensor:
    """(P, H, W) -> (P, H/f, W/f) by area averaging, so a mask edge becomes a fractional value."""
    if factor == 1:
        return masks
    return F.avg_pool2d(masks[:, None], kernel_size=factor)[:, 0]


def apply_cover_order(masks: Tensor, cover_alpha: float) -> Tensor:
    """Step 1: layers below a later (upper) layer keep only `cover_alpha` of their weight there."""
    above = masks.flip(0).cumsum(0).flip(0) - masks  # (P, h, w): sum of the layers above each layer
    return masks * (1 - (1 - cover_alpha) * above.clamp(0, 1))


def gaussian_kernel_1d(std: float, radius: int) -> Tensor:
    """(2r+1,) normalised Gaussian taps; std 0 gives the identity tap."""
    taps = torch.arange(-radius, radius + 1, dtype=torch.float32)
    if std <= 0:
        return (taps == 0).float()
    kernel = torch.exp(-0.5 * (taps / std) ** 2)
    return kernel / kernel.sum()


def blur_masks(masks: Tensor, stds: Tensor) -> Tensor:
    """Step 2: separable Gaussian blur, a different std (latent pixels) per mask. (P, h, w) -> (P, h, w)."""
    p = masks.shape[0]
    std_list = [float(s) for s in stds]
    if max(std_list, default=0.0) <= 0:
        return masks
    # One grouped conv per axis handles every std at once; replicate padding keeps border masks full.
    radius = math.ceil(3 * max(std_list))
    kernels = torch.stack([gaussian_kernel_1d(s, radius) for s in std_list]).to(masks)  # (P, 2r+1)
    x = F.pad(masks[None], (0, 0, radius, radius), mode="replicate")  # (1, P, h + 2r, w): masks as channels
    x = F.conv2d(x, kernels[:, None, :, None], groups=p)
    x = F.pad(x, (radius, radius, 0, 0), mode="replicate")
    x = F.conv2d(x, kernels[:, None, None, :], groups=p)
    return x[0]


def apply_strength(masks: Tensor, strengths: Tensor) -> Tensor:
    """Step 3: scale each mask by its strength."""
    return masks * strengths.to(masks)[:, None, None]


def quantize_masks(masks: Tensor, noise_levels: Tensor, mode: str = "continuous") -> Tensor:
    """Step 4: (P, h, w) soft masks -> (S, P, h, w) per-step masks for noise levels (S,)."""
    if mode not in MASK_MODES:
        raise ValueError(f"unknown mask mode {mode!r}: choose one of {', '.join(MASK_MODES)}")
    levels = noise_levels.to(masks)[:, None, None, None]  # (S, 1, 1, 1)
    next_levels = torch.cat([levels[1:], torch.zeros_like(levels[:1])])
    m = masks[None]  # (1, P, h, w)
    discrete = (m > levels).to(masks)
    if mode == "discrete":
        return discrete
    span = (levels - next_levels).clamp_min(1e-6)
    continuous = ((m - next_levels) / span).clamp(0, 1)
    if mode == "continuous":
        return continuous
    return torch.cat([discrete[:-1], continuous[-1:]])


def shape_masks(small: Tensor, *, blur: Tensor, strengths: Tensor, cover_alpha: float, noise_levels: Tensor,
                mode: str) -> tuple[Tensor, Tensor]:
    """Steps 1-4 on latent-resolution masks (P, h, w), blur std in latent pixels.

    Returns (soft (P, h, w), per-step (S, P, h, w)).
    """
    soft = apply_cover_order(small, cover_alpha)
    soft = blur_masks(soft, blur)
    soft = apply_strength(soft, strengths).clamp(0, 1)
    return soft, quantize_masks(soft, noise_levels, mode)


def background_weights(region_weights: Tensor) -> Tensor:
    """The published background rule: (..., R, h, w) region weights -> (..., 1, h, w) = clip(1 − Σ_R, 0, 1)."""
    return (1 - region_weights.sum(-3, keepdim=True)).clamp(0, 1)


def centering_shift(mask: Tensor) -> tuple[int, int]:
    """(dy, dx) roll that moves the bounding-box centre of `mask` (h, w) to the canvas centre; (0, 0) if empty."""
    h, w = mask.shape
    rows = torch.nonzero(mask.amax(1) > 0)
    cols = torch.nonzero(mask.amax(0) > 0)
    if rows.numel() == 0:
        return 0, 0
    centre_y = (int(rows[0]) + int(rows[-1]) + 1) // 2
    centre_x = (int(cols[0]) + int(cols[-1]) + 1) // 2
    return h // 2 - centre_y, w // 2 - centre_x
