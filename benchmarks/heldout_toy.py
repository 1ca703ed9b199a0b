"""Held-out cases for the toy model's teaching claims: does what the README teaches hold on cases nobody tuned on?

    python benchmarks/heldout_toy.py [--set heldout|dev] [--seeds 8] [--out benchmarks/results/heldout_toy.md]

Two claims are measured, each against the methods it is compared with:

1. *Bootstrapping forms whole small objects that the other methods cut or lose.* For every object
   region, count the seeds where the object is whole: the largest blob of object-coloured pixels
   (RGB distance < 0.25 from the prompt's colour, 8-connected, searched in the mask's box grown by
   16 px) covers at least 3% of the mask, lies inside the mask, and at most 2% of its pixels touch
   the mask's 4 px inner edge band. Methods: SemanticDraw, SemanticDraw without bootstrapping,
   MultiDiffusion.
2. *MultiDiffusion washes out detail where masks overlap.* For pairs of overlapping blurred regions,
   the fine-detail std in the overlap (``compare.overlap_detail``) of MultiDiffusion relative to
   SemanticDraw's, averaged over the seeds: ``loss = 1 - MD / SD``.

HELD-OUT cases were written down before the toy was tuned (git history: this file's first commit
precedes every toy change it judges) and must never be used to tune anything; tune on DEV_CASES
(other positions, sizes and seeds). Seeds: held-out 1000.., dev 0...
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import semanticdraw_widgets as sdw  # noqa: E402
from semanticdraw_widgets.backends.toy_lexicon import describe  # noqa: E402
from semanticdraw_widgets.compare import overlap_detail  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
COLOUR_DISTANCE = 0.25
EDGE_BAND = 4
MIN_AREA = 0.03
MAX_IN_BAND = 0.02
SEARCH_MARGIN = 16


@dataclass(frozen=True)
class Case:
    name: str
    width: int
    height: int
    steps: int
    background: str
    # (prompt, (top, left, bottom, right), blur px, is_object)
    regions: tuple[tuple[str, tuple[int, int, int, int], float, bool], ...]
    kind: str = "object"  # "object": claim 1, "detail": claim 2
    notes: str = ""


def box(top: int, left: int, size: int, size_x: int | None = None) -> tuple[int, int, int, int]:
    return top, left, top + size, left + (size_x or size)


# Written before tuning. Objects 64-256 px anywhere on square and non-square canvases, 1-8 steps, plain,
# sky and textured backgrounds, textured neighbours, two objects close together.
HELDOUT_CASES: tuple[Case, ...] = (
    Case("sun 128 px, top-left corner, sky", 512, 512, 4, "blue sky", (("sun", box(0, 0, 128), 0, True),)),
    Case("red apple 96 px, bottom-right, white, 2 steps", 512, 512, 2, "white",
         (("red apple", box(416, 416, 96), 0, True),)),
    Case("orange ball 64 px, top edge, plain grey", 512, 512, 4, "plain grey",
         (("orange ball", box(0, 224, 64), 0, True),)),
    Case("yellow star 128 px, right edge of 768x512, sky, 8 steps", 768, 512, 8, "blue sky",
         (("yellow star", box(192, 640, 128), 0, True),)),
    Case("pink flower 160 px on grass, 512x768 portrait", 512, 768, 4, "green grass",
         (("pink flower", box(500, 60, 160), 0, True),)),
    Case("moon 256 px, left, night sky 640x448, 3 steps", 640, 448, 3, "navy blue sky",
         (("moon", box(96, 16, 256), 0, True),)),
    Case("red apple 96 px beside brown bricks", 512, 512, 4, "white",
         (("brown bricks", box(160, 0, 224, 240), 0, False), ("red apple", box(200, 250, 96), 0, True))),
    Case("sun and red ball 112 px, 16 px apart, 768x512", 768, 512, 4, "blue sky",
         (("sun", box(200, 250, 112), 0, True), ("red ball", box(200, 378, 112), 0, True))),
    Case("yellow star 80 px on grass beside gravel, 640x512, 6 steps", 640, 512, 6, "green grass",
         (("gray gravel", box(0, 0, 512, 200), 0, False), ("yellow star", box(300, 220, 80), 0, True))),
    Case("orange ball 192 px off-centre, white, 1 step", 512, 512, 1, "white",
         (("orange ball", box(40, 280, 192), 0, True),)),
    Case("purple flower 72 px, bottom-left, water, 384x384, 8 steps", 384, 384, 8, "blue water",
         (("purple flower", box(312, 0, 72), 0, True),)),
    Case("sun 224 px, top-right of 1024x512, 2 steps", 1024, 512, 2, "blue sky",
         (("sun", box(0, 800, 224), 0, True),)),
    Case("grass over fur, blur 16, 2 steps", 512, 512, 2, "white",
         (("green grass", box(0, 0, 512, 300), 16, False), ("brown fur", box(0, 212, 512, 300), 16, False)),
         kind="detail"),
    Case("lawn over gravel, blur 16, 768x512, 4 steps", 768, 512, 4, "white",
         (("green lawn", box(0, 0, 512, 420), 16, False), ("gray gravel", box(0, 348, 512, 420), 16, False)),
         kind="detail"),
    Case("sand over grass, blur 24, 640x512, 8 steps", 640, 512, 8, "blue sky",
         (("white sand", box(0, 0, 300, 640), 24, False), ("green grass", box(212, 0, 300, 640), 24, False)),
         kind="detail"),
    Case("bricks over water (not grainy), blur 16, 4 steps", 512, 512, 4, "white",
         (("red bricks", box(0, 0, 512, 300), 16, False), ("blue water", box(0, 212, 512, 300), 16, False)),
         kind="detail"),
)

# For tuning only: other positions, sizes, canvases and seeds.
DEV_CASES: tuple[Case, ...] = (
    Case("sun 100 px, left middle", 512, 512, 4, "blue sky", (("sun", box(206, 0, 100), 0, True),)),
    Case("apple 150 px, top-right, white, 8 steps", 512, 512, 8, "white",
         (("red apple", box(0, 362, 150), 0, True),)),
    Case("ball 80 px, 640x384, grey, 3 steps", 640, 384, 3, "plain grey",
         (("orange ball", box(300, 500, 80), 0, True),)),
    Case("star 200 px, 512x640, grass, 2 steps", 512, 640, 2, "green grass",
         (("yellow star", box(420, 300, 200), 0, True),)),
    Case("flower 120 px beside stripes", 512, 512, 4, "white",
         (("blue stripes", box(0, 0, 512, 180), 0, False), ("pink flower", box(100, 200, 120), 0, True))),
    # Added before the toy's object model was reworked (issue 16, item 2): still no held-out position,
    # size, canvas or seed; the cases the issue found the old toy failing on, in other places.
    Case("apple 96 px, top-right, white, grass band elsewhere", 512, 512, 4, "white",
         (("green grass", box(400, 0, 112, 512), 0, False), ("red apple", box(20, 380, 96), 0, True))),
    Case("ball 64 px, left edge, 640x480, sky, 5 steps", 640, 480, 5, "blue sky",
         (("orange ball", box(150, 0, 64), 0, True),)),
    Case("moon 240 px, 768x512, night sky, 2 steps", 768, 512, 2, "navy blue sky",
         (("moon", box(130, 420, 240), 0, True),)),
    Case("two yellow stars 90 px, 20 px apart, 6 steps", 512, 512, 6, "blue sky",
         (("yellow star", box(300, 100, 90), 0, True), ("yellow star", box(300, 210, 90), 0, True))),
    Case("sun 140 px on water, 448x448, 1 step", 448, 448, 1, "blue water",
         (("sun", box(40, 260, 140), 0, True),)),
    Case("sun 180 px beside fur, 7 steps", 512, 512, 7, "white",
         (("brown fur", box(0, 0, 512, 200), 0, False), ("sun", box(280, 240, 180), 0, True))),
    Case("sand over bricks, blur 20, 3 steps", 512, 512, 3, "white",
         (("yellow sand", box(0, 0, 512, 300), 20, False), ("red bricks", box(0, 212, 512, 300), 20, False)),
         kind="detail"),
    Case("fur over grass, blur 16, 4 steps", 512, 512, 4, "white",
         (("brown fur", box(0, 0, 512, 300), 16, False), ("green grass", box(0, 212, 512, 300), 16, False)),
         kind="detail"),
)

METHODS = {"SemanticDraw": {}, "no bootstrap": {"bootstrap_steps": 0}, "MultiDiffusion": {"method": "multidiffusion"}}


def make_scene(case: Case, seed: int) -> sdw.Scene:
    regions = []
    for prompt, (top, left, bottom, right), blur, _ in case.regions:
        mask = np.zeros((case.height, case.width), bool)
        mask[top:bottom, left:right] = True
        regions.append(sdw.Region(prompt=prompt, mask=mask, mask_blur=blur))
    return sdw.Scene(width=case.width, height=case.height, seed=seed,
                     background=sdw.Background(prompt=case.background), regions=regions)


def object_whole(rgb: np.ndarray, mask: np.ndarray, colour: tuple[float, float, float]) -> bool:
    """The largest object-coloured blob near the mask is big enough, inside it and clear of its edge band."""
    near = np.linalg.norm(rgb - np.asarray(colour, np.float32), axis=-1) < COLOUR_DISTANCE
    rows, cols = np.nonzero(mask)
    window = np.zeros_like(mask)
    window[max(rows.min() - SEARCH_MARGIN, 0): rows.max() + 1 + SEARCH_MARGIN,
           max(cols.min() - SEARCH_MARGIN, 0): cols.max() + 1 + SEARCH_MARGIN] = True
    labels, count = ndimage.label(near & window, structure=np.ones((3, 3)))
    if count == 0:
        return False
    sizes = np.bincount(labels.ravel())[1:]
    blob = labels == (int(np.argmax(sizes)) + 1)
    core = ndimage.binary_erosion(mask, np.ones((2 * EDGE_BAND + 1,) * 2), border_value=1)
    band = mask & ~core
    area = blob.sum() / mask.sum()
    return bool(area >= MIN_AREA and not (blob & ~mask).any() and (blob & band).sum() <= MAX_IN_BAND * blob.sum())


def run_case(backend, case: Case, seeds: list[int]) -> dict:
    out: dict = {"case": case.name, "kind": case.kind, "steps": case.steps, "size": f"{case.width}x{case.height}"}
    if case.kind == "object":
        objects = [(p, b) for p, b, _, is_object in case.regions if is_object]
        counts = {m: 0 for m in METHODS}
        for seed in seeds:
            scene = make_scene(case, seed)
            for method, kwargs in METHODS.items():
                rgb = np.asarray(sdw.generate(backend, scene, steps=case.steps, **kwargs), np.float32) / 255
                ok = True
                for prompt, (top, left, bottom, right) in objects:
                    mask = np.zeros((case.height, case.width), bool)
                    mask[top:bottom, left:right] = True
                    ok &= object_whole(rgb, mask, describe(prompt)["primary"])
                counts[method] += int(ok)
        out["whole"] = counts
    else:
        ratios = []
        for seed in seeds:
            scene = make_scene(case, seed)
            details = {}
            for method in ("SemanticDraw", "MultiDiffusion"):
                rgb = np.asarray(sdw.generate(backend, scene, steps=case.steps, **METHODS[method]), np.float32) / 255
                details[method] = overlap_detail(rgb, [r.mask for r in scene.regions],
                                                 [r.mask_blur for r in scene.regions], backend.scale_factor)
            ratios.append(1 - details["MultiDiffusion"] / details["SemanticDraw"])
        out["detail_loss"] = round(float(np.mean(ratios)), 3)
        out["detail_loss_range"] = [round(float(min(ratios)), 3), round(float(max(ratios)), 3)]
    return out


def markdown(rows: list[dict], label: str, seeds: list[int]) -> str:
    lines = [f"## {label}: {len(seeds)} seeds ({seeds[0]}..{seeds[-1]})", "",
             "| case | steps | size | SemanticDraw whole | no bootstrap | MultiDiffusion |", "|---|---|---|---|---|---|"]
    n = len(seeds)
    for row in rows:
        if row["kind"] == "object":
            w = row["whole"]
            lines.append(f"| {row['case']} | {row['steps']} | {row['size']} | {w['SemanticDraw']}/{n} | "
                         f"{w['no bootstrap']}/{n} | {w['MultiDiffusion']}/{n} |")
    lines += ["", "| overlap case | steps | size | detail lost by MultiDiffusion (mean, min..max over seeds) |",
              "|---|---|---|---|"]
    for row in rows:
        if row["kind"] == "detail":
            lo, hi = row["detail_loss_range"]
            lines.append(f"| {row['case']} | {row['steps']} | {row['size']} | {row['detail_loss']:.0%} "
                         f"({lo:.0%}..{hi:.0%}) |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=("heldout", "dev"), default="heldout")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--out", type=Path, default=None, help="write markdown here (and JSON next to it)")
    args = parser.parse_args()
    import warnings

    warnings.simplefilter("ignore", UserWarning)
    cases = HELDOUT_CASES if args.set == "heldout" else DEV_CASES
    seeds = list(range(1000, 1000 + args.seeds)) if args.set == "heldout" else list(range(args.seeds))
    backend = sdw.load_backend("toy")
    start = time.perf_counter()
    rows = []
    for case in cases:
        rows.append(run_case(backend, case, seeds))
        print(json.dumps(rows[-1]), flush=True)
    report(markdown(rows, args.set, seeds), rows, args.out, start)


def report(text: str, rows: list[dict], out: Path | None, start: float) -> None:
    """Print the table and the time taken; with ``out``, write the table there and the rows as JSON beside it."""
    print(text)
    print(f"{time.perf_counter() - start:.0f} s")
    if out:
        out.write_text(text)
        out.with_suffix(".json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
