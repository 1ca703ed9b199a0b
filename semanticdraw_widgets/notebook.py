"""What the first cell of every shipped notebook does after the package is importable: on Colab, turn on
its third-party widget manager and make sure the widget libraries the kernel imported are the installed ones;
anywhere, pick the model (a real few-step model on a GPU, else the offline toy, with the reason printed) and
a folder for the files the notebook writes (never the notebook's own folder).

The cell itself (identical in all notebooks, checked by tests/test_notebook_setup.py) installs the package on
Colab when it is missing, then calls :func:`setup_notebook`.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: The real model a GPU gets, and what its first load downloads (fp32 safetensors: UNet 3.4 GB, text
#: encoder 0.5 GB, VAE 0.3 GB; the safety checker is not loaded). Later runs reuse the Hugging Face cache.
GPU_MODEL = "SimianLuo/LCM_Dreamshaper_v7"
GPU_MODEL_DOWNLOAD_GB = 4.3
#: Set this to choose where notebooks write their pictures and files (tests point it at a temporary folder).
OUTPUT_ENV = "SEMANTICDRAW_NOTEBOOK_OUT"


@dataclass(frozen=True)
class NotebookSetup:
    model: str  # "toy" or a hub id: pass it to load_backend
    out: Path  # where the notebook writes files
    reason: str  # the line printed: which model and why


def in_colab() -> bool:
    return "google.colab" in sys.modules


def _stale_widget_modules() -> list[str]:
    """Widget libraries imported before an install replaced them on disk.

    Colab imports ipywidgets (7.7.1) at start-up. Our requirements accept Colab's ipywidgets and anywidget, so
    installing this package replaces neither (tests/test_colab_compat.py); this catches a user's own upgrade."""
    stale = []
    for name in ("ipywidgets", "anywidget"):
        module = sys.modules.get(name)
        loaded = getattr(module, "__version__", None)
        if loaded is None:
            continue
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        if installed != loaded:
            stale.append(f"{name} {loaded} is loaded but {installed} is installed")
    return stale


def _cached(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    return isinstance(try_to_load_from_cache(repo_id, "model_index.json"), str)


def _choose_model() -> tuple[str, str]:
    try:
        import torch
    except ImportError:
        return "toy", "MODEL = 'toy': torch is not installed (install it, then rerun this cell)"
    if not torch.cuda.is_available():
        return "toy", ("MODEL = 'toy': no GPU (on Colab: Runtime → Change runtime type → T4 GPU); the toy model "
                       "runs offline on any CPU and knows colours and textures, not objects")
    gpu = torch.cuda.get_device_name(0)
    if _cached(GPU_MODEL):
        return GPU_MODEL, f"MODEL = {GPU_MODEL!r} on {gpu}, from the Hugging Face cache (no download)"
    if os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0"):
        return "toy", (f"MODEL = 'toy': a GPU ({gpu}) is here, but HF_HUB_OFFLINE is set and {GPU_MODEL!r} is "
                       f"not in the Hugging Face cache")
    return GPU_MODEL, (f"MODEL = {GPU_MODEL!r} on {gpu}: its first load_backend downloads about "
                       f"{GPU_MODEL_DOWNLOAD_GB} GB into the Hugging Face cache (later runs reuse it); set "
                       f"MODEL = 'toy' in the next cell to skip the download")


def setup_notebook(verbose: bool = True) -> NotebookSetup:
    """Prepare a notebook: Colab's widget manager, the model to use, and a folder for output files."""
    if in_colab():
        stale = _stale_widget_modules()
        if stale:  # the old module stays in use until the kernel restarts: widgets may not render
            raise RuntimeError("the install upgraded the widget libraries this runtime had already imported ("
                               + "; ".join(stale) + "): restart the session (Runtime → Restart session) and "
                               "run this cell again; it will not install anything twice")
        from google.colab import output  # type: ignore[import-not-found]

        output.enable_custom_widget_manager()  # anywidget views need Colab's third-party widget manager
    model, reason = _choose_model()
    out = Path(os.environ.get(OUTPUT_ENV) or tempfile.mkdtemp(prefix="semanticdraw_"))
    out.mkdir(parents=True, exist_ok=True)
    if verbose:
        print(f"{reason}\nfiles this notebook writes go to {out}")
    return NotebookSetup(model=model, out=out, reason=reason)
