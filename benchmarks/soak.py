"""Soak: a long run of random edits through one Stream; memory must stay flat, pictures must stay right.

    python benchmarks/soak.py [--frames 10000] [--seed 0] [--steps 4] [--out FILE.json]
    python benchmarks/soak.py --session-minutes 20      # the Session soak (see session_soak)

The toy backend, a 512x512 canvas with 3 rectangular regions, and a seeded random sequence of edits
(a region's prompt, a region's mask moved, the seed) applied with ``Stream.update`` and ``tick()``,
single-threaded. After an edit the stream runs either until its picture is finished (converged) or
for a random number of ticks short of that (so edits also land on a half-filled ring). Every
converged picture is compared with ``generate()`` for the same scene, pixel for pixel.

Reported: resident memory (``VmRSS``) sampled every 100 frames, its growth from the end of the first
minute to the end of the run (limit 5%; with a run shorter than a minute the baseline is the
sample at a quarter of the frames and the report says so), frames/s, and the generate() comparisons:
how many converged edits were checked, how many differed and by how many 8-bit levels at most.
A frame is one model tick: the soak never ticks an idle stream.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import random
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_generate import machine_info, machine_line, machine_slug, progress  # noqa: E402

import semanticdraw_widgets as sdw  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SIZE, REGIONS = 512, 3
GROWTH_LIMIT = 0.05
WORDS = ("red bricks", "green grass", "blue water", "white clouds", "yellow sand", "orange stripes",
         "purple dots", "grey stone", "brown wood", "pink flowers", "black night", "teal waves")


def rss_bytes() -> int:
    """Resident set size of this process, from /proc (Linux); falls back to the peak from resource."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def rect(box: tuple[int, int, int, int]) -> np.ndarray:
    top, left, bottom, right = box
    mask = np.zeros((SIZE, SIZE), dtype=bool)
    mask[top:bottom, left:right] = True
    return mask


def random_box(rng: random.Random) -> tuple[int, int, int, int]:
    h, w = rng.randrange(64, 320), rng.randrange(64, 320)
    top, left = rng.randrange(0, SIZE - h), rng.randrange(0, SIZE - w)
    return top, left, top + h, left + w


def first_scene(rng: random.Random) -> sdw.Scene:
    regions = [sdw.Region(prompt=rng.choice(WORDS), mask=rect(random_box(rng))) for _ in range(REGIONS)]
    return sdw.Scene(width=SIZE, height=SIZE, seed=rng.randrange(2**31),
                     background=sdw.Background(prompt="blue sky"), regions=regions)


def random_edit(rng: random.Random, scene: sdw.Scene) -> tuple[str, sdw.Scene]:
    kind = rng.choice(("prompt", "prompt", "mask", "mask", "seed"))
    index = rng.randrange(len(scene.regions))
    if kind == "prompt":  # always a different prompt: an edit that changes nothing would leave the stream idle
        current = scene.regions[index].prompt
        return kind, scene.with_region(index, prompt=rng.choice([w for w in WORDS if w != current]))
    if kind == "mask":
        return kind, scene.with_region(index, mask=rect(random_box(rng)))
    return kind, scene.with_(seed=rng.randrange(2**31))


def soak(frames: int, seed: int, steps: int) -> dict:
    rng = random.Random(seed)
    backend = sdw.load_backend("toy", device="cpu")
    scene = first_scene(rng)
    stream = sdw.Stream(backend, scene, steps=steps)
    edits = {"prompt": 0, "mask": 0, "seed": 0}
    checked = mismatched = max_levels = 0
    mismatch_examples: list[dict] = []
    samples: list[tuple[int, float, int]] = []  # (frame, seconds since start, rss bytes)
    done = 0
    started = time.perf_counter()
    samples.append((0, 0.0, rss_bytes()))
    while done < frames:
        kind, scene = random_edit(rng, scene)
        edits[kind] += 1
        stream.update(scene)
        converge = rng.random() < 0.5
        budget = steps if converge else rng.randrange(1, steps)
        frame = None
        for _ in range(budget):
            frame = stream.tick()
            done += 1
            if done % 100 == 0:
                samples.append((done, time.perf_counter() - started, rss_bytes()))
            if done >= frames:
                break
        if frame is not None and frame.converged and frame.scene == scene:
            reference = sdw.generate(backend, scene, steps=steps)
            ours, theirs = np.asarray(frame.image, np.int16), np.asarray(reference, np.int16)
            checked += 1
            if not np.array_equal(ours, theirs):
                mismatched += 1
                levels = int(np.abs(ours - theirs).max())
                max_levels = max(max_levels, levels)
                if len(mismatch_examples) < 10:
                    mismatch_examples.append({"frame": done, "edit": kind, "max_levels": levels,
                                              "pixels": int((ours != theirs).any(-1).sum())})
        if done // 1000 != (done - budget) // 1000:  # crossed a thousand
            gc.collect()  # as a long-running kernel would, now and then; growth must survive it
            progress(f"  {done}/{frames} frames, {checked} checked, {mismatched} differ, "
                     f"rss {rss_bytes() / 2**20:.0f} MiB")
    elapsed = time.perf_counter() - started
    samples.append((done, elapsed, rss_bytes()))

    after_minute = [s for s in samples[:-1] if s[1] >= 60.0]
    if after_minute:
        baseline, basis = after_minute[0], "first sample after 60 s"
    else:  # a quick run: the caches (text, masks, toy textures) fill during the first quarter
        baseline = min(samples, key=lambda s: abs(s[0] - max(100, frames // 4)))
        basis = "run shorter than a minute: sample nearest a quarter of the frames"
    final = samples[-1]
    growth = (final[2] - baseline[2]) / baseline[2]
    return {**steady_state(samples),
        "frames": done, "model_calls": stream.model_calls, "seconds": round(elapsed, 1),
        "frames_per_s": round(done / elapsed, 1), "edits": edits,
        "converged_checks": checked, "mismatches": mismatched, "max_mismatch_levels": max_levels,
        "mismatch_examples": mismatch_examples,
        "rss_mib": {"start": round(samples[0][2] / 2**20, 1), "baseline": round(baseline[2] / 2**20, 1),
                    "final": round(final[2] / 2**20, 1), "peak_sampled": round(max(s[2] for s in samples) / 2**20, 1)},
        "baseline": {"frame": baseline[0], "seconds": round(baseline[1], 1), "basis": basis},
        "rss_growth": round(growth, 4), "growth_limit": GROWTH_LIMIT, "memory_pass": growth < GROWTH_LIMIT,
        "pictures_pass": mismatched == 0 and checked > 0,
        "rss_samples": [(f, round(t, 1), round(r / 2**20, 1)) for f, t, r in samples],
    }


def steady_state(samples: list, to_mib: float = 1 / 2**20) -> dict:
    """Growth over the second half of the run: by then the bounded caches (the plan cache's 256 masks,
    the toy's texture stacks) are full, so what still grows there would be a leak."""
    half = min(samples, key=lambda s: abs(s[0] - samples[-1][0] // 2))
    return {"second_half": {"frame": half[0], "rss_mib": round(half[2] * to_mib, 1),
                            "growth": round((samples[-1][2] - half[2]) / half[2], 4)}}


def markdown(report: dict) -> str:
    r = report["result"]
    mem = r["rss_mib"]
    lines = [f"# soak, {report['machine_slug']}", "",
             f"- date: {report['date']}",
             f"- command: `{report['command']}`",
             f"- machine: {machine_line(report['machine'])}",
             f"- setup: toy backend, {SIZE}x{SIZE}, {REGIONS} regions, steps {report['settings']['steps']}, "
             f"random edits (prompt, mask moved, seed) through `Stream.update` + `tick()`, single-threaded, "
             f"seed {report['settings']['seed']}",
             "",
             f"- frames: {r['frames']} ({r['model_calls']} model calls) in {r['seconds']} s, "
             f"{r['frames_per_s']} frames/s; edits: {r['edits']}",
             f"- resident memory: start {mem['start']} MiB, baseline {mem['baseline']} MiB "
             f"({r['baseline']['basis']}, frame {r['baseline']['frame']}), final {mem['final']} MiB, "
             f"peak sampled {mem['peak_sampled']} MiB",
             f"- growth after the baseline: **{r['rss_growth']:+.2%}** (limit {r['growth_limit']:.0%}): "
             f"{'PASS' if r['memory_pass'] else 'FAIL'}",
             f"- growth over the second half (frame {r['second_half']['frame']}, {r['second_half']['rss_mib']} MiB, "
             f"to the end; the bounded caches are full by then): **{r['second_half']['growth']:+.2%}**",
             f"- converged edits compared with `generate()`: {r['converged_checks']}, differing: "
             f"**{r['mismatches']}** (at most {r['max_mismatch_levels']}/255): "
             f"{'PASS' if r['pictures_pass'] else 'FAIL'}", ""]
    if r["mismatch_examples"]:
        lines += ["First differing edits: " + "; ".join(
            f"frame {m['frame']} ({m['edit']}): {m['pixels']} pixels, {m['max_levels']}/255"
            for m in r["mismatch_examples"]), ""]
    return "\n".join(lines)


# -- the Session soak (issue 17): the runtime as a notebook uses it, for a fixed time -----------------------
UNKNOWN = ("a cat on a sofa", "red bricks and a teapot")  # words the toy does not know: warned once per prompt
SIZES = (256, 512)


def session_soak(minutes: float, seed: int, warmup_s: float = 120.0) -> dict:
    """Sessions on 256² and 512² canvases with random edits: prompts (some with unknown words), moved masks,
    seeds, background photos, reconfigure (steps, guidance) and stop/start, acked like a view; RSS each second."""
    import warnings

    warnings.simplefilter("ignore", UserWarning)  # unknown words: expected, and warned once per prompt anyway
    rng = random.Random(seed)
    backend = sdw.load_backend("toy", device="cpu")
    photos = {size: [np.random.default_rng(i).uniform(0, 1, (size, size, 3)).astype(np.float32) for i in range(3)]
              for size in SIZES}
    counts = {"prompt": 0, "unknown": 0, "mask": 0, "seed": 0, "photo": 0, "reconfigure": 0, "restart": 0,
              "new_session": 0, "frames": 0, "settled": 0}
    clock = RssClock(minutes)

    def scene_for(size: int) -> sdw.Scene:
        boxes = [random_box_in(rng, size) for _ in range(REGIONS)]
        return sdw.Scene(width=size, height=size, seed=rng.randrange(2**31),
                         background=sdw.Background(prompt="blue sky"),
                         regions=[sdw.Region(prompt=rng.choice(WORDS), mask=rect_in(b, size)) for b in boxes])

    while clock.running():
        size = SIZES[counts["new_session"] % len(SIZES)]
        scene = scene_for(size)
        session = sdw.Session(backend, scene, steps=rng.choice((2, 3, 4)))
        counts["new_session"] += 1

        view = AckingView(session, counts)
        session.start()
        phase_end = min(clock.end, time.perf_counter() + rng.uniform(20, 60))
        while time.perf_counter() < phase_end:
            kind = rng.choice(("prompt", "prompt", "unknown", "mask", "seed", "photo", "reconfigure", "restart"))
            counts[kind] += 1
            index = rng.randrange(REGIONS)
            if kind == "prompt":
                scene = scene.with_region(index, prompt=rng.choice(WORDS))
            elif kind == "unknown":
                scene = scene.with_region(index, prompt=rng.choice(UNKNOWN))
            elif kind == "mask":
                scene = scene.with_region(index, mask=rect_in(random_box_in(rng, size), size))
            elif kind == "seed":
                scene = scene.with_(seed=rng.randrange(2**31))
            elif kind == "photo":
                image = rng.choice(photos[size] + [None])
                scene = scene.with_(background=sdw.Background(prompt="blue sky", image=image))
            if kind == "reconfigure":
                session.reconfigure(steps=rng.choice((2, 3, 4, 5)), guidance_scale=rng.choice((1.0, 1.5, 2.0)))
            elif kind == "restart":
                session.stop()
                session.start()
            else:
                session.update(scene)
            user_pause(rng, lambda: session.settled(timeout=120), counts)
            clock.sample()
        session.stop()
        del session, view
        gc.collect()
        clock.sample(force=True)
        progress(f"  {clock.samples[-1][0]:.0f} s: {counts['frames']} frames, rss {clock.samples[-1][1] / 2**20:.0f} MiB")
    return memory_summary(clock.samples, counts, warmup_s)


class RssClock:
    """The soak's clock and its resident-memory samples: one a second while editing, one after each close."""

    def __init__(self, minutes: float) -> None:
        self.started = time.perf_counter()
        self.end = self.started + minutes * 60
        self.next_sample = self.started
        self.samples: list[tuple[float, int]] = []

    def running(self) -> bool:
        return time.perf_counter() < self.end

    def sample(self, force: bool = False) -> None:
        now = time.perf_counter()
        if force or now >= self.next_sample:
            self.samples.append((round(now - self.started, 1), rss_bytes()))
            self.next_sample = now + 1.0


def user_pause(rng: random.Random, settle, counts: dict) -> None:
    """Now and then the user waits for the finished picture; otherwise edits again soon, while it streams."""
    import asyncio

    if settle is not None and rng.random() < 0.3:
        asyncio.run(settle())
        counts["settled"] += 1
    else:
        time.sleep(rng.uniform(0.02, 0.3))


def memory_summary(samples: list[tuple[float, int]], counts: dict, warmup_s: float, window_s: float = 120.0) -> dict:
    """Resident memory: the first sample after the warm-up (taken while a Session/canvas runs) vs the last
    (after the last one closed), and per window of ``window_s`` seconds the median and the peak, since
    the resident size swings with the canvas size of the Session running at the time."""
    windows = []
    for start in np.arange(0.0, samples[-1][0] - window_s + 1e-9, window_s):  # whole windows only
        inside = [rss for t, rss in samples if start <= t < start + window_s]
        if inside:
            windows.append({"from_s": float(start), "samples": len(inside),
                            "median_mib": round(float(np.median(inside)) / 2**20, 1),
                            "peak_mib": round(max(inside) / 2**20, 1)})
    baseline = next((s for s in samples if s[0] >= warmup_s), samples[len(samples) // 4])
    final = samples[-1]
    growth = (final[1] - baseline[1]) / baseline[1]
    half = min(samples, key=lambda s: abs(s[0] - final[0] / 2))
    return {"seconds": round(final[0], 1), "counts": counts,
            "rss_mib": {"start": round(samples[0][1] / 2**20, 1), "baseline": round(baseline[1] / 2**20, 1),
                        "final": round(final[1] / 2**20, 1), "peak_sampled": round(max(s[1] for s in samples) / 2**20, 1)},
            "baseline_s": baseline[0], "rss_growth": round(growth, 4),
            "second_half_growth": round((final[1] - half[1]) / half[1], 4),
            "growth_limit": GROWTH_LIMIT, "memory_pass": growth < GROWTH_LIMIT, "windows": windows,
            "rss_samples": [(t, round(r / 2**20, 1)) for t, r in samples]}


def canvas_soak(minutes: float, seed: int, warmup_s: float = 120.0) -> dict:
    """The Session soak through the canvas widget, driven as the browser drives it: label maps painted,
    brushes edited (some prompts with unknown words), seeds, photo uploads (some not images at all),
    steps/guidance changed, stop/start, every frame acked; each canvas lives 20-60 s and is then closed."""
    import io
    import threading
    import warnings
    import zlib

    from PIL import Image

    warnings.simplefilter("ignore", UserWarning)
    rng = random.Random(seed)
    backend = sdw.load_backend("toy", device="cpu")
    photos = {}
    for size in SIZES:
        photos[size] = []
        for i in range(3):
            buffer = io.BytesIO()
            pixels = np.random.default_rng(i).integers(0, 256, (size, size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(buffer, format="PNG" if i else "JPEG")
            photos[size].append(buffer.getvalue())
    not_an_image = b"%PDF-1.4 this is not a picture" * 100
    counts = {"prompt": 0, "unknown": 0, "mask": 0, "seed": 0, "photo": 0, "bad_photo": 0, "reconfigure": 0,
              "restart": 0, "new_canvas": 0, "frames": 0, "settled": 0}
    clock = RssClock(minutes)
    threads_at_start = threading.active_count()
    threads_between: list[int] = []

    while clock.running():
        size = SIZES[counts["new_canvas"] % len(SIZES)]
        canvas = sdw.SemanticDrawCanvas(backend, width=size, height=size, steps=rng.choice((2, 3, 4)),
                                        seed=rng.randrange(2**31))
        counts["new_canvas"] += 1

        def send(content, buffers=None, canvas=canvas):  # the view: shows each frame and acks it
            if content.get("kind") == "frame":
                counts["frames"] += 1
                canvas._handle_custom_msg({"kind": "ack", "epoch": content["epoch"], "seq": content["seq"]}, [])

        canvas.send = send
        labels = np.zeros((size, size), np.uint8)
        canvas.start()
        phase_end = min(clock.end, time.perf_counter() + rng.uniform(20, 60))
        while time.perf_counter() < phase_end:
            kind = rng.choice(("prompt", "prompt", "unknown", "mask", "mask", "seed", "photo", "bad_photo",
                               "reconfigure", "restart"))
            counts[kind] += 1
            index = rng.randrange(REGIONS)
            if kind in ("prompt", "unknown"):
                brushes = [dict(b) for b in canvas.brushes]
                brushes[index]["prompt"] = rng.choice(WORDS if kind == "prompt" else UNKNOWN)
                canvas.set_state({"brushes": brushes})
            elif kind == "mask":
                top, left, bottom, right = random_box_in(rng, size)
                labels[top:bottom, left:right] = index + 1
                canvas.set_state({"labels": memoryview(zlib.compress(labels.tobytes()))})
            elif kind == "seed":
                canvas.set_state({"seed": rng.randrange(2**31)})
            elif kind == "photo":
                canvas.set_state({"background_image": memoryview(rng.choice(photos[size] + [b""]))})
            elif kind == "bad_photo":
                canvas.set_state({"background_image": memoryview(not_an_image)})  # refused, shown in the status
            elif kind == "reconfigure":
                canvas.set_state({"steps": rng.choice((2, 3, 4, 5)), "guidance": rng.choice((1.0, 1.5, 2.0))})
            else:
                canvas.stop()
                canvas.start()
            user_pause(rng, (lambda: canvas.settled(timeout=120)) if canvas.running else None, counts)
            clock.sample()
        canvas.close()
        del canvas, send
        gc.collect()
        threads_between.append(threading.active_count())
        clock.sample(force=True)
        progress(f"  {clock.samples[-1][0]:.0f} s: {counts['frames']} frames, rss {clock.samples[-1][1] / 2**20:.0f} MiB, "
                 f"threads {threads_between[-1]}")
    summary = memory_summary(clock.samples, counts, warmup_s)
    summary["threads"] = {"start": threads_at_start, "between_canvases_max": max(threads_between),
                          "end": threads_between[-1]}
    return summary


class AckingView:
    """A view that shows every frame at once and acks it (as the canvas's front end does, less often)."""

    def __init__(self, session: sdw.Session, counts: dict) -> None:
        self.session, self.counts = session, counts
        self.sink_id = session.add_sink(self.show)

    def show(self, encoded) -> None:
        self.counts["frames"] += 1
        self.session.ack(self.sink_id, encoded.seq, encoded.epoch)


def random_box_in(rng: random.Random, size: int) -> tuple[int, int, int, int]:
    h, w = rng.randrange(size // 8, size * 5 // 8), rng.randrange(size // 8, size * 5 // 8)
    top, left = rng.randrange(0, size - h), rng.randrange(0, size - w)
    return top, left, top + h, left + w


def rect_in(box: tuple[int, int, int, int], size: int) -> np.ndarray:
    top, left, bottom, right = box
    mask = np.zeros((size, size), dtype=bool)
    mask[top:bottom, left:right] = True
    return mask


def session_markdown(report: dict) -> str:
    r = report["result"]
    mem = r["rss_mib"]
    through_canvas = report["benchmark"] == "canvas soak"
    setup = ("toy backend, SemanticDrawCanvas widgets alternating 256x256 and 512x512, driven as the browser drives "
             "them (label maps painted, brushes edited, photo uploads, some not images, steps/guidance, stop/start, "
             "every frame acked), each closed after 20-60 s" if through_canvas else
             f"toy backend, Sessions alternating 256x256 and 512x512 ({REGIONS} regions, a sink that acks every "
             "frame), each living 20-60 s; random edits (prompts, prompts with unknown words, moved masks, seeds, "
             "background photos, reconfigure of steps/guidance, stop/start)")
    lines = [
        f"# {'Canvas' if through_canvas else 'Session'} soak, {report['machine_slug']}", "",
        f"- date: {report['date']}", f"- command: `{report['command']}`",
        f"- machine: {machine_line(report['machine'])}; load average at start {report['load_average']['start'][0]:.1f}, "
        f"at end {report['load_average']['end'][0]:.1f}",
        f"- setup: {setup}; sometimes waiting for the settled picture",
        f"- ran {r['seconds']} s: {r['counts']}",
        f"- resident memory: start {mem['start']} MiB, baseline {mem['baseline']} MiB (at {r['baseline_s']} s, after "
        f"the warm-up), final {mem['final']} MiB, peak sampled {mem['peak_sampled']} MiB",
        f"- growth after the warm-up: **{r['rss_growth']:+.2%}** (limit {r['growth_limit']:.0%}): "
        f"{'PASS' if r['memory_pass'] else 'FAIL'}; over the second half: {r['second_half_growth']:+.2%}"]
    if r.get("windows"):
        after = [w for w in r["windows"] if w["from_s"] >= r["baseline_s"] - 1] or r["windows"]
        first, last = after[0], after[-1]
        lines.append(f"- per {int(after[1]['from_s'] - after[0]['from_s']) if len(after) > 1 else 120}-second window "
                     f"after the warm-up, median / peak: first {first['median_mib']} / {first['peak_mib']} MiB, last "
                     f"{last['median_mib']} / {last['peak_mib']} MiB ({last['median_mib'] / first['median_mib'] - 1:+.1%}"
                     f" / {last['peak_mib'] / first['peak_mib'] - 1:+.1%}); all windows: "
                     + ", ".join(f"{w['median_mib']:.0f}/{w['peak_mib']:.0f}" for w in r["windows"]))
    if "threads" in r:
        t = r["threads"]
        lines.append(f"- threads: {t['start']} at the start, at most {t['between_canvases_max']} between canvases, "
                     f"{t['end']} at the end")
    return "\n".join(lines + [""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=10_000, help="model ticks to run (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random edit sequence (default 0)")
    parser.add_argument("--steps", type=int, default=4, help="stream steps (default 4)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads first")
    parser.add_argument("--session-minutes", type=float, default=None, metavar="MIN",
                        help="run the Session soak for MIN minutes instead (256² and 512² canvases, photos, unknown "
                             "words, reconfigure, stop/start); writes soak_session_<machine>.json/.md")
    parser.add_argument("--through-canvas", action="store_true",
                        help="with --session-minutes: drive SemanticDrawCanvas widgets as the browser does (label "
                             "maps, brushes, photo uploads, acks; each canvas closed after 20-60 s); writes "
                             "soak_canvas_<machine>.json/.md")
    parser.add_argument("--report", default=None, metavar="FILE.json",
                        help="do not run: re-derive the summary of an earlier result file from its samples")
    parser.add_argument("--out", default=None, help="JSON report (default benchmarks/results/soak_<machine>.json; "
                                                    "a Markdown summary is written beside it)")
    args = parser.parse_args(argv)
    if args.report:
        path = Path(args.report)
        report = json.loads(path.read_text())
        if report["benchmark"] in ("session soak", "canvas soak"):
            r = report["result"]
            samples = [(t, rss * 2**20) for t, rss in r["rss_samples"]]
            keep = {k: r[k] for k in ("threads",) if k in r}
            report["result"] = {**memory_summary(samples, r["counts"], r["baseline_s"]), **keep}
            path.write_text(json.dumps(report, indent=2) + "\n")
            path.with_suffix(".md").write_text(session_markdown(report))
            sys.stdout.write(session_markdown(report))
            return 0
        report["result"].update(steady_state([tuple(s) for s in report["result"]["rss_samples"]], to_mib=1.0))
        path.write_text(json.dumps(report, indent=2) + "\n")
        path.with_suffix(".md").write_text(markdown(report))
        sys.stdout.write(markdown(report))
        return 0
    if args.frames < 1 or args.steps < 1:
        parser.error("--frames and --steps must be at least 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    machine = machine_info(device)
    slug = machine_slug(device)
    if args.session_minutes is not None:
        kind = "canvas" if args.through_canvas else "session"
        out = Path(args.out) if args.out else RESULTS / f"soak_{kind}_{slug}.json"
        load_start = os.getloadavg()
        result = (canvas_soak if args.through_canvas else session_soak)(args.session_minutes, args.seed)
        command = "python benchmarks/soak.py" + (" " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "")
        report = {"benchmark": f"{kind} soak",
                  "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                  "command": command, "machine_slug": slug, "machine": machine,
                  "settings": {"minutes": args.session_minutes, "seed": args.seed, "sizes": list(SIZES)},
                  "load_average": {"start": list(load_start), "end": list(os.getloadavg())}, "result": result}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
        out.with_suffix(".md").write_text(session_markdown(report))
        sys.stdout.write(session_markdown(report) + f"\nwrote {out}\n")
        return 0 if result["memory_pass"] else 1
    out = Path(args.out) if args.out else RESULTS / f"soak_{slug}.json"
    progress(f"machine: {machine_line(machine)}")
    load_start = os.getloadavg()
    result = soak(args.frames, args.seed, args.steps)
    malloc = {k: v for k, v in os.environ.items() if k.startswith("MALLOC_")}  # glibc tuning changes RSS a lot
    command = "".join(f"{k}={v} " for k, v in malloc.items()) + "python benchmarks/soak.py" + (
        "" if not sys.argv[1:] else " " + shlex.join(sys.argv[1:]))
    report = {"benchmark": "soak", "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "command": command, "machine_slug": slug, "machine": machine,
              "settings": {"frames": args.frames, "seed": args.seed, "steps": args.steps, "size": SIZE,
                           "regions": REGIONS},
              "load_average": {"start": list(load_start), "end": list(os.getloadavg())}, "result": result}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(report))
    sys.stdout.write(markdown(report) + f"\nwrote {out} and {out.with_suffix('.md')}\n")
    return 0 if result["memory_pass"] and result["pictures_pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
