"""Redraw cost of the DenoisingInspector: what a student waits for when scrubbing a step or isolating a layer.

    python benchmarks/bench_inspector.py [--repeats N] [--warmup N] [--surface ipycanvas|image] [--out FILE.json]

Cases (the 3-region scene of bench_generate: a background prompt and 3 regions):
  toy   the offline toy model, 512x512, 4 steps (latent 128x128 tiles): target < 100 ms median
        per redraw on a 2-core CPU, printed as PASS/FAIL.
  tiny  a tiny random SD1.x pipeline, 64x64, 4 steps (latent 32x32 tiles, shown 4x).

What is timed: one redraw = setting the step slider (or the layer toggle) to a new value, which
composes the grid from the tiles rendered at load, encodes it for ``put_image_data`` and queues the
canvas commands (``--surface image``: draws the labels with Pillow and encodes one PNG instead), and writes
the caption and the prompt view (the comm is the offline one, so sending costs what serialising costs). Redraws cycle
through every step and every isolation, after --warmup untimed redraws. Loading a trace (rendering
every step's tiles once) and writing a GIF are timed too, for reference. No browser is involved.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_generate import machine_info, machine_slug, make_scene, progress  # noqa: E402

import semanticdraw_widgets as sdw  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_CASE, TARGET_MS = "toy/redraw", 100.0


def summary(times_ms: list[float]) -> dict:
    return {"median_ms": round(float(np.median(times_ms)), 2), "p95_ms": round(float(np.percentile(times_ms, 95)), 2),
            "runs": len(times_ms), "times_ms": [round(t, 3) for t in times_ms]}


def timed(fn, repeats: int, warmup: int) -> dict:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return summary(times)


def redraws(inspector: sdw.DenoisingInspector):
    """A callable that moves the inspector to the next (step, layer) pair each call: a real redraw every time."""
    layers = [value for _, value in inspector.layer.options]
    moves = [("step", s) for s in range(inspector.slider.min, inspector.slider.max + 1)] + [("layer", v) for v in layers]
    state = {"i": 0}

    def move() -> None:
        kind, value = moves[state["i"] % len(moves)]
        state["i"] += 1
        widget = inspector.slider if kind == "step" else inspector.layer
        if widget.value == value:  # no change means no redraw: step once more so every call draws
            kind, value = moves[state["i"] % len(moves)]
            state["i"] += 1
            widget = inspector.slider if kind == "step" else inspector.layer
        widget.value = value

    return move


def run_case(label: str, backend, size: int, args) -> list[dict]:
    scene = make_scene(size, 3)
    _, trace = sdw.generate(backend, scene, steps=4, trace=True)
    progress(f"{label}: {size}x{size}, 3 regions, 4 steps")
    inspector = sdw.DenoisingInspector(trace, surface=args.surface)
    draws = {"n": 0}
    real = inspector.surface.show
    inspector.surface.show = lambda *a, **k: (draws.__setitem__("n", draws["n"] + 1), real(*a, **k))
    redraw = timed(redraws(inspector), args.repeats, args.warmup)
    assert draws["n"] == args.repeats + args.warmup, "every timed call redrew the canvas"
    load = timed(lambda: inspector.load(trace), max(3, args.repeats // 10), 1)
    with tempfile.TemporaryDirectory() as folder:
        gif = timed(lambda: sdw.save_animation(trace, Path(folder) / "a.gif"), 3, 1)
    common = {"model": label, "surface": args.surface, "canvas": size, "regions": 3, "steps": 4, "tile_px": inspector.tile_h,
              "canvas_px": [inspector.width, inspector.height]}
    return [{"case": f"{label}/redraw", "what": "one step or isolation change", **common, **redraw},
            {"case": f"{label}/load", "what": "render every step's tiles once", **common, **load},
            {"case": f"{label}/gif", "what": "save_animation default panels", **common, **gif}]


def run_toy(args) -> list[dict]:
    return run_case("toy", sdw.load_backend("toy"), 512, args)


def run_tiny(args) -> list[dict]:
    from semanticdraw_widgets.testing import make_tiny_sd_pipeline

    with tempfile.TemporaryDirectory() as folder:
        backend = sdw.load_backend(str(make_tiny_sd_pipeline(Path(folder) / "tiny")), sampler="lcm")
        return run_case("tiny", backend, 64, args)


RUNNERS = {"toy": run_toy, "tiny": run_tiny}


def table(rows: list[dict]) -> str:
    lines = ["| case | what | tile px | canvas px | median ms | p95 ms | runs |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['what']} | {r['tile_px']} | {r['canvas_px'][0]}x{r['canvas_px'][1]} "
                     f"| {r['median_ms']:.1f} | {r['p95_ms']:.1f} | {r['runs']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=40, help="timed redraws per case (default 40)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed redraws first (default 5)")
    parser.add_argument("--cases", default="toy,tiny", help="comma list of toy,tiny (default both)")
    parser.add_argument("--surface", default="ipycanvas", choices=("ipycanvas", "image"),
                        help="the inspector's drawing surface (default ipycanvas; image: one PNG per redraw)")
    parser.add_argument("--out", default=None, help="JSON path (default benchmarks/results/inspector_<machine>.json)")
    args = parser.parse_args(argv)
    device = torch.device("cpu")
    load_start = os.getloadavg()[0]
    rows = []
    for name in args.cases.split(","):
        if name not in RUNNERS:
            parser.error(f"unknown case {name!r}: choose from {', '.join(RUNNERS)}")
        rows += RUNNERS[name](args)
    machine = machine_info(device)
    target = next((r for r in rows if r["case"] == TARGET_CASE), None)
    verdict = None if target is None else (
        f"target: {TARGET_CASE} median {target['median_ms']:.1f} ms < {TARGET_MS:.0f} ms on a "
        f"{machine['usable_cores']}-core CPU: {'PASS' if target['median_ms'] < TARGET_MS else 'FAIL'}")
    command = "python " + " ".join(["benchmarks/bench_inspector.py", *(argv if argv is not None else sys.argv[1:])])
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    report = {"benchmark": "inspector", "date": now,
              "command": command, "machine": machine, "load_average_start_end": [load_start, os.getloadavg()[0]],
              "settings": {"repeats": args.repeats, "warmup": args.warmup}, "results": rows, "verdict": verdict}
    text = table(rows)
    sys.stdout.write(f"{text}\n{verdict or ''}\n")
    slug = machine_slug(device)
    suffix = "" if args.surface == "ipycanvas" else f"_{args.surface}"
    out = Path(args.out) if args.out else RESULTS / f"inspector_{slug}{suffix}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    md = [f"# inspector redraw, {slug}", "", f"- date: {report['date']}", f"- command: `{command}`",
          f"- machine: {machine['cpu_model']}, {machine['usable_cores']} cores, torch threads "
          f"{machine['torch_num_threads']}; torch {machine['torch']}",
          f"- load average (1 min) at start / end: {load_start:.2f} / {os.getloadavg()[0]:.2f}",
          f"- settings: {args.repeats} timed redraws per case after {args.warmup} warm-up redraws; "
          "each redraw changes the step or the isolated layer (cycling through all of them)", "", text, ""]
    if verdict:
        md += [verdict, ""]
    if max(load_start, os.getloadavg()[0]) > machine["usable_cores"]:
        md += ["The machine was shared while this ran (load average above its core count): read the times as "
               "upper bounds.", ""]
    out.with_suffix(".md").write_text("\n".join(md))
    sys.stdout.write(f"wrote {out} and {out.with_suffix('.md')}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
