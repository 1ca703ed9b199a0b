"""Why SemanticDraw: render one scene with the method and its ablations side by side, with numbers.

    result = sdw.compare_methods(backend, scene, steps=4)
    result.table      # one row of measurements per method
    result.grid()     # a labelled PIL image of every render
    result            # in a notebook: the grid and the table

The methods are SemanticDraw (continuous masks), the MultiDiffusion reference, SemanticDraw without
bootstrapping (``bootstrap_steps=0``) and SemanticDraw with semi-continuous and discrete masks. The
measurements read colours through the toy lexicon's looks (``toy_lexicon.describe``), so they are
exact on the toy model and a rough guide on a real one:

* ``adherence: <prompt>`` share of a region's core whose colour is nearer the prompt's look than the
  background prompt's;
* for object words ("sun", "apple", ...): ``<word> area`` the share of the mask the object covers,
  ``<word> cut`` the share of the mask's inner border band it covers (an object cut by the mask edge
  touches it), ``<word> offset`` its centroid's distance from the mask's centre as a fraction of the
  mask's size, and ``<word> whole`` = present (area >= 5%) and not cut (cut <= 5%);
* ``overlap detail`` std of the fine detail (luma minus its 3x3 mean, at latent resolution) where two
  regions' soft masks overlap; MultiDiffusion's averaging of independently re-noised latents lowers it;
* ``seconds`` wall-clock time of the render (one run; a rough guide, not a benchmark).

Where the toy shows the method's advantages (held-out cases, ``benchmarks/results/heldout_toy.md``, 8
seeds each): with bootstrapping an object word's object is the region's own, centred on the mask and as
big as the room allows (a large ``area``, a small ``offset``); without it, and with MultiDiffusion, the
region gets a small object squeezed against its side or none. Whether the object is ``whole`` depends on
the case: bootstrapping is ahead for big objects (192-224 px) at 1-2 steps; for medium objects (96-160 px)
the other methods are whole as often or more often (a 96 px apple at 2 steps: 2/8 with SemanticDraw,
8/8 with MultiDiffusion, whose small object fits); objects of 64-80 px or 256 px, textured neighbours and
two objects side by side defeat every method. Overlap detail: MultiDiffusion keeps 5-7% less than
SemanticDraw for the grainiest looks (sand, gravel, grass, fur) on held-out overlaps, none less for bricks
over water.
"""

from __future__ import annotations

import base64
import html
import io
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

from .backends.base import Backend
from .backends.toy_lexicon import SHAPE_WORDS, describe, tokenize
from .engine import generate
from .scene import Scene

# label -> keyword arguments of generate()
METHODS: dict[str, dict] = {
    "SemanticDraw": {},
    "MultiDiffusion": {"method": "multidiffusion"},
    "no bootstrapping": {"bootstrap_steps": 0},
    "semi-continuous masks": {"mask_mode": "semi-continuous"},
    "discrete masks": {"mask_mode": "discrete"},
}
OBJECT_COLOUR_DISTANCE = 0.25  # RGB distance (0-1 scale) within which a pixel counts as the object's colour


@dataclass
class Comparison:
    """Renders of one scene by several methods, and their measurements (see the module docstring)."""

    scene: Scene
    steps: int
    images: dict[str, Image.Image]
    table: list[dict[str, object]] = field(default_factory=list)  # one row per method, "method" first

    def row(self, method: str) -> dict[str, object]:
        """The measurements of one method."""
        for row in self.table:
            if row["method"] == method:
                return row
        raise KeyError(f"no method {method!r}; this comparison has {', '.join(self.images)}")

    def grid(self, tile: int = 256) -> Image.Image:
        """Every render side by side, each labelled with its method and its headline numbers."""
        font = _font(13)
        line = 16
        lines = [[row["method"], *_headline(row)] for row in self.table]
        label_height = line * max(len(x) for x in lines) + 6
        scale = tile / max(self.scene.width, self.scene.height)
        size = (round(self.scene.width * scale), round(self.scene.height * scale))
        out = Image.new("RGB", (len(self.images) * (size[0] + 8) + 8, size[1] + label_height + 8), "white")
        draw = ImageDraw.Draw(out)
        for i, (name, image) in enumerate(self.images.items()):
            x = 8 + i * (size[0] + 8)
            for j, text in enumerate(lines[i]):
                draw.text((x, 4 + j * line), text, fill="black", font=font)
            out.paste(image.convert("RGB").resize(size, Image.Resampling.LANCZOS), (x, label_height))
        return out

    def _repr_html_(self) -> str:
        buffer = io.BytesIO()
        self.grid().save(buffer, format="PNG")
        picture = base64.b64encode(buffer.getvalue()).decode("ascii")
        columns = list(dict.fromkeys(key for row in self.table for key in row))
        head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(_format(row.get(c)))}</td>" for c in columns) + "</tr>"
                       for row in self.table)
        return (f"<div><p>{self.scene.width}x{self.scene.height}, {self.steps} steps, "
                f"seed {self.scene.seed}</p><img src='data:image/png;base64,{picture}'/>"
                f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")


def compare_methods(backend: Backend, scene: Scene, steps: int = 4, seed: int | None = None,
                    methods: dict[str, dict] | None = None) -> Comparison:
    """Render `scene` with SemanticDraw and each ablation (``METHODS``) and measure each render.

    Read ``<word> area`` and ``<word> offset`` with ``<word> whole``: on the toy, bootstrapping's advantage is a
    centred object sized to the region, and only for big objects at 1-2 steps more often a whole one (see
    the module docstring and ``benchmarks/results/heldout_toy.md`` for where each claim holds).
    """
    if not isinstance(scene, Scene):
        raise TypeError(f"compare_methods needs a semanticdraw_widgets.Scene, got {type(scene).__name__}")
    if seed is not None:
        scene = scene.with_(seed=seed)
    images, table = {}, []
    for name, kwargs in (methods or METHODS).items():
        start = time.perf_counter()
        images[name] = generate(backend, scene, steps=steps, **kwargs)
        seconds = time.perf_counter() - start
        table.append({"method": name, "seconds": round(seconds, 3), **measure(images[name], scene, backend.scale_factor)})
    return Comparison(scene=scene, steps=steps, images=images, table=table)


def measure(image: Image.Image, scene: Scene, scale_factor: int = 4) -> dict[str, float | bool | None]:
    """Every measurement of one render of `scene` (keys as in the module docstring)."""
    rgb = np.asarray(image.convert("RGB"), np.float32) / 255
    out: dict[str, float | bool | None] = {}
    background = _look(scene.background.prompt)
    for region in scene.regions:
        mask = region.mask > 0.5
        out[f"adherence: {region.prompt}"] = region_adherence(rgb, mask, _look(region.prompt), background)
        word = object_word(region.prompt)
        if word is not None:
            numbers = object_in_mask(rgb, mask, describe(region.prompt)["primary"])
            out.update({f"{word} {key}": value for key, value in numbers.items()})
    out["overlap detail"] = overlap_detail(rgb, [r.mask for r in scene.regions], [r.mask_blur for r in scene.regions],
                                           scale_factor)
    return out


def object_word(prompt: str) -> str | None:
    """The first word of `prompt` that draws a whole object on the toy model ("sun", "apple", ...), if any."""
    return next((w for w in tokenize(prompt) if w in SHAPE_WORDS), None)


def region_adherence(rgb: np.ndarray, mask: np.ndarray, look: np.ndarray, background: np.ndarray) -> float:
    """Share of the mask's core (8 px in from its edge) nearer in colour to `look` than to `background`.

    rgb (H, W, 3) in [0, 1]; look and background (K, 3) colours.
    """
    core = _erode(mask, 8)
    if not core.any():
        core = mask
    pixels = rgb[core]  # (N, 3)
    near_look = np.linalg.norm(pixels[:, None] - look[None], axis=-1).min(1)
    near_background = np.linalg.norm(pixels[:, None] - background[None], axis=-1).min(1)
    return round(float((near_look < near_background).mean()), 3)


def object_in_mask(rgb: np.ndarray, mask: np.ndarray, colour: tuple[float, float, float]) -> dict[str, float | bool]:
    """Is the object (pixels within OBJECT_COLOUR_DISTANCE of `colour`) whole inside the mask? (H, W) bool mask."""
    object_pixels = np.linalg.norm(rgb - np.asarray(colour, np.float32), axis=-1) < OBJECT_COLOUR_DISTANCE
    inside = object_pixels & mask
    band = mask & ~_erode(mask, 4)
    area = float(inside.sum() / max(mask.sum(), 1))
    cut = float((object_pixels & band).sum() / max(band.sum(), 1))
    rows, cols = np.nonzero(mask)
    centre = np.array([(rows.min() + rows.max() + 1) / 2, (cols.min() + cols.max() + 1) / 2])
    extent = max(rows.max() - rows.min() + 1, cols.max() - cols.min() + 1)
    ys, xs = np.nonzero(inside)
    offset = float(np.hypot(ys.mean() + 0.5 - centre[0], xs.mean() + 0.5 - centre[1]) / extent) if len(ys) else 1.0
    return {"area": round(area, 3), "cut": round(cut, 3), "offset": round(offset, 3),
            "whole": bool(area >= 0.05 and cut <= 0.05)}


def overlap_detail(rgb: np.ndarray, masks: list[np.ndarray], blurs: list[float], scale_factor: int = 4) -> float | None:
    """Std of the fine detail (luma minus its 3x3 mean, at latent resolution) where two soft region masks overlap.

    The overlap is where at least two blurred masks are each above 0.2; None if there is none.
    """
    if len(masks) < 2:
        return None
    soft = torch.stack([_gaussian(torch.from_numpy(np.array(m, np.float32)), b) for m, b in zip(masks, blurs)])
    overlap = ((soft > 0.2).sum(0) >= 2).float()[None, None]  # (1, 1, H, W)
    luma = torch.from_numpy(rgb.mean(-1))[None, None]
    small = F.avg_pool2d(luma, scale_factor)
    where = F.avg_pool2d(overlap, scale_factor)[0, 0] > 0.99
    detail = (small - F.avg_pool2d(F.pad(small, (1, 1, 1, 1), mode="replicate"), 3, stride=1))[0, 0]
    if int(where.sum()) < 16:
        return None
    return round(float(detail[where].std()), 4)


def _look(prompt: str) -> np.ndarray:
    """(2, 3) the primary and secondary colours the toy lexicon reads in `prompt`."""
    look = describe(prompt)
    return np.asarray([look["primary"], look["secondary"]], np.float32)


def _erode(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Binary erosion by a (2p+1)^2 square (pixels outside the canvas count as inside, like the mask's border)."""
    outside = torch.from_numpy(~mask).float()[None, None]
    grown = F.max_pool2d(F.pad(outside, (pixels,) * 4, value=0.0), 2 * pixels + 1, stride=1)
    return grown[0, 0].numpy() < 0.5


def _gaussian(mask: torch.Tensor, std: float) -> torch.Tensor:
    """(H, W) mask blurred by a separable Gaussian of `std` pixels (identity for std 0)."""
    if std <= 0:
        return mask
    radius = int(3 * std)
    taps = torch.exp(-0.5 * (torch.arange(-radius, radius + 1, dtype=torch.float32) / std) ** 2)
    taps = taps / taps.sum()
    x = F.pad(mask[None, None], (radius,) * 4, mode="replicate")
    x = F.conv2d(x, taps[None, None, :, None])
    return F.conv2d(x, taps[None, None, None, :])[0, 0]


def _headline(row: dict[str, object]) -> list[str]:
    """The numbers drawn under a tile: objects whole or not, overlap detail, time."""
    lines = []
    for key, value in row.items():
        if key.endswith(" whole"):
            word = key[: -len(" whole")]
            lines.append(f"{word}: {'whole' if value else 'cut/missing'} (area {_format(row.get(word + ' area'))})")
    if row.get("overlap detail") is not None:
        lines.append(f"overlap detail {_format(row['overlap detail'])}")
    adherence = [v for k, v in row.items() if k.startswith("adherence: ")]
    if adherence:
        lines.append(f"adherence {_format(min(adherence))} (min)")
    lines.append(f"{_format(row['seconds'])} s")
    return lines


def _format(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has only the fixed bitmap font
        return ImageFont.load_default()
