"""One-shot regional generation: SemanticDraw (x̂0 pre-averaging) or the MultiDiffusion reference."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from ..backends.base import Backend
from ..fields import METHODS  # noqa: F401  (declared in the field table; engine.METHODS re-exports it)
from ..scene import Scene
from ..validation import as_bool, check_field, check_run_options
from .plan import Plan, SamplerOptions, make_plan
from .pruning import dropped_prompts, prune_plan
from .regional import multidiffusion_average, noised, predicted_noise, renoise
from .sampler import advance, fill_for, make_trace, predict_regional, start_latent, trace_steps
from .trace import Trace



class NonFiniteOutput(RuntimeError):
    """The model predicted NaN or infinite values: decoded, they would be a black picture without a word."""


def require_finite(x0: torch.Tensor) -> None:
    """Refuse a prediction holding NaN or inf (a float16 overflow, a damaged LoRA, absurd guidance)."""
    if not bool(torch.isfinite(x0).all()):
        raise NonFiniteOutput(
            "the model predicted NaN or infinite values, which would draw a black picture (the last good picture "
            "is kept): usually float16 overflowing; load the model with dtype=torch.float32, or lower "
            "guidance_scale or lora_scale")


def seeded_noise(seed: int, shapes: list[tuple[int, ...]], device: torch.device) -> list[Tensor]:
    """Standard normal tensors drawn in order from one CPU generator, so every device sees the same noise."""
    generator = torch.Generator("cpu").manual_seed(seed)
    return [torch.randn(shape, generator=generator).to(device) for shape in shapes]


def stream_noise_shapes(backend: Backend, scene: Scene, steps: int) -> list[tuple[int, ...]]:
    """Start, bootstrap-surround and per-step fresh noise, in the order generate() and Stream draw them.

    The layer count is deliberately absent: adding a region must not reshuffle the picture.
    """
    c, f = backend.latent_channels, backend.scale_factor
    h, w = scene.height // f, scene.width // f
    return [(1, c, h, w), (1, c, h, w), (steps, c, h, w)]


def to_pil(image: Tensor) -> Image.Image:
    """(3, H, W) in [0, 1] -> RGB PIL image."""
    array = image.clamp(0, 1).mul_(255).round_().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(np.ascontiguousarray(array))


def decode(backend: Backend, plan: Plan, x0: Tensor, scene: Scene) -> Image.Image:
    """Decode the final latent; with a background image, pixels outside the regions keep the original."""
    image = backend.decode_latents(x0)[0].float()
    if plan.image_blend is not None:
        original = torch.from_numpy(np.array(scene.background.image)).permute(2, 0, 1).to(image)
        blend = plan.image_blend[0].to(image)
        image = blend * image + (1 - blend) * original
    return to_pil(image)


def sample_semanticdraw(backend: Backend, plan: Plan, init: Tensor, plain_noise: Tensor, fresh: Tensor,
                        recorder: Trace | None = None, trace_cfg: bool = False) -> Tensor:
    """SemanticDraw: pre-average the layers' x̂0, re-noise once per step. Returns the final clean latent.

    init, plain_noise: (1, C, h, w); fresh: (S, C, h, w) the noise entering each next step.
    """
    x = start_latent(plan, init)
    last = len(plan.schedule) - 1
    for i in range(last + 1):
        pred = predict_regional(backend, plan, x, [i], plain_noise, keep_guidance=trace_cfg)
        x_next = pred.x0 if i == last else advance(plan, x, pred.x0, [i], fresh)
        if recorder is not None:
            recorder.steps.extend(trace_steps(plan, x, [i], pred, x_next=x_next))
        x = x_next
    return x


def multidiffusion_plan(plan: Plan) -> Plan:
    """MultiDiffusion uses the plain (unquantized) masks at every step and never bootstraps."""
    weights = plan.soft_masks[None, :, None].expand(len(plan.schedule), -1, -1, -1, -1)
    return replace(plan, weights=weights, bootstrap_steps=0)


def sample_multidiffusion(backend: Backend, plan: Plan, init: Tensor, fresh: Tensor, layer_fresh: Tensor,
                          recorder: Trace | None = None, trace_cfg: bool = False) -> Tensor:
    """The MultiDiffusion reference: every layer takes its own sampler step, then the x_{i+1} are averaged.

    init: (1, C, h, w); fresh: (S, C, h, w) noise for the inpainting fill; layer_fresh: (S, P, C, h, w)
    each layer's own re-noise. On the last step each layer's x_{i+1} is its x̂0 (σ = 0).
    """
    s = plan.schedule
    x = start_latent(plan, init)
    last = len(s) - 1
    for i in range(last + 1):
        pred = predict_regional(backend, plan, x, [i], torch.zeros_like(x), keep_guidance=trace_cfg)
        eps_layers = predicted_noise(x[:, None], pred.x0_layers, s.alphas[i], s.sigmas[i])  # (1, P, C, h, w)
        if i == last:
            x_layers, fill_next = pred.x0_layers, fill_for(plan, pred.x0_layers)
        else:
            x_layers = renoise(pred.x0_layers, eps_layers, layer_fresh[i][None], s.alphas[i + 1],
                               s.pred_noise[i + 1], s.fresh_noise[i + 1])
            fill_next = fill_for(plan, x_layers) if plan.fill_latent is None else noised(
                plan.fill_latent, fresh[i][None], s.alphas[i + 1], s.sigmas[i + 1])
        x_next = multidiffusion_average(x_layers, pred.weights, fill_next)
        if recorder is not None:
            recorder.steps.extend(trace_steps(plan, x, [i], pred, x_next=x_next, method="multidiffusion",
                                              x_next_layers=x_layers, eps_layers=eps_layers))
        x = x_next
    return x


def generate(backend: Backend, scene: Scene, steps: int = 4, *, trace: bool = False, trace_cfg: bool | None = None,
             guidance_scale: float | None = None, bootstrap_steps: int = 1, mask_mode: str = "continuous",
             cover_alpha: float = 0.0, method: str = "semanticdraw") -> Image.Image | tuple[Image.Image, Trace]:
    """Render `scene` in `steps` model calls (one batched call per step); seeded and deterministic.

    ``method="multidiffusion"`` runs the reference the paper compares against: no bootstrapping,
    and every layer takes its own sampler step before the x_{t-1} samples are averaged.
    Returns the image, or ``(image, Trace)`` with ``trace=True``, which also records each layer's conditional
    and unconditional x̂0 when guidance runs (guidance > 1); ``trace_cfg=False`` leaves those halves out.
    """
    # --- argument checks (validation.py): one clear ValueError naming the field, numpy numbers welcome ---
    checked = check_run_options(backend, steps=steps, guidance_scale=guidance_scale, bootstrap_steps=bootstrap_steps,
                                mask_mode=mask_mode, cover_alpha=cover_alpha)
    if not isinstance(scene, Scene):
        raise TypeError(f"generate() needs a semanticdraw_widgets.Scene, got {type(scene).__name__}")
    steps, guidance_scale, bootstrap_steps = checked["steps"], checked["guidance_scale"], checked["bootstrap_steps"]
    mask_mode, cover_alpha = checked["mask_mode"], checked["cover_alpha"]
    method = check_field("method", method)
    trace = as_bool(trace, "trace")
    trace_cfg = trace if trace_cfg is None else as_bool(trace_cfg, "trace_cfg")  # the halves come with a trace
    if trace_cfg and not trace:
        raise ValueError("trace_cfg=True records into a trace: pass trace=True as well")
    # --- end of argument checks ---
    reference = method == "multidiffusion"
    options = SamplerOptions(guidance_scale=guidance_scale, bootstrap_steps=0 if reference else bootstrap_steps,
                             mask_mode=mask_mode, cover_alpha=cover_alpha)
    schedule = backend.make_schedule(steps)
    plan = make_plan(backend, scene, schedule, options)
    pruned: tuple[str, ...] = ()
    if not reference:  # (the reference runs every layer, as published)
        pruned = dropped_prompts(plan)
        plan = prune_plan(plan)  # rows that cannot change the picture are not computed
    s = len(schedule)
    shapes = stream_noise_shapes(backend, scene, s)
    recorder = make_trace(backend, plan, method=method, pruned=pruned) if trace else None

    with torch.inference_mode():
        if reference:
            # the reference re-noises every layer on its own: its extra noise is drawn after the shared noise
            layer_shape = (s, plan.num_layers, *shapes[0][1:])
            init, _, fresh, layer_fresh = seeded_noise(scene.seed, [*shapes, layer_shape], backend.device)
            plan = multidiffusion_plan(plan)
            x = sample_multidiffusion(backend, plan, init, fresh, layer_fresh, recorder, trace_cfg)
        else:
            init, plain_noise, fresh = seeded_noise(scene.seed, shapes, backend.device)
            x = sample_semanticdraw(backend, plan, init, plain_noise, fresh, recorder, trace_cfg)
        require_finite(x)
        image = decode(backend, plan, x, scene)
    return (image, recorder) if recorder is not None else image
