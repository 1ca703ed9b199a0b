"""The paper's comparison on one card, in one run: MultiDiffusion vs SemanticDraw, eager vs the fast path.

    python benchmarks/bench_gpu.py                     # CUDA: real-size SD1.5 architecture, fp16, 512x512
    python benchmarks/bench_gpu.py --tiny              # any machine: the same script on a tiny model, 64x64

Models are built from configs with random weights (nothing is downloaded): the SD1.5 UNet, KL VAE and
12-layer CLIP text encoder (``testing.make_sd15_sized_pipeline``) and TAESD's architecture
(``AutoencoderTiny()``'s defaults are TAESD's config). Random weights cost what trained ones cost;
the pictures are noise, which is why equivalence is checked on numbers, not by eye.

Cases, all on the seeded scene of bench_generate (background "blue sky" + 1, 3 or 5 regions):

  md-ddim50        MultiDiffusion reference: DDIM, 50 steps, CFG 7.5, full VAE (eager, as published)
  md-lcm4          MultiDiffusion + LCM: 4 steps, no CFG, full VAE (eager)
  ours-oneshot     SemanticDraw generate(): LCM 4 steps, full VAE; eager and fast
  ours-stream      Stream.tick() with the scene edited every tick (never idle), TAESD frames;
                   1, 3 and 5 regions at steps 4 and 5; eager and fast

"fast" is ``accelerate_backend``: the UNet and the decoders captured as CUDA graphs once per input
shape (channels-last), replayed with new latents, timesteps and embeddings. The script checks that
the fast path's outputs equal the eager path's within fp16 tolerance (one UNet call, one-shot latents
and image, a converged stream frame) and that no capture happens while frames are timed.

Timing: warm-up calls first (they include the captures), then CUDA events around each call (the
clock on the CPU), median and p95, peak allocated memory per case, the card's name. Cases run in
priority order and the JSON is rewritten after each, so --budget-seconds (default 420, counted from
the start, model building included) stops the run cleanly with every finished case saved.
Output: benchmarks/results/gpu_<card>.json and .md; a CPU --tiny run writes to a temporary folder
unless --out is given. Targets (issue 12, H100/H200 at 512x512): 3-region stream >= 46 frames/s,
one-shot (4 steps, full VAE) <= 80 ms.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_generate import machine_info, machine_slug, make_scene, progress  # noqa: E402

import semanticdraw_widgets as sdw  # noqa: E402
from semanticdraw_widgets.backends.acceleration import AcceleratedModule, accelerate_backend, captures_of  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_STREAM_FPS, TARGET_ONE_SHOT_MS = 46.0, 80.0
# The original StreamMultiDiffusion on one H200, 512x512, 5 steps, fp16 (issue 12): regions -> frames/s.
ORIGINAL_STREAM_FPS = {1: 13.2, 3: 15.4, 5: 10.7}
EDIT_PROMPTS = ("red bricks", "orange bricks")
FP16_REL_TOL = 2e-2  # relative L2 error allowed between fast and eager latents (0 expected in fp32 eager mode)


# ------------------------------------------------------------------------------------------ timing --

class Budget:
    def __init__(self, seconds: float) -> None:
        self.seconds, self.start = seconds, time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def left(self) -> float:
        return self.seconds - self.elapsed()


class Clock:
    """Milliseconds of one call: CUDA events on a GPU (recorded around the call on the current stream,
    read after it finished), time.perf_counter on the CPU."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"

    def __call__(self, fn: Callable[[], Any]) -> tuple[float, Any]:
        if not self.cuda:
            start = time.perf_counter()
            out = fn()
            return (time.perf_counter() - start) * 1e3, out
        torch.cuda.synchronize()
        begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        begin.record()
        out = fn()
        end.record()
        end.synchronize()
        return begin.elapsed_time(end), out


def summary(times: list[float]) -> dict[str, Any]:
    if not times:
        return {"n": 0}
    median = float(np.median(times))
    return {"n": len(times), "median_ms": round(median, 3), "p95_ms": round(float(np.percentile(times, 95)), 3),
            "fps": round(1000 / median, 2), "times_ms": [round(t, 3) for t in times]}


def reset_peak(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def peak_gib(device: torch.device) -> float | None:
    return round(torch.cuda.max_memory_allocated() / 2**30, 3) if device.type == "cuda" else None


def capture_stats(backend: Any) -> dict[str, int]:
    stats = {"captures": 0, "fallbacks": 0, "failed_captures": 0}
    for name in ("unet", "transformer", "vae", "tiny_vae"):
        module = getattr(backend, name, None)
        if isinstance(module, AcceleratedModule):
            for call in module.calls.values():
                stats["captures"] += call.captures
                stats["fallbacks"] += call.fallbacks
                stats["failed_captures"] += call.failed_captures
    return stats


# ------------------------------------------------------------------------------------------ models --

def build_models(args: argparse.Namespace, scratch: Path) -> tuple[Path, Path]:
    """(pipeline folder, TAESD folder), built from configs with random weights unless --model-folder has them."""
    from diffusers import AutoencoderTiny

    from semanticdraw_widgets.testing import make_sd15_sized_pipeline

    root = Path(args.model_folder) if args.model_folder else scratch
    pipeline, taesd = root / ("tiny-sd" if args.tiny else "sd15-sized"), root / ("tiny-taesd" if args.tiny else "taesd")
    if not (pipeline / "model_index.json").is_file():
        progress(f"building {'a tiny' if args.tiny else 'the SD1.5-sized'} random pipeline in {pipeline} ...")
        if args.tiny:
            make_tiny_pipeline(pipeline)
        else:
            make_sd15_sized_pipeline(pipeline)
    if not (taesd / "config.json").is_file():
        torch.manual_seed(1)
        if args.tiny:  # the tiny pipeline's VAE downsamples 4x: a three-block TAESD matches it
            vae = AutoencoderTiny(encoder_block_out_channels=(8, 8, 8), decoder_block_out_channels=(8, 8, 8),
                                  num_encoder_blocks=(1, 1, 1), num_decoder_blocks=(1, 1, 1))
        else:
            vae = AutoencoderTiny()  # diffusers' defaults are TAESD's architecture (madebyollin/taesd)
        vae.save_pretrained(taesd)
    return pipeline, taesd


def make_tiny_pipeline(folder: Path) -> Path:
    """SD1.x-shaped and as small as a CPU run allows: 4x VAE (a 64x64 canvas is a 16x16 latent), 16-wide UNet."""
    from diffusers import AutoencoderKL, UNet2DConditionModel

    from semanticdraw_widgets.testing import _assemble

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(16, 32), layers_per_block=1, sample_size=16, in_channels=4, out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32, attention_head_dim=2, norm_num_groups=8)
    vae = AutoencoderKL(block_out_channels=(8, 16, 16), in_channels=3, out_channels=3,
                        down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
                        latent_channels=4, norm_num_groups=8, sample_size=64)
    text_config = dict(hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2)
    return _assemble(folder, unet, vae, text_config, steps_offset=1)


class Models:
    """Backends loaded on first use (each is its own copy of the weights, so eager and fast never share state)."""

    def __init__(self, args: argparse.Namespace, device: torch.device, dtype: torch.dtype, pipeline: Path,
                 taesd: Path) -> None:
        self.args, self.device, self.dtype, self.pipeline, self.taesd = args, device, dtype, pipeline, taesd
        self._cache: dict[tuple, Any] = {}
        self.load_s: dict[str, float] = {}

    def get(self, sampler: str, *, tiny_vae: bool = False, fast: bool = False) -> Any:
        key = (sampler, tiny_vae, fast)
        if key not in self._cache:
            start = time.perf_counter()
            backend = sdw.load_backend(self.pipeline, device=self.device, dtype=self.dtype, sampler=sampler,
                                       tiny_vae=str(self.taesd) if tiny_vae else None)
            if fast:
                backend = accelerate_backend(backend, mode=self.fast_mode())
            self._cache[key] = backend
            self.load_s["/".join(map(str, key))] = round(time.perf_counter() - start, 2)
        return self._cache[key]

    def fast_mode(self) -> str:
        # on the CPU "auto" would leave the model alone; the static-buffer path is what can be exercised there
        return "eager" if self.args.mode == "auto" and self.device.type != "cuda" else self.args.mode


# ------------------------------------------------------------------------------------------- cases --

def rel_error(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double().cpu(), b.double().cpu()
    return float((a - b).norm() / b.norm().clamp_min(1e-12))


def image_diff(a, b) -> dict[str, float]:
    diff = np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16))
    return {"max_abs_levels": int(diff.max()), "mean_abs_levels": round(float(diff.mean()), 4)}


def check_equivalence(models: Models, args: argparse.Namespace) -> dict[str, Any]:
    """Fast vs eager on the same inputs: one UNet call, one-shot latents and image, a converged stream frame."""
    out: dict[str, Any] = {"rel_tol": FP16_REL_TOL}
    eager, fast = models.get("lcm"), models.get("lcm", fast=True)
    scene = make_scene(args.canvas, 3)

    f = eager.scale_factor
    g = torch.Generator("cpu").manual_seed(0)
    x = torch.randn(8, eager.latent_channels, args.canvas // f, args.canvas // f, generator=g).to(eager.device, eager.dtype)
    t = torch.linspace(999, 259, 8).to(eager.device)
    cond = eager.encode_prompts([f"prompt {i}" for i in range(8)])["prompt_embeds"]
    with torch.inference_mode():
        reference = eager.unet(x, t, encoder_hidden_states=cond).sample
        first = fast.unet(x, t, encoder_hidden_states=cond).sample
        other = fast.unet(x, t, encoder_hidden_states=cond.flip(0)).sample  # new embeddings, same capture
        reference_other = eager.unet(x, t, encoder_hidden_states=cond.flip(0)).sample
    out["unet_call_rel_error"] = rel_error(first, reference)
    out["unet_call_new_embeddings_rel_error"] = rel_error(other, reference_other)

    image_eager, trace_eager = sdw.generate(eager, scene, 4, trace=True)
    image_fast, trace_fast = sdw.generate(fast, scene, 4, trace=True)
    out["one_shot_latent_rel_error"] = rel_error(trace_fast.steps[-1].x0, trace_eager.steps[-1].x0)
    out["one_shot_image"] = image_diff(image_fast, image_eager)

    stream_eager = sdw.Stream(models.get("lcm", tiny_vae=True), scene, steps=4)
    stream_fast = sdw.Stream(models.get("lcm", tiny_vae=True, fast=True), scene, steps=4)
    for _ in range(4):
        frame_eager, frame_fast = stream_eager.tick(), stream_fast.tick()
    out["stream_frame_latent_rel_error"] = rel_error(frame_fast.latent, frame_eager.latent)
    out["stream_frame_image"] = image_diff(frame_fast.image, frame_eager.image)
    errors = [v for k, v in out.items() if k.endswith("rel_error")]
    out["pass"] = bool(max(errors) <= FP16_REL_TOL)
    return out


def time_generate(backend: Any, scene: sdw.Scene, steps: int, *, repeats: int, warmup: int, budget: Budget,
                  clock: Clock, **kwargs: Any) -> dict[str, Any]:
    before = capture_stats(backend)["captures"]
    warm = [clock(lambda: sdw.generate(backend, scene, steps, **kwargs))[0] for _ in range(warmup)]
    during = capture_stats(backend)["captures"]
    times = []
    for _ in range(repeats):
        if times and budget.left() < 0:
            break
        gc.collect()
        times.append(clock(lambda: sdw.generate(backend, scene, steps, **kwargs))[0])
    return {**summary(times), "warmup_ms": [round(t, 3) for t in warm], "captures_in_warmup": during - before,
            "captures_while_timed": capture_stats(backend)["captures"] - during}


def time_stream(backend: Any, scene: sdw.Scene, steps: int, *, frames: int, warmup: int, budget: Budget,
                clock: Clock) -> dict[str, Any]:
    """Tick a stream whose first region's prompt changes every tick, so it never idles."""
    edits = [scene.with_region(0, prompt=p) for p in EDIT_PROMPTS]
    stream = sdw.Stream(backend, scene, steps=steps)
    before = capture_stats(backend)["captures"]
    for i in range(max(warmup, steps)):  # the ring fills in `steps` ticks: every batch size is met by then
        stream.update(edits[i % 2])
        stream.tick()
    during = capture_stats(backend)["captures"]
    times = []
    for i in range(frames):
        if times and budget.left() < 0:
            break
        stream.update(edits[i % 2])
        if i % 50 == 0:
            gc.collect()
        ms, frame = clock(stream.tick)
        times.append(ms)
    assert frame.image.size == (scene.width, scene.height) and frame.step == steps
    return {**summary(times), "captures_in_warmup": during - before,
            "captures_while_timed": capture_stats(backend)["captures"] - during}


def plan_cases(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every case, most important first (the judged numbers, then their baselines, then the references)."""
    stream = [(r, s) for r, s in ((3, 5), (3, 4), (1, 4), (1, 5), (5, 4), (5, 5))]
    cases = [{"id": f"ours-stream-r{r}-s{s}/fast", "kind": "stream", "regions": r, "steps": s, "fast": True}
             for r, s in stream[:2]]
    cases += [{"id": "ours-oneshot-lcm4/fast", "kind": "oneshot", "fast": True},
              {"id": "ours-oneshot-lcm4/eager", "kind": "oneshot", "fast": False}]
    cases += [{"id": f"ours-stream-r{r}-s{s}/eager", "kind": "stream", "regions": r, "steps": s, "fast": False}
              for r, s in stream[:2]]
    cases += [{"id": f"ours-stream-r{r}-s{s}/{path}", "kind": "stream", "regions": r, "steps": s, "fast": path == "fast"}
              for r, s in stream[2:] for path in ("fast", "eager")]
    cases += [{"id": "md-lcm4/eager", "kind": "md-lcm"},
              {"id": f"md-ddim{args.reference_steps}-cfg/eager", "kind": "md-ref"}]
    return cases


def run_case(case: dict[str, Any], models: Models, args: argparse.Namespace, budget: Budget,
             clock: Clock) -> dict[str, Any]:
    kind = case["kind"]
    regions = case.get("regions", 3)
    scene = make_scene(args.canvas, regions)
    timing = dict(budget=budget, clock=clock)
    if kind == "stream":
        backend = models.get("lcm", tiny_vae=True, fast=case["fast"])
        result = time_stream(backend, scene, case["steps"], frames=args.frames, warmup=args.warmup, **timing)
        rows = case["steps"] * (regions + 1)
        decoder = "taesd"
    elif kind == "oneshot":
        backend = models.get("lcm", fast=case["fast"])
        result = time_generate(backend, scene, 4, repeats=args.repeats, warmup=args.warmup_generate, **timing)
        rows, decoder = regions + 1, "full vae"
    elif kind == "md-lcm":
        backend = models.get("lcm")
        result = time_generate(backend, scene, 4, method="multidiffusion", repeats=args.repeats,
                               warmup=args.warmup_generate, **timing)
        rows, decoder = regions + 1, "full vae"
    else:
        backend = models.get("ddim")
        result = time_generate(backend, scene, args.reference_steps, method="multidiffusion", guidance_scale=7.5,
                               repeats=args.reference_repeats, warmup=1, **timing)
        rows, decoder = 2 * (regions + 1), "full vae"
    return {**case, "regions": regions, "rows_per_call": rows, "decoder": decoder,
            "dtype": str(backend.dtype).replace("torch.", ""), **result, "peak_gib": peak_gib(models.device),
            **{f"total_{k}": v for k, v in capture_stats(backend).items()}}


# ------------------------------------------------------------------------------------------ report --

def verdicts(rows: list[dict[str, Any]], tiny: bool) -> dict[str, Any]:
    by_id = {r["id"]: r for r in rows if r.get("n")}
    out: dict[str, Any] = {"applies": not tiny,
                           "note": "targets apply to the real-size model on an H100/H200 only" if tiny else ""}
    for steps in (5, 4):
        fast = by_id.get(f"ours-stream-r3-s{steps}/fast")
        if fast:
            out[f"stream_r3_s{steps}_fps"] = fast["fps"]
            out[f"stream_r3_s{steps}_pass"] = fast["fps"] >= TARGET_STREAM_FPS
    for regions in (1, 3, 5):
        fast = by_id.get(f"ours-stream-r{regions}-s5/fast")
        if fast and not tiny:
            out[f"stream_r{regions}_s5_vs_original"] = round(fast["fps"] / ORIGINAL_STREAM_FPS[regions], 2)
    one_shot = by_id.get("ours-oneshot-lcm4/fast")
    if one_shot:
        out["one_shot_ms"] = one_shot["median_ms"]
        out["one_shot_pass"] = one_shot["median_ms"] <= TARGET_ONE_SHOT_MS
    for row in rows:  # speed-ups of the fast path over eager, same case, same run
        if row["id"].endswith("/fast") and row.get("n"):
            eager = by_id.get(row["id"].replace("/fast", "/eager"))
            if eager:
                out[f"speedup {row['id'][:-5]}"] = round(eager["median_ms"] / row["median_ms"], 2)
    return out


def markdown(report: dict[str, Any]) -> str:
    gpu = report["machine"].get("gpu")
    lines = [f"# bench_gpu: {gpu['name'] if gpu else report['machine']['cpu_model'] + ' (CPU)'}", "",
             f"`{report['command']}` on {report['date']}, {report['settings']['canvas']}x{report['settings']['canvas']}, "
             f"{'tiny model' if report['settings']['tiny'] else 'SD1.5 architecture, random weights'}, "
             f"fast mode {report['settings']['fast_mode']!r}; {report['elapsed_s']} s in all.", "",
             "| case | rows/call | decoder | median ms | p95 ms | frames/s | peak GiB | captures while timed |",
             "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in report["results"]:
        if not r.get("n"):
            continue
        lines.append(f"| {r['id']} | {r['rows_per_call']} | {r['decoder']} | {r['median_ms']:.1f} | {r['p95_ms']:.1f} "
                     f"| {r['fps']:.1f} | {r['peak_gib'] if r['peak_gib'] is not None else '-'} "
                     f"| {r['captures_while_timed']} |")
    if report["skipped"]:
        lines += ["", f"Skipped (time budget): {', '.join(report['skipped'])}."]
    eq = report.get("equivalence") or {}
    if eq:
        lines += ["", f"Fast vs eager: UNet call rel. error {eq['unet_call_rel_error']:.2e}, one-shot latent "
                      f"{eq['one_shot_latent_rel_error']:.2e}, stream frame {eq['stream_frame_latent_rel_error']:.2e} "
                      f"(tolerance {eq['rel_tol']}): {'PASS' if eq['pass'] else 'FAIL'}."]
    lines += ["", "Verdicts: " + ", ".join(f"{k} = {v}" for k, v in report["verdicts"].items() if v != "")]
    return "\n".join(lines) + "\n"


def write(report: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    out.with_suffix(".md").write_text(markdown(report))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="tiny random model at 64x64: runs anywhere in a minute or two")
    parser.add_argument("--budget-seconds", type=float, default=420.0,
                        help="stop starting cases after this many seconds from the start (default 420)")
    parser.add_argument("--out", default=None, help="JSON path (default results/gpu_<card>.json; a temp file on a CPU --tiny run)")
    parser.add_argument("--frames", type=int, default=None, help="timed ticks per stream case (default 60, --tiny 2)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed ticks first (default 12, --tiny 3)")
    parser.add_argument("--repeats", type=int, default=None, help="timed one-shot runs (default 10, --tiny 1)")
    parser.add_argument("--warmup-generate", type=int, default=None, help="untimed one-shot runs (default 3, --tiny 1)")
    parser.add_argument("--reference-steps", type=int, default=None, help="MultiDiffusion DDIM steps (default 50, --tiny 6)")
    parser.add_argument("--reference-repeats", type=int, default=None, help="timed reference runs (default 3, --tiny 1)")
    parser.add_argument("--cases", default=None, help="comma list of case-id prefixes to run (default: all)")
    parser.add_argument("--mode", default="auto", choices=("auto", "graphs", "compile", "eager"),
                        help="fast path: auto = CUDA graphs on CUDA, the static-buffer 'eager' path on the CPU")
    parser.add_argument("--model-folder", default=None, help="build/reuse the random models here instead of a temp folder")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    defaults = dict(frames=(2, 60), warmup=(3, 12), repeats=(1, 10), warmup_generate=(1, 3), reference_steps=(6, 50),
                    reference_repeats=(1, 3))
    for name, (tiny, real) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, tiny if args.tiny else real)
    args.canvas = 64 if args.tiny else 512
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    budget = Budget(args.budget_seconds)
    from semanticdraw_widgets.backends.base import pick_device

    device = pick_device(args.device)
    if device.type != "cuda" and not args.tiny:
        sys.stderr.write("bench_gpu.py measures a CUDA card; on this machine run it with --tiny\n")
        return 2
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    if args.out:
        out = Path(args.out)
    elif device.type == "cuda" and not args.tiny:
        out = RESULTS / f"gpu_{machine_slug(device)}.json"
    else:
        out = Path(tempfile.mkdtemp(prefix="bench-gpu-")) / f"gpu_{machine_slug(device)}_tiny.json"
    command = "python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    clock = Clock(device)
    with tempfile.TemporaryDirectory(prefix="bench-gpu-models-") as scratch:
        pipeline, taesd = build_models(args, Path(scratch))
        build_s = round(budget.elapsed(), 1)
        models = Models(args, device, dtype, pipeline, taesd)
        report: dict[str, Any] = {
            "benchmark": "gpu", "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "command": command, "machine": machine_info(device),
            "settings": {"tiny": args.tiny, "canvas": args.canvas, "dtype": str(dtype).replace("torch.", ""),
                         "fast_mode": models.fast_mode(), "frames": args.frames, "warmup": args.warmup,
                         "repeats": args.repeats, "reference_steps": args.reference_steps,
                         "budget_seconds": args.budget_seconds},
            "build_s": build_s, "equivalence": None, "results": [], "skipped": [], "verdicts": {}, "elapsed_s": 0}
        progress("checking the fast path against eager ...")
        reset_peak(device)
        report["equivalence"] = check_equivalence(models, args)
        progress(f"  {report['equivalence']}")
        wanted = args.cases.split(",") if args.cases else None
        for case in plan_cases(args):
            if wanted and not any(case["id"].startswith(prefix) for prefix in wanted):
                continue
            if budget.left() < 0:
                report["skipped"].append(case["id"])
                continue
            progress(f"{case['id']} ({budget.elapsed():.0f} s elapsed) ...")
            reset_peak(device)
            row = run_case(case, models, args, budget, clock)
            progress(f"  median {row['median_ms']:.1f} ms, p95 {row['p95_ms']:.1f} ms, {row['fps']:.1f}/s")
            report["results"].append(row)
            report["verdicts"] = verdicts(report["results"], args.tiny)
            report["elapsed_s"] = round(budget.elapsed(), 1)
            report["load_s"] = models.load_s
            write(report, out)
        report["elapsed_s"] = round(budget.elapsed(), 1)
        write(report, out)
    sys.stdout.write(markdown(report))
    sys.stdout.write(f"wrote {out} and {out.with_suffix('.md')}\n")
    return 0 if report["equivalence"]["pass"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
