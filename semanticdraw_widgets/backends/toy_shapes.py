"""Object shapes of the toy model (sun, moon, apple, flower, star) and the words it ignores."""

from __future__ import annotations

import math

import torch

from .toy_appearance import _check_text
from .toy_tokenize import tokenize
from .toy_words import LEXICON



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

