"""Opt-in record of a regional sample, step by step, for teaching and debugging.

Recording costs nothing when off: the sampler only builds TraceSteps when handed a Trace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from PIL import Image
from torch import Tensor


@dataclass(frozen=True)
class TraceStep:
    index: int  # step number, 0 = noisiest
    timestep: float  # what the model was conditioned on
    noise_level: float  # fraction of noise, the level masks were quantized against
    bootstrap: bool  # whether regions saw a plain surround and were centred at this step
    x_t: Tensor  # (C, h, w) latent entering the step
    x0_layers: Tensor  # (P, C, h, w) each layer's x̂0 prediction
    x0: Tensor  # (C, h, w) aggregated x̂0
    masks: Tensor  # (P, h, w) quantized masks used to aggregate


@dataclass
class Trace:
    """Per-step latents of one sample; `project` maps latents to RGB previews cheaply."""

    prompts: tuple[str, ...]  # one per layer, background layer first when there is one
    project: Callable[[Tensor], Tensor]  # (N, C, h, w) -> (N, 3, h, w) in [0, 1]
    steps: list[TraceStep] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.steps)

    def preview(self, latent: Tensor) -> Image.Image:
        """A PIL preview of one latent (C, h, w) through the backend's linear projection."""
        rgb = self.project(latent[None].float())[0].clamp(0, 1)
        return Image.fromarray((rgb.permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8))


def detach_to_cpu(t: Tensor) -> Tensor:
    return t.detach().to("cpu", torch.float32)
