"""Numbers a model folder or LoRA can carry that make every picture black without a word.

A NaN or huge ``lora_scale`` is refused by the field table; these checks cover what comes from files:
the VAE's latent scaling, the noise schedule's betas or flow shift, and weights that a LoRA fused
into non-finite values. Each failure is a ModelLoadError naming the file's field and what to do.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import torch

from .errors import ModelLoadError

__all__ = ["check_vae_config", "check_scheduler_config", "check_finite_weights"]


def _number(config: Mapping[str, Any], key: str) -> Any:
    return config.get(key) if hasattr(config, "get") else getattr(config, key, None)


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def check_vae_config(config: Mapping[str, Any], where: str) -> None:
    """scaling_factor must be a finite positive number, shift_factor finite (when given)."""
    scaling = _number(config, "scaling_factor")
    if scaling is not None and not (_finite(scaling) and float(scaling) > 0):
        raise ModelLoadError(f"{where}: the VAE's scaling_factor is {scaling!r}, not a finite positive number "
                             "(SD1.5 uses 0.18215); fix vae/config.json or fetch the model again")
    shift = _number(config, "shift_factor")
    if shift is not None and not _finite(shift):
        raise ModelLoadError(f"{where}: the VAE's shift_factor is {shift!r}, not a finite number; fix "
                             "vae/config.json or fetch the model again")


def check_scheduler_config(config: Mapping[str, Any], where: str) -> None:
    """Betas must lie in (0, 1) (else alphas_cumprod leaves (0, 1]); a flow shift must be finite and positive."""
    betas = [_number(config, "beta_start"), _number(config, "beta_end")]
    trained = _number(config, "trained_betas")
    if trained is not None:
        betas = list(trained) if isinstance(trained, (list, tuple)) else [trained]
    for beta in betas:
        if beta is not None and not (_finite(beta) and 0.0 < float(beta) < 1.0):
            raise ModelLoadError(f"{where}: the scheduler's betas must lie between 0 and 1, found {beta!r}; fix "
                                 "scheduler/scheduler_config.json or fetch the model again")
    shift = _number(config, "shift")
    if shift is not None and not (_finite(shift) and float(shift) > 0):
        raise ModelLoadError(f"{where}: the scheduler's shift is {shift!r}, not a finite positive number; fix "
                             "scheduler/scheduler_config.json or fetch the model again")


def check_finite_weights(module: torch.nn.Module, what: str) -> None:
    """Every floating-point parameter finite (run once after fusing a LoRA, which can bring in NaN)."""
    for name, parameter in module.named_parameters():
        if parameter.is_floating_point() and not bool(torch.isfinite(parameter).all()):
            raise ModelLoadError(f"{what}: after fusing, the weight {name} holds NaN or infinite values; the "
                                 "LoRA file is damaged or lora_scale too large: fetch it again or lower lora_scale")
