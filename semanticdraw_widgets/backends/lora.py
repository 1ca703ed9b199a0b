"""Few-step LoRAs: nicknames per family, a check before any model loads, and fusing into the weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import ModelLoadError
from .families import FAMILY_NAMES
from .hub import hub_kwargs, looks_like_hub_id
from .safety import refuse_pickle_file

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


def precheck_lora(lora: str, allow_pickle: bool) -> None:
    """Refuse a LoRA spec that cannot work whatever the model family turns out to be."""
    if not isinstance(lora, str) or not lora.strip():
        raise ValueError(f"lora must be a nickname, a hub id or a path, got {lora!r}")
    if any(lora in table for table in LORA_ALIASES.values()):
        return
    local = Path(lora).expanduser()
    if local.is_file():
        refuse_pickle_file(local, f"LoRA {lora!r}", allow_pickle)
    if not (local.exists() or looks_like_hub_id(lora)):
        nicknames = sorted({name for table in LORA_ALIASES.values() for name in table})
        raise ModelLoadError(f"LoRA {lora!r} is neither a file, a folder, a hub id nor one of "
                             f"{', '.join(nicknames)}; check the path")


def fuse_lora(pipe: Any, lora: str, scale: float, family: str, allow_pickle: bool) -> str | None:
    """Load a LoRA, fuse it into the weights (no per-call adapter cost) and return its intended sampler."""
    aliases = LORA_ALIASES[family]
    source, weight_name, lora_sampler = aliases.get(lora, (lora, None, None))
    kwargs: dict[str, Any] = {"use_safetensors": None if allow_pickle else True}  # None: safetensors first
    local = Path(source).expanduser()
    if local.is_file():
        refuse_pickle_file(local, f"LoRA {lora!r}", allow_pickle)
        source, weight_name = str(local.parent), local.name
    elif local.is_dir():
        pass
    elif looks_like_hub_id(source):
        kwargs.update(hub_kwargs(source, "LoRA"))
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
