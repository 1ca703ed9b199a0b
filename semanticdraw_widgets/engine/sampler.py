"""One regional model call for B latents at (possibly different) steps: the shared core of
``generate`` (B = 1) and the stream batch (B = T slots, one per noise level)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Sequence

import torch
from torch import Tensor

from ..backends.base import Backend, read_prompt
from .conditioning import cat_conditioning, repeat_conditioning
from .plan import Plan
from .regional import (aggregate_x0, bootstrap_inputs, classifier_free_guidance, noised, predicted_noise,
                       renoise, roll_layers)
from .trace import Trace, TraceStep, detach_to_cpu


@dataclass(frozen=True)
class RegionalPrediction:
    x0: Tensor  # (B, C, h, w) aggregated x̂0
    x0_layers: Tensor  # (B, P, C, h, w) each layer's x̂0 (un-rolled)
    weights: Tensor  # (B, P, 1, h, w) masks used at these steps
    layer_inputs: Tensor  # (B, P, C, h, w) what each layer saw (bootstrapped, before centring)
    model_inputs: Tensor | None = None  # (B, P, C, h, w) after centring: the rows the model ran on
    guidance_parts: tuple[Tensor, Tensor] | None = None  # (uncond, cond) x̂0, each (B, P, C, h, w), un-rolled;
    # kept only when predict_regional is asked to (keep_guidance=True) and guidance ran
    x0_centred: Tensor | None = None  # (B, P, C, h, w) x̂0 before the roll back (what the model drew, centred)


def fill_for(plan: Plan, x0_layers: Tensor) -> Tensor:
    """The clean latent that uncovered pixels fall back to: the image (inpainting) or the background layer."""
    if plan.fill_latent is not None:
        return plan.fill_latent.expand(x0_layers.shape[0], -1, -1, -1)
    return x0_layers[:, plan.background_layer]


def layer_inputs(plan: Plan, x: Tensor, steps: Sequence[int], plain_noise: Tensor) -> Tensor:
    """(B, C, h, w) latents -> (B, P, C, h, w) per-layer inputs, bootstrapped where steps < B_boot."""
    p = plan.num_layers
    rows = x[:, None].expand(-1, p, -1, -1, -1)
    out = []
    for b, step in enumerate(steps):
        if step < plan.bootstrap_steps:
            s = plan.schedule
            plain = noised(plan.plain_latent, plain_noise[b: b + 1], s.alphas[step], s.sigmas[step])
            boot = bootstrap_inputs(rows[b], plan.weights[step], plain)
            out.append(torch.where(plan.bootstrap_layers.to(x.device)[:, None, None, None], boot, rows[b]))
        else:
            out.append(rows[b])
    return torch.stack(out)


def start_latent(plan: Plan, noise: Tensor) -> Tensor:
    """A new latent at step 0: pure noise, or the background image noised to the first level (inpainting)."""
    s = plan.schedule
    start = plan.fill_latent if plan.fill_latent is not None else torch.zeros_like(noise)
    return noised(start, noise, s.alphas[0], s.sigmas[0])


def advance(plan: Plan, x: Tensor, x0: Tensor, steps: Sequence[int], fresh: Tensor) -> Tensor:
    """Move latents x (B, C, h, w) at `steps` to the next step from their aggregated x̂0: one re-noise each.

    fresh: (S, C, h, w) the noise entering each next step, indexed by the current step.
    """
    s = plan.schedule
    idx = torch.tensor(list(steps), dtype=torch.long, device=x.device)
    at = lambda values: values[idx].view(-1, 1, 1, 1)  # noqa: E731
    nxt = lambda values: values[idx + 1].view(-1, 1, 1, 1)  # noqa: E731
    eps = predicted_noise(x, x0, at(s.alphas), at(s.sigmas))
    return renoise(x0, eps, fresh[idx], nxt(s.alphas), nxt(s.pred_noise), nxt(s.fresh_noise))


def unroll(plan: Plan, x0: Tensor, centred: Sequence[bool]) -> Tensor:
    """(B, P, C, h, w) predictions made on centred inputs -> back in canvas position."""
    return torch.stack([roll_layers(x0[i], plan.shifts, reverse=True) if centred[i] else x0[i]
                        for i in range(x0.shape[0])])


def predict_regional(backend: Backend, plan: Plan, x: Tensor, steps: Sequence[int], plain_noise: Tensor,
                     *, keep_guidance: bool = False) -> RegionalPrediction:
    """Run every layer of every latent in ONE batched model call (twice the rows only when guidance > 1).

    x: (B, C, h, w); steps: B step indices; plain_noise: (B, C, h, w) noise for the bootstrap surround.
    keep_guidance: also return the unconditional and conditional x̂0 (for a trace; costs an un-roll).
    """
    b, p = x.shape[0], plan.num_layers
    inputs = layer_inputs(plan, x, steps, plain_noise)  # (B, P, C, h, w)
    centred = [step < plan.bootstrap_steps for step in steps]
    centred_in = torch.stack([roll_layers(inputs[i], plan.shifts) if centred[i] else inputs[i] for i in range(b)])
    model_in = centred_in.flatten(0, 1)  # (B*P, C, h, w), slot-major
    step_index = torch.tensor(steps, dtype=torch.long).repeat_interleave(p)
    cond = repeat_conditioning(plan.cond, b)
    parts = None
    if plan.uncond is not None:
        both = backend.predict_x0(torch.cat([model_in, model_in]), torch.cat([step_index, step_index]),
                                  plan.schedule, cat_conditioning([repeat_conditioning(plan.uncond, b), cond]))
        x0 = classifier_free_guidance(*both.chunk(2), plan.guidance)
        if keep_guidance:
            parts = tuple(unroll(plan, half.unflatten(0, (b, p)), centred) for half in both.chunk(2))
    else:
        x0 = backend.predict_x0(model_in, step_index, plan.schedule, cond)
    centred_x0 = x0.unflatten(0, (b, p))
    x0 = unroll(plan, centred_x0, centred)
    weights = plan.weights[torch.tensor(steps, device=plan.weights.device)]
    return RegionalPrediction(x0=aggregate_x0(x0, weights, fill_for(plan, x0)), x0_layers=x0,
                              weights=weights, layer_inputs=inputs, model_inputs=centred_in,
                              guidance_parts=parts, x0_centred=centred_x0)


def make_trace(backend: Backend, plan: Plan, *, method: str = "semanticdraw", pruned: tuple[str, ...] = (),
               steps: Sequence[TraceStep] = ()) -> Trace:
    """An (empty or given) Trace of `plan`: its layers, what their text conditioning was made of, and how to
    preview, decode and read prompts through `backend`."""
    return Trace(prompts=plan.prompts, project=backend.latent_to_rgb, steps=list(steps), method=method,
                 decode=backend.decode_latents, guidance=plan.guidance, pruned=pruned, strengths=plan.strengths,
                 negatives=plan.negatives, anchor=plan.anchor, background_layer=plan.background_layer,
                 read_prompt=partial(read_prompt, backend))


def trace_steps(plan: Plan, x: Tensor, steps: Sequence[int], pred: RegionalPrediction, *,
                x_next: Tensor | None = None, method: str = "semanticdraw", x_next_layers: Tensor | None = None,
                eps_layers: Tensor | None = None) -> list[TraceStep]:
    """One TraceStep (on the CPU) per latent of a regional prediction; only ever called while tracing.

    x_next: (B, C, h, w) the latents after these steps, when the caller knows them (None: not recorded).
    method="multidiffusion" records each layer's own next latent (x_next_layers, (B, P, C, h, w)) and
    ε̂ (eps_layers) instead of an aggregated x̂0, which that method never forms.
    """
    schedule, last = plan.schedule, len(plan.schedule) - 1
    reference = method == "multidiffusion"
    soft = detach_to_cpu(plan.soft_masks)
    no_shift = tuple((0, 0) for _ in plan.shifts)
    cpu = lambda t, b: None if t is None else detach_to_cpu(t[b])  # noqa: E731
    out = []
    for b, step in enumerate(steps):
        alpha, sigma = schedule.alphas[step], schedule.sigmas[step]
        following = step + 1 if step < last else None
        eps = None if reference else predicted_noise(x[b], pred.x0[b], alpha, sigma)
        uncond, cond = pred.guidance_parts if pred.guidance_parts is not None else (None, None)
        out.append(TraceStep(
            index=step, timestep=float(schedule.timesteps[step]), noise_level=float(schedule.noise_levels[step]),
            bootstrap=step < plan.bootstrap_steps, x_t=detach_to_cpu(x[b]),
            x0_layers=detach_to_cpu(pred.x0_layers[b]), x0=None if reference else detach_to_cpu(pred.x0[b]),
            masks=detach_to_cpu(pred.weights[b, :, 0]), method=method,
            layer_inputs=detach_to_cpu(pred.layer_inputs[b]), model_inputs=cpu(pred.model_inputs, b),
            shifts=plan.shifts if step < plan.bootstrap_steps else no_shift, soft_masks=soft,
            alpha=float(alpha), sigma=float(sigma),
            next_alpha=None if following is None else float(schedule.alphas[following]),
            next_pred_noise=None if following is None else float(schedule.pred_noise[following]),
            next_fresh_noise=None if following is None else float(schedule.fresh_noise[following]),
            eps=None if eps is None else detach_to_cpu(eps), x_next=cpu(x_next, b),
            x_next_layers=cpu(x_next_layers, b), eps_layers=cpu(eps_layers, b),
            x0_uncond=cpu(uncond, b), x0_cond=cpu(cond, b),
            x0_centred=cpu(pred.x0_centred, b) if step < plan.bootstrap_steps else None))
    return out
