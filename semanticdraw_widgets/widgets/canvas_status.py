"""What the canvas's status line says: the Session core's status, rendered into the `status` trait's schema."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ..runtime.core import SessionStatus
from .palette import painted_without_prompt
from .protocol import build_status, clip_message, no_prompt_warning


def status_value(status: SessionStatus | None, notice: str | None = None, warning: str | None = None) -> dict:
    """The `status` trait for a Session's status (None: no stream was ever made; `notice`/`warning` then)."""
    if status is None:
        return build_status(state="stopped", fps=0.0, tick=0, error=notice and clip_message(notice), epoch=0,
                            warning=warning and clip_message(warning))
    error = status.notice or status.error  # a refused input is the newest news
    return build_status(state=status.state, fps=float(status.fps), tick=status.tick,
                        error=error and clip_message(error), epoch=status.epoch,
                        warning=status.warning and clip_message(status.warning))


def scene_warning(labels: np.ndarray, brushes: Sequence[Mapping[str, Any]], background: Mapping[str, str],
                  backend: Any) -> str | None:
    """What the user should know although nothing failed: prompt-less brushes, words the model ignores."""
    notes = [no_prompt_warning(name) for name in painted_without_prompt(labels, brushes)]
    unknown_words = getattr(backend, "unknown_words", None)
    if callable(unknown_words):
        texts = [background["prompt"]] + [b["prompt"] for b in brushes if b["visible"]]
        ignored = sorted({word for text in texts for word in unknown_words(text)})
        if ignored:
            notes.append(f"the model ignores: {', '.join(ignored)}")
    return "; ".join(notes) or None
