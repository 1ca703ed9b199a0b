"""The Hugging Face hub, probed before anything downloads: the local cache, offline mode and one quick connect.

A hub model that is neither cached nor reachable fails in seconds with the command that fetches it.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from .errors import ModelNotAvailableOffline


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


def offline_error(what: str, spec: str) -> ModelNotAvailableOffline:
    return ModelNotAvailableOffline(
        f"{what} {spec!r} is not in the local Hugging Face cache and the hub cannot be reached "
        f"(HF_HUB_OFFLINE={os.environ.get('HF_HUB_OFFLINE', '')!r}). Download it on a machine with internet "
        f"(`{download_command(spec)}`) and copy the cache, pass a local diffusers folder instead, "
        f"or use load_backend('toy') for the offline teaching model.")


def cached_snapshot(spec: str) -> Path | None:
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(spec, local_files_only=True))
    except Exception:  # not cached (LocalEntryNotFoundError) or an invalid id
        return None


def hub_kwargs(spec: str, what: str) -> dict[str, Any]:
    """local_files_only when cached; fail fast when the hub is down and the model is not cached."""
    if cached_snapshot(spec) is not None:
        return {"local_files_only": True}
    if hub_offline() or not hub_reachable():
        raise offline_error(what, spec)
    return {}


def looks_like_hub_id(text: str) -> bool:
    """"owner/name": two non-empty parts, no hidden folder, no spaces."""
    parts = text.split("/")
    return len(parts) == 2 and all(p and not p.startswith(".") and " " not in p for p in parts)
