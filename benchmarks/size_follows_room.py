"""Does the toy's object size follow the room it is given? A sweep over mask sizes.

    python benchmarks/size_follows_room.py [--seeds 8] [--first-seed 1000] [--out FILE.md]

Written down before its numbers were looked at (issue 16, item 2, after the toy's object model was tuned
on the dev set; nothing here was tuned against). For every series (canvas x prompt on background) and
every square mask of side S in MASK_SIZES, placed ``INSET`` px from a canvas corner, each method renders
the scene at 4 steps for every seed and we report:

* ``r / (S/2)``: the median over seeds of the largest object-coloured blob's radius, sqrt(area / π), the
  blob taken inside the mask (RGB distance < 0.25 from the prompt's colour, 8-connected), divided by the
  mask's half side. 0 when no object-coloured pixel is in the mask. A whole object that fills its
  square has a ratio near 1 (a disc inscribed in the square: exactly 1);
* ``whole``: seeds where the object is whole (``heldout_toy.object_whole``, the held-out set's rule).

What would count as "size follows the room": for a method, the median radius grows with S in every
series (Spearman rank correlation of the median radius with S, reported per series, near 1), with a
ratio that stays roughly level across S rather than falling as 1/S (a fixed-size object) or sitting at 0.
Canvases: 512x512 (mask in the bottom-right corner) and 768x512 (mask in the top-left corner). Series:
a sun on white, a red apple on blue sky. Methods: SemanticDraw, SemanticDraw without bootstrapping.
Held-out seeds 1000.. for the committed table; seeds 0.. (``--first-seed 0``) are the dev seeds. ``--out`` writes
the table only; the prose of the committed results file was written by hand after its one run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import ndimage, stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import semanticdraw_widgets as sdw  # noqa: E402
from heldout_toy import COLOUR_DISTANCE, object_whole, report  # noqa: E402
from semanticdraw_widgets.backends.toy_lexicon import describe  # noqa: E402

MASK_SIZES = (64, 96, 128, 192, 256)
INSET = 24
STEPS = 4
# (width, height, corner), corner "bottom-right" or "top-left"
CANVASES = ((512, 512, "bottom-right"), (768, 512, "top-left"))
SERIES = (("sun", "white"), ("red apple", "blue sky"))
METHODS = {"SemanticDraw": {}, "no bootstrap": {"bootstrap_steps": 0}}


def corner_mask(width: int, height: int, corner: str, side: int) -> np.ndarray:
    mask = np.zeros((height, width), bool)
    if corner == "bottom-right":
        mask[height - INSET - side: height - INSET, width - INSET - side: width - INSET] = True
    else:
        mask[INSET: INSET + side, INSET: INSET + side] = True
    return mask


def blob_radius(rgb: np.ndarray, mask: np.ndarray, colour) -> float:
    """sqrt(area / π) of the largest object-coloured 8-connected blob inside the mask (0 when none)."""
    near = np.linalg.norm(rgb - np.asarray(colour, np.float32), axis=-1) < COLOUR_DISTANCE
    labels, count = ndimage.label(near & mask, structure=np.ones((3, 3)))
    area = np.bincount(labels.ravel())[1:].max() if count else 0
    return float(np.sqrt(area / np.pi))


def measure(backend, seeds: list[int]) -> list[dict]:
    rows = []
    for width, height, corner in CANVASES:
        for prompt, background in SERIES:
            colour = describe(prompt)["primary"]
            for side in MASK_SIZES:
                mask = corner_mask(width, height, corner, side)
                for method, kwargs in METHODS.items():
                    radii, whole = [], 0
                    for seed in seeds:
                        scene = sdw.Scene(width=width, height=height, seed=seed,
                                          background=sdw.Background(prompt=background),
                                          regions=[sdw.Region(prompt=prompt, mask=mask)])
                        rgb = np.asarray(sdw.generate(backend, scene, steps=STEPS, **kwargs), np.float32) / 255
                        radii.append(blob_radius(rgb, mask, colour))
                        whole += int(object_whole(rgb, mask, colour))
                    row = {"canvas": f"{width}x{height}", "corner": corner, "prompt": prompt, "background": background,
                           "mask": side, "method": method, "median radius": round(float(np.median(radii)), 1),
                           "ratio": round(float(np.median(radii)) / (side / 2), 2), "whole": whole, "seeds": len(seeds),
                           "radii": [round(r, 1) for r in radii]}
                    print(json.dumps(row), flush=True)
                    rows.append(row)
    return rows


def markdown(rows: list[dict], seeds: list[int]) -> str:
    lines = [f"Seeds {seeds[0]}..{seeds[-1]} ({len(seeds)}), {STEPS} steps, square masks {INSET} px from the corner.",
             "Each cell: median blob radius / mask half side (whole objects / seeds).", ""]
    header = "| canvas, mask corner | prompt on background | method | " + " | ".join(f"{s} px" for s in MASK_SIZES)
    lines += [header + " | rank corr. of radius with size |", "|---" * (4 + len(MASK_SIZES)) + "|"]
    for width, height, corner in CANVASES:
        for prompt, background in SERIES:
            for method in METHODS:
                series = [r for r in rows if r["canvas"] == f"{width}x{height}" and r["prompt"] == prompt
                          and r["method"] == method]
                cells = [f"{r['ratio']:.2f} ({r['whole']}/{r['seeds']})" for r in series]
                medians = [r["median radius"] for r in series]
                rho = stats.spearmanr(MASK_SIZES, medians).statistic if len(set(medians)) > 1 else float("nan")
                lines.append(f"| {width}x{height}, {corner} | {prompt} on {background} | {method} | "
                             + " | ".join(cells) + f" | {rho:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--first-seed", type=int, default=1000, help="1000: held-out seeds; 0: dev seeds")
    parser.add_argument("--out", type=Path, default=None, help="write the markdown table here (and JSON next to it)")
    args = parser.parse_args()
    warnings.simplefilter("ignore", UserWarning)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    start = time.perf_counter()
    rows = measure(sdw.load_backend("toy"), seeds)
    report(markdown(rows, seeds), rows, args.out, start)


if __name__ == "__main__":
    main()
