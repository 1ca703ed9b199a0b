"""Stream throughput: frames/s and ms/frame of ``Stream.tick`` (one batched model call per frame).

    python benchmarks/bench_stream.py [--frames N] [--cases toy,tiny,real] [--real-size] [--out FILE.json]

A frame is one ``tick()`` while the user keeps editing: the scene alternates between two prompts for
its first region every tick, so the stream never goes idle (an idle stream costs nothing) and every
tick pays the realistic price of an edit: plan update (embeddings and masks from the cache), one
batched model call over all T slots × layers, and decoding the finished latent to a PIL image.
JPEG encoding is timed separately (it runs off the model path in the Session).

Also measured, because the design promises it: tracing costs nothing when off (stream ticks with
trace_ticks=0 vs 8, and generate(trace=False) vs trace=True).

Rules as in bench_generate.py: warm-up ticks first, torch.cuda.synchronize() before reading the clock
on CUDA, medians and p95 over --frames ticks, ratios from this same run, the machine named in the output.
Targets: toy 512x512, 3 regions, steps 4 >= 30 frames/s on a 2-core CPU; on an H100/H200, real-size
SD1.5 fp16 at 512x512, 3 regions, steps 5 >= 15 frames/s.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_generate import machine_info, machine_slug, make_scene, progress, sync_for  # noqa: E402

import semanticdraw_widgets as sdw  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TOY_TARGET_FPS, GPU_TARGET_FPS = 30.0, 15.0
EDIT_PROMPTS = ("red bricks", "orange bricks")


def summary(times_ms: list[float]) -> dict[str, float]:
    median = float(np.median(times_ms))
    return {"median_ms": round(median, 2), "p95_ms": round(float(np.percentile(times_ms, 95)), 2),
            "fps": round(1000 / median, 1)}


def time_stream(backend, scene: sdw.Scene, steps: int, frames: int, warmup: int, trace_ticks: int = 0) -> dict:
    """Tick a stream that is edited every tick; returns timing summary."""
    sync = sync_for(backend.device)
    edits = [scene.with_region(0, prompt=p) for p in EDIT_PROMPTS]
    stream = sdw.Stream(backend, scene, steps=steps, trace_ticks=trace_ticks)
    times = []
    for i in range(warmup + frames):
        stream.update(edits[i % 2])
        gc.collect() if i % 50 == 0 else None
        sync()
        start = time.perf_counter()
        frame = stream.tick()
        sync()
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1e3)
    assert frame.image.size == (scene.width, scene.height)
    return summary(times) | {"times_ms": [round(t, 3) for t in times]}


def time_call(fn, repeats: int, warmup: int, sync) -> dict:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - start) * 1e3)
    return summary(times)


def stream_cases(label: str, backend, size: int, args, regions=(1, 3, 5), steps_list=(4, 5)) -> list[dict]:
    rows = []
    for steps in steps_list:
        for n in regions:
            progress(f"{label}: {size}x{size}, {n} regions, steps {steps}")
            result = time_stream(backend, make_scene(size, n), steps, args.frames, args.warmup)
            rows.append({"case": f"{label}/stream-r{n}-s{steps}", "model": label, "canvas": size, "regions": n,
                         "steps": steps, "batch_rows": steps * (n + 1), **result})
    return rows


def run_toy(args) -> tuple[list[dict], dict]:
    backend = sdw.load_backend("toy")
    rows = stream_cases("toy", backend, 512, args)
    scene = make_scene(512, 3)
    extras = {}
    sync = sync_for(backend.device)
    # tracing: zero cost when off
    off = time_stream(backend, scene, 4, args.frames, args.warmup, trace_ticks=0)
    on = time_stream(backend, scene, 4, args.frames, args.warmup, trace_ticks=8)
    extras["stream_trace_off_ms"], extras["stream_trace_on_ms"] = off["median_ms"], on["median_ms"]
    extras["generate_trace_off_ms"] = time_call(lambda: sdw.generate(backend, scene, 4), args.frames // 4, 2, sync)["median_ms"]
    extras["generate_trace_on_ms"] = time_call(lambda: sdw.generate(backend, scene, 4, trace=True), args.frames // 4, 2, sync)["median_ms"]
    image = sdw.generate(backend, scene, 4)
    for mime, fmt in (("jpeg", "JPEG"), ("png", "PNG")):
        def encode(fmt=fmt):
            image.save(io.BytesIO(), format=fmt, **({"quality": 85} if fmt == "JPEG" else {"compress_level": 1}))
        extras[f"encode_{mime}_512_ms"] = time_call(encode, 20, 2, lambda: None)["median_ms"]
    target = next(r for r in rows if r["case"] == "toy/stream-r3-s4")
    extras["toy_target"] = {"case": target["case"], "fps": target["fps"], "target_fps": TOY_TARGET_FPS,
                            "pass": target["fps"] >= TOY_TARGET_FPS}
    return rows, extras


def run_tiny(args) -> tuple[list[dict], dict]:
    from semanticdraw_widgets.testing import make_tiny_sd_pipeline

    with tempfile.TemporaryDirectory() as scratch:
        backend = sdw.load_backend(make_tiny_sd_pipeline(Path(scratch) / "tiny"), sampler="lcm")
        # 64x64: this VAE downsamples only 2x, so larger canvases cost seconds per tick on a CPU
        return stream_cases("tiny", backend, 64, args, regions=(3,), steps_list=(4,)), {}


def run_real(args) -> tuple[list[dict], dict]:
    from semanticdraw_widgets.testing import make_sd15_sized_pipeline

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    with tempfile.TemporaryDirectory(prefix="sd15-sized-") as scratch:
        folder = Path(args.real_folder) if args.real_folder else Path(scratch) / "sd15"
        if not (folder / "model_index.json").is_file():
            progress(f"building the SD1.5-sized random pipeline in {folder} ...")
            make_sd15_sized_pipeline(folder)
        backend = sdw.load_backend(folder, device=device, dtype=dtype, sampler="lcm")
        rows = stream_cases("real", backend, args.real_canvas, args)
    extras = {}
    if device.type == "cuda":
        target = next(r for r in rows if r["case"] == "real/stream-r3-s5")
        extras["gpu_target"] = {"case": target["case"], "fps": target["fps"], "target_fps": GPU_TARGET_FPS,
                                "pass": target["fps"] >= GPU_TARGET_FPS}
    return rows, extras


RUNNERS = {"toy": run_toy, "tiny": run_tiny, "real": run_real}


def table(rows: list[dict]) -> str:
    lines = [f"{'case':<24} {'rows/call':>9} {'median ms':>10} {'p95 ms':>8} {'frames/s':>9}"]
    for r in rows:
        lines.append(f"{r['case']:<24} {r['batch_rows']:>9} {r['median_ms']:>10.1f} {r['p95_ms']:>8.1f} {r['fps']:>9.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=60, help="timed ticks per case (default 60)")
    parser.add_argument("--warmup", type=int, default=8, help="untimed ticks first (default 8)")
    parser.add_argument("--cases", default=None, help="comma list of toy,tiny,real (default: toy,tiny, +real on CUDA)")
    parser.add_argument("--real-size", action="store_true", help="run the real-size case on the CPU too (slow)")
    parser.add_argument("--real-canvas", type=int, default=512)
    parser.add_argument("--real-folder", default=None, help="reuse a saved SD1.5-sized pipeline folder")
    parser.add_argument("--out", default=None, help="JSON path (default benchmarks/results/stream_<machine>.json)")
    args = parser.parse_args(argv)
    cuda = torch.cuda.is_available()
    names = args.cases.split(",") if args.cases else ["toy", "tiny"] + (["real"] if cuda or args.real_size else [])
    device = torch.device("cuda" if cuda else "cpu")
    rows, extras = [], {}
    for name in names:
        if name not in RUNNERS:
            parser.error(f"unknown case {name!r}: choose from {', '.join(RUNNERS)}")
        case_rows, case_extras = RUNNERS[name](args)
        rows += case_rows
        extras |= case_extras
    machine = machine_info(device)
    report = {"benchmark": "stream", "date": datetime.datetime.now().isoformat(timespec="seconds"),
              "command": "python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])]),
              "machine": machine, "results": rows, "extras": extras}
    text = table(rows)
    sys.stdout.write(f"machine: {machine['cpu_model']}, {machine['usable_cores']} cores"
                     f"{', GPU ' + machine['gpu']['name'] if machine.get('gpu') else ''}\n{text}\n")
    for key, value in extras.items():
        sys.stdout.write(f"{key}: {value}\n")
    out = Path(args.out) if args.out else RESULTS / f"stream_{machine_slug(device)}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    sys.stdout.write(f"wrote {out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
