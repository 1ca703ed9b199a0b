"""The pickle and remote-code policy: weights come from safetensors, and model folders never run their own code.

A pickle checkpoint (.ckpt/.bin/.pt/.pth/.pkl) can run arbitrary code when unpickled, so it loads only with
``allow_pickle=True``; a folder that names non-diffusers classes or ships Python files is always refused.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from .errors import ModelLoadError
from .families import components

PICKLE_SUFFIXES = (".ckpt", ".bin", ".pt", ".pth", ".pkl")
SAFE_LIBRARIES = {"diffusers", "transformers", None}
# The largest text file a model folder holds is a tokenizer (CLIP's tokenizer.json ~2 MB, T5's ~2.4 MB);
# diffusers and transformers read such files whole, so a bigger one is refused before they do.
MAX_CONFIG_BYTES = 64 * 2**20
CONFIG_PATTERNS = ("*.json", "*/*.json", "*/*.txt")


def refuse_custom_code(folder: Path, index: dict[str, Any]) -> None:
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
        if isinstance(entry, list) and (len(entry) != 2 or entry[0] not in SAFE_LIBRARIES):
            reasons.append(f"component {name!r} is {entry!r}")
    code = sorted(str(p.relative_to(folder)) for p in folder.glob("*.py")) + sorted(
        str(p.relative_to(folder)) for p in folder.glob("*/*.py"))
    if code:
        reasons.append(f"it ships Python code ({', '.join(code[:3])})")
    if reasons:
        raise ModelLoadError(f"{str(folder)!r} contains custom code ({'; '.join(reasons)}); semanticdraw never "
                             f"runs model code from a model folder or the hub. Use a standard diffusers "
                             f"SD1.x/2.x, SDXL or SD3 pipeline saved with save_pretrained")


def refuse_oversized_configs(folder: Path) -> None:
    """The folder's JSON and text files must be regular files of a sane size: a config that is /dev/zero or
    gigabytes long would otherwise be read whole by the loaders."""
    for pattern in CONFIG_PATTERNS:
        for path in folder.glob(pattern):
            try:
                info = path.stat()  # follows the hub cache's symlinks to their blobs
            except OSError:
                continue  # a dangling link: the loader names the missing file
            if not stat.S_ISREG(info.st_mode):
                raise ModelLoadError(f"{str(path)!r} is not a regular file (a device or pipe?); "
                                     f"replace it with the model's real {path.name} or copy the model folder again")
            if info.st_size > MAX_CONFIG_BYTES:
                raise ModelLoadError(f"{str(path)!r} is {info.st_size / 2**20:,.0f} MiB, more than a model's "
                                     f"configuration or tokenizer file can be ({MAX_CONFIG_BYTES // 2**20} MiB); "
                                     f"copy the model folder again")


def refuse_pickled_components(folder: Path, index: dict[str, Any], allow_pickle: bool) -> None:
    if allow_pickle:
        return
    for name, entry in index.items():
        sub = folder / name
        if name not in components(index) or not sub.is_dir():
            continue
        files = [p for p in sub.iterdir() if p.is_file()]
        weights = [p for p in files if p.suffix in PICKLE_SUFFIXES + (".safetensors",)]
        if weights and not any(p.suffix == ".safetensors" for p in weights):
            raise ModelLoadError(
                f"component {name!r} of {str(folder)!r} has only pickle weights ({weights[0].name}); unpickling "
                f"can run arbitrary code. Convert it to safetensors (pipeline.save_pretrained(folder, "
                f"safe_serialization=True)), or pass allow_pickle=True if you trust its source")


def refuse_pickle_file(path: Path, what: str, allow_pickle: bool) -> None:
    """A single weights file (checkpoint or LoRA) that is not safetensors loads only with allow_pickle=True."""
    if path.suffix != ".safetensors" and not allow_pickle:
        raise ModelLoadError(f"{what} is not a .safetensors file; unpickling can run arbitrary code. "
                             f"Convert it, or pass allow_pickle=True if you trust its source")
