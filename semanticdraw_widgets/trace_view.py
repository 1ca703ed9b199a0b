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

from .backends.base import PromptReading
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


def explain_step(trace: Trace, position: int) -> list[str]:
    """The step in plain words, one sentence per line: noise, what each layer saw, the shift, the masks."""
    step = trace.steps[position]
    last = position == len(trace) - 1
    noise = step.noise_level
    lines = [f"Step {step.index + 1} of {len(trace)}: the latent is about {noise:.0%} noise "
             f"(x_t = {step.alpha:.3f}·image + {step.sigma:.3f}·noise)." if step.alpha == step.alpha else
             f"Step {step.index + 1} of {len(trace)}: the latent is about {noise:.0%} noise."]
    regions = [p for p, (dy, dx) in enumerate(step.shifts) if (dy, dx) != (0, 0)]
    if step.bootstrap:
        moved = ", ".join(f"“{trace.prompts[p]}” by ({step.shifts[p][0]}, {step.shifts[p][1]})" for p in regions)
        lines.append("Bootstrapping: each region saw only its own mask, with a plain surround (white, or the "
                     "photo) noised to this level around it, and was rolled so its mask sits in the middle, "
                     "where models draw objects" + (f" ({moved} latent pixels)" if moved else "")
                     + "; its prediction was rolled back before averaging.")
    else:
        lines.append("No bootstrapping: every layer saw the whole latent as it is.")
    if trace.method == "multidiffusion":
        lines.append("MultiDiffusion: every layer took its own sampler step (its own fresh noise), and the "
                     "layers' next latents were averaged under the masks.")
    else:
        lines.append("Pre-averaging: the layers' clean-image guesses (x̂0) were averaged under the masks, then "
                     + ("the result is the final picture." if last else "noise was added back once, to the next level."))
    if step.soft_masks is not None and step.masks is not None:
        lines.append(f"Masks: a region counts fully where its soft mask exceeds {noise:.2f} (this step's noise "
                     "level) and not at all below the next level's; blurred edges join as the noise falls.")
    if trace.pruned:
        lines.append("Not computed (they could not change the picture): "
                     + ", ".join(f"“{p}”" for p in trace.pruned) + ".")
    return lines


def schedule_svg(trace: Trace, position: int, width: int = 260, height: int = 90) -> str:
    """A small SVG plot of the noise level per step, the current step marked: the masks' thresholds."""
    levels = [s.noise_level for s in trace.steps]
    n = len(levels)
    pad = 18

    def x(i: float) -> float:
        return pad + (width - 2 * pad) * (i / max(n - 1, 1))

    def y(v: float) -> float:
        return height - pad - (height - 2 * pad) * v

    points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(levels))
    dots = "".join(
        f"<circle cx='{x(i):.1f}' cy='{y(v):.1f}' r='{5 if i == position else 3}' "
        f"fill='{'#f0a030' if trace.steps[i].bootstrap else '#9a9aa8'}' "
        f"stroke='{'#ffffff' if i == position else 'none'}' stroke-width='2'><title>step {i + 1}: noise {v:.3f}"
        f"{' (bootstrap)' if trace.steps[i].bootstrap else ''}</title></circle>" for i, v in enumerate(levels))
    current = levels[position]
    return (f"<svg width='{width}' height='{height}' style='background:#1e1e22'>"
            f"<line x1='{pad}' y1='{y(current):.1f}' x2='{width - pad}' y2='{y(current):.1f}' stroke='#6a6a78' "
            f"stroke-dasharray='3,3'/><text x='{pad}' y='{y(current) - 3:.1f}' fill='#e8e8e8' font-size='9'>"
            f"mask threshold {current:.3f}</text>"
            f"<polyline points='{points}' fill='none' stroke='#e8e8e8' stroke-width='1.5'/>{dots}"
            f"<text x='{pad}' y='{height - 4}' fill='#e8e8e8' font-size='9'>noise level per step (orange: bootstrap)"
            f"</text></svg>")


def prompt_readings(trace: Trace) -> dict[str, PromptReading]:
    """The backend's reading of every prompt, negative prompt and anchor of `trace`, each read once
    (call it when a trace is loaded, not per redraw: a real tokenizer is not free)."""
    if trace.read_prompt is None:
        return {}
    texts = dict.fromkeys(t for t in (*trace.prompts, *trace.negatives, *trace.anchor) if t)
    return {text: trace.read_prompt(text) for text in texts}


def guidance_gaps(step: TraceStep) -> list[tuple[float, float]] | None:
    """Per layer: (mean |x̂0_cond − x̂0_uncond|, the spread (std) of x̂0_cond) inside its mask; None without halves.

    The first number is how far the prompt moved the model's clean-image guess away from the negative
    prompt's at this step, in latent units; the second gives it a scale.
    """
    if step.x0_cond is None or step.x0_uncond is None:
        return None
    inside = (step.masks > 0.5)[:, None].expand_as(step.x0_cond)  # (P, C, h, w)
    out = []
    for k in range(step.x0_cond.shape[0]):
        where = inside[k] if bool(inside[k].any()) else torch.ones_like(inside[k])  # an empty mask: the whole canvas
        cond, uncond = step.x0_cond[k][where], step.x0_uncond[k][where]
        out.append((float((cond - uncond).abs().mean()), float(cond.std()) if cond.numel() > 1 else 0.0))
    return out


def _quoted(words: Sequence[str]) -> str:
    return ", ".join(f"“{w}”" for w in words)


def reading_line(reading: PromptReading) -> str:
    """One sentence: the words the model used, the words it ignored, the tail it cut off."""
    line = (f"Words the model used: {', '.join(reading.used)}." if reading.used else
            "The model found no word it knows here: the text adds nothing of its own to this layer.")
    if reading.ignored:
        line += f" Ignored (not in its vocabulary): {_quoted(reading.ignored)}."
    if reading.truncated:
        line += f" Cut off at the token limit, never seen: “{reading.truncated}”."
    line += f" (read by {reading.reader})" if reading.reader else ""
    return " ".join([line, *(f"Also read by a second text encoder: {reading_line(other)}" for other in reading.others)])


def explain_prompts(trace: Trace, position: int, readings: dict[str, PromptReading] | None = None,
                    gaps: list[tuple[float, float]] | None = None) -> list[tuple[str, list[str]]]:
    """What each layer's text conditioning was made of, in plain words: [(layer title, sentences), ...].

    readings: ``prompt_readings(trace)``; gaps: ``guidance_gaps(trace.steps[position])`` (both computed once).
    """
    readings = {} if readings is None else readings
    guidance = trace.guidance
    background, negative_anchor = trace.anchor
    out = []
    for k, prompt in enumerate(trace.prompts):
        is_background = k == trace.background_layer
        title = f"{'background' if is_background else f'layer {k}'}: “{prompt}”" if prompt else \
            f"{'background' if is_background else f'layer {k}'}: (empty prompt)"
        lines = []
        if prompt in readings:
            lines.append(reading_line(readings[prompt]))
        if k < len(trace.strengths):
            s = trace.strengths[k]
            if is_background:
                lines.append("Conditioning: the background prompt itself; it is drawn wherever no region covers.")
            elif s >= 1 or not background:
                lines.append(f"Conditioning: 100% this prompt (prompt strength {s:g}).")
            else:
                lines.append(f"Conditioning: {s:.0%} this prompt blended with {1 - s:.0%} of the background prompt "
                             f"“{background}” (prompt strength {s:g}), so the region leans toward its surroundings.")
        if guidance is not None and guidance <= 1:
            lines.append(f"Guidance off (scale {guidance:g}): one prediction per layer, with the prompt only; "
                         "the negative prompt is not used.")
        elif guidance is not None:
            negative = trace.negatives[k] if k < len(trace.negatives) else ""
            told = f"the negative prompt “{negative}”" if negative else "an empty negative prompt"
            blend = (f", blended like the prompt with “{negative_anchor}”" if negative_anchor and
                     k < len(trace.strengths) and 0 < trace.strengths[k] < 1 and not is_background else "")
            lines.append(f"Guidance {guidance:g}: the model guessed twice, with the prompt (conditional) and with "
                         f"{told} (unconditional{blend}), and used uncond + {guidance:g} × (cond − uncond): it "
                         f"pushed {guidance:g} times as far away from the unconditional guess as the prompt alone.")
            if gaps is not None and k < len(gaps):
                gap, spread = gaps[k]
                lines.append(f"At this step the two guesses differ by {gap:.2f} on average inside the mask "
                             f"(latent units; the guess itself varies by about {spread:.2f} there).")
            elif gaps is None:
                lines.append("The two guesses were not recorded (trace_cfg=False).")
        out.append((title, lines))
    return out
