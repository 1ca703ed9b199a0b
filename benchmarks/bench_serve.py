"""One shared engine vs a model per student: live Streams from 1, 2, 4 and 8 simulated students.

    python benchmarks/bench_serve.py [--cases toy,tiny] [--students 1,2,4,8] [--seconds 10] [--out PREFIX]

Each student is its own process (as a notebook kernel is) running a live ``Stream`` with 3 regions
(plus the background layer) whose scene changes every tick, so it never goes idle. Two setups:

  local   every student loads its own backend (one torch thread per student process);
  shared  every student uses ``load_backend("http://127.0.0.1:PORT", token=...)`` against ONE Ray
          Serve replica started here (``serve.app.start_engine``), whose @serve.batch merges the
          students' concurrent model calls.

A frame = one ``Stream.tick()`` (plan update, the model call, the decode to a PIL image); its latency
is the tick's wall time. Students start together (a barrier) after 3 untimed warm-up ticks and tick
for --seconds; the local and shared runs of each class size alternate. Reported per setup and class size: aggregate frames/s (sum over students), per-student
frames/s (mean, min), p50/p95 frame latency over all frames, and rows per model call (the engine's
/stats for shared; the students' own backends for local). Only 127.0.0.1 is ever used.

Cases: toy (512x512, the offline toy model, LCM 4 steps) and tiny (a tiny random SD1.x pipeline from
semanticdraw_widgets.testing, 64x64, LCM 4 steps: a real UNet's per-call cost on the CPU).
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing as mp
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TOKEN = "bench-token-0123456789abcdef"
WARMUP = 3


def scenes(size: int, count: int = 8):
    """`count` versions of one 3-region scene, the regions shifted a little each: a student drawing."""
    import semanticdraw_widgets as sdw

    out = []
    for k in range(count):
        masks = np.zeros((3, size, size), bool)
        d = (k * size) // 64
        masks[0, d: size // 2 + d, : size // 2] = True
        masks[1, size // 2:, size // 2 - d:] = True
        masks[2, size // 8 + d: size // 3 + d, size // 2: size - size // 8] = True
        out.append(sdw.Scene(background=sdw.Background(prompt="blue sky"),
                             regions=[sdw.Region(prompt=p, mask=m) for p, m in
                                      zip(("red bricks", "green grass", "white clouds"), masks)],
                             width=size, height=size, seed=k % 3))
    return out


def student(mode: str, spec: str, url: str | None, size: int, seconds: float, threads: int,
            barrier, results) -> None:
    import torch

    import semanticdraw_widgets as sdw

    torch.set_num_threads(threads)
    try:
        backend = sdw.load_backend(url, token=TOKEN) if mode == "shared" else sdw.load_backend(spec)
        variants = scenes(size)
        stream = sdw.Stream(backend, variants[0], steps=4)
        for k in range(WARMUP):
            stream.update(variants[k % len(variants)])
            stream.tick()
        calls0, rows0 = backend.model_calls, backend.model_rows
        sent0, received0 = getattr(backend, "bytes_sent", 0), getattr(backend, "bytes_received", 0)
        barrier.wait()
        latencies, k = [], 0
        begin = time.perf_counter()
        while time.perf_counter() - begin < seconds:
            k += 1
            stream.update(variants[k % len(variants)])
            t = time.perf_counter()
            stream.tick()
            latencies.append(time.perf_counter() - t)
        span = time.perf_counter() - begin
        results.put({"latencies": latencies, "span": span, "calls": backend.model_calls - calls0,
                     "rows": backend.model_rows - rows0,
                     "bytes_sent": getattr(backend, "bytes_sent", 0) - sent0,
                     "bytes_received": getattr(backend, "bytes_received", 0) - received0})
    except BaseException as error:  # noqa: BLE001 - reported by the parent
        barrier.abort()
        results.put({"error": f"{type(error).__name__}: {error}"})


def run_class(ctx, mode: str, spec: str, url: str | None, size: int, n: int, seconds: float) -> dict:
    barrier, results = ctx.Barrier(n), ctx.Queue()
    threads = 1  # one per kernel: with 2 under this machine's load, OpenMP's waiting made one student 10x slower
    procs = [ctx.Process(target=student, args=(mode, spec, url, size, seconds, threads, barrier, results))
             for _ in range(n)]
    for p in procs:
        p.start()
    outs = [results.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(60)
    errors = [o["error"] for o in outs if "error" in o]
    if errors:
        raise RuntimeError(f"{mode} x{n}: {errors[0]}")
    lat = np.concatenate([o["latencies"] for o in outs]) * 1000
    per = [len(o["latencies"]) / o["span"] for o in outs]
    frames = sum(len(o["latencies"]) for o in outs)
    return {"mode": mode, "students": n, "frames": frames, "aggregate_fps": round(sum(per), 2),
            "per_student_fps": round(float(np.mean(per)), 2), "min_student_fps": round(min(per), 2),
            "p50_ms": round(float(np.percentile(lat, 50)), 1), "p95_ms": round(float(np.percentile(lat, 95)), 1),
            "client_calls": sum(o["calls"] for o in outs), "client_rows": sum(o["rows"] for o in outs),
            "bytes_per_frame": round(sum(o["bytes_sent"] + o["bytes_received"] for o in outs) / max(frames, 1)),
            "bytes_up_per_frame": round(sum(o["bytes_sent"] for o in outs) / max(frames, 1))}


def get_stats(url: str) -> dict:
    import urllib.request

    request = urllib.request.Request(url + "/stats", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=60) as reply:
        return json.loads(reply.read())


def wait_healthy(url: str) -> None:
    import urllib.request

    for _ in range(900):
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"engine at {url} never answered")


def start_with_retry(spec: str, port: int, args: argparse.Namespace) -> str:
    from semanticdraw_widgets.serve.app import start_engine, stop_engine

    for attempt in (1, 2):
        try:
            url = start_engine(spec, port=port, token=TOKEN, num_cpus=os.cpu_count(),
                               batch_wait_s=args.batch_wait_ms / 1000, torch_threads=args.engine_threads)
            wait_healthy(url)
            return url
        except Exception as error:  # noqa: BLE001 - "node timed out during startup" under load: once more
            print(f"engine start-up failed ({error}); attempt {attempt} of 2", flush=True)
            try:
                stop_engine()
            except Exception:  # noqa: BLE001
                pass
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="toy")
    parser.add_argument("--students", default="1,2,4,8")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--batch-wait-ms", type=float, default=5.0)
    parser.add_argument("--engine-threads", type=int, default=1, help="torch threads of the engine's replica")
    parser.add_argument("--out", default=None, help="write PREFIX.json and PREFIX.md")
    args = parser.parse_args()
    from semanticdraw_widgets.serve.app import free_port, stop_engine
    from semanticdraw_widgets.testing import make_tiny_sd_pipeline

    ctx = mp.get_context("spawn")
    counts = [int(n) for n in args.students.split(",")]
    rows, tmp = [], tempfile.mkdtemp(prefix="bench-serve-")
    load_before = os.getloadavg()
    for case in args.cases.split(","):
        spec, size = ("toy", 512) if case == "toy" else (str(make_tiny_sd_pipeline(Path(tmp) / "tiny")), 64)
        # the engine first: Ray's start-up is what fails on a loaded machine, so fail (or retry) early
        port = free_port()
        started = time.perf_counter()
        url = start_with_retry(spec, port, args)
        startup = time.perf_counter() - started
        try:
            for n in counts:  # local and shared alternate, so each pair ran under similar machine load
                result = run_class(ctx, "local", spec, None, size, n, args.seconds)
                result["local_rows_per_call"] = round(result["client_rows"] / max(result["client_calls"], 1), 1)
                rows.append({"case": case, **result})
                print(json.dumps(rows[-1]), flush=True)
                before = get_stats(url)
                result = run_class(ctx, "shared", spec, url, size, n, args.seconds)
                after = get_stats(url)
                calls, done = after["model_calls"] - before["model_calls"], after["rows"] - before["rows"]
                result.update(engine_calls=calls, engine_rows=done, rows_per_call=round(done / max(calls, 1), 1),
                              shared_calls=after["shared_calls"] - before["shared_calls"], engine_startup_s=round(startup, 1))
                rows.append({"case": case, **result})
                print(json.dumps(rows[-1]), flush=True)
        finally:
            stop_engine()
    import torch

    meta = {"date": datetime.date.today().isoformat(), "command": "python " + " ".join(sys.argv),
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "seconds_per_class": args.seconds, "batch_wait_ms": args.batch_wait_ms}
    if args.out:
        Path(args.out + ".json").write_text(json.dumps({"meta": meta, "results": rows}, indent=1))
        lines = ["| case | setup | students | aggregate frames/s | per-student frames/s (min) | p50 ms | p95 ms "
                 "| rows/model call | KB/frame on the wire |", "|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            rpc = r.get("rows_per_call", r.get("local_rows_per_call"))
            wire = f"{r['bytes_per_frame'] / 1024:.0f}" if r["mode"] == "shared" else "-"
            lines.append(f"| {r['case']} | {r['mode']} | {r['students']} | {r['aggregate_fps']} | "
                         f"{r['per_student_fps']} ({r['min_student_fps']}) | {r['p50_ms']} | {r['p95_ms']} | {rpc} | {wire} |")
        Path(args.out + ".md.table").write_text("\n".join(lines) + "\n")
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
