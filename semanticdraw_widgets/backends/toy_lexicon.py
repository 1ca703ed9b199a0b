"""Text -> appearance vectors and procedural pattern fields for the offline "toy" backend.

The toy backend is a teaching model: a closed-form Gaussian denoiser whose prior for a
prompt is a *mean texture image*.  This module supplies the two ingredients of that image:

* :func:`embed_prompt` turns a prompt into a small, human-interpretable appearance vector
  (two colours, a mixture over procedural patterns, and a pattern period), so that
  interpolating two embeddings interpolates two looks in an understandable way;
* :func:`pattern_fields` renders every procedural pattern at once as a ``[0, 1]`` field,
  where ``1`` means "primary colour" and ``0`` "secondary colour".

For an embedding ``e`` the mean image is::

    secondary + (primary - secondary) * sum_j w_j * field_j

Everything is deterministic across processes and machines: hashing uses ``zlib.crc32``
(never Python's salted ``hash()``) and the value-noise lattice comes from a fixed-seed
CPU ``torch.Generator``.
"""

from __future__ import annotations

import colorsys
import math
import re
import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import torch

__all__ = [
    "PATTERNS",
    "EMBEDDING_DIM",
    "PRIMARY",
    "SECONDARY",
    "PATTERN_WEIGHTS",
    "LOG2_SCALE",
    "COLOUR_WORDS",
    "TEXTURE_WORDS",
    "OBJECT_WORDS",
    "MODIFIER_WORDS",
    "LEXICON",
    "normalise_word",
    "tokenize",
    "embed_prompt",
    "describe",
    "pattern_fields",
    "SHAPES",
    "SHAPE_WORDS",
    "shape_weights",
    "shape_fields",
    "unknown_words",
]

RGB = tuple[float, float, float]

PATTERNS: tuple[str, ...] = (
    "flat", "stripes", "dots", "waves", "bricks", "grass", "clouds", "noise", "checker",
)
EMBEDDING_DIM: int = 3 + 3 + len(PATTERNS) + 1  # primary RGB, secondary RGB, weights, log2 period

# Slices into an embedding, so consumers never hard-code the layout.
PRIMARY = slice(0, 3)
SECONDARY = slice(3, 6)
PATTERN_WEIGHTS = slice(6, 6 + len(PATTERNS))
LOG2_SCALE: int = EMBEDDING_DIM - 1

_NEUTRAL: RGB = (0.5, 0.5, 0.5)
_DEFAULT_PERIOD_PX = 16.0
_MIN_PERIOD_PX = 2.0
_MAX_PERIOD_PX = 256.0

# --------------------------------------------------------------------------- lexicon

COLOUR_WORDS: dict[str, RGB] = {
    "red": (0.85, 0.12, 0.10),
    "crimson": (0.86, 0.08, 0.24),
    "scarlet": (0.95, 0.14, 0.02),
    "maroon": (0.50, 0.02, 0.05),
    "burgundy": (0.50, 0.02, 0.13),
    "rust": (0.72, 0.25, 0.05),
    "orange": (1.00, 0.55, 0.00),
    "amber": (1.00, 0.75, 0.00),
    "yellow": (0.98, 0.88, 0.10),
    "gold": (1.00, 0.78, 0.10),
    "golden": (1.00, 0.78, 0.10),
    "green": (0.13, 0.65, 0.20),
    "lime": (0.55, 0.90, 0.15),
    "olive": (0.50, 0.50, 0.10),
    "emerald": (0.08, 0.60, 0.35),
    "mint": (0.60, 0.95, 0.75),
    "teal": (0.00, 0.50, 0.50),
    "cyan": (0.10, 0.85, 0.90),
    "turquoise": (0.25, 0.88, 0.82),
    "aqua": (0.30, 0.90, 0.95),
    "blue": (0.12, 0.30, 0.85),
    "navy": (0.05, 0.10, 0.40),
    "azure": (0.20, 0.55, 0.95),
    "cobalt": (0.00, 0.28, 0.67),
    "indigo": (0.29, 0.00, 0.51),
    "purple": (0.50, 0.15, 0.60),
    "violet": (0.56, 0.30, 0.85),
    "lavender": (0.73, 0.60, 0.90),
    "magenta": (0.90, 0.10, 0.75),
    "pink": (1.00, 0.60, 0.75),
    "rose": (0.95, 0.35, 0.50),
    "coral": (1.00, 0.50, 0.40),
    "salmon": (0.98, 0.50, 0.45),
    "peach": (1.00, 0.80, 0.65),
    "brown": (0.45, 0.27, 0.12),
    "chocolate": (0.35, 0.18, 0.08),
    "beige": (0.90, 0.85, 0.70),
    "tan": (0.82, 0.70, 0.50),
    "khaki": (0.76, 0.72, 0.45),
    "cream": (1.00, 0.97, 0.85),
    "ivory": (1.00, 1.00, 0.94),
    "white": (0.96, 0.96, 0.96),
    "black": (0.05, 0.05, 0.05),
    "gray": (0.50, 0.50, 0.50),
    "grey": (0.50, 0.50, 0.50),
    "silver": (0.75, 0.75, 0.78),
    "charcoal": (0.21, 0.23, 0.25),
    "bronze": (0.80, 0.50, 0.20),
    "copper": (0.72, 0.45, 0.20),
}

TEXTURE_WORDS: dict[str, str] = {
    **dict.fromkeys(("flat", "plain", "smooth", "solid", "uniform"), "flat"),
    **dict.fromkeys(("stripe", "striped", "stripy", "streak", "pinstripe"), "stripes"),
    **dict.fromkeys(("dot", "dotted", "polka", "spot", "spotted", "spotty"), "dots"),
    **dict.fromkeys(("wave", "wavy", "ripple", "rippled", "swirl"), "waves"),
    **dict.fromkeys(("brick", "brickwork", "masonry"), "bricks"),
    **dict.fromkeys(("grass", "grassy", "lawn"), "grass"),
    **dict.fromkeys(("cloud", "cloudy", "fluffy", "puffy", "blob"), "clouds"),
    **dict.fromkeys(("noise", "noisy", "rough", "gravel", "grainy", "speckled"), "noise"),
    **dict.fromkeys(
        ("checker", "checkered", "checkerboard", "chequered", "tile", "tiled", "plaid"),
        "checker",
    ),
}


@dataclass(frozen=True)
class _ObjectLook:
    """Default appearance an object/scene word contributes when not overridden."""

    primary: RGB
    secondary: RGB
    pattern: str
    period: float


def _looks(words: tuple[str, ...], look: _ObjectLook) -> dict[str, _ObjectLook]:
    return dict.fromkeys(words, look)


_MORTAR: RGB = (0.75, 0.72, 0.68)

OBJECT_WORDS: dict[str, _ObjectLook] = {
    **_looks(("sky",), _ObjectLook((0.45, 0.70, 0.95), (0.96, 0.97, 1.00), "clouds", 32)),
    **_looks(("cloud", "fog", "mist"), _ObjectLook((0.96, 0.96, 0.98), (0.55, 0.75, 0.95), "clouds", 32)),
    **_looks(("smoke",), _ObjectLook((0.55, 0.55, 0.57), (0.30, 0.30, 0.32), "clouds", 24)),
    **_looks(("marble",), _ObjectLook((0.95, 0.95, 0.93), (0.62, 0.62, 0.65), "clouds", 16)),
    **_looks(
        ("grass", "lawn", "meadow", "field", "pasture", "prairie"),
        _ObjectLook((0.25, 0.62, 0.15), (0.08, 0.30, 0.06), "grass", 16),
    ),
    **_looks(("wall", "brick", "chimney"), _ObjectLook((0.65, 0.25, 0.18), _MORTAR, "bricks", 16)),
    **_looks(("house", "cottage"), _ObjectLook((0.80, 0.55, 0.40), _MORTAR, "bricks", 16)),
    **_looks(("building", "castle", "tower"), _ObjectLook((0.62, 0.62, 0.64), (0.35, 0.35, 0.37), "bricks", 16)),
    **_looks(("giraffe",), _ObjectLook((0.62, 0.36, 0.12), (0.95, 0.88, 0.70), "bricks", 24)),
    **_looks(
        ("sea", "ocean", "water", "wave"),
        _ObjectLook((0.10, 0.35, 0.70), (0.55, 0.80, 0.95), "waves", 16),
    ),
    **_looks(("lake", "river", "pond"), _ObjectLook((0.12, 0.38, 0.55), (0.45, 0.68, 0.78), "waves", 12)),
    **_looks(
        ("sand", "beach", "desert", "dune"),
        _ObjectLook((0.90, 0.80, 0.55), (0.75, 0.62, 0.40), "noise", 8),
    ),
    **_looks(("sun", "sunshine"), _ObjectLook((1.00, 0.85, 0.20), (1.00, 0.65, 0.10), "flat", 16)),
    **_looks(("moon",), _ObjectLook((0.90, 0.90, 0.82), (0.60, 0.60, 0.58), "noise", 24)),
    **_looks(("space", "galaxy"), _ObjectLook((1.00, 0.97, 0.80), (0.03, 0.04, 0.15), "dots", 16)),
    **_looks(("star",), _ObjectLook((1.00, 0.88, 0.30), (1.00, 0.70, 0.10), "flat", 16)),
    **_looks(("ball",), _ObjectLook((0.90, 0.35, 0.15), (0.60, 0.15, 0.05), "flat", 16)),
    **_looks(("night",), _ObjectLook((0.05, 0.07, 0.25), (0.02, 0.02, 0.10), "flat", 16)),
    **_looks(("snow", "ice", "frost"), _ObjectLook((0.96, 0.97, 1.00), (0.78, 0.84, 0.95), "noise", 8)),
    **_looks(("tree", "bush", "leaf", "foliage"), _ObjectLook((0.25, 0.60, 0.15), (0.10, 0.35, 0.08), "noise", 12)),
    **_looks(("forest", "jungle", "moss"), _ObjectLook((0.10, 0.38, 0.12), (0.04, 0.18, 0.05), "noise", 16)),
    **_looks(("garden",), _ObjectLook((0.95, 0.40, 0.60), (0.20, 0.55, 0.15), "dots", 16)),
    **_looks(("flower",), _ObjectLook((0.95, 0.40, 0.60), (0.98, 0.85, 0.20), "flat", 16)),
    **_looks(("fire", "flame"), _ObjectLook((1.00, 0.50, 0.05), (0.85, 0.10, 0.02), "waves", 16)),
    **_looks(("lava", "magma"), _ObjectLook((0.95, 0.30, 0.02), (0.30, 0.05, 0.02), "waves", 24)),
    **_looks(
        ("rock", "stone", "mountain", "cliff", "boulder", "pebble", "concrete"),
        _ObjectLook((0.55, 0.55, 0.55), (0.35, 0.35, 0.37), "noise", 12),
    ),
    **_looks(("wood", "log", "plank", "bark", "timber"), _ObjectLook((0.60, 0.40, 0.20), (0.40, 0.25, 0.10), "stripes", 12)),
    **_looks(("road", "asphalt", "street", "pavement"), _ObjectLook((0.25, 0.25, 0.27), (0.15, 0.15, 0.16), "noise", 6)),
    **_looks(("mud", "dirt", "soil", "earth"), _ObjectLook((0.42, 0.30, 0.18), (0.28, 0.19, 0.10), "noise", 10)),
    **_looks(("metal", "steel"), _ObjectLook((0.70, 0.72, 0.75), (0.50, 0.52, 0.55), "stripes", 24)),
    **_looks(("rain", "storm"), _ObjectLook((0.45, 0.50, 0.60), (0.70, 0.75, 0.82), "stripes", 8)),
    **_looks(("apple", "cherry", "tomato"), _ObjectLook((0.80, 0.10, 0.10), (0.95, 0.45, 0.30), "flat", 16)),
    **_looks(("banana", "lemon", "corn"), _ObjectLook((0.98, 0.88, 0.30), (0.60, 0.50, 0.10), "flat", 16)),
    **_looks(("grape", "plum"), _ObjectLook((0.40, 0.15, 0.45), (0.25, 0.08, 0.30), "noise", 12)),
    **_looks(("cheese",), _ObjectLook((0.85, 0.70, 0.20), (1.00, 0.86, 0.35), "dots", 16)),
    **_looks(("coffee", "bread"), _ObjectLook((0.45, 0.28, 0.12), (0.65, 0.45, 0.25), "noise", 8)),
    **_looks(("cat", "dog", "fur", "bear", "horse"), _ObjectLook((0.55, 0.40, 0.25), (0.35, 0.24, 0.13), "noise", 8)),
    **_looks(("fox",), _ObjectLook((0.90, 0.45, 0.10), (0.98, 0.92, 0.85), "noise", 8)),
    **_looks(("lion",), _ObjectLook((0.82, 0.65, 0.35), (0.60, 0.42, 0.20), "noise", 8)),
    **_looks(("sheep", "wool"), _ObjectLook((0.95, 0.93, 0.86), (0.75, 0.72, 0.65), "clouds", 8)),
    **_looks(("cow",), _ObjectLook((0.08, 0.08, 0.08), (0.96, 0.96, 0.96), "clouds", 32)),
    **_looks(("zebra",), _ObjectLook((0.05, 0.05, 0.05), (0.96, 0.96, 0.96), "stripes", 16)),
    **_looks(("tiger",), _ObjectLook((1.00, 0.55, 0.00), (0.05, 0.05, 0.05), "stripes", 16)),
    **_looks(("leopard", "cheetah"), _ObjectLook((0.20, 0.12, 0.05), (0.85, 0.60, 0.25), "dots", 12)),
    **_looks(("dalmatian",), _ObjectLook((0.05, 0.05, 0.05), (0.96, 0.96, 0.96), "dots", 16)),
    **_looks(("ladybug",), _ObjectLook((0.05, 0.05, 0.05), (0.85, 0.10, 0.08), "dots", 16)),
    **_looks(("chessboard", "chess"), _ObjectLook((0.05, 0.05, 0.05), (0.96, 0.96, 0.96), "checker", 32)),
    **_looks(("tablecloth", "picnic"), _ObjectLook((0.85, 0.12, 0.10), (0.96, 0.96, 0.96), "checker", 16)),
}

# "light"/"pale"/"bright" lighten, "dark"/"deep" darken the next colour word.
_LIGHTEN_WORDS: frozenset[str] = frozenset({"light", "pale", "bright"})
_DARKEN_WORDS: frozenset[str] = frozenset({"dark", "deep"})
# Size words scale the pattern period; they make "big stripes" vs "fine stripes" teachable.
_SIZE_WORDS: dict[str, float] = {
    "tiny": 0.5, "small": 0.5, "fine": 0.5, "thin": 0.5,
    "big": 2.0, "large": 2.0, "huge": 2.0, "giant": 2.0, "wide": 2.0,
}
MODIFIER_WORDS: frozenset[str] = _LIGHTEN_WORDS | _DARKEN_WORDS | frozenset(_SIZE_WORDS)

LEXICON: frozenset[str] = (
    frozenset(COLOUR_WORDS) | frozenset(TEXTURE_WORDS) | frozenset(OBJECT_WORDS) | MODIFIER_WORDS
)

_IRREGULAR_PLURALS: dict[str, str] = {
    "leaves": "leaf", "wolves": "wolf", "knives": "knife", "mice": "mouse",
    "geese": "goose", "children": "child", "people": "person", "skies": "sky",
}
_WORD_RE = re.compile(r"[a-z]+")


def normalise_word(word: str) -> str:
    """Map a lowercase word to its lexicon form, undoing simple plurals.

    A plural rule is only applied when it lands on a lexicon word, so unknown words
    (and words like "grass" that merely end in "s") pass through unchanged.
    """
    if word in LEXICON:
        return word
    candidates = [_IRREGULAR_PLURALS.get(word, "")]
    if word.endswith("ies"):
        candidates.append(word[:-3] + "y")
    if word.endswith("ves"):
        candidates += [word[:-3] + "f", word[:-3] + "fe"]
    if word.endswith("es"):
        candidates.append(word[:-2])
    if word.endswith("s"):
        candidates.append(word[:-1])
    return next((c for c in candidates if c in LEXICON), word)


def tokenize(text: str) -> list[str]:
    """Lowercase, strip punctuation and singularise: the words the lexicon sees."""
    return [normalise_word(w) for w in _WORD_RE.findall(text.lower())]


# --------------------------------------------------------------------------- colour helpers


def _clamp01(x: float) -> float:
    return min(1.0, max(0.0, x))


def _luminance(rgb: RGB) -> float:
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]


def _mix(rgb: RGB, target: RGB, amount: float) -> RGB:
    return tuple(_clamp01(a + (b - a) * amount) for a, b in zip(rgb, target))  # type: ignore[return-value]


def _apply_lightness(rgb: RGB, steps: int) -> RGB:
    """Lighten (steps > 0) or darken (steps < 0) once per modifier word."""
    for _ in range(abs(steps)):
        rgb = _mix(rgb, (1.0, 1.0, 1.0), 0.45) if steps > 0 else _mix(rgb, (0.0, 0.0, 0.0), 0.45)
    return rgb


def _shade_for(primary: RGB, pattern: str) -> RGB:
    """Secondary colour when only one colour is known.

    For "flat" it is a subtle shade (invisible in the mean image, but it keeps lerps
    sensible); for a real pattern it contrasts enough for the pattern to show.
    """
    amount = 0.15 if pattern == "flat" else 0.55
    target = (0.0, 0.0, 0.0) if _luminance(primary) > 0.5 else (1.0, 1.0, 1.0)
    return _mix(primary, target, amount)


# --------------------------------------------------------------------------- appearance


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


# --------------------------------------------------------------------------- pattern fields

_NOISE_SEED = 20240607
_NOISE_LATTICE = 64
_TWO_PI = 2.0 * math.pi


@lru_cache(maxsize=8)
def _noise_lattice(device: torch.device) -> torch.Tensor:
    """Fixed random lattice, generated on CPU so every device sees identical noise."""
    gen = torch.Generator(device="cpu").manual_seed(_NOISE_SEED)
    return torch.rand(_NOISE_LATTICE, _NOISE_LATTICE, generator=gen, dtype=torch.float32).to(device)


def _interp_matrix(coord: torch.Tensor, amplitude: torch.Tensor, size: int) -> torch.Tensor:
    """(N, M, K) lattice coordinates -> (N, M, K, size) smoothstep interpolation weights.

    Each row holds two non-zeros (the neighbouring lattice cells, wrapped), scaled by the
    octave amplitude, so 2-D value noise becomes small matmuls instead of per-pixel gathers.
    """
    cell = torch.floor(coord)
    frac = coord - cell
    frac = frac * frac * (3.0 - 2.0 * frac)
    i0 = cell.long().remainder(size).unsqueeze(-1)
    i1 = (i0 + 1).remainder(size)
    weights = torch.zeros(*coord.shape, size, device=coord.device, dtype=coord.dtype)
    weights.scatter_(-1, i0, ((1.0 - frac) * amplitude).unsqueeze(-1))
    return weights.scatter_add_(-1, i1, (frac * amplitude).unsqueeze(-1))


def _flat(u: torch.Tensor, v: torch.Tensor, px: torch.Tensor) -> torch.Tensor:
    """All ones: the mean image is pure primary colour."""
    return torch.ones((), device=u.device)


def _stripes(u: torch.Tensor, v: torch.Tensor, px: torch.Tensor) -> torch.Tensor:
    """Soft diagonal-ish bands: sigmoid of a sine keeps edges anti-aliased."""
    return torch.sigmoid(6.0 * torch.sin(_TWO_PI * (u + 0.35 * v)))


def _dots(u: torch.Tensor, v: torch.Tensor, px: torch.Tensor) -> torch.Tensor:
    """Round dots (radius 0.3 period) on a square grid, ~1 px soft edge."""
    fu = u - torch.floor(u) - 0.5
    fv = v - torch.floor(v) - 0.5
    r_px = torch.sqrt(fu * fu + fv * fv) * px
    return (0.3 * px - r_px + 0.5).clamp(0.0, 1.0)


def _waves(u: torch.Tensor, v: torch.Tensor, px: torch.Tensor) -> torch.Tensor:
    """Horizontal bands displaced by a slow sine: water-like wavy stripes."""
    return 0.5 + 0.5 * torch.sin(_TWO_PI * (u + 0.3 * torch.sin(math.pi * v)))


def _bricks(u: torch.Tensor, v: torch.Tensor, px: torch.Tensor) -> torch.Tensor:
    """Staggered 2:1 bricks (1) separated by mortar lines (0); period = brick width."""
    rows = 2.0 * u
    row = torch.floor(rows)
    fu = rows - row
    shifted = v + 0.5 * torch.remainder(row, 2.0)
    fv = shifted - torch.floor(shifted)
    dy_px = torch.minimum(fu, 1 - fu) * (0.5 * px)
    dx_px = torch.minimum(fv, 1 - fv) * px
    mortar_half = torch.clamp(0.04 * px, min=0.5)
    return (torch.minimum(dy_px, dx_px) - mortar_half + 0.5).clamp(0.0, 1.0)


def _grass(u: torch.Tensor, v: torch.Tensor, px: torch.Tensor) -> torch.Tensor:
    """Thin, slightly bending vertical blades whose brightness ramps to uneven tips."""
    bend = 0.15 * torch.sin(math.pi * u)
    blades = torch.sigmoid(8.0 * (torch.cos(_TWO_PI * (3.0 * v + bend)) - 0.2))
    tips = u + 0.45 * torch.sin(_TWO_PI * 1.31 * v) + 0.25 * torch.sin(_TWO_PI * 0.53 * v)
    ramp = tips - torch.floor(tips)
    return blades * (0.25 + 0.75 * ramp)


# Deterministic (angle, frequency, phase) triples for the cloud field.
_CLOUD_WAVES: tuple[tuple[float, float, float], ...] = (
    (0.30, 0.55, 0.1), (1.40, 0.70, 1.7), (2.50, 0.45, 2.9), (3.90, 0.85, 4.2), (5.10, 0.35, 0.6),
)


def _clouds(u: torch.Tensor, v: torch.Tensor, px: torch.Tensor) -> torch.Tensor:
    """Soft blobs: a few low-frequency plane waves, summed and smooth-stepped.

    cos(a + b) = cos a cos b - sin a sin b makes each plane wave separable, so the sum
    is one batched (H, 2K) @ (2K, W) matmul rather than K full-size cosines.
    """
    a = torch.cat(
        [_TWO_PI * f * math.cos(t) * u + o for t, f, o in _CLOUD_WAVES], dim=2
    )  # (N, H, K)
    b = torch.cat([_TWO_PI * f * math.sin(t) * v for t, f, _ in _CLOUD_WAVES], dim=1)  # (N, K, W)
    total = torch.cat([torch.cos(a), -torch.sin(a)], dim=2) @ torch.cat([torch.cos(b), torch.sin(b)], dim=1)
    x = (0.5 + 1.3 * total / len(_CLOUD_WAVES)).clamp(0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


# (amplitude, frequency multiplier, lattice offset) per octave of value noise.
_NOISE_OCTAVES: tuple[tuple[float, float, float], ...] = ((0.55, 1.0, 0.0), (0.30, 2.0, 17.3), (0.15, 4.0, 31.7))


def _noise(u: torch.Tensor, v: torch.Tensor, px: torch.Tensor) -> torch.Tensor:
    """Three octaves of value noise, contrast-stretched so it uses most of [0, 1].

    Bilinear lattice interpolation is separable: octave_k = Rows_k @ Lattice @ Cols_k^T,
    and the sum over octaves folds into one (H, K*L) @ (K*L, W) matmul.
    """
    n, h, w = u.shape[0], u.shape[1], v.shape[2]
    size = _NOISE_LATTICE
    octaves = len(_NOISE_OCTAVES)
    amps = torch.tensor([a for a, _, _ in _NOISE_OCTAVES], device=u.device)
    freqs = torch.tensor([f for _, f, _ in _NOISE_OCTAVES], device=u.device)
    offsets = torch.tensor([o for _, _, o in _NOISE_OCTAVES], device=u.device)
    rows = _interp_matrix(u * freqs + offsets, amps, size)  # (N, H, K, L), amplitude folded in
    cols = _interp_matrix(v.transpose(1, 2) * freqs + 0.37 * offsets, torch.ones_like(amps), size)
    rows_lattice = (rows @ _noise_lattice(u.device)).reshape(n, h, octaves * size)
    total = rows_lattice @ cols.reshape(n, w, octaves * size).transpose(1, 2)
    return (0.5 + 2.4 * (total - 0.5)).clamp(0.0, 1.0)


def _checker(u: torch.Tensor, v: torch.Tensor, px: torch.Tensor) -> torch.Tensor:
    """Checkerboard of half-period squares with softened edges."""
    return torch.sigmoid(12.0 * torch.sin(_TWO_PI * u) * torch.sin(_TWO_PI * v))


_Renderer = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
_RENDERERS: dict[str, _Renderer] = {
    "flat": _flat, "stripes": _stripes, "dots": _dots, "waves": _waves, "bricks": _bricks,
    "grass": _grass, "clouds": _clouds, "noise": _noise, "checker": _checker,
}
if tuple(_RENDERERS) != PATTERNS:
    raise RuntimeError("toy_lexicon: every entry of PATTERNS needs exactly one renderer, in the same order")


def _as_float_tensor(value: object, name: str) -> torch.Tensor:
    """Accept tensors or sequences of numbers; reject bool/complex with a clear message."""
    tensor = torch.as_tensor(value)
    if not (tensor.is_floating_point() or tensor.dtype in (torch.int32, torch.int64)):
        raise TypeError(f"{name} must be a real-valued tensor, got dtype {tensor.dtype}")
    return tensor


def _validate_field_args(height: int, width: int, scale: torch.Tensor, phase: torch.Tensor) -> None:
    """Fail early with actionable messages instead of broadcasting garbage."""
    if int(height) < 8 or int(width) < 8:
        raise ValueError(f"pattern_fields needs height and width >= 8, got {height}x{width}")
    if scale.ndim != 1:
        raise ValueError(f"scale must have shape (N,), got {tuple(scale.shape)}; one period per sample")
    if phase.shape != (scale.shape[0], 2):
        raise ValueError(
            f"phase must have shape (N, 2) = ({scale.shape[0]}, 2) as (dy, dx) fractions of the period, "
            f"got {tuple(phase.shape)}"
        )
    if not bool(torch.isfinite(scale).all()) or not bool((scale > 0).all()):
        raise ValueError("scale must be finite and > 0 (pattern period in output pixels, e.g. 2 ** embedding[-1])")
    if not bool(torch.isfinite(phase).all()):
        raise ValueError("phase must be finite (fractions of the period in [0, 1))")


def pattern_fields(
    height: int,
    width: int,
    scale: torch.Tensor,
    phase: torch.Tensor,
    *,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Render every pattern at once: (N, len(PATTERNS), height, width) float32 in [0, 1].

    ``1`` means primary colour and ``0`` secondary colour.  ``scale`` is (N,) periods in
    output pixels, ``phase`` is (N, 2) (dy, dx) offsets as fractions of the period.
    Fully vectorised by broadcasting (N, H, 1) against (N, 1, W) coordinate grids.
    """
    scale = _as_float_tensor(scale, "scale")
    phase = _as_float_tensor(phase, "phase")
    _validate_field_args(height, width, scale, phase)
    target = torch.device(device) if device is not None else scale.device
    scale = scale.to(device=target, dtype=torch.float32)
    phase = phase.to(device=target, dtype=torch.float32)
    n = scale.shape[0]

    px = scale[:, None, None]
    ys = torch.arange(int(height), device=target, dtype=torch.float32) + 0.5
    xs = torch.arange(int(width), device=target, dtype=torch.float32) + 0.5
    u = ys[None, :, None] / px + phase[:, 0, None, None]  # (N, H, 1), in periods
    v = xs[None, None, :] / px + phase[:, 1, None, None]  # (N, 1, W), in periods

    out = torch.empty(n, len(PATTERNS), int(height), int(width), device=target, dtype=torch.float32)
    for index, render in enumerate(_RENDERERS.values()):
        out[:, index] = render(u, v, px)
    return out.clamp_(0.0, 1.0)


# --------------------------------------------------------------------------- object shapes and unknown words

# Words that draw a whole object (one shape on a plain backdrop) instead of a texture filling the frame.
SHAPES: tuple[str, ...] = ("disc", "crescent", "apple", "flower", "star")
SHAPE_WORDS: dict[str, str] = {
    "sun": "disc", "sunshine": "disc", "ball": "disc", "moon": "crescent", "apple": "apple",
    "flower": "flower", "star": "star",
}
# Function words a text encoder would read but that carry no look; never reported as unknown.
STOP_WORDS: frozenset[str] = frozenset(
    "a an the of in on with and or at by for from to into onto over under near behind above below beside "
    "is are its it this that some very".split()
)


def shape_weights(text: str) -> torch.Tensor:
    """(len(SHAPES),) one-hot of the first shape word in the prompt; all zeros for texture prompts."""
    weights = torch.zeros(len(SHAPES))
    shape = next((SHAPE_WORDS[w] for w in tokenize(_check_text(text)) if w in SHAPE_WORDS), None)
    if shape is not None:
        weights[SHAPES.index(shape)] = 1.0
    return weights


def unknown_words(text: str) -> list[str]:
    """Words of the prompt the toy model ignores (not in the lexicon, not function words), in order, once each."""
    words = [w for w in tokenize(_check_text(text)) if w not in LEXICON and w not in STOP_WORDS]
    return list(dict.fromkeys(words))


def _inside(distance: torch.Tensor, boundary: torch.Tensor | float) -> torch.Tensor:
    """Anti-aliased inside test: 1 well inside the boundary, 0 outside, a one-pixel ramp between."""
    return (torch.as_tensor(boundary) - distance + 0.5).clamp(0.0, 1.0)


def shape_fields(height: int, width: int, radius: float, *, device: torch.device | str | None = None) -> torch.Tensor:
    """Every shape of ``SHAPES`` centred in a (height, width) frame: (len(SHAPES), H, W) in [0, 1].

    ``radius`` is the object's outer radius in pixels; 1 means "object", 0 "backdrop".
    """
    if radius <= 0:
        raise ValueError(f"radius must be > 0 pixels, got {radius}")
    ys = torch.arange(int(height), dtype=torch.float32, device=device)[:, None] + 0.5 - height / 2
    xs = torch.arange(int(width), dtype=torch.float32, device=device)[None, :] + 0.5 - width / 2
    r = float(radius)
    d = torch.sqrt(ys ** 2 + xs ** 2)
    theta = torch.atan2(ys, xs)

    def disc(cy: float, cx: float, rr: float) -> torch.Tensor:
        return _inside(torch.sqrt((ys - cy) ** 2 + (xs - cx) ** 2), rr)

    whole = disc(0.0, 0.0, r)
    crescent = whole * (1 - disc(-0.25 * r, 0.45 * r, 0.85 * r))
    stem = ((xs.abs() < 0.07 * r) & (ys > -1.0 * r) & (ys < -0.5 * r)).float()
    apple = torch.maximum(torch.maximum(disc(0.1 * r, -0.3 * r, 0.72 * r), disc(0.1 * r, 0.3 * r, 0.72 * r)), stem)
    flower = _inside(d, r * (0.55 + 0.45 * torch.cos(2.5 * theta).abs()))
    tips = torch.remainder(theta * 5 / (2 * math.pi) + 0.25, 1.0)  # 0 and 1 at the five points
    star = _inside(d, r * (0.42 + 0.58 * (2 * tips - 1).abs() ** 2))
    return torch.stack([whole, crescent, apple, flower, star]).expand(len(SHAPES), -1, -1).contiguous()
