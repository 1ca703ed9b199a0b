"""Colour maths of the toy lexicon: RGB tuples in [0, 1], lightening, darkening, shades."""

from __future__ import annotations

from .toy_words import RGB




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


