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

import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch

from .base import Backend, pick_device, pick_dtype
from .schedules import SAMPLERS
from .sd3 import FLOW_SAMPLERS

FAMILIES = ("sd", "sdxl", "sd3")
FAMILY_NAMES = {"sd": "SD1.x/2.x", "sdxl": "SDXL", "sd3": "SD3"}  # read with "an": an SD.., an SDXL..
_PIPELINE_CLASS = {"sd": "StableDiffusionPipeline", "sdxl": "StableDiffusionXLPipeline",
                   "sd3": "StableDiffusion3Pipeline"}
ALL_SAMPLERS = tuple(dict.fromkeys(SAMPLERS + FLOW_SAMPLERS))
PICKLE_SUFFIXES = (".ckpt", ".bin", ".pt", ".pth", ".pkl")

# Few-step LoRAs by nickname, per family: (hub id, weight file or None, sampler they are meant for).
LORA_ALIASES: dict[str, dict[str, tuple[str, str | None, str]]] = {
    "sd": {
        "lcm": ("latent-consistency/lcm-lora-sdv1-5", None, "lcm"),
        "tcd": ("h1t/TCD-SD15-LoRA", None, "tcd"),
        "hyper-sd": ("ByteDance/Hyper-SD", "Hyper-SD15-1step-lora.safetensors", "tcd"),
    },
    "sdxl": {
        "lcm": ("latent-consistency/lcm-lora-sdxl", None, "lcm"),
        "tcd": ("h1t/TCD-SDXL-LoRA", None, "tcd"),
        "lightning": ("ByteDance/SDXL-Lightning", "sdxl_lightning_4step_lora.safetensors", "euler"),
        "hyper-sd": ("ByteDance/Hyper-SD", "Hyper-SDXL-4steps-lora.safetensors", "tcd"),
    },
    "sd3": {
        "flash": ("jasperai/flash-sd3", None, "flash"),
    },
}
_SAMPLER_BY_SCHEDULER = {"LCMScheduler": "lcm", "TCDScheduler": "tcd", "EulerDiscreteScheduler": "euler",
                         "DDIMScheduler": "ddim", "FlowMatchEulerDiscreteScheduler": "euler"}
_DEFAULT_SAMPLER = {"sd": "lcm", "sdxl": "euler", "sd3": "euler"}
_SAFE_LIBRARIES = {"diffusers", "transformers", None}


class ModelLoadError(RuntimeError):
    """A model spec could not be turned into a backend; the message says what to do."""


class ModelNotAvailableOffline(ModelLoadError):
    """A hub model is not in the local cache and the hub cannot be reached."""


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


def download_command(repo_id: str) -> str:
    """The shell command that fetches a hub repository with the installed huggingface_hub."""
    return f"hf download {repo_id}"  # the `hf` CLI replaced `huggingface-cli` in huggingface_hub 0.34


def _offline_error(what: str, spec: str) -> ModelNotAvailableOffline:
    return ModelNotAvailableOffline(
        f"{what} {spec!r} is not in the local Hugging Face cache and the hub cannot be reached "
        f"(HF_HUB_OFFLINE={os.environ.get('HF_HUB_OFFLINE', '')!r}). Download it on a machine with internet "
        f"(`{download_command(spec)}`) and copy the cache, pass a local diffusers folder instead, "
        f"or use load_backend('toy') for the offline teaching model.")


def _cached_snapshot(spec: str) -> Path | None:
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(spec, local_files_only=True))
    except Exception:  # not cached (LocalEntryNotFoundError) or an invalid id
        return None


def _hub_kwargs(spec: str, what: str) -> dict[str, Any]:
    """local_files_only when cached; fail fast when the hub is down and the model is not cached."""
    if _cached_snapshot(spec) is not None:
        return {"local_files_only": True}
    if hub_offline() or not hub_reachable():
        raise _offline_error(what, spec)
    return {}


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
    if sampler is not None and sampler not in ALL_SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}: choose one of {', '.join(ALL_SAMPLERS)}")
    if family is not None and family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}: choose one of {', '.join(FAMILIES)} (or None to detect it)")
    device_ = pick_device(device)  # fails at once for an unknown or unavailable device
    if text == "toy":
        return _load_toy(device_, dtype=dtype, sampler=sampler, lora=lora, tiny_vae=tiny_vae, vae=vae,
                         config=config, family=family, t5=t5)
    if lora is not None:
        _precheck_lora(lora, bool(allow_pickle))  # before loading gigabytes of model
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
    if _looks_like_hub_id(text):
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
    if sampler is not None and sampler not in SAMPLERS:
        raise ValueError(f"the toy model has samplers {', '.join(SAMPLERS)}, not {sampler!r}")
    return ToyBackend(device=device, sampler=sampler or "lcm")


def _looks_like_hub_id(text: str) -> bool:
    parts = text.split("/")
    return len(parts) == 2 and all(p and not p.startswith(".") and " " not in p for p in parts)


# --- family detection -------------------------------------------------------------------------------

def _components(model_index: dict[str, Any]) -> set[str]:
    """Names of the components a model_index.json lists (entries [library, class]; others are settings)."""
    return {k for k, v in model_index.items() if not k.startswith("_") and isinstance(v, list)
            and len(v) == 2 and v[0] is not None}


def family_of_index(model_index: dict[str, Any]) -> str | None:
    """sd / sdxl / sd3 from a model_index.json's components, or None for anything else."""
    model_index = _components(model_index)
    if "transformer" in model_index and "text_encoder_2" in model_index:
        return "sd3"
    if "transformer" in model_index:
        return None  # another transformer family (PixArt, Flux, ...)
    if "text_encoder_2" in model_index and "unet" in model_index:
        return "sdxl"
    if all(k in model_index for k in ("unet", "text_encoder", "tokenizer", "vae")):
        return "sd"
    return None


def family_of_checkpoint_keys(keys: set[str]) -> str | None:
    """sd / sdxl / sd3 from the tensor names of an original-format single-file checkpoint."""
    if any(k.startswith("model.diffusion_model.joint_blocks.") for k in keys):
        return "sd3"
    if any(k.startswith(("conditioner.embedders.1.", "model.diffusion_model.label_emb.")) for k in keys):
        return "sdxl"
    if any(k.startswith(("cond_stage_model.", "model.diffusion_model.input_blocks.")) for k in keys):
        return "sd"
    return None


def _read_model_index(folder: Path, origin: str) -> dict[str, Any]:
    index_file = folder / "model_index.json"
    if not index_file.is_file():
        singles = sorted(p.name for p in folder.glob("*.safetensors"))
        hint = (f"; it holds {', '.join(singles[:3])}: pass that file instead" if singles
                else ": save one with pipeline.save_pretrained(folder)")
        raise ModelLoadError(f"{str(folder)!r} is not a diffusers model folder (no model_index.json){hint}")
    try:
        index = json.loads(index_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelLoadError(f"{str(index_file)!r} is not valid UTF-8 JSON ({error}); "
                             f"{_refetch_hint(folder, origin)}") from None
    if not isinstance(index, dict):
        raise ModelLoadError(f"{str(index_file)!r} must hold a JSON object of components, got "
                             f"{type(index).__name__}; {_refetch_hint(folder, origin)}")
    return index


def _refetch_hint(folder: Path, origin: str) -> str:
    if origin.startswith("hub:"):
        return f"the cached copy is damaged: fetch it again with `{download_command(origin[4:])} --force-download`"
    return "re-save the model with pipeline.save_pretrained(folder) or copy the folder again"


def _refuse_custom_code(folder: Path, index: dict[str, Any]) -> None:
    """A pipeline that names its own Python classes would run them: refuse, whatever the source."""
    import diffusers

    reasons = []
    class_name = index.get("_class_name")
    if isinstance(class_name, list) or (isinstance(class_name, str) and not hasattr(diffusers, class_name)):
        reasons.append(f"_class_name {class_name!r} is not a diffusers pipeline")
    for name, entry in index.items():
        if name.startswith("_"):
            continue
        if isinstance(entry, dict):
            raise ModelLoadError(f"{str(folder / 'model_index.json')!r}: entry {name!r} must be [library, class] "
                                 f"or a plain value, got {entry!r}; re-save the model with "
                                 f"pipeline.save_pretrained(folder)")
        if isinstance(entry, list) and (len(entry) != 2 or entry[0] not in _SAFE_LIBRARIES):
            reasons.append(f"component {name!r} is {entry!r}")
    code = sorted(str(p.relative_to(folder)) for p in folder.glob("*.py")) + sorted(
        str(p.relative_to(folder)) for p in folder.glob("*/*.py"))
    if code:
        reasons.append(f"it ships Python code ({', '.join(code[:3])})")
    if reasons:
        raise ModelLoadError(f"{str(folder)!r} contains custom code ({'; '.join(reasons)}); semanticdraw never "
                             f"runs model code from a model folder or the hub. Use a standard diffusers "
                             f"SD1.x/2.x, SDXL or SD3 pipeline saved with save_pretrained")


def _refuse_pickled_components(folder: Path, index: dict[str, Any], allow_pickle: bool) -> None:
    if allow_pickle:
        return
    for name, entry in index.items():
        sub = folder / name
        if name not in _components(index) or not sub.is_dir():
            continue
        files = [p for p in sub.iterdir() if p.is_file()]
        weights = [p for p in files if p.suffix in PICKLE_SUFFIXES + (".safetensors",)]
        if weights and not any(p.suffix == ".safetensors" for p in weights):
            raise ModelLoadError(
                f"component {name!r} of {str(folder)!r} has only pickle weights ({weights[0].name}); unpickling "
                f"can run arbitrary code. Convert it to safetensors (pipeline.save_pretrained(folder, "
                f"safe_serialization=True)), or pass allow_pickle=True if you trust its source")


def _check_family(detected: str | None, options: LoadOptions, where: str, components: str) -> str:
    if options.family is not None:
        if detected is not None and detected != options.family:
            raise ModelLoadError(f"{where} is an {FAMILY_NAMES[detected]} model but family={options.family!r} "
                                 f"was given: drop family= or pass family={detected!r}")
        return options.family
    if detected is None:
        raise ModelLoadError(f"{where} is not a Stable Diffusion 1.x/2.x, SDXL or SD3 pipeline ({components}); "
                             f"pass family='sd', 'sdxl' or 'sd3' if it is one of them")
    return detected


# --- loaders ------------------------------------------------------------------------------------------

def _load_folder(folder: Path, options: LoadOptions, *, origin: str) -> Backend:
    """A local diffusers folder (origin 'folder') or a cached hub snapshot (origin 'hub:<id>')."""
    index = _read_model_index(folder, origin)
    _refuse_custom_code(folder, index)
    components = ", ".join(sorted(_components(index))) or "no components"
    family = _check_family(family_of_index(index), options, repr(str(folder)), f"components: {components}")
    _refuse_pickled_components(folder, index, options.allow_pickle)
    return _from_pretrained(str(folder), family, options, origin=origin)


def _load_hub(repo_id: str, options: LoadOptions) -> Backend:
    snapshot = _cached_snapshot(repo_id)
    if snapshot is not None:
        return _load_folder(snapshot, options, origin=f"hub:{repo_id}")
    if hub_offline() or not hub_reachable():
        raise _offline_error("model", repo_id)
    from huggingface_hub import hf_hub_download

    try:  # look before downloading gigabytes: family and custom code from model_index.json alone
        index_file = Path(hf_hub_download(repo_id, "model_index.json"))
    except Exception as error:
        raise ModelLoadError(f"could not fetch model_index.json of hub model {repo_id!r}: {error}. Check the id "
                             f"(a diffusers pipeline repository), your network and, for gated models, "
                             f"`hf auth login`") from error
    index = _read_model_index(index_file.parent, f"hub:{repo_id}")
    _refuse_custom_code(index_file.parent, index)
    family = _check_family(family_of_index(index), options, repr(repo_id), "hub repository")
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
    detected = _family_of_file(path) if path.suffix == ".safetensors" else None
    where = repr(str(path))
    if config is not None:
        if not config.is_dir():
            raise ModelLoadError(f"config={str(config)!r} is not a folder: pass a local diffusers folder of the "
                                 f"same model family as the checkpoint")
        config_family = family_of_index(_read_model_index(config, "folder"))
        if detected is not None and config_family is not None and config_family != detected:
            raise ModelLoadError(f"{where} is an {FAMILY_NAMES[detected]} checkpoint but config={str(config)!r} is "
                                 f"an {FAMILY_NAMES[config_family]} folder: pass a config folder of the same family")
        detected = detected or config_family
    family = _check_family(detected, options, where, "unrecognised tensor names")
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


def _family_of_file(path: Path) -> str | None:
    """Read only the safetensors header (tensor names): nothing is unpickled or even loaded."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            keys = set(handle.keys())
    except Exception as error:
        raise ModelLoadError(f"{str(path)!r} is not a valid safetensors file ({error}); the download may be "
                             f"truncated: fetch it again. Offline, a single file also needs its architecture: "
                             f"pass config='<local diffusers folder of the same model family>'") from None
    return family_of_checkpoint_keys(keys)


# --- assembling the backend --------------------------------------------------------------------------------

def _build(pipe: Any, family: str, options: LoadOptions) -> Backend:
    from .sd import StableDiffusionBackend
    from .sd3 import StableDiffusion3Backend
    from .sdxl import StableDiffusionXLBackend

    backend_class = {"sd": StableDiffusionBackend, "sdxl": StableDiffusionXLBackend,
                     "sd3": StableDiffusion3Backend}[family]
    lora_sampler = _fuse_lora(pipe, options.lora, options.lora_scale, family, options) if options.lora else None
    own = _SAMPLER_BY_SCHEDULER.get(type(pipe.scheduler).__name__)
    chosen = options.sampler or lora_sampler or (own if own in backend_class.samplers else None) \
        or _DEFAULT_SAMPLER[family]
    if chosen not in backend_class.samplers:
        raise ValueError(f"sampler {chosen!r} does not fit {FAMILY_NAMES[family]} models: choose one of "
                         f"{', '.join(backend_class.samplers)}")
    components = dict(pipe.components)
    if options.vae:
        components["vae"] = _load_vae(options.vae, "AutoencoderKL", options.dtype)
    tiny = _load_vae(options.tiny_vae, "AutoencoderTiny", options.dtype) if options.tiny_vae else None
    return backend_class(components, sampler=chosen, device=options.device, dtype=options.dtype,
                         scheduler_config=dict(pipe.scheduler.config), tiny_vae=tiny,
                         pipeline_config=dict(pipe.config))


def _precheck_lora(lora: str, allow_pickle: bool) -> None:
    """Refuse a LoRA spec that cannot work whatever the model family turns out to be."""
    if not isinstance(lora, str) or not lora.strip():
        raise ValueError(f"lora must be a nickname, a hub id or a path, got {lora!r}")
    if any(lora in table for table in LORA_ALIASES.values()):
        return
    local = Path(lora).expanduser()
    if local.is_file() and local.suffix != ".safetensors" and not allow_pickle:
        raise ModelLoadError(f"LoRA {lora!r} is not a .safetensors file; unpickling can run arbitrary code. "
                             f"Convert it, or pass allow_pickle=True if you trust its source")
    if not (local.exists() or _looks_like_hub_id(lora)):
        nicknames = sorted({name for table in LORA_ALIASES.values() for name in table})
        raise ModelLoadError(f"LoRA {lora!r} is neither a file, a folder, a hub id nor one of "
                             f"{', '.join(nicknames)}; check the path")


def _fuse_lora(pipe: Any, lora: str, scale: float, family: str, options: LoadOptions) -> str | None:
    """Load a LoRA, fuse it into the weights (no per-call adapter cost) and return its intended sampler."""
    aliases = LORA_ALIASES[family]
    source, weight_name, lora_sampler = aliases.get(lora, (lora, None, None))
    kwargs: dict[str, Any] = {"use_safetensors": None if options.allow_pickle else True}  # None: safetensors first
    local = Path(source).expanduser()
    if local.is_file():
        if local.suffix != ".safetensors" and not options.allow_pickle:
            raise ModelLoadError(f"LoRA {lora!r} is not a .safetensors file; unpickling can run arbitrary code. "
                                 f"Convert it, or pass allow_pickle=True if you trust its source")
        source, weight_name = str(local.parent), local.name
    elif local.is_dir():
        pass
    elif _looks_like_hub_id(source):
        kwargs.update(_hub_kwargs(source, "LoRA"))
    else:
        elsewhere = [FAMILY_NAMES[f] for f, table in LORA_ALIASES.items() if f != family and lora in table]
        extra = f" ({lora!r} is a nickname for {', '.join(elsewhere)} models)" if elsewhere else ""
        raise ModelLoadError(f"LoRA {lora!r} is neither a file, a folder, a hub id nor one of "
                             f"{', '.join(aliases)} for {FAMILY_NAMES[family]} models{extra}")
    if weight_name:
        kwargs["weight_name"] = weight_name
    try:
        pipe.load_lora_weights(source, **kwargs)
        adapters = pipe.get_list_adapters()
        if not any(adapters.values()):
            raise ModelLoadError(f"LoRA {lora!r} has no weights for this {FAMILY_NAMES[family]} model: it was "
                                 f"made for another model family")
        pipe.fuse_lora(lora_scale=scale)
        pipe.unload_lora_weights()
    except ModelLoadError:
        raise
    except ImportError as error:
        raise ModelLoadError("loading a LoRA needs the peft package: pip install peft") from error
    except Exception as error:
        raise ModelLoadError(f"could not load LoRA {lora!r} into the {FAMILY_NAMES[family]} model: "
                             f"{type(error).__name__}: {error}") from error
    return lora_sampler


def _load_vae(spec: str, class_name: str, dtype: torch.dtype) -> Any:
    import diffusers

    what = "tiny VAE" if class_name == "AutoencoderTiny" else "VAE"
    local = Path(spec).expanduser().is_dir()
    kwargs = {"local_files_only": True} if local else _hub_kwargs(spec, what)
    try:
        return getattr(diffusers, class_name).from_pretrained(spec, **dtype_kwarg(dtype), use_safetensors=True,
                                                              **kwargs)
    except Exception as error:
        raise ModelLoadError(f"could not load {what} {spec!r}: {type(error).__name__}: {error}") from error
