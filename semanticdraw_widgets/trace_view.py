"""Pictures of a Trace: labelled RGB tiles per panel, captions, mask overlays, previews.

Shared by the inspector widget and the animation writer; above the engine (``engine.trace`` is the
record only). Previews stay cheap: every latent of a step goes through the backend's linear latent ->
RGB projection in one batched call.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from .engine.trace import Trace, TraceStep

# Panels a step can be shown as: name -> what it shows (one tile, or one per layer).
PANELS: dict[str, str] = {
    "x_t": "the latent entering the step",
    "layer_inputs": "what each layer saw (bootstrapped surround), one tile per layer",
    "model_inputs": "what the model ran on (centred while bootstrapping), one tile per layer",
    "x0_centred": "each layer's x̂0 as the model drew it on its centred row, before the shift back (bootstrap steps)",
    "x0_layers": "each layer's x̂0, outside its quantized mask dimmed, one tile per layer",
    "x0": "the aggregated (pre-averaged) x̂0; semanticdraw only",
    "eps": "ε̂ implied by x_t and x̂0 (channel mean, grey = 0); semanticdraw only",
    "x_next": "the latent after the step (the final latent on the last step)",
    "x_next_layers": "each layer's own next latent; multidiffusion only",
    "masks": "the quantized masks, one colour per layer (black: uncovered, filled from the background)",
    "soft_masks": "the masks before quantization, one colour per layer",
    "x0_cond": "each layer's conditional x̂0 (generate(..., trace_cfg=True) with guidance > 1)",
    "x0_uncond": "each layer's unconditional x̂0 (generate(..., trace_cfg=True) with guidance > 1)",
}
LAYER_PANELS = ("layer_inputs", "model_inputs", "x0_centred", "x0_layers", "x_next_layers", "x0_cond", "x0_uncond")
# One colour per layer for mask overlays (layer 0, the background, in grey).
LAYER_COLOURS = np.array([[160, 160, 160], [230, 60, 60], [60, 170, 80], [60, 110, 230], [240, 190, 40],
                          [170, 80, 200], [40, 190, 200], [240, 130, 40], [120, 80, 40]], dtype=np.float32)



def default_panels(trace: Trace) -> tuple[str, ...]:
    if trace.method == "multidiffusion":
        return ("x_t", "x0_layers", "x_next_layers", "x_next")
    return ("x_t", "x0_layers", "x0", "masks")


def check_panels(trace: Trace, panels: Sequence[str]) -> None:
    """Raise a ValueError for a panel name that is unknown or that this trace did not record."""
    for name in panels:
        if name not in PANELS:
            raise ValueError(f"unknown panel {name!r}: choose from {', '.join(PANELS)}")
        if available(trace.steps[0], name, trace.steps) is None:
            hint = {"x0": "method='multidiffusion' never pre-averages x̂0; show 'x_next' or 'x_next_layers'",
                    "x0_cond": "record it with generate(..., trace=True, trace_cfg=True, guidance_scale > 1)",
                    "x0_uncond": "record it with generate(..., trace=True, trace_cfg=True, guidance_scale > 1)",
                    "eps": "multidiffusion records each layer's ε̂ instead",
                    "x_next_layers": "only method='multidiffusion' records it",
                    "x0_centred": "only bootstrap steps centre the layers (bootstrap_steps >= 1)"}.get(name, "it was not recorded")
            raise ValueError(f"panel {name!r} is not in this trace: {hint}")


def available(step: TraceStep, name: str, steps: Sequence[TraceStep] = ()) -> Tensor | None:
    """The tensor behind panel `name` at `step`, or None when the trace did not record it."""
    if name == "x_next" and steps:
        return next_latent(step, steps)
    return getattr(step, name)


def next_latent(step: TraceStep, steps: Sequence[TraceStep]) -> Tensor | None:
    """x_next, or when the recorder could not know it (a stream's trace), the next step's x_t / final x̂0."""
    if step.x_next is not None:
        return step.x_next
    position = next(i for i, s in enumerate(steps) if s is step)
    if position + 1 < len(steps):
        return steps[position + 1].x_t
    return step.x0


def to_uint8(rgb: Tensor) -> np.ndarray:
    """(N, 3, h, w) in [0, 1] -> (N, h, w, 3) uint8."""
    return rgb.clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def signed_grey(t: Tensor) -> np.ndarray:
    """(C, h, w) roughly N(0, 1) (noise) -> (h, w, 3) uint8, mid-grey at 0, channel mean so structure shows."""
    g = (t.float().mean(0) / 3 + 0.5).clamp(0, 1)  # the channel mean of N(0, 1) noise has std ≈ 1/√C
    return np.repeat(g.mul(255).round().to(torch.uint8).cpu().numpy()[..., None], 3, axis=2)


def mask_colours(masks: Tensor, only: int | None = None) -> np.ndarray:
    """(P, h, w) masks -> (h, w, 3) uint8: each layer's colour weighted by its mask (black where uncovered)."""
    m = masks.float().clamp(0, 1).cpu().numpy()
    colours = LAYER_COLOURS[np.arange(m.shape[0]) % len(LAYER_COLOURS)]
    if only is not None:
        m = m[only: only + 1]
        colours = colours[only: only + 1]
    rgb = np.einsum("phw,pc->hwc", m, colours) / np.maximum(m.sum(0), 1)[..., None]
    return rgb.round().astype(np.uint8)


def dim_outside(tile: np.ndarray, mask: np.ndarray, colour: np.ndarray, keep: float = 0.3) -> np.ndarray:
    """Tint a tile (h, w, 3) with one layer's mask (h, w) in [0, 1]: full inside, `keep` outside, coloured edge."""
    weight = keep + (1 - keep) * mask[..., None]
    out = tile.astype(np.float32) * weight + colour * 0.25 * mask[..., None]
    out[mask_edge(mask)] = colour
    return np.clip(out, 0, 255).round().astype(np.uint8)


def mask_edge(mask: np.ndarray) -> np.ndarray:
    """(h, w) bool: pixels where a mask in [0, 1] crosses 0.5 (against the pixel above or to the left)."""
    inside = mask > 0.5
    return (inside != np.roll(inside, 1, 0)) | (inside != np.roll(inside, 1, 1))


def step_tiles(trace: Trace, position: int, panels: Sequence[str]) -> dict[str, list[tuple[str, np.ndarray]]]:
    """RGB tiles of step `position` for each panel name: name -> [(label, (h, w, 3) uint8), ...].

    All latent previews of the step go through ONE `project` call.
    """
    step = trace.steps[position]
    latents: list[Tensor] = []
    spans: dict[str, tuple[int, int]] = {}
    for name in panels:
        if name in ("eps", "masks", "soft_masks"):
            continue
        value = available(step, name, trace.steps)
        if value is None:
            continue
        batch = value if name in LAYER_PANELS else value[None]
        spans[name] = (len(latents), len(latents) + batch.shape[0])
        latents.extend(batch)
    rgb = to_uint8(trace.project(torch.stack(latents).float())) if latents else None
    masks = step.masks.float().clamp(0, 1).cpu().numpy()
    out: dict[str, list[tuple[str, np.ndarray]]] = {}
    for name in panels:
        if name in ("masks", "soft_masks"):
            value = available(step, name)
            out[name] = [] if value is None else [(name, mask_colours(value))]
        elif name == "eps":
            out[name] = [] if step.eps is None else [("eps", signed_grey(step.eps))]
        elif name in spans:
            start, stop = spans[name]
            tiles = list(rgb[start:stop])
            if name == "x0_layers":
                tiles = [dim_outside(t, masks[p], LAYER_COLOURS[p % len(LAYER_COLOURS)]) for p, t in enumerate(tiles)]
            if name in LAYER_PANELS:
                out[name] = [(f"{name}: {trace.prompts[p]}", t) for p, t in enumerate(tiles)]
            else:
                out[name] = [(name, tiles[0])]
        else:
            out[name] = []
    return out


def step_caption(trace: Trace, position: int) -> str:
    """One line naming step, timestep, noise level and bootstrapping."""
    step = trace.steps[position]
    boot = " · bootstrap" if step.bootstrap else ""
    return (f"step {step.index + 1}/{len(trace)} · t={step.timestep:g} · noise {step.noise_level:.3f}"
            f"{boot} · {trace.method}")
