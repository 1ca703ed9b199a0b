"""Opt-in record of a regional sample, step by step, for teaching and debugging.

Recording costs nothing when off: the sampler only builds TraceSteps when handed a Trace.

What one step records, at step i (0 = noisiest), for P layers (background prompt first, then regions):

    x_t            the latent entering the step
    layer_inputs   what each layer saw: x_t, or while bootstrapping w_p x_t + (1 - w_p) z_i
    model_inputs   layer_inputs rolled by `shifts` (centring, bootstrap steps only): the model's rows
    soft_masks     masks after cover order, blur and strength; `masks` = quantized against noise_level
    x0_layers      each layer's x̂0 (guided when CFG ran; x0_uncond / x0_cond hold both halves)
    x0_centred     while bootstrapping: each layer's x̂0 as drawn on its centred row, before the roll back
    alpha, sigma   x_t = α x0 + σ ε at this step; next_* = the re-noise coefficients towards step i + 1:
                   x_{i+1} = next_alpha x̂0 + next_pred_noise ε̂ + next_fresh_noise z

and per method (``TraceStep.method``):

    semanticdraw    x0 = Σ_p w_p x̂0_p / Σ_p w_p (pre-averaged), eps = (x_t - α x0) / σ, x_next from x0
    multidiffusion  x0 = None (the method never pre-averages); each layer re-noises on its own:
                    eps_layers, x_next_layers = each layer's x_{i+1}; x_next = their weighted average

x_next of the last step is the clean latent that is decoded.

This module is the record only: pictures of it (tiles, captions, animations, the inspector) live above
the engine, in ``semanticdraw_widgets.trace_view``, ``animation`` and ``widgets.inspector``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from ..backends.base import PromptReading


@dataclass(frozen=True)
class TraceStep:
    index: int  # step number, 0 = noisiest
    timestep: float  # what the model was conditioned on
    noise_level: float  # fraction of noise, the level masks were quantized against
    bootstrap: bool  # whether regions saw a plain surround and were centred at this step
    x_t: Tensor  # (C, h, w) latent entering the step
    x0_layers: Tensor  # (P, C, h, w) each layer's x̂0 prediction
    x0: Tensor | None  # (C, h, w) aggregated x̂0 (semanticdraw); None for multidiffusion, which never forms one
    masks: Tensor  # (P, h, w) quantized masks used to aggregate
    method: str = "semanticdraw"
    layer_inputs: Tensor | None = None  # (P, C, h, w) what each layer saw, before centring
    model_inputs: Tensor | None = None  # (P, C, h, w) after centring: the model's input rows
    shifts: tuple[tuple[int, int], ...] = ()  # (P,) centring roll (dy, dx) applied at this step
    soft_masks: Tensor | None = None  # (P, h, w) masks before quantization
    alpha: float = math.nan  # x_t = alpha x0 + sigma eps
    sigma: float = math.nan
    next_alpha: float | None = None  # re-noise coefficients towards the next step; None on the last step
    next_pred_noise: float | None = None
    next_fresh_noise: float | None = None
    eps: Tensor | None = None  # (C, h, w) ε̂ the re-noise used (semanticdraw)
    x_next: Tensor | None = None  # (C, h, w) latent after this step (the final latent on the last step)
    x_next_layers: Tensor | None = None  # (P, C, h, w) each layer's own next latent (multidiffusion)
    eps_layers: Tensor | None = None  # (P, C, h, w) each layer's own ε̂ (multidiffusion)
    x0_cond: Tensor | None = None  # (P, C, h, w) conditional x̂0, recorded when CFG ran (unless trace_cfg=False)
    x0_uncond: Tensor | None = None  # (P, C, h, w) unconditional x̂0, likewise
    x0_centred: Tensor | None = None  # (P, C, h, w) x̂0 as the model drew it on the centred rows, before the
    # roll back (bootstrap steps only; None when nothing was centred)

    @property
    def coefficients(self) -> dict[str, float | None]:
        """α, σ of this step and the re-noise coefficients towards the next one, by name."""
        return {"alpha": self.alpha, "sigma": self.sigma, "next_alpha": self.next_alpha,
                "next_pred_noise": self.next_pred_noise, "next_fresh_noise": self.next_fresh_noise}


@dataclass
class Trace:
    """Per-step latents of one sample; `project` maps latents to RGB previews cheaply."""

    prompts: tuple[str, ...]  # one per layer, background layer first when there is one
    project: Callable[[Tensor], Tensor]  # (N, C, h, w) -> (N, 3, h, w) in [0, 1]
    steps: list[TraceStep] = field(default_factory=list)
    method: str = "semanticdraw"
    decode: Callable[[Tensor], Tensor] | None = None  # (N, C, h, w) -> (N, 3, H, W): the backend's full decode
    guidance: float | None = None  # the guidance scale the sample ran with (CFG only when > 1)
    pruned: tuple[str, ...] = ()  # prompts of layers not computed: they could not change the picture
    # what each layer's text conditioning was made of (the inspector's prompt view); () when not recorded
    strengths: tuple[float, ...] = ()  # (P,) prompt strength: cond = s · own prompt + (1 - s) · anchor prompt
    negatives: tuple[str, ...] = ()  # (P,) each layer's negative prompt, blended with the anchor's likewise
    anchor: tuple[str, str] = ("", "")  # the background prompt and negative prompt strength pulls toward
    background_layer: int | None = None  # the layer of the background prompt (None with a background photo)
    read_prompt: Callable[[str], PromptReading] | None = None  # the backend's reading of a prompt's words

    def __len__(self) -> int:
        return len(self.steps)

    def preview(self, latent: Tensor) -> Image.Image:
        """A PIL preview of one latent (C, h, w) through the backend's linear projection."""
        rgb = self.project(latent[None].float())[0].clamp(0, 1)
        return Image.fromarray((rgb.permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8))

    def save_animation(self, path: str | Path, panels: Sequence[str] | None = None, fps: float = 2.0,
                       zoom: int | None = None) -> Path:
        """Write every step's `panels` (see trace_view.PANELS), labelled, as a GIF or MP4: the same as
        ``semanticdraw_widgets.save_animation(trace, path, ...)``.

        The engine imports nothing above it: the writer is the one ``semanticdraw_widgets.animation``
        registers when the package is imported (``register_animation_writer``).
        """
        if _ANIMATION_WRITER is None:
            raise RuntimeError("no animation writer is registered: import semanticdraw_widgets.animation, or "
                               "call semanticdraw_widgets.save_animation(trace, path) directly")
        return _ANIMATION_WRITER(self, path, panels=panels, fps=fps, zoom=zoom)


_ANIMATION_WRITER: Callable[..., Path] | None = None


def register_animation_writer(writer: Callable[..., Path]) -> None:
    """Called by ``semanticdraw_widgets.animation`` (above the engine) so that Trace.save_animation reaches it."""
    global _ANIMATION_WRITER
    _ANIMATION_WRITER = writer


def detach_to_cpu(t: Tensor) -> Tensor:
    return t.detach().to("cpu", torch.float32)


def check_trace(trace: Trace) -> None:
    """Raise a ValueError naming the problem when `trace` cannot be shown (empty, mismatched shapes)."""
    if not isinstance(trace, Trace):
        raise TypeError(f"expected a semanticdraw_widgets.Trace, got {type(trace).__name__}")
    if not trace.steps:
        raise ValueError("the trace has no steps: record one with generate(..., trace=True), or let a "
                         "SemanticDrawCanvas(..., trace=True) finish a frame first")
    p = len(trace.prompts)
    first = trace.steps[0]
    for step in trace.steps:
        if step.x_t.ndim != 3 or step.x_t.shape != first.x_t.shape:
            raise ValueError(f"step {step.index}: x_t must be (C, h, w) like step {first.index}'s "
                             f"{tuple(first.x_t.shape)}, got {tuple(step.x_t.shape)}")
        c, h, w = step.x_t.shape
        if step.x0_layers.shape != (p, c, h, w):
            raise ValueError(f"step {step.index}: x0_layers must be ({p}, {c}, {h}, {w}) for {p} prompts, "
                             f"got {tuple(step.x0_layers.shape)}")
        if step.masks.shape != (p, h, w):
            raise ValueError(f"step {step.index}: masks must be ({p}, {h}, {w}), got {tuple(step.masks.shape)}")
