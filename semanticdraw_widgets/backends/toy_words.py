"""The toy model's word tables: colours, textures, objects and modifiers (data only; see toy_lexicon)."""

from __future__ import annotations

from dataclasses import dataclass


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

