"""Few-step schedules for variance-preserving (ε/v-prediction) models, built with diffusers' own schedulers.

The timesteps come from the scheduler's ``set_timesteps(steps)`` (no hand-written index lists), and
each family's re-noising rule is expressed as the (pred_noise, fresh_noise) pair of ``Schedule``.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch

from .base import Schedule, vp_coefficients_from_sigma

SAMPLERS = ("lcm", "tcd", "euler", "ddim")

# Stable Diffusion 1.x training schedule; the toy backend borrows it so students see real noise levels.
SD_NOISE_SCHEDULE: dict[str, Any] = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
}

_SCHEDULER_CLASS_NAMES = {"lcm": "LCMScheduler", "tcd": "TCDScheduler", "euler": "EulerDiscreteScheduler",
                          "ddim": "DDIMScheduler"}
_FORCED_CONFIG = {
    "euler": {"timestep_spacing": "trailing"},
    "ddim": {"timestep_spacing": "trailing", "set_alpha_to_one": False},
}
_KEEP_KEYS = ("num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas",
              "prediction_type", "rescale_betas_zero_snr", "timestep_spacing", "steps_offset")


def make_scheduler(sampler: str, noise_config: Mapping[str, Any]):
    """A diffusers scheduler of the named family that shares the model's training noise schedule."""
    import diffusers  # imported on first use: it costs seconds, and `import semanticdraw_widgets` should not

    if sampler not in _SCHEDULER_CLASS_NAMES:
        raise ValueError(f"unknown sampler {sampler!r}: choose one of {', '.join(SAMPLERS)}")
    keep = _KEEP_KEYS + (("original_inference_steps",) if sampler in ("lcm", "tcd") else ())
    config = {k: v for k, v in dict(noise_config).items() if k in keep}  # the distillation's step limit too
    config.update(_FORCED_CONFIG.get(sampler, {}))
    return getattr(diffusers, _SCHEDULER_CLASS_NAMES[sampler]).from_config(config)


def scheduler_steps_range(scheduler) -> tuple[int, int]:
    """(1, most steps) a diffusers scheduler can sample with, read from its config.

    LCM and TCD pick their timesteps from the distillation's ``original_inference_steps`` (50 for
    the published LoRAs and models) and fail above it; the others stop at ``num_train_timesteps``.
    """
    config = scheduler.config
    top = int(config.get("num_train_timesteps", 1000))
    original = config.get("original_inference_steps")
    if _sampler_of(scheduler) in ("lcm", "tcd") and original:
        top = min(top, int(original))
    return 1, top


def _sampler_of(scheduler) -> str | None:
    names = {v: k for k, v in _SCHEDULER_CLASS_NAMES.items()}
    return next((names[c.__name__] for c in type(scheduler).__mro__ if c.__name__ in names), None)


def steps_range(source) -> tuple[int, int, str | None]:
    """(min, max, sampler name) of the steps a backend, a diffusers scheduler or a sampler name accepts.

    For UIs that clamp a steps slider: ``lo, hi, _ = steps_range(backend)``. A backend is asked for
    its ``steps_range()`` when it has one, else its diffusers scheduler (``scheduler`` or
    ``_scheduler`` attribute) is read; a sampler name uses the Stable Diffusion training schedule.
    Unknown sources get (1, 1000, None).
    """
    if isinstance(source, str):
        if source not in _SCHEDULER_CLASS_NAMES:
            raise ValueError(f"unknown sampler {source!r}: choose one of {', '.join(SAMPLERS)}")
        return (*scheduler_steps_range(make_scheduler(source, SD_NOISE_SCHEDULE)), source)
    own = getattr(source, "steps_range", None)
    if callable(own):
        return own()
    scheduler = getattr(source, "scheduler", None) or getattr(source, "_scheduler", None)
    if scheduler is not None and hasattr(scheduler, "config"):
        return (*scheduler_steps_range(scheduler), _sampler_of(scheduler))
    if hasattr(source, "config") and hasattr(source, "set_timesteps"):
        return (*scheduler_steps_range(source), _sampler_of(source))
    return 1, 1000, None


def max_steps(source) -> int:
    """The most steps a backend, a diffusers scheduler or a sampler name accepts (see ``steps_range``)."""
    return steps_range(source)[1]


def make_vp_schedule(scheduler, steps: int, *, tcd_gamma: float = 0.3) -> Schedule:
    """Schedule for `steps` steps of a diffusers LCM/TCD/Euler/DDIM scheduler."""
    from diffusers import EulerDiscreteScheduler, LCMScheduler, TCDScheduler

    from ..validation import as_int

    lo, hi = scheduler_steps_range(scheduler)
    sampler = _sampler_of(scheduler)
    steps = as_int(steps, "steps", min=lo, max=hi, why=f" (the {sampler} sampler's range)" if sampler else "")
    scheduler.set_timesteps(steps)
    timesteps = scheduler.timesteps.float()
    alphas_cumprod = scheduler.alphas_cumprod.double()

    if isinstance(scheduler, EulerDiscreteScheduler):
        alphas, sigmas = vp_coefficients_from_sigma(scheduler.sigmas[:-1])
    else:
        abar = alphas_cumprod[scheduler.timesteps.long()]
        alphas, sigmas = abar.sqrt().float(), (1 - abar).sqrt().float()

    pred_noise, fresh_noise = torch.zeros_like(sigmas), torch.zeros_like(sigmas)
    extras: dict[str, torch.Tensor] = {}
    if isinstance(scheduler, LCMScheduler):
        fresh_noise[1:] = sigmas[1:]
        scalings = [scheduler.get_scalings_for_boundary_condition_discrete(int(t)) for t in scheduler.timesteps]
        extras["c_skip"] = torch.tensor([s[0] for s in scalings], dtype=torch.float32)
        extras["c_out"] = torch.tensor([s[1] for s in scalings], dtype=torch.float32)
    elif isinstance(scheduler, TCDScheduler):
        # TCD: DDIM down to s = (1 - γ) t_next, then forward-noise back up to t_next with fresh noise.
        t_next = scheduler.timesteps[1:].long()
        abar_next = alphas_cumprod[t_next]
        abar_s = alphas_cumprod[torch.floor((1 - tcd_gamma) * t_next).long()]
        pred_noise[1:] = (abar_next.sqrt() * (1 - abar_s).sqrt() / abar_s.sqrt()).float()
        fresh_noise[1:] = (1 - abar_next / abar_s).clamp_min(0).sqrt().float()
    else:  # DDIM and Euler: deterministic, the predicted noise is carried to the next level
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
