"""Operations on batched text conditionings (dicts of tensors with the batch on dim 0)."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from ..backends.base import Conditioning


def cat_conditioning(parts: Sequence[Conditioning]) -> Conditioning:
    """Concatenate conditionings along the batch."""
    return {key: torch.cat([part[key] for part in parts]) for key in parts[0]}


def take_conditioning(cond: Conditioning, index: Tensor | Sequence[int]) -> Conditioning:
    """Rows `index` of every tensor."""
    index = torch.as_tensor(index, dtype=torch.long)
    return {key: value[index.to(value.device)] for key, value in cond.items()}


def lerp_conditioning(start: Conditioning, end: Conditioning, weight: Tensor) -> Conditioning:
    """start + weight * (end - start) per row; weight (N,). Prompt strength pulls a region toward the background."""
    out = {}
    for key, a in start.items():
        w = weight.to(a.device, a.dtype).reshape(-1, *([1] * (a.dim() - 1)))
        out[key] = a + w * (end[key] - a)
    return out


def repeat_conditioning(cond: Conditioning, times: int) -> Conditioning:
    """Tile the whole batch `times` times: rows [c0..cP, c0..cP, ...] (slot-major)."""
    return {key: value.repeat(times, *([1] * (value.dim() - 1))) for key, value in cond.items()}
