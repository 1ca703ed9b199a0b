"""The sampler registry: one entry per sampler, consulted by the loader, the schedules, SD3, the CLI and the canvas.

Each entry says which model families take the sampler, which diffusers scheduler class builds its timesteps,
how many steps it can take and whether it is flow matching (SD3) or variance preserving (SD1.x/2.x, SDXL, toy).
"euler" exists twice: the VP Euler (trailing spacing) and SD3's flow-matching Euler; ``sampler_for(name, family)``
picks the right one.

Pure data and stdlib only (no torch, no diffusers, no package imports), so the field table (fields.py), the
checkers (validation.py) and the backends can all read it without an import cycle. It lives at the package
top level rather than in ``backends/`` because importing ``backends.samplers`` would run ``backends/__init__``,
which loads the loader, which needs the field table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

# The most steps any of these schedulers can take: diffusers' num_train_timesteps of SD1.x/2.x, SDXL and SD3.
TRAIN_TIMESTEPS = 1000
# LCM and TCD pick their timesteps from the distillation's grid (original_inference_steps, 50 for the published
# LoRAs and models) and fail above it.
DISTILLED_STEPS = 50

VP_FAMILIES = ("toy", "sd", "sdxl")
FLOW_FAMILIES = ("sd3",)


@dataclass(frozen=True)
class SamplerInfo:
    """One sampler: its name, the families that take it, its diffusers scheduler and its step range."""

    name: str
    families: tuple[str, ...]
    scheduler_class: str  # diffusers class name
    flow_matching: bool
    max_steps: int  # for a model with the standard training schedule
    distilled: bool  # steps also capped by the scheduler config's original_inference_steps
    # How x moves to the next noise level (see Schedule.pred_noise / fresh_noise):
    #   "carry"        the predicted noise is carried (DDIM, Euler, flow Euler: deterministic)
    #   "fresh"        fresh noise each step (LCM, Flash)
    #   "tcd"          TCD's mix: DDIM down to (1 - gamma) t_next, then fresh noise back up
    renoise: str
    karras_sigmas: bool = False  # levels come from the scheduler's sigmas (x = x0 + sigma eps), not alphas_cumprod
    forced_config: Mapping[str, Any] = field(default_factory=dict)
    help: str = ""


REGISTRY: tuple[SamplerInfo, ...] = (
    SamplerInfo("lcm", VP_FAMILIES, "LCMScheduler", False, DISTILLED_STEPS, True, "fresh",
                help="latent consistency: 1-8 steps with an LCM model or LoRA"),
    SamplerInfo("tcd", VP_FAMILIES, "TCDScheduler", False, DISTILLED_STEPS, True, "tcd",
                help="trajectory consistency distillation (TCD and Hyper-SD LoRAs)"),
    SamplerInfo("euler", VP_FAMILIES, "EulerDiscreteScheduler", False, TRAIN_TIMESTEPS, False, "carry",
                karras_sigmas=True, forced_config={"timestep_spacing": "trailing"},
                help="Euler, trailing spacing (SDXL-Lightning, Hyper-SDXL)"),
    SamplerInfo("ddim", VP_FAMILIES, "DDIMScheduler", False, TRAIN_TIMESTEPS, False, "carry",
                forced_config={"timestep_spacing": "trailing", "set_alpha_to_one": False},
                help="DDIM, trailing spacing"),
    SamplerInfo("euler", FLOW_FAMILIES, "FlowMatchEulerDiscreteScheduler", True, TRAIN_TIMESTEPS, False, "carry",
                help="flow-matching Euler: carries the predicted noise (SD3)"),
    SamplerInfo("flash", FLOW_FAMILIES, "FlowMatchEulerDiscreteScheduler", True, TRAIN_TIMESTEPS, False, "fresh",
                help="flow matching with fresh noise each step (Flash-SD3 LoRA)"),
)

VP_SAMPLERS = tuple(s.name for s in REGISTRY if not s.flow_matching)
FLOW_SAMPLERS = tuple(s.name for s in REGISTRY if s.flow_matching)
ALL_SAMPLERS = tuple(dict.fromkeys(s.name for s in REGISTRY))
# The sampler a model family gets when neither the call, its LoRA nor its own scheduler names one.
DEFAULT_SAMPLER = {"toy": "lcm", "sd": "lcm", "sdxl": "euler", "sd3": "euler"}


def samplers_for(family: str) -> tuple[str, ...]:
    """Names of the samplers a model family takes, in registry order."""
    return tuple(s.name for s in REGISTRY if family in s.families)


def sampler_for(name: str, family: str) -> SamplerInfo:
    """The entry for sampler ``name`` on ``family``; ValueError naming the choices when it does not fit."""
    for info in REGISTRY:
        if info.name == name and family in info.families:
            return info
    raise ValueError(f"sampler {name!r} does not fit {family} models: choose one of {', '.join(samplers_for(family))}")


def sampler_of_scheduler(scheduler: Any) -> str | None:
    """The registry name of a diffusers scheduler instance or class (read by class name: diffusers is not imported).

    A FlowMatchEulerDiscreteScheduler reads as "euler", the sampler a flow model's own scheduler means.
    """
    cls = scheduler if isinstance(scheduler, type) else type(scheduler)
    for klass in cls.__mro__:
        for info in REGISTRY:
            if info.scheduler_class == klass.__name__:
                return info.name
    return None


def info_of_scheduler(scheduler: Any) -> SamplerInfo | None:
    """The registry entry a diffusers scheduler instance belongs to (a flow scheduler reads as flow Euler)."""
    name = sampler_of_scheduler(scheduler)
    return next((s for s in REGISTRY if s.name == name and s.flow_matching == _flow(scheduler)), None)


def _flow(scheduler: Any) -> bool:
    cls = scheduler if isinstance(scheduler, type) else type(scheduler)
    names = {k.__name__ for k in cls.__mro__}
    return any(info.flow_matching and info.scheduler_class in names for info in REGISTRY)


def scheduler_steps_range(scheduler: Any) -> tuple[int, int]:
    """(1, most steps) a diffusers scheduler can sample with, read from its config.

    LCM and TCD stop at the distillation's ``original_inference_steps``; every sampler at ``num_train_timesteps``.
    """
    config = scheduler.config
    top = int(config.get("num_train_timesteps", TRAIN_TIMESTEPS))
    original = config.get("original_inference_steps")
    info = info_of_scheduler(scheduler)
    if info is not None and info.distilled and original:
        top = min(top, int(original))
    return 1, top


def steps_range(source: Any) -> tuple[int, int, str | None]:
    """(min, max, sampler name) of the steps a backend, a diffusers scheduler or a sampler name accepts.

    For UIs that clamp a steps slider: ``lo, hi, _ = steps_range(backend)``. A backend is asked for
    its ``steps_range()`` when it has one, else its diffusers scheduler (``scheduler`` or
    ``_scheduler`` attribute) is read; a sampler name uses the registry (the standard training schedule).
    Unknown sources get (1, 1000, None).
    """
    if isinstance(source, str):
        if source not in ALL_SAMPLERS:
            raise ValueError(f"unknown sampler {source!r}: choose one of {', '.join(VP_SAMPLERS)}")
        return 1, next(s.max_steps for s in REGISTRY if s.name == source), source
    own = getattr(source, "steps_range", None)
    if callable(own):
        return own()
    scheduler = getattr(source, "scheduler", None) or getattr(source, "_scheduler", None)
    if scheduler is not None and hasattr(scheduler, "config"):
        return (*scheduler_steps_range(scheduler), sampler_of_scheduler(scheduler))
    if hasattr(source, "config") and hasattr(source, "set_timesteps"):
        return (*scheduler_steps_range(source), sampler_of_scheduler(source))
    return 1, TRAIN_TIMESTEPS, None


def steps_menu(source: Any, choices: tuple[int, ...]) -> list[int]:
    """The entries of a steps menu (``choices``) that a backend, scheduler or sampler name can take."""
    lo, hi, _ = steps_range(source)
    return [n for n in choices if lo <= n <= hi]
