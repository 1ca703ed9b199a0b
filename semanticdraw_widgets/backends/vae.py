"""Replacement VAEs (a full one, or TAESD's tiny one for cheap previews), and the dtype keyword diffusers expects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .errors import ModelLoadError
from .hub import hub_kwargs


def dtype_kwarg(dtype: torch.dtype) -> dict[str, torch.dtype]:
    """diffusers renamed torch_dtype to dtype; pass the spelling this version expects."""
    import diffusers

    major, minor = (int(part) for part in diffusers.__version__.split(".")[:2])
    return {"dtype": dtype} if (major, minor) >= (0, 40) else {"torch_dtype": dtype}


def load_vae(spec: str, class_name: str, dtype: torch.dtype) -> Any:
    import diffusers

    what = "tiny VAE" if class_name == "AutoencoderTiny" else "VAE"
    local = Path(spec).expanduser().is_dir()
    kwargs = {"local_files_only": True} if local else hub_kwargs(spec, what)
    try:
        return getattr(diffusers, class_name).from_pretrained(spec, **dtype_kwarg(dtype), use_safetensors=True,
                                                              **kwargs)
    except Exception as error:
        raise ModelLoadError(f"could not load {what} {spec!r}: {type(error).__name__}: {error}") from error
