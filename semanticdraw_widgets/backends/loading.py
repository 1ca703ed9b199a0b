"""Turn a model spec into a Backend.

A spec is one of:
  "toy"                      the offline teaching model
  a local diffusers folder   (model_index.json inside)
  a .safetensors/.ckpt file  single-file checkpoint (pass config= a local diffusers folder when offline)
  a hub id "owner/name"      loaded from the local Hugging Face cache, downloaded only when online
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch

from .base import Backend, pick_device, pick_dtype
from .schedules import SAMPLERS

# Few-step LoRAs by nickname: (hub id, weight file or None, sampler they are meant for).
LORA_ALIASES: dict[str, tuple[str, str | None, str]] = {
    "lcm": ("latent-consistency/lcm-lora-sdv1-5", None, "lcm"),
    "tcd": ("h1t/TCD-SD15-LoRA", None, "tcd"),
    "hyper-sd": ("ByteDance/Hyper-SD", "Hyper-SD15-1step-lora.safetensors", "tcd"),
}
_SAMPLER_BY_SCHEDULER = {"LCMScheduler": "lcm", "TCDScheduler": "tcd", "EulerDiscreteScheduler": "euler",
                         "DDIMScheduler": "ddim"}


class ModelLoadError(RuntimeError):
    """A model spec could not be turned into a backend; the message says what to do."""


class ModelNotAvailableOffline(ModelLoadError):
    """A hub model is not in the local cache and the hub cannot be reached."""


def dtype_kwarg(dtype: torch.dtype) -> dict[str, torch.dtype]:
    """diffusers renamed torch_dtype to dtype; pass the spelling this version expects."""
    import diffusers

    major, minor = (int(part) for part in diffusers.__version__.split(".")[:2])
    return {"dtype": dtype} if (major, minor) >= (0, 40) else {"torch_dtype": dtype}


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def hub_reachable(timeout: float = 3.0) -> bool:
    """One quick TCP connect to the hub endpoint, so an unreachable hub fails in seconds, not after retries."""
    from huggingface_hub import constants

    endpoint = urlparse(constants.ENDPOINT)
    try:
        with socket.create_connection((endpoint.hostname, endpoint.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


def _offline_error(what: str, spec: str) -> ModelNotAvailableOffline:
    return ModelNotAvailableOffline(
        f"{what} {spec!r} is not in the local Hugging Face cache and the hub cannot be reached "
        f"(HF_HUB_OFFLINE={os.environ.get('HF_HUB_OFFLINE', '')!r}). Download it on a machine with internet "
        f"(`huggingface-cli download {spec}`) and copy the cache, pass a local diffusers folder instead, "
        f"or use load_backend('toy') for the offline teaching model.")


def _hub_kwargs(spec: str, what: str) -> dict[str, Any]:
    """local_files_only when offline; fail fast when the hub is down and the model is not cached."""
    from huggingface_hub import snapshot_download

    try:
        snapshot_download(spec, local_files_only=True)
        return {"local_files_only": True}
    except Exception:  # not cached (LocalEntryNotFoundError) or an invalid id: decide below
        pass
    if hub_offline() or not hub_reachable():
        raise _offline_error(what, spec)
    return {}


def load_backend(spec: str | os.PathLike = "toy", *, device: str | torch.device = "auto",
                 dtype: torch.dtype | str | None = None, sampler: str | None = None, lora: str | None = None,
                 lora_scale: float = 1.0, tiny_vae: str | None = None, config: str | None = None,
                 compile: bool = False) -> Backend:
    """Load a model family behind the Backend protocol (see the module docstring for specs).

    sampler: "lcm", "tcd", "euler" or "ddim"; None keeps the model's own scheduler family (or the one
    the named LoRA is made for). lora: a nickname (lcm, tcd, hyper-sd), hub id or local file, fused
    at `lora_scale`. tiny_vae: a TAESD folder or hub id for cheap encode/decode. compile: on CUDA, capture
    the denoiser and decoder calls as CUDA graphs once per shape (backends/acceleration.py); no effect elsewhere.
    """
    if compile:  # gpufast hook: accelerate the finished backend (after any LoRA is fused)
        from .acceleration import accelerate_backend

        return accelerate_backend(load_backend(spec, device=device, dtype=dtype, sampler=sampler, lora=lora,
                                               lora_scale=lora_scale, tiny_vae=tiny_vae, config=config))
    if sampler is not None and sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}: choose one of {', '.join(SAMPLERS)}")
    if not isinstance(spec, (str, os.PathLike)):
        raise TypeError(f"model spec must be a string or path, got {type(spec).__name__}")
    text = os.fspath(spec)
    if text == "toy":
        from .toy import ToyBackend

        return ToyBackend(device=device, sampler=sampler or "lcm")
    path = Path(text).expanduser()
    device_ = pick_device(device)
    dtype_ = pick_dtype(device_, dtype)
    if path.is_dir():
        return _load_diffusers(str(path), {}, device_, dtype_, sampler, lora, lora_scale, tiny_vae)
    if path.is_file():
        return _load_single_file(path, config, device_, dtype_, sampler, lora, lora_scale, tiny_vae)
    if text.endswith((".safetensors", ".ckpt")) or os.sep in text.strip("/") and text.startswith((".", "/", "~")):
        raise ModelLoadError(f"model file or folder {text!r} does not exist; check the path")
    if _looks_like_hub_id(text):
        return _load_diffusers(text, _hub_kwargs(text, "model"), device_, dtype_, sampler, lora, lora_scale, tiny_vae)
    raise ModelLoadError(
        f"unknown model spec {text!r}: use 'toy', a local diffusers folder, a .safetensors file, "
        f"or a hub id such as 'SimianLuo/LCM_Dreamshaper_v7'")


def _looks_like_hub_id(text: str) -> bool:
    parts = text.split("/")
    return len(parts) == 2 and all(p and not p.startswith(".") and " " not in p for p in parts)


def _family(model_index: dict[str, Any]) -> str:
    if "transformer" in model_index:
        return "sd3"
    if "text_encoder_2" in model_index:
        return "sdxl"
    if all(k in model_index for k in ("unet", "text_encoder", "tokenizer", "vae")):
        return "sd"
    return "unknown"


def _load_diffusers(spec: str, hub_kwargs: dict[str, Any], device: torch.device, dtype: torch.dtype,
                    sampler: str | None, lora: str | None, lora_scale: float, tiny_vae: str | None) -> Backend:
    from diffusers import DiffusionPipeline

    if Path(spec).is_dir():
        index_file = Path(spec) / "model_index.json"
        if not index_file.is_file():
            raise ModelLoadError(f"{spec!r} is not a diffusers model folder (no model_index.json); "
                                 f"save one with pipeline.save_pretrained(folder)")
        _check_family(json.loads(index_file.read_text()), spec)
    try:
        pipe = DiffusionPipeline.from_pretrained(spec, **dtype_kwarg(dtype), safety_checker=None,
                                                 requires_safety_checker=False, **hub_kwargs)
    except ModelLoadError:
        raise
    except Exception as error:  # diffusers raises OSError/ValueError/EnvironmentError variants here
        if hub_kwargs.get("local_files_only") or hub_offline():
            raise _offline_error("model", spec) from error
        raise ModelLoadError(f"could not load diffusers model {spec!r}: {error}") from error
    _check_family({name: None for name in pipe.components}, spec)
    return _build_sd(pipe, device, dtype, sampler, lora, lora_scale, tiny_vae)


def _check_family(model_index: dict[str, Any], spec: str) -> None:
    family = _family(model_index)
    if family in ("sdxl", "sd3"):
        raise ModelLoadError(f"{spec!r} is an {family.upper()} model; this version supports SD1.x/2.x models "
                             f"and the toy model (SDXL and SD3 backends are planned)")
    if family != "sd":
        raise ModelLoadError(f"{spec!r} is not a Stable Diffusion 1.x/2.x pipeline "
                             f"(components: {', '.join(sorted(model_index)) or 'none'})")


def _load_single_file(path: Path, config: str | None, device: torch.device, dtype: torch.dtype,
                      sampler: str | None, lora: str | None, lora_scale: float, tiny_vae: str | None) -> Backend:
    from diffusers import StableDiffusionPipeline

    if path.suffix not in (".safetensors", ".ckpt"):
        raise ModelLoadError(f"{str(path)!r} is a file but not a .safetensors/.ckpt checkpoint")
    kwargs: dict[str, Any] = {**dtype_kwarg(dtype), "safety_checker": None, "requires_safety_checker": False}
    if config is not None:
        kwargs["config"] = config
    if hub_offline() or config is None and not hub_reachable():
        kwargs["local_files_only"] = True
    try:
        pipe = StableDiffusionPipeline.from_single_file(str(path), **kwargs)
    except Exception as error:
        raise ModelLoadError(
            f"could not load single-file checkpoint {str(path)!r}: {error}. Offline, a single file needs its "
            f"architecture: pass config='<local diffusers folder of the same model family>'") from error
    return _build_sd(pipe, device, dtype, sampler, lora, lora_scale, tiny_vae)


def _build_sd(pipe: Any, device: torch.device, dtype: torch.dtype, sampler: str | None, lora: str | None,
              lora_scale: float, tiny_vae: str | None) -> Backend:
    from .sd import StableDiffusionBackend

    lora_sampler = None
    if lora is not None:
        lora_sampler = _fuse_lora(pipe, lora, lora_scale)
    own = _SAMPLER_BY_SCHEDULER.get(type(pipe.scheduler).__name__)
    chosen = sampler or lora_sampler or own or "lcm"
    return StableDiffusionBackend(pipe.components, sampler=chosen, device=device, dtype=dtype,
                                  scheduler_config=dict(pipe.scheduler.config),
                                  tiny_vae=_load_tiny_vae(tiny_vae, dtype) if tiny_vae else None)


def _fuse_lora(pipe: Any, lora: str, scale: float) -> str | None:
    """Load a LoRA, fuse it into the weights (no per-call adapter cost) and return its intended sampler."""
    source, weight_name, lora_sampler = LORA_ALIASES.get(lora, (lora, None, None))
    kwargs: dict[str, Any] = {}
    local = Path(source).expanduser()
    if local.is_file():
        source, weight_name = str(local.parent), local.name
    elif not local.is_dir():
        if not _looks_like_hub_id(source):
            raise ModelLoadError(f"LoRA {lora!r} is neither a file, a folder, a hub id nor one of "
                                 f"{', '.join(LORA_ALIASES)}")
        kwargs.update(_hub_kwargs(source, "LoRA"))
    if weight_name:
        kwargs["weight_name"] = weight_name
    try:
        pipe.load_lora_weights(source, **kwargs)
        pipe.fuse_lora(lora_scale=scale)
        pipe.unload_lora_weights()
    except ImportError as error:
        raise ModelLoadError("loading a LoRA needs the peft package: pip install peft") from error
    except Exception as error:
        raise ModelLoadError(f"could not load LoRA {lora!r}: {error}") from error
    return lora_sampler


def _load_tiny_vae(spec: str, dtype: torch.dtype) -> Any:
    from diffusers import AutoencoderTiny

    kwargs = {} if Path(spec).expanduser().is_dir() else _hub_kwargs(spec, "tiny VAE")
    try:
        return AutoencoderTiny.from_pretrained(spec, **dtype_kwarg(dtype), **kwargs)
    except Exception as error:
        raise ModelLoadError(f"could not load tiny VAE {spec!r}: {error}") from error
