"""Prompt -> appearance (two colours, a pattern, a period) -> embedding vector, for the toy model."""

from __future__ import annotations

import colorsys
import math
import zlib
from dataclasses import dataclass
from functools import lru_cache

import torch

from .toy_colour import _apply_lightness, _shade_for
from .toy_tokenize import tokenize
from .toy_words import (_DARKEN_WORDS, _DEFAULT_PERIOD_PX, _LIGHTEN_WORDS, _MAX_PERIOD_PX, _MIN_PERIOD_PX, _NEUTRAL,
                        _SIZE_WORDS, COLOUR_WORDS, LEXICON, OBJECT_WORDS, PATTERNS, RGB, TEXTURE_WORDS, _ObjectLook)




@dataclass(frozen=True)
class _Appearance:
    primary: RGB
    secondary: RGB
    pattern: str
    period: float
    words: tuple[str, ...]


def _normalised_text(text: str) -> str:
    return " ".join(text.lower().split())


def _hashed_appearance(text: str) -> tuple[RGB, RGB, str, float]:
    """Stable muted look for prompts the lexicon does not understand.

    crc32 (not ``hash()``) keeps it identical across processes, so an unknown prompt
    still gets its own consistent, recognisable prior.
    """
    h = zlib.crc32(_normalised_text(text).encode("utf-8"))
    hue = (h & 0xFFF) / 4096.0
    sat = 0.30 + 0.20 * ((h >> 12) & 7) / 7.0
    val = 0.55 + 0.25 * ((h >> 15) & 7) / 7.0
    hue2 = (hue + 0.05 + 0.10 * ((h >> 18) & 7) / 7.0) % 1.0
    primary = tuple(round(c, 6) for c in colorsys.hsv_to_rgb(hue, sat, val))
    secondary = tuple(round(c, 6) for c in colorsys.hsv_to_rgb(hue2, sat * 0.8, val * 0.55))
    non_flat = PATTERNS[1:]
    pattern = non_flat[(h >> 21) % len(non_flat)]
    period = (8.0, 12.0, 16.0, 24.0)[(h >> 26) & 3]
    return primary, secondary, pattern, period  # type: ignore[return-value]


@dataclass(frozen=True)
class _Parsed:
    """What the words of a prompt asked for, before defaults are filled in."""

    colours: tuple[RGB, ...]
    texture: str | None
    obj: _ObjectLook | None
    obj_lightness: int
    size: float
    words: tuple[str, ...]


def _parse(text: str) -> _Parsed:
    """Collect colours (modifiers applied), first texture, first object and size words.

    A lightness modifier binds to the next colour word; if an object word comes first
    ("dark forest") it binds to that object's default colour instead.
    """
    colours: list[RGB] = []
    texture: str | None = None
    obj: _ObjectLook | None = None
    obj_lightness, pending, size = 0, 0, 1.0
    matched: list[str] = []
    for word in (w for w in tokenize(text) if w in LEXICON):
        matched.append(word)
        pending += (word in _LIGHTEN_WORDS) - (word in _DARKEN_WORDS)
        size *= _SIZE_WORDS.get(word, 1.0)
        if word in COLOUR_WORDS:
            colours.append(_apply_lightness(COLOUR_WORDS[word], pending))
            pending = 0
        if word in TEXTURE_WORDS and texture is None:
            texture = TEXTURE_WORDS[word]
        if word in OBJECT_WORDS and obj is None:
            obj, obj_lightness, pending = OBJECT_WORDS[word], pending, 0
    return _Parsed(tuple(colours), texture, obj, obj_lightness, size, tuple(matched))


def _resolve(parsed: _Parsed, text: str) -> _Appearance:
    """Combine explicit words with defaults: colour words > texture words > object > hash."""
    if parsed.obj is not None:
        obj = parsed.obj
        base: tuple[RGB, RGB, str, float] | None = (
            _apply_lightness(obj.primary, parsed.obj_lightness), obj.secondary, obj.pattern, obj.period,
        )
    elif not parsed.colours:
        base = _hashed_appearance(text)  # texture words only: the hash picks the colours
    else:
        base = None

    pattern = parsed.texture or (base[2] if base else "flat")
    # An object's period is tuned to its own pattern; an overriding texture uses the default.
    obj = parsed.obj
    keeps_obj_period = obj is not None and parsed.texture in (None, obj.pattern)
    period = obj.period if keeps_obj_period else _DEFAULT_PERIOD_PX  # type: ignore[union-attr]
    period = min(_MAX_PERIOD_PX, max(_MIN_PERIOD_PX, period * parsed.size))

    primary = parsed.colours[0] if parsed.colours else base[0]  # type: ignore[index]
    if len(parsed.colours) >= 2:
        secondary = parsed.colours[1]
    elif base is not None:
        secondary = base[1]
    else:
        secondary = _shade_for(primary, pattern)
    return _Appearance(primary, secondary, pattern, period, parsed.words)


@lru_cache(maxsize=4096)
def _appearance(text: str) -> _Appearance:
    """Prompt -> appearance; neutral for blank text, hashed when no lexicon word is useful."""
    if not text.strip():
        return _Appearance(_NEUTRAL, _NEUTRAL, "flat", _DEFAULT_PERIOD_PX, ())
    parsed = _parse(text)
    if not parsed.colours and parsed.texture is None and parsed.obj is None:
        primary, secondary, pattern, period = _hashed_appearance(text)
        return _Appearance(primary, secondary, pattern, period, parsed.words)
    return _resolve(parsed, text)


def _check_text(text: object) -> str:
    if not isinstance(text, str):
        raise TypeError(f"prompt must be a str, got {type(text).__name__}; pass '' for the unconditional embedding")
    return text


def embed_prompt(text: str) -> torch.Tensor:
    """(EMBEDDING_DIM,) float32 appearance vector for a prompt.

    Layout: primary RGB, secondary RGB, one-hot pattern weights, log2 pattern period in
    pixels.  Deterministic across calls, processes and machines.  ``""`` gives the neutral
    mid-grey flat vector used as the unconditional branch of classifier-free guidance.
    """
    look = _appearance(_check_text(text))
    weights = [1.0 if name == look.pattern else 0.0 for name in PATTERNS]
    values = [*look.primary, *look.secondary, *weights, math.log2(look.period)]
    return torch.tensor(values, dtype=torch.float32)


def describe(text: str) -> dict:
    """Human-readable account of how a prompt was read, for docs and teaching.

    Returns ``{"primary", "secondary", "pattern", "scale", "words"}``: colours as RGB
    tuples in [0, 1], the pattern name, its period in pixels and the lexicon words matched.
    """
    look = _appearance(_check_text(text))
    return {
        "primary": tuple(round(c, 3) for c in look.primary),
        "secondary": tuple(round(c, 3) for c in look.secondary),
        "pattern": look.pattern,
        "scale": float(look.period),
        "words": list(look.words),
    }


