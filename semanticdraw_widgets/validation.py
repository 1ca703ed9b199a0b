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

The limits themselves live in the field table (fields.py): :func:`check_field` applies a field's entry
(kind, range, length, choices) through the checkers here, so a limit and its message have one home.
This module imports only the table and the sampler registry (both plain data), never the backends, so
the backends can import it without a cycle.
"""

from __future__ import annotations

import builtins
import difflib
import math
import numbers
import re
import reprlib
from collections.abc import Iterable
from typing import Any

import numpy as np

from .fields import Field, field as table_field, range_text
from .samplers import steps_range

__all__ = ["ValidationError", "SceneError", "describe", "is_int", "is_number", "as_int", "as_float", "as_bool",
           "as_text", "as_choice", "as_device", "check_field", "check_json_depth", "check_run_options",
           "MAX_JSON_DEPTH"]

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


def short_repr(value: Any) -> str:
    """The repr part of :func:`describe`: short for huge or deeply nested values."""
    return describe(value).rsplit(" (", 1)[0]


def did_you_mean(key: Any, allowed: Iterable[str]) -> str:
    """`` (did you mean 'prompt'?)`` for a near miss among ``allowed``, else an empty string."""
    match = difflib.get_close_matches(str(key), list(allowed), n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


def is_int(value: Any) -> bool:
    """True for Python and numpy integers, False for bools (``True`` is an int in Python)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_number(value: Any) -> bool:
    """True for Python and numpy real numbers, False for bools and text."""
    return isinstance(value, (numbers.Real, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _range_text(lo: float | None, hi: float | None, text: str | None = None) -> str:
    """The range as appended to ``"... must be an integer"``: the field table's wording, or ``text`` verbatim."""
    written = range_text(lo, hi) if text is None else text
    return f" {written}" if written else ""


def as_int(value: Any, field: str, *, min: int | None = None, max: int | None = None, why: str = "",
           error: type[ValidationError] = ValidationError, range_text: str | None = None) -> int:
    """A Python or numpy integer within [min, max] (inclusive), returned as ``int``.

    ``why`` is appended to the range, e.g. ``" (the lcm sampler's range)"``; ``range_text`` replaces the
    range as written (``"between 0 and 2**63 - 1"``).
    """
    expected = f"{field} must be an integer{_range_text(min, max, range_text)}{why}"
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
             error: type[ValidationError] = ValidationError, range_text: str | None = None) -> float:
    """A Python or numpy real number (integers too) within [min, max], returned as ``float``."""
    expected = f"{field} must be a{' finite' if finite else ''} number{_range_text(min, max, range_text)}"
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
        raise error(f"{field} must be a string (text), got {describe(value)}", field=field)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:  # JSON allows "\ud800"; no file or text encoder can hold it
        raise error(f"{field} holds an unpaired surrogate U+{ord(value[exc.start]):04X} at character {exc.start}, "
                    "which no text file can store; remove it", field=field) from None
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


def check_field(name: str, value: Any, *, path: str | None = None, min: float | None = None,
                max: float | None = None, why: str = "", nullable: bool | None = None,
                error: type[ValidationError] = ValidationError) -> Any:
    """Check ``value`` against the field table's entry ``name`` (fields.py) and return it normalised.

    ``path`` is the name shown and stored on the error (``"regions[1].mask_blur"``, ``"--steps"``); ``min`` and
    ``max`` narrow the table's range where the context knows more (the sampler's steps), with ``why`` saying so;
    ``nullable=False`` refuses None where the table allows it (the canvas's guidance is always a number).
    """
    spec = table_field(name)
    label = path or name
    if value is None and (spec.nullable if nullable is None else nullable):
        return None
    if spec.kind in ("int", "count"):
        narrowed = min is not None or max is not None
        lo = spec.min if min is None else min
        hi = spec.max if max is None else max
        if spec.multiple_of:  # one message for both rules, with the nearest good values
            number = as_int(value, label, error=error, range_text=f"(a multiple of {spec.multiple_of} "
                                                                  f"{spec.range_text()})")
            if number % spec.multiple_of or not lo <= number <= hi:
                raise error(f"{label} must be a multiple of {spec.multiple_of} {spec.range_text()}, got {number}; "
                            f"{_nearest_multiples(number, spec)}", field=label)
            return number
        return as_int(value, label, min=lo, max=hi, why=why, error=error,
                      range_text=None if narrowed or not spec.max_text else spec.range_text())
    if spec.kind == "float":
        return as_float(value, label, min=spec.min if min is None else min, max=spec.max if max is None else max,
                        error=error)
    if spec.kind == "bool":
        return as_bool(value, label, error=error)
    if spec.kind == "text":
        return as_text(value, label, max_length=spec.max_length, error=error)
    if spec.kind == "choice":
        try:
            return as_choice(value, label, spec.choices, error=error)
        except ValidationError as refused:
            if not spec.nullable:
                raise
            raise error(f"{refused.message}; or None", field=label) from None
    if spec.kind == "color":
        if not isinstance(value, str) or not _COLOR.match(value):
            raise error(f'{label} must be a hex colour like "#d9503f", got {describe(value)}', field=label)
        return value
    raise AssertionError(f"field {name!r} has unknown kind {spec.kind!r}")


_COLOR = re.compile(r"^#[0-9a-fA-F]{6}\Z")


def _nearest_multiples(value: int, spec: Field) -> str:
    """The nearest valid values of a multiple-of field, so the message can say what to use instead."""
    step, lo_limit, hi_limit = spec.multiple_of, int(spec.min), int(spec.max)
    lo = builtins.min(hi_limit, builtins.max(lo_limit, value // step * step))
    hi = builtins.min(hi_limit, builtins.max(lo_limit, -(-value // step) * step))
    return f"try {lo}" if lo == hi else f"try {lo} or {hi}"


def check_run_options(backend: Any, *, steps: Any, guidance_scale: Any = None, bootstrap_steps: Any = 1,
                      mask_mode: Any = "continuous", cover_alpha: Any = 0.0,
                      error: type[ValidationError] = ValidationError) -> dict[str, Any]:
    """Check the sampling knobs shared by ``generate``, ``Stream`` and ``Session``; return them normalised.

    ``backend`` must be a Backend; ``steps`` is checked against the backend's sampler
    (``samplers.steps_range``), so LCM and TCD stop at their distillation's 50 steps.
    """
    # Duck-typed, not isinstance(backend, Backend): backends/ imports this module, so importing back would be a
    # cycle. make_schedule is what the steps check needs; the rest of the protocol is used (and fails) at once.
    if not callable(getattr(backend, "make_schedule", None)):
        raise error(f"backend must be a Backend such as semanticdraw_widgets.load_backend('toy'), "
                    f"got {describe(backend)}", field="backend")
    lo, hi, sampler = steps_range(backend)
    why = f" (the {sampler} sampler's range)" if sampler else ""
    return {
        "steps": check_field("steps", steps, min=lo, max=hi, why=why, error=error),
        "guidance_scale": check_field("guidance_scale", guidance_scale, error=error),
        "bootstrap_steps": check_field("bootstrap_steps", bootstrap_steps, error=error),
        "mask_mode": check_field("mask_mode", mask_mode, error=error),
        "cover_alpha": check_field("cover_alpha", cover_alpha, error=error),
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
