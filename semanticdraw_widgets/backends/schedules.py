"""Few-step schedules for variance-preserving (ε/v-prediction) models, built with diffusers' own schedulers.

The timesteps come from the scheduler's ``set_timesteps(steps)`` (no hand-written index lists), and
each sampler's re-noising rule (its ``renoise`` in the registry, samplers.py) is expressed as the
(pred_noise, fresh_noise) pair of ``Schedule``. ``steps_range`` and ``scheduler_steps_range`` live in the
registry and are re-exported here.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch

from ..samplers import (VP_SAMPLERS, info_of_scheduler, sampler_for, scheduler_steps_range,  # noqa: F401
                        steps_range)
from ..validation import check_field
from .base import Schedule, vp_coefficients_from_sigma

SAMPLERS = VP_SAMPLERS  # the variance-preserving samplers of the registry (samplers.py)

# Stable Diffusion 1.x training schedule; the toy backend borrows it so students see real noise levels.
SD_NOISE_SCHEDULE: dict[str, Any] = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
}

_KEEP_KEYS = ("num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas",
              "prediction_type", "rescale_betas_zero_snr", "timestep_spacing", "steps_offset")


def make_scheduler(sampler: str, noise_config: Mapping[str, Any]):
    """A diffusers scheduler of the named family that shares the model's training noise schedule."""
    import diffusers  # imported on first use: it costs seconds, and `import semanticdraw_widgets` should not

    if sampler not in VP_SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}: choose one of {', '.join(VP_SAMPLERS)}")
    info = sampler_for(sampler, "sd")
    keep = _KEEP_KEYS + (("original_inference_steps",) if info.distilled else ())
    config = {k: v for k, v in dict(noise_config).items() if k in keep}  # the distillation's step limit too
    config.update(info.forced_config)
    return getattr(diffusers, info.scheduler_class).from_config(config)


def max_steps(source) -> int:
    """The most steps a backend, a diffusers scheduler or a sampler name accepts (see ``steps_range``)."""
    return steps_range(source)[1]


def make_vp_schedule(scheduler, steps: int, *, tcd_gamma: float = 0.3) -> Schedule:
    """Schedule for `steps` steps of a diffusers LCM/TCD/Euler/DDIM scheduler (its rule from the registry)."""
    info = info_of_scheduler(scheduler)
    if info is None or info.flow_matching:
        raise ValueError(f"{type(scheduler).__name__} is not a variance-preserving sampler of the registry: "
                         f"use one of {', '.join(VP_SAMPLERS)}")
    lo, hi = scheduler_steps_range(scheduler)
    steps = check_field("steps", steps, min=lo, max=hi, why=f" (the {info.name} sampler's range)")
    scheduler.set_timesteps(steps)
    timesteps = scheduler.timesteps.float()
    alphas_cumprod = scheduler.alphas_cumprod.double()

    if info.karras_sigmas:
        alphas, sigmas = vp_coefficients_from_sigma(scheduler.sigmas[:-1])
    else:
        abar = alphas_cumprod[scheduler.timesteps.long()]
        alphas, sigmas = abar.sqrt().float(), (1 - abar).sqrt().float()

    pred_noise, fresh_noise = torch.zeros_like(sigmas), torch.zeros_like(sigmas)
    extras: dict[str, torch.Tensor] = {}
    if info.renoise == "fresh":  # LCM
        fresh_noise[1:] = sigmas[1:]
        scalings = [scheduler.get_scalings_for_boundary_condition_discrete(int(t)) for t in scheduler.timesteps]
        extras["c_skip"] = torch.tensor([s[0] for s in scalings], dtype=torch.float32)
        extras["c_out"] = torch.tensor([s[1] for s in scalings], dtype=torch.float32)
    elif info.renoise == "tcd":
        # TCD: DDIM down to s = (1 - γ) t_next, then forward-noise back up to t_next with fresh noise.
        t_next = scheduler.timesteps[1:].long()
        abar_next = alphas_cumprod[t_next]
        abar_s = alphas_cumprod[torch.floor((1 - tcd_gamma) * t_next).long()]
        pred_noise[1:] = (abar_next.sqrt() * (1 - abar_s).sqrt() / abar_s.sqrt()).float()
        fresh_noise[1:] = (1 - abar_next / abar_s).clamp_min(0).sqrt().float()
    else:  # "carry", DDIM and Euler: deterministic, the predicted noise is carried to the next level
        pred_noise[1:] = sigmas[1:]

    return Schedule(timesteps=timesteps, alphas=alphas, sigmas=sigmas, noise_levels=sigmas.clone(),
                    pred_noise=pred_noise, fresh_noise=fresh_noise, extras=extras)


def x0_from_model_output(output: torch.Tensor, x: torch.Tensor, alpha: torch.Tensor, sigma: torch.Tensor,
                         prediction_type: str) -> torch.Tensor:
    """x̂0 from an ε-, v- or sample-prediction at VP coefficients (alpha, sigma) shaped to broadcast."""
    if prediction_type == "epsilon":
        return (x - sigma * output) / alpha
    if prediction_type == "v_prediction":
        return alpha * x - sigma * output
    if prediction_type == "sample":
        return output
    raise ValueError(f"unsupported prediction_type {prediction_type!r}")
