"""One small set of checkers for every entry point: the Python API, scene files, the CLI, the widget.

Each checker takes the value and the name of the field it came from, and either returns the value
normalised to a plain Python type or raises a :class:`ValidationError` (a ``ValueError``) whose text
names the field, shows the offending value and says what to pass instead, e.g.

    steps must be an integer between 1 and 50 (the lcm sampler's range), got '7' (str); pass a number such as 4

Rules shared by all of them:

- Python and numpy numbers are alike: ``np.int64(4)`` is an integer, ``np.float32(0.5)`` a float.
- ``bool`` is not a number (``True`` is an ``int`` in Python, but ``steps=True`` is a mistake), and
  numbers are never parsed from text: ``"7"`` is refused with a message, not an internal TypeError.
- Floats must be finite unless ``finite=False``.
- Values are shown through :func:`describe`, which stays short (and safe) for huge or deeply nested
  values.

Callers that have their own exception type pass it as ``error=`` (the Scene passes ``SceneError``,
which subclasses :class:`ValidationError`).
"""

from __future__ import annotations

import math
import numbers
import reprlib
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = ["ValidationError", "SceneError", "describe", "is_int", "is_number", "as_int", "as_float", "as_bool",
           "as_text", "as_choice", "as_device", "check_json_depth", "check_run_options", "MAX_JSON_DEPTH"]

# Deeper JSON than this is refused up front: real scene files are 5 levels deep (scene > regions >
# region > mask > polygon > point), and Python's recursion limit (1000) must never be reached.
MAX_JSON_DEPTH = 64


class ValidationError(ValueError):
    """A refused value. ``field`` names it (e.g. ``"steps"`` or ``"regions[1].mask"``)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


_short = reprlib.Repr()
_short.maxstring = 60
_short.maxother = 60
_short.maxlevel = 3
_short.maxlist = _short.maxtuple = _short.maxdict = 6


def describe(value: Any) -> str:
    """``'7' (str)``: a short repr plus the type, safe for huge, deeply nested or odd values."""
    try:
        text = _short.repr(value)
    except Exception:  # a broken __repr__ must not hide the real error
        text = "<unprintable>"
    return f"{text} ({type(value).__name__})"


def is_int(value: Any) -> bool:
    """True for Python and numpy integers, False for bools (``True`` is an int in Python)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_number(value: Any) -> bool:
    """True for Python and numpy real numbers, False for bools and text."""
    return isinstance(value, (numbers.Real, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _range_text(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f" between {lo:g} and {hi:g}"
    if lo is not None:
        return f" >= {lo:g}"
    if hi is not None:
        return f" <= {hi:g}"
    return ""


def as_int(value: Any, field: str, *, min: int | None = None, max: int | None = None, why: str = "",
           error: type[ValidationError] = ValidationError) -> int:
    """A Python or numpy integer within [min, max] (inclusive), returned as ``int``.

    ``why`` is appended to the range, e.g. ``" (the lcm sampler's range)"``.
    """
    expected = f"{field} must be an integer{_range_text(min, max)}{why}"
    if not is_int(value):
        hint = "pass a whole number"
        if isinstance(value, str):
            digits = value.strip()
            example = f" (e.g. {int(digits)})" if digits.isdigit() and len(digits) < 20 else ""
            hint = "pass a number, not text" + example
        elif is_number(value) and math.isfinite(float(value)) and float(value).is_integer():
            hint = f"pass int({value!r})"
        raise error(f"{expected}, got {describe(value)}; {hint}", field=field)
    number = int(value)
    if (min is not None and number < min) or (max is not None and number > max):
        raise error(f"{expected}, got {number}", field=field)
    return number


def as_float(value: Any, field: str, *, min: float | None = None, max: float | None = None, finite: bool = True,
             error: type[ValidationError] = ValidationError) -> float:
    """A Python or numpy real number (integers too) within [min, max], returned as ``float``."""
    expected = f"{field} must be a{' finite' if finite else ''} number{_range_text(min, max)}"
    if not is_number(value):
        hint = "pass a number, not text" if isinstance(value, str) else "pass a number"
        raise error(f"{expected}, got {describe(value)}; {hint}", field=field)
    try:
        number = float(value)
    except (OverflowError, ValueError):  # a Python int too large for a float
        raise error(f"{expected}, got {describe(value)}", field=field) from None
    if math.isnan(number) or (finite and math.isinf(number)):
        raise error(f"{expected}, got {number}", field=field)
    if (min is not None and number < min) or (max is not None and number > max):
        raise error(f"{expected}, got {number:g}", field=field)
    return number


def as_bool(value: Any, field: str, *, error: type[ValidationError] = ValidationError) -> bool:
    """``True``/``False`` (or a numpy bool) only: ``"no"``, ``0`` or ``None`` are refused, not guessed."""
    if not isinstance(value, (bool, np.bool_)):
        raise error(f"{field} must be true or false, got {describe(value)}", field=field)
    return bool(value)


def as_text(value: Any, field: str, *, max_length: int | None = None, allow_empty: bool = True,
            error: type[ValidationError] = ValidationError) -> str:
    """A ``str`` of at most ``max_length`` characters (and not blank unless ``allow_empty``)."""
    if not isinstance(value, str):
        raise error(f"{field} must be text (a string), got {describe(value)}", field=field)
    if max_length is not None and len(value) > max_length:
        raise error(f"{field} is {len(value)} characters long, more than the {max_length} allowed; shorten it",
                    field=field)
    if not allow_empty and not value.strip():
        raise error(f"{field} is empty; give it some text", field=field)
    return value


def as_choice(value: Any, field: str, choices: Iterable[Any], *,
              error: type[ValidationError] = ValidationError) -> Any:
    """One of ``choices`` (compared with ==, types must match: ``1`` is not ``"1"``)."""
    options = list(choices)
    for option in options:
        if type(value) is type(option) and value == option:
            return option
    listed = ", ".join(repr(o) for o in options)
    raise error(f"{field} must be one of {listed}, got {describe(value)}", field=field)


def check_json_depth(data: Any, field: str = "scene", *, max_depth: int = MAX_JSON_DEPTH,
                     error: type[ValidationError] = ValidationError) -> None:
    """Refuse JSON-like data nested deeper than ``max_depth`` (checked without recursion)."""
    stack = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if depth > max_depth:
            raise error(f"{field}: nested more than {max_depth} levels deep; a scene file is a few levels of "
                        "objects and lists, so this is not a scene (or it is corrupt)", field=field)
        stack.extend((child, depth + 1) for child in children)


def check_run_options(backend: Any, *, steps: Any, guidance_scale: Any = None, bootstrap_steps: Any = 1,
                      mask_mode: Any = "continuous", cover_alpha: Any = 0.0,
                      error: type[ValidationError] = ValidationError) -> dict[str, Any]:
    """Check the sampling knobs shared by ``generate``, ``Stream`` and ``Session``; return them normalised.

    ``backend`` must be a Backend; ``steps`` is checked against the backend's sampler
    (``backends.schedules.steps_range``), so LCM and TCD stop at their distillation's 50 steps.
    """
    from .backends.base import Backend
    from .backends.schedules import steps_range
    from .engine.masks import MASK_MODES

    if not isinstance(backend, Backend):
        raise error(f"backend must be a Backend such as semanticdraw_widgets.load_backend('toy'), "
                    f"got {describe(backend)}", field="backend")
    lo, hi, sampler = steps_range(backend)
    why = f" (the {sampler} sampler's range)" if sampler else ""
    return {
        "steps": as_int(steps, "steps", min=lo, max=hi, why=why, error=error),
        "guidance_scale": None if guidance_scale is None else as_float(guidance_scale, "guidance_scale",
                                                                       min=0.0, error=error),
        "bootstrap_steps": as_int(bootstrap_steps, "bootstrap_steps", min=0, error=error),
        "mask_mode": as_choice(mask_mode, "mask_mode", MASK_MODES, error=error),
        "cover_alpha": as_float(cover_alpha, "cover_alpha", min=0.0, max=1.0, error=error),
    }


class SceneError(ValidationError):
    """Bad scene input. Message names the field (e.g. 'regions[1].mask: ...') and says how to fix it.

    ``field`` holds the name of the offending field relative to the object that
    raised it, so containers can prefix their own path (``regions[1]``) without
    re-parsing the message. (Defined here so images.py can raise it without importing the Scene;
    ``semanticdraw_widgets.scene.SceneError`` is the same class.)
    """


def as_device(value: Any, field: str = "device", *, error: type[ValidationError] = ValidationError) -> str:
    """A torch device string that exists on this machine ('auto', 'cpu', 'cuda', 'cuda:1', 'mps'), normalised.

    Checked before any model loads: 'cuda' without a CUDA build or GPU says so at once, instead of
    an assertion from deep inside torch after minutes of loading.
    """
    import torch

    if isinstance(value, torch.device):
        value = str(value)
    text = as_text(value, field, max_length=64, error=error).strip().lower()
    if text == "auto":
        return text
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise error(f"{field}: unknown device {value!r}; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'",
                    field=field) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            why = "this torch build has no CUDA support" if torch.version.cuda is None else "no CUDA GPU is visible"
            raise error(f"{field}: {text!r} requested but CUDA is not available here ({why}); use 'cpu' (or "
                        "'auto', which picks the best available device)", field=field)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise error(f"{field}: {text!r} requested but this machine has {torch.cuda.device_count()} CUDA "
                        f"device(s) (cuda:0..cuda:{torch.cuda.device_count() - 1})", field=field)
    elif device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise error(f"{field}: 'mps' requested but Apple MPS is not available here; use 'cpu' or 'auto'",
                        field=field)
    elif device.type != "cpu":
        raise error(f"{field}: device type {device.type!r} is not supported; use 'auto', 'cpu', 'cuda' or 'mps'",
                    field=field)
    return str(device)
