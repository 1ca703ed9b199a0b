"""Turn a model spec into a Backend.

A spec is one of:
  "toy"                      the offline teaching model
  a local diffusers folder   (model_index.json inside) of an SD1.x/2.x, SDXL or SD3 pipeline
  a .safetensors file        single-file checkpoint (pass config= a local diffusers folder when offline)
  a hub id "owner/name"      loaded from the local Hugging Face cache, downloaded only when online

The family (sd, sdxl, sd3) is read from model_index.json (or the checkpoint's tensor names) and can be
forced with ``family=``. Safety: weights are read from safetensors only; a pickle checkpoint
(.ckpt/.bin/.pt/.pth) is refused unless ``allow_pickle=True``, and a folder that ships its own Python code
is refused (remote code never runs). Every failure is a ModelLoadError that keeps the real cause and says
what to do next for that cause.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..fields import FAMILIES, LORA_SCALE_LIMITS  # noqa: F401  (re-exported)
from ..samplers import ALL_SAMPLERS, DEFAULT_SAMPLER, sampler_of_scheduler, samplers_for  # noqa: F401
from ..validation import check_field
from .base import Backend, pick_device, pick_dtype
from .errors import ModelLoadError, ModelNotAvailableOffline
from .families import (FAMILY_NAMES, check_family, components, family_of_checkpoint_keys,  # noqa: F401
                       family_of_file, family_of_index, read_model_index)
from .hub import (cached_snapshot, download_command, hub_kwargs, hub_offline, hub_reachable,  # noqa: F401
                  looks_like_hub_id, offline_error)
from .lora import LORA_ALIASES, fuse_lora, precheck_lora  # noqa: F401
from .safety import PICKLE_SUFFIXES, refuse_custom_code, refuse_oversized_configs, refuse_pickled_components
from .sanity import check_finite_weights, check_scheduler_config, check_vae_config
from .vae import dtype_kwarg, load_vae

__all__ = ["ModelLoadError", "ModelNotAvailableOffline", "load_backend", "download_command", "family_of_index",
           "family_of_checkpoint_keys", "FAMILIES", "FAMILY_NAMES", "LORA_ALIASES", "PICKLE_SUFFIXES", "ALL_SAMPLERS"]

_PIPELINE_CLASS = {"sd": "StableDiffusionPipeline", "sdxl": "StableDiffusionXLPipeline",
                   "sd3": "StableDiffusion3Pipeline"}
_family_of_file = family_of_file  # the name it had here (tests and notebooks import it)
_looks_like_hub_id = looks_like_hub_id


@dataclass(frozen=True)
class LoadOptions:
    device: torch.device
    dtype: torch.dtype
    sampler: str | None
    lora: str | None
    lora_scale: float
    tiny_vae: str | None
    vae: str | None
    family: str | None
    allow_pickle: bool
    t5: bool


def load_backend(spec: str | os.PathLike = "toy", *, device: str | torch.device = "auto",
                 dtype: torch.dtype | str | None = None, sampler: str | None = None, lora: str | None = None,
                 lora_scale: float = 1.0, tiny_vae: str | None = None, vae: str | None = None,
                 config: str | os.PathLike | None = None, family: str | None = None, allow_pickle: bool = False,
                 t5: bool = False, compile: bool = False, token: str | None = None) -> Backend:
    """Load a model family behind the Backend protocol (see the module docstring for specs).

    sampler: "lcm", "tcd", "euler" or "ddim" for SD1.x/2.x and SDXL; "euler" or "flash" for SD3. None
    keeps the model's own scheduler family (or the one the named LoRA is made for).
    lora: a nickname (sd: lcm, tcd, hyper-sd; sdxl: lcm, tcd, lightning, hyper-sd; sd3: flash), a hub id,
    a local .safetensors file or folder, fused at `lora_scale`.
    tiny_vae: a TAESD/TAESDXL/TAESD3 folder or hub id for cheap encode/decode; vae: a replacement full VAE
    (e.g. "madebyollin/sdxl-vae-fp16-fix"). family: "sd", "sdxl" or "sd3" to override detection.
    allow_pickle: load .ckpt/.bin/.pt weights (they can run code when unpickled: only for trusted files).
    t5: load SD3's T5 text encoder (off by default: it needs ~10 GB).
    compile: on CUDA, capture the denoiser and decoder calls as CUDA graphs once per shape
    (backends/acceleration.py), after any LoRA is fused; no effect elsewhere.
    "http://HOST:PORT" connects to a shared engine (``semanticdraw serve``; serve/client.py) with
    ``token`` (default: $SEMANTICDRAW_TOKEN); the engine chooses the model and its options.
    """
    # The field table's rules (fields.py): "no" is truthy, so only True/False are taken; lora_scale is finite.
    allow_pickle, t5, compile = (check_field(name, value) for name, value in
                                 (("allow_pickle", allow_pickle), ("t5", t5), ("compile", compile)))
    lora_scale = check_field("lora_scale", lora_scale)
    if isinstance(spec, str) and spec.startswith(("http://", "https://")):
        from ..serve.client import load_remote_backend

        return load_remote_backend(spec, token, device=device, dtype=dtype, sampler=sampler, lora=lora,
                                   lora_scale=lora_scale, tiny_vae=tiny_vae, vae=vae, config=config, family=family,
                                   allow_pickle=allow_pickle, t5=t5, compile=compile)
    if token is not None:
        raise ValueError("token= is for a shared engine's URL (load_backend('http://HOST:PORT', token=...)), "
                         f"not for the model spec {spec!r}")
    if compile:
        from .acceleration import accelerate_backend

        return accelerate_backend(load_backend(spec, device=device, dtype=dtype, sampler=sampler, lora=lora,
                                               lora_scale=lora_scale, tiny_vae=tiny_vae, vae=vae, config=config,
                                               family=family, allow_pickle=allow_pickle, t5=t5))
    if not isinstance(spec, (str, os.PathLike)):
        raise TypeError(f"model spec must be a string or path, got {type(spec).__name__}")
    text = os.fspath(spec)
    if not text.strip():
        raise ModelLoadError("model spec is empty: pass 'toy', a local diffusers folder, a .safetensors file "
                             "or a hub id such as 'SimianLuo/LCM_Dreamshaper_v7'")
    sampler = check_field("sampler", sampler)
    family = check_field("family", family)
    device_ = pick_device(device)  # fails at once for an unknown or unavailable device
    if text == "toy":
        return _load_toy(device_, dtype=dtype, sampler=sampler, lora=lora, tiny_vae=tiny_vae, vae=vae,
                         config=config, family=family, t5=t5)
    if lora is not None:
        precheck_lora(lora, bool(allow_pickle))  # before loading gigabytes of model
    options = LoadOptions(device=device_, dtype=pick_dtype(device_, dtype), sampler=sampler, lora=lora,
                          lora_scale=float(lora_scale), tiny_vae=tiny_vae, vae=vae, family=family,
                          allow_pickle=bool(allow_pickle), t5=bool(t5))
    path = Path(text).expanduser()
    if path.is_dir():
        return _load_folder(path, options, origin="folder")
    if path.is_file():
        return _load_single_file(path, None if config is None else Path(config).expanduser(), options)
    if text.endswith((".safetensors",) + PICKLE_SUFFIXES) or os.sep in text.strip("/") and text.startswith(
            (".", "/", "~")):
        raise ModelLoadError(f"model file or folder {text!r} does not exist; check the path")
    if looks_like_hub_id(text):
        return _load_hub(text, options)
    raise ModelLoadError(
        f"unknown model spec {text!r}: use 'toy', a local diffusers folder, a .safetensors file, "
        f"or a hub id such as 'SimianLuo/LCM_Dreamshaper_v7'")


def _load_toy(device: torch.device, *, dtype: Any, sampler: str | None, **ignored: Any) -> Backend:
    """The toy model is exact float32 maths with no weights: options it cannot honour are refused."""
    from .toy import ToyBackend

    given = [name for name, value in ignored.items() if value not in (None, False)]
    if dtype is not None and pick_dtype(device, dtype) != torch.float32:
        given.insert(0, "dtype")
    if given:
        raise ValueError(f"the toy model does not take {', '.join(given)} (it is float32 maths with no weights, "
                         f"VAE or text encoder): drop {' and '.join(given)}, or load a diffusers model")
    if sampler is not None and sampler not in samplers_for("toy"):
        raise ValueError(f"the toy model has samplers {', '.join(samplers_for('toy'))}, not {sampler!r}")
    return ToyBackend(device=device, sampler=sampler or "lcm")


# --- loaders ------------------------------------------------------------------------------------------

def _load_folder(folder: Path, options: LoadOptions, *, origin: str) -> Backend:
    """A local diffusers folder (origin 'folder') or a cached hub snapshot (origin 'hub:<id>')."""
    index = read_model_index(folder, origin)
    refuse_custom_code(folder, index)
    refuse_oversized_configs(folder)
    listed = ", ".join(sorted(components(index))) or "no components"
    family = check_family(family_of_index(index), options.family, repr(str(folder)), f"components: {listed}")
    refuse_pickled_components(folder, index, options.allow_pickle)
    return _from_pretrained(str(folder), family, options, origin=origin)


def _load_hub(repo_id: str, options: LoadOptions) -> Backend:
    snapshot = cached_snapshot(repo_id)
    if snapshot is not None:
        return _load_folder(snapshot, options, origin=f"hub:{repo_id}")
    if hub_offline() or not hub_reachable():
        raise offline_error("model", repo_id)
    from huggingface_hub import hf_hub_download

    try:  # look before downloading gigabytes: family and custom code from model_index.json alone
        index_file = Path(hf_hub_download(repo_id, "model_index.json"))
    except Exception as error:
        raise ModelLoadError(f"could not fetch model_index.json of hub model {repo_id!r}: {error}. Check the id "
                             f"(a diffusers pipeline repository), your network and, for gated models, "
                             f"`hf auth login`") from error
    index = read_model_index(index_file.parent, f"hub:{repo_id}")
    refuse_custom_code(index_file.parent, index)
    family = check_family(family_of_index(index), options.family, repr(repo_id), "hub repository")
    return _from_pretrained(repo_id, family, options, origin=f"hub:{repo_id}")


def _pipeline_class(family: str) -> Any:
    import diffusers

    return getattr(diffusers, _PIPELINE_CLASS[family])


def _family_kwargs(family: str, options: LoadOptions) -> dict[str, Any]:
    kwargs: dict[str, Any] = {**dtype_kwarg(options.dtype)}
    if family == "sd":
        kwargs.update(safety_checker=None, requires_safety_checker=False)
    if family == "sd3" and not options.t5:
        kwargs.update(text_encoder_3=None, tokenizer_3=None)
    return kwargs


def _from_pretrained(source: str, family: str, options: LoadOptions, *, origin: str) -> Backend:
    kwargs = _family_kwargs(family, options)
    kwargs.update(use_safetensors=None if options.allow_pickle else True, trust_remote_code=False)
    if origin == "folder" or origin.startswith("hub:") and Path(source).is_dir():
        kwargs["local_files_only"] = True
    try:
        pipe = _pipeline_class(family).from_pretrained(source, **kwargs)
    except ModelLoadError:
        raise
    except Exception as error:  # diffusers raises OSError/ValueError/EnvironmentError variants here
        raise ModelLoadError(_load_failure(source, family, origin, error)) from error
    return _build(pipe, family, options)


def _load_failure(source: str, family: str, origin: str, error: Exception) -> str:
    cause = f"{type(error).__name__}: {error}"
    if origin == "folder":
        return (f"could not load the {FAMILY_NAMES[family]} folder {source!r}: {cause}. The folder is incomplete "
                f"or damaged: re-save it with pipeline.save_pretrained(folder) or copy the missing files")
    repo_id = origin[4:]
    if Path(source).is_dir():
        return (f"the cached copy of {repo_id!r} could not be loaded: {cause}. It is probably incomplete: "
                f"fetch it again with `{download_command(repo_id)}`")
    return f"could not load hub model {repo_id!r}: {cause}"


def _load_single_file(path: Path, config: Path | None, options: LoadOptions) -> Backend:
    if path.suffix in PICKLE_SUFFIXES and not options.allow_pickle:
        raise ModelLoadError(f"{str(path)!r} is a pickle checkpoint ({path.suffix}); unpickling can run arbitrary "
                             f"code. Use a .safetensors file, or pass allow_pickle=True if you trust its source")
    if path.suffix != ".safetensors" and path.suffix not in PICKLE_SUFFIXES:
        raise ModelLoadError(f"{str(path)!r} is a file but not a .safetensors checkpoint")
    detected = family_of_file(path) if path.suffix == ".safetensors" else None
    where = repr(str(path))
    if config is not None:
        if not config.is_dir():
            raise ModelLoadError(f"config={str(config)!r} is not a folder: pass a local diffusers folder of the "
                                 f"same model family as the checkpoint")
        config_family = family_of_index(read_model_index(config, "folder"))
        if detected is not None and config_family is not None and config_family != detected:
            raise ModelLoadError(f"{where} is an {FAMILY_NAMES[detected]} checkpoint but config={str(config)!r} is "
                                 f"an {FAMILY_NAMES[config_family]} folder: pass a config folder of the same family")
        detected = detected or config_family
    family = check_family(detected, options.family, where, "unrecognised tensor names")
    kwargs = _family_kwargs(family, options)
    if config is not None:
        kwargs["config"] = str(config)
    if hub_offline() or config is None and not hub_reachable():
        kwargs["local_files_only"] = True
    try:
        pipe = _pipeline_class(family).from_single_file(str(path), **kwargs)
    except Exception as error:
        hint = ("Offline, a single file needs its architecture: pass config='<local diffusers folder of the same "
                "model family>'" if config is None else
                "Check that the checkpoint and config= are the same model (family and size)")
        raise ModelLoadError(f"could not load single-file checkpoint {where}: {type(error).__name__}: {error}. "
                             f"{hint}") from error
    return _build(pipe, family, options)


def _build(pipe: Any, family: str, options: LoadOptions) -> Backend:
    from .sd import StableDiffusionBackend
    from .sd3 import StableDiffusion3Backend
    from .sdxl import StableDiffusionXLBackend

    backend_class = {"sd": StableDiffusionBackend, "sdxl": StableDiffusionXLBackend,
                     "sd3": StableDiffusion3Backend}[family]
    lora_sampler = fuse_lora(pipe, options.lora, options.lora_scale, family, options.allow_pickle) if options.lora else None
    if options.lora:
        for name in ("unet", "transformer", "text_encoder", "text_encoder_2"):
            if isinstance(getattr(pipe, name, None), torch.nn.Module):
                check_finite_weights(getattr(pipe, name), f"LoRA {options.lora!r}")
    own = sampler_of_scheduler(pipe.scheduler)
    fitting = samplers_for(family)  # the sampler registry's entries for this family
    chosen = options.sampler or lora_sampler or (own if own in fitting else None) \
        or DEFAULT_SAMPLER[family]
    if chosen not in fitting:
        raise ValueError(f"sampler {chosen!r} does not fit {FAMILY_NAMES[family]} models: choose one of "
                         f"{', '.join(fitting)}")
    parts = dict(pipe.components)
    if options.vae:
        parts["vae"] = load_vae(options.vae, "AutoencoderKL", options.dtype)
    tiny = load_vae(options.tiny_vae, "AutoencoderTiny", options.dtype) if options.tiny_vae else None
    check_vae_config(parts["vae"].config, f"the {FAMILY_NAMES[family]} model's VAE")
    check_scheduler_config(pipe.scheduler.config, f"the {FAMILY_NAMES[family]} model's scheduler")
    return backend_class(parts, sampler=chosen, device=options.device, dtype=options.dtype,
                         scheduler_config=dict(pipe.scheduler.config), tiny_vae=tiny,
                         pipeline_config=dict(pipe.config))
