"""Canvases larger than a model's native size: overlapping latent windows, batched into one model call.

A diffusion model sees only images near its training size; a 512x2048 canvas on SD1.5 is denoised as
overlapping native-size windows whose x̂0 predictions are blended back with feathered weights w_j that
sum to one at every latent pixel (a partition of unity). Because the engine then averages layers with
the regions' weights m_p, the result equals averaging every (layer, window) prediction with the
product weights:

    Σ_p m_p Σ_j w_j x̂0_{p,j} / Σ_p m_p  =  Σ_{p,j} m_p w_j x̂0_{p,j} / Σ_{p,j} m_p w_j     (Σ_j w_j = 1)

so the windows live entirely inside the backend and the engine (centring, bootstrapping, the stream)
sees one full-canvas x̂0 per layer, as before. All windows of all rows go through ONE model call.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

Window = tuple[int, int, int, int]  # (top, left, height, width) in latent pixels


def window_starts(length: int, window: int, overlap: float) -> list[int]:
    """Starts of windows of `window` pixels covering [0, length), evenly spread, overlapping by >= overlap."""
    if length <= window:
        return [0]
    stride = max(1, int(window * (1 - overlap)))
    count = math.ceil((length - window) / stride) + 1
    return [round(i * (length - window) / (count - 1)) for i in range(count)]


def plan_windows(height: int, width: int, window: int, overlap: float = 0.25) -> list[Window]:
    """Windows (top, left, h, w) covering a (height, width) latent; one window when it fits."""
    wh, ww = min(window, height), min(window, width)
    return [(top, left, wh, ww) for top in window_starts(height, wh, overlap)
            for left in window_starts(width, ww, overlap)]


def feather(height: int, width: int, ramp: int) -> Tensor:
    """(height, width) weights rising linearly over `ramp` pixels from each edge: (d + 1) / (ramp + 1)."""
    ys = torch.arange(height, dtype=torch.float32)
    xs = torch.arange(width, dtype=torch.float32)
    ry = torch.minimum(ys, height - 1 - ys).add(1).clamp(max=ramp + 1) / (ramp + 1)
    rx = torch.minimum(xs, width - 1 - xs).add(1).clamp(max=ramp + 1) / (ramp + 1)
    return ry[:, None] * rx[None, :]


def window_weights(height: int, width: int, windows: list[Window], ramp: int) -> Tensor:
    """(J, height, width) blending weights, zero outside each window, summing to 1 at every pixel."""
    weights = torch.zeros(len(windows), height, width)
    for j, (top, left, wh, ww) in enumerate(windows):
        weights[j, top: top + wh, left: left + ww] = feather(wh, ww, ramp)
    return weights / weights.sum(0, keepdim=True)


def cut_windows(x: Tensor, windows: list[Window]) -> Tensor:
    """(N, C, H, W) -> (J * N, C, h, w), window-major (all rows of window 0, then window 1, ...)."""
    return torch.cat([x[..., top: top + wh, left: left + ww] for top, left, wh, ww in windows])


def blend_windows(tiles: Tensor, windows: list[Window], weights: Tensor, shape: torch.Size) -> Tensor:
    """Inverse of cut_windows: (J * N, C, h, w) -> (N, C, H, W), each window weighted by `weights` (J, H, W)."""
    out = torch.zeros(shape, dtype=tiles.dtype, device=tiles.device)
    weights = weights.to(tiles.device, tiles.dtype)
    for j, (top, left, wh, ww) in enumerate(windows):
        rows = tiles[j * shape[0]: (j + 1) * shape[0]]
        out[..., top: top + wh, left: left + ww] += weights[j, top: top + wh, left: left + ww] * rows
    return out
