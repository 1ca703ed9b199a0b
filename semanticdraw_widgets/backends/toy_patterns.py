"""Procedural pattern renderers of the toy model: every pattern of PATTERNS as a [0, 1] field."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Callable

import torch

from .toy_words import PATTERNS



_NOISE_SEED = 20240607
_NOISE_LATTICE = 64
_TWO_PI = 2.0 * math.pi


@lru_cache(maxsize=8)
def _noise_lattice(device: torch.device) -> torch.Tensor:
    """Fixed random lattice, generated on CPU so every device sees identical noise."""
    gen = torch.Generator(device="cpu").manual_seed(_NOISE_SEED)
    return torch.rand(_NOISE_LATTICE, _NOISE_LATTICE, generator=gen, dtype=torch.float32).to(device)


def _interp_matrix(coord: torch.Tensor, amplitude: torch.Tensor, size: int) -> torch.Tensor:
    """(N, M, K) lattice coordinates -> (N, M, K, size) smoothstep interpolation weights.

    Each row holds two non-zeros (the neighbouring lattice cells, wrapped), scaled by the
    octave amplitude, so 2-D value noise becomes small matmuls instead of per-pixel gathers.
    """
    cell = torch.floor(coord)
    frac = coord - cell
    frac = frac * frac * (3.0 - 2.0 * frac)
    i0 = cell.long().remainder(size).unsqueeze(-1)
    i1 = (i0 + 1).remainder(size)
    weights = torch.zeros(*coord.shape, size, device=coord.device, dtype=coord.dtype)
    weights.scatter_(-1, i0, ((1.0 - frac) * amplitude).unsqueeze(-1))
    return weights.scatter_add_(-1, i1, (frac * amplitude).unsqueeze(-1))


def _flat(u: torch.Tensor, v: torch.Tensor, px: torch.Tensor) -> torch.Tensor:
    """All ones: the mean image is pure primary colour."""
    return torch.ones((), device=u.device)


def _stripes(u: torch.Tensor, v: torch.Tensor, px: torch.Tensor) -> torch.Tensor:
    """Soft diagonal-ish bands: sigmoid of a sine keeps edges anti-aliased."""
    return torch.sigmoid(6.0 * torch.sin(_TWO_PI * (u + 0.35 * v)))


def _dots(u: torch.Tensor, v: torch.Tensor, px: torch.Tensor) -> torch.Tensor:
    """Round dots (radius 0.3 period) on a square grid, ~1 px soft edge."""
    fu = u - torch.floor(u) - 0.5
    fv = v - torch.floor(v) - 0.5
    r_px = torch.sqrt(fu * fu + fv * fv) * px
    return (0.3 * px - r_px + 0.5).clamp(0.0, 1.0)


def _waves(u: torch.Tensor, v: torch.Tensor, px: torch.Tensor) -> torch.Tensor:
    """Horizontal bands displaced by a slow sine: water-like wavy stripes."""
    return 0.5 + 0.5 * torch.sin(_TWO_PI * (u + 0.3 * torch.sin(math.pi * v)))


def _bricks(u: torch.Tensor, v: torch.Tensor, px: torch.Tensor) -> torch.Tensor:
    """Staggered 2:1 bricks (1) separated by mortar lines (0); period = brick width."""
    rows = 2.0 * u
    row = torch.floor(rows)
    fu = rows - row
    shifted = v + 0.5 * torch.remainder(row, 2.0)
    fv = shifted - torch.floor(shifted)
    dy_px = torch.minimum(fu, 1 - fu) * (0.5 * px)
    dx_px = torch.minimum(fv, 1 - fv) * px
    mortar_half = torch.clamp(0.04 * px, min=0.5)
    return (torch.minimum(dy_px, dx_px) - mortar_half + 0.5).clamp(0.0, 1.0)


def _grass(u: torch.Tensor, v: torch.Tensor, px: torch.Tensor) -> torch.Tensor:
    """Thin, slightly bending vertical blades whose brightness ramps to uneven tips."""
    bend = 0.15 * torch.sin(math.pi * u)
    blades = torch.sigmoid(8.0 * (torch.cos(_TWO_PI * (3.0 * v + bend)) - 0.2))
    tips = u + 0.45 * torch.sin(_TWO_PI * 1.31 * v) + 0.25 * torch.sin(_TWO_PI * 0.53 * v)
    ramp = tips - torch.floor(tips)
    return blades * (0.25 + 0.75 * ramp)


# Deterministic (angle, frequency, phase) triples for the cloud field.
_CLOUD_WAVES: tuple[tuple[float, float, float], ...] = (
    (0.30, 0.55, 0.1), (1.40, 0.70, 1.7), (2.50, 0.45, 2.9), (3.90, 0.85, 4.2), (5.10, 0.35, 0.6),
)


def _clouds(u: torch.Tensor, v: torch.Tensor, px: torch.Tensor) -> torch.Tensor:
    """Soft blobs: a few low-frequency plane waves, summed and smooth-stepped.

    cos(a + b) = cos a cos b - sin a sin b makes each plane wave separable, so the sum
    is one batched (H, 2K) @ (2K, W) matmul rather than K full-size cosines.
    """
    a = torch.cat(
        [_TWO_PI * f * math.cos(t) * u + o for t, f, o in _CLOUD_WAVES], dim=2
    )  # (N, H, K)
    b = torch.cat([_TWO_PI * f * math.sin(t) * v for t, f, _ in _CLOUD_WAVES], dim=1)  # (N, K, W)
    total = torch.cat([torch.cos(a), -torch.sin(a)], dim=2) @ torch.cat([torch.cos(b), torch.sin(b)], dim=1)
    x = (0.5 + 1.3 * total / len(_CLOUD_WAVES)).clamp(0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


# (amplitude, frequency multiplier, lattice offset) per octave of value noise.
_NOISE_OCTAVES: tuple[tuple[float, float, float], ...] = ((0.55, 1.0, 0.0), (0.30, 2.0, 17.3), (0.15, 4.0, 31.7))


def _noise(u: torch.Tensor, v: torch.Tensor, px: torch.Tensor) -> torch.Tensor:
    """Three octaves of value noise, contrast-stretched so it uses most of [0, 1].

    Bilinear lattice interpolation is separable: octave_k = Rows_k @ Lattice @ Cols_k^T,
    and the sum over octaves folds into one (H, K*L) @ (K*L, W) matmul.
    """
    n, h, w = u.shape[0], u.shape[1], v.shape[2]
    size = _NOISE_LATTICE
    octaves = len(_NOISE_OCTAVES)
    amps = torch.tensor([a for a, _, _ in _NOISE_OCTAVES], device=u.device)
    freqs = torch.tensor([f for _, f, _ in _NOISE_OCTAVES], device=u.device)
    offsets = torch.tensor([o for _, _, o in _NOISE_OCTAVES], device=u.device)
    rows = _interp_matrix(u * freqs + offsets, amps, size)  # (N, H, K, L), amplitude folded in
    cols = _interp_matrix(v.transpose(1, 2) * freqs + 0.37 * offsets, torch.ones_like(amps), size)
    rows_lattice = (rows @ _noise_lattice(u.device)).reshape(n, h, octaves * size)
    total = rows_lattice @ cols.reshape(n, w, octaves * size).transpose(1, 2)
    return (0.5 + 2.4 * (total - 0.5)).clamp(0.0, 1.0)


def _checker(u: torch.Tensor, v: torch.Tensor, px: torch.Tensor) -> torch.Tensor:
    """Checkerboard of half-period squares with softened edges."""
    return torch.sigmoid(12.0 * torch.sin(_TWO_PI * u) * torch.sin(_TWO_PI * v))


_Renderer = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
_RENDERERS: dict[str, _Renderer] = {
    "flat": _flat, "stripes": _stripes, "dots": _dots, "waves": _waves, "bricks": _bricks,
    "grass": _grass, "clouds": _clouds, "noise": _noise, "checker": _checker,
}
if tuple(_RENDERERS) != PATTERNS:
    raise RuntimeError("toy_lexicon: every entry of PATTERNS needs exactly one renderer, in the same order")


def _as_float_tensor(value: object, name: str) -> torch.Tensor:
    """Accept tensors or sequences of numbers; reject bool/complex with a clear message."""
    tensor = torch.as_tensor(value)
    if not (tensor.is_floating_point() or tensor.dtype in (torch.int32, torch.int64)):
        raise TypeError(f"{name} must be a real-valued tensor, got dtype {tensor.dtype}")
    return tensor


def _validate_field_args(height: int, width: int, scale: torch.Tensor, phase: torch.Tensor) -> None:
    """Fail early with actionable messages instead of broadcasting garbage."""
    if int(height) < 8 or int(width) < 8:
        raise ValueError(f"pattern_fields needs height and width >= 8, got {height}x{width}")
    if scale.ndim != 1:
        raise ValueError(f"scale must have shape (N,), got {tuple(scale.shape)}; one period per sample")
    if phase.shape != (scale.shape[0], 2):
        raise ValueError(
            f"phase must have shape (N, 2) = ({scale.shape[0]}, 2) as (dy, dx) fractions of the period, "
            f"got {tuple(phase.shape)}"
        )
    if not bool(torch.isfinite(scale).all()) or not bool((scale > 0).all()):
        raise ValueError("scale must be finite and > 0 (pattern period in output pixels, e.g. 2 ** embedding[-1])")
    if not bool(torch.isfinite(phase).all()):
        raise ValueError("phase must be finite (fractions of the period in [0, 1))")


def pattern_fields(
    height: int,
    width: int,
    scale: torch.Tensor,
    phase: torch.Tensor,
    *,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Render every pattern at once: (N, len(PATTERNS), height, width) float32 in [0, 1].

    ``1`` means primary colour and ``0`` secondary colour.  ``scale`` is (N,) periods in
    output pixels, ``phase`` is (N, 2) (dy, dx) offsets as fractions of the period.
    Fully vectorised by broadcasting (N, H, 1) against (N, 1, W) coordinate grids.
    """
    scale = _as_float_tensor(scale, "scale")
    phase = _as_float_tensor(phase, "phase")
    _validate_field_args(height, width, scale, phase)
    target = torch.device(device) if device is not None else scale.device
    scale = scale.to(device=target, dtype=torch.float32)
    phase = phase.to(device=target, dtype=torch.float32)
    n = scale.shape[0]

    px = scale[:, None, None]
    ys = torch.arange(int(height), device=target, dtype=torch.float32) + 0.5
    xs = torch.arange(int(width), device=target, dtype=torch.float32) + 0.5
    u = ys[None, :, None] / px + phase[:, 0, None, None]  # (N, H, 1), in periods
    v = xs[None, None, :] / px + phase[:, 1, None, None]  # (N, 1, W), in periods

    out = torch.empty(n, len(PATTERNS), int(height), int(width), device=target, dtype=torch.float32)
    for index, render in enumerate(_RENDERERS.values()):
        out[:, index] = render(u, v, px)
    return out.clamp_(0.0, 1.0)


