"""Which model family (sd, sdxl, sd3) a folder or checkpoint holds, read from model_index.json or tensor names.

Nothing is unpickled or loaded to find out: a folder's model_index.json lists its components, and a
single-file checkpoint's safetensors header lists its tensor names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..files import read_bytes_bounded
from .errors import ModelLoadError
from .hub import download_command

MAX_INDEX_BYTES = 1 * 2**20  # a model_index.json is under 1 KB; its JSON is parsed whole

FAMILY_NAMES = {"sd": "SD1.x/2.x", "sdxl": "SDXL", "sd3": "SD3"}  # read with "an": an SD.., an SDXL..


def components(model_index: dict[str, Any]) -> set[str]:
    """Names of the components a model_index.json lists (entries [library, class]; others are settings)."""
    return {k for k, v in model_index.items() if not k.startswith("_") and isinstance(v, list)
            and len(v) == 2 and v[0] is not None}


def family_of_index(model_index: dict[str, Any]) -> str | None:
    """sd / sdxl / sd3 from a model_index.json's components, or None for anything else."""
    model_index = components(model_index)
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


def read_model_index(folder: Path, origin: str) -> dict[str, Any]:
    index_file = folder / "model_index.json"
    if not index_file.exists():  # one that exists but is no regular file is refused by the bounded read
        singles = sorted(p.name for p in folder.glob("*.safetensors"))
        hint = (f"; it holds {', '.join(singles[:3])}: pass that file instead" if singles
                else ": save one with pipeline.save_pretrained(folder)")
        raise ModelLoadError(f"{str(folder)!r} is not a diffusers model folder (no model_index.json){hint}")
    raw = read_bytes_bounded(index_file, MAX_INDEX_BYTES, "model index", ModelLoadError)
    try:
        index = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelLoadError(f"{str(index_file)!r} is not valid UTF-8 JSON ({error}); "
                             f"{refetch_hint(folder, origin)}") from None
    except RecursionError:  # a few hundred KB of "[[[[..." exhausts the parser's stack
        raise ModelLoadError(f"{str(index_file)!r} is nested too deeply to be a model index; "
                             f"{refetch_hint(folder, origin)}") from None
    if not isinstance(index, dict):
        raise ModelLoadError(f"{str(index_file)!r} must hold a JSON object of components, got "
                             f"{type(index).__name__}; {refetch_hint(folder, origin)}")
    return index


def refetch_hint(folder: Path, origin: str) -> str:
    if origin.startswith("hub:"):
        return f"the cached copy is damaged: fetch it again with `{download_command(origin[4:])} --force-download`"
    return "re-save the model with pipeline.save_pretrained(folder) or copy the folder again"


def check_family(detected: str | None, family: str | None, where: str, components: str) -> str:
    """The family to load: the detected one, or the one asked for when it does not contradict detection."""
    if family is not None:
        if detected is not None and detected != family:
            raise ModelLoadError(f"{where} is an {FAMILY_NAMES[detected]} model but family={family!r} "
                                 f"was given: drop family= or pass family={detected!r}")
        return family
    if detected is None:
        raise ModelLoadError(f"{where} is not a Stable Diffusion 1.x/2.x, SDXL or SD3 pipeline ({components}); "
                             f"pass family='sd', 'sdxl' or 'sd3' if it is one of them")
    return detected


def family_of_file(path: Path) -> str | None:
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
