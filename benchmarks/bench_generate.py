"""One-shot latency of ``semanticdraw_widgets.generate``: SemanticDraw (few-step LCM) vs the MultiDiffusion reference.

    python benchmarks/bench_generate.py [--repeats N] [--cases toy,tiny,real,sdxl,sd3] [--real-size] [--out FILE.json]

Each case renders one seeded scene (a background prompt and 3 regions: a large rectangle, a medium
ellipse and a small circle) with ``generate`` and times the whole call: prompt encoding, planning,
every sampler step and the VAE decode to a PIL image, as a user of the widget waits for it.

Cases (see benchmarks/README.md):
  toy   the offline toy model, 512x512: SemanticDraw LCM 4 steps (target < 300 ms median on a
        2-core CPU, printed as PASS/FAIL) and MultiDiffusion DDIM 50 steps with CFG.
  tiny  a tiny random SD1.x pipeline (testing.make_tiny_sd_pipeline) through load_backend(folder).
  real  the SD1.5 architecture with random weights (testing.make_sd15_sized_pipeline), 512x512:
        runs when CUDA is available (fp16), or on the CPU (fp32) with --real-size; very slow there.
  sdxl  SDXL base's architecture with random weights (testing.make_sdxl_sized_pipeline), 1024x1024,
        SemanticDraw trailing Euler (Lightning-style) 4 steps, 1 and 3 regions; CUDA (fp16, VAE upcast
        as SDXL's config asks) or --real-size on the CPU.
  sd3   SD3-medium's architecture with random weights and no T5 (testing.make_sd3_sized_pipeline),
        1024x1024, SemanticDraw flash (flow matching, fresh-noise) 4 steps, 1 and 3 regions; same rules.
        With --family-tiny, sdxl and sd3 use the tiny test pipelines at --tiny-size instead (a quick
        CPU check of these code paths, not a performance number).

Rules: every case is warmed up (--warmup untimed calls) before --repeats timed calls; the clock is
time.perf_counter, read after torch.cuda.synchronize() on CUDA; the cases that share a model are timed
in alternation (A, B, A, B, ...) so a ratio compares runs made under the same machine load. The table
gives the median, the p95 (interpolated: with 7 repeats it lies between the two slowest runs) and
ratios of medians from this same run; the JSON keeps every timing and names the machine.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import re
import shlex
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a benchmark never reaches a hub
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")

import numpy as np  # noqa: E402
import torch  # noqa: E402

import semanticdraw_widgets as sdw  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
TARGET_CASE = "toy/sd-lcm4"
TARGET_MS = 300.0  # median, on a 2-core CPU
SEED = 1234
BACKGROUND = "blue sky"
# (prompt, shape, geometry as fractions of the canvas): rect (x0, y0, x1, y1), ellipse (cx, cy, rx, ry).
# The first three are the 3-region scene: large, medium and small; the real case also uses 1 and 5.
REGIONS = (
    ("red bricks", "rect", (0.05, 0.55, 0.50, 0.95)),
    ("green grass", "ellipse", (0.70, 0.32, 0.22, 0.17)),
    ("yellow sun", "ellipse", (0.25, 0.20, 0.09, 0.09)),
    ("white clouds", "rect", (0.58, 0.62, 0.92, 0.80)),
    ("brown wooden fence", "rect", (0.08, 0.42, 0.62, 0.50)),
)
CASE_NAMES = ("toy", "tiny", "real", "sdxl", "sd3")


# ----------------------------------------------------------------------------------------- scenes --

def shape_mask(shape: str, geometry: tuple[float, ...], size: int) -> np.ndarray:
    """(size, size) float32 mask of a rectangle or ellipse given in canvas fractions."""
    centres = (np.arange(size, dtype=np.float64) + 0.5) / size
    xs, ys = centres[None, :], centres[:, None]
    if shape == "rect":
        x0, y0, x1, y1 = geometry
        inside = (xs >= x0) & (xs < x1) & (ys >= y0) & (ys < y1)
    elif shape == "ellipse":
        cx, cy, rx, ry = geometry
        inside = ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 <= 1.0
    else:
        raise ValueError(f"unknown shape {shape!r}: use 'rect' or 'ellipse'")
    return inside.astype(np.float32)


def make_scene(size: int, regions: int, seed: int = SEED) -> sdw.Scene:
    """A seeded square scene: the background prompt plus the first `regions` shapes of REGIONS."""
    if not 1 <= regions <= len(REGIONS):
        raise ValueError(f"regions must be in 1..{len(REGIONS)}, got {regions}")
    return sdw.Scene(width=size, height=size, seed=seed, background=sdw.Background(prompt=BACKGROUND),
                     regions=tuple(sdw.Region(prompt=prompt, mask=shape_mask(shape, geometry, size))
                                   for prompt, shape, geometry in REGIONS[:regions]))


# ---------------------------------------------------------------------------------------- machine --

def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def machine_info(device: torch.device) -> dict[str, Any]:
    import diffusers
    import transformers

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "usable_cores": usable_cores(),
        "torch_num_threads": torch.get_num_threads(),
        "memory_gib": _memory_gib(),
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "transformers": transformers.__version__,
        "numpy": np.__version__,
        "semanticdraw_widgets": sdw.__version__,
        "device": str(device),
        "gpu": None,
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info["gpu"] = {"name": torch.cuda.get_device_name(device), "memory_gib": round(props.total_memory / 2**30, 1),
                       "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
                       "tf32_matmul": torch.backends.cuda.matmul.allow_tf32}
    return info


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def machine_slug(device: torch.device) -> str:
    """File-name label: the GPU's name on CUDA (e.g. nvidia-h100-80gb-hbm3), else cpu-<cores>core."""
    if device.type == "cuda":
        return re.sub(r"[^a-z0-9]+", "-", torch.cuda.get_device_name(device).lower()).strip("-")
    return f"cpu-{usable_cores()}core"


# ------------------------------------------------------------------------------------------ cases --

@dataclass(frozen=True)
class Case:
    id: str
    model: str  # toy | tiny | real
    canvas: int
    regions: int
    steps: int
    method: str  # semanticdraw | multidiffusion
    sampler: str
    guidance: float | None  # None: the backend's default (1.0, no CFG, for every backend here)
    baseline: str | None = None  # ratio = this case's median / the baseline's median

    def label(self, default_guidance: float) -> str:
        method = "SemanticDraw" if self.method == "semanticdraw" else "MultiDiffusion"
        guidance = default_guidance if self.guidance is None else self.guidance
        cfg = f", cfg {guidance:g}" if guidance > 1 else ""
        regions = f"{self.regions} region" + ("s" if self.regions != 1 else "")
        return f"{method} {self.sampler} {self.steps} steps{cfg}, {regions}, {self.canvas}px"


@dataclass
class Result:
    case: Case
    label: str
    device: str
    dtype: str
    layers: int
    rows_per_step: int
    warmup_ms: list[float] = field(default_factory=list)
    times_ms: list[float] = field(default_factory=list)

    @property
    def median_ms(self) -> float:
        return float(np.median(self.times_ms))

    @property
    def p95_ms(self) -> float:
        return float(np.percentile(self.times_ms, 95))

    def to_json(self) -> dict[str, Any]:
        c = self.case
        return {"id": c.id, "label": self.label, "model": c.model, "canvas": c.canvas, "regions": c.regions,
                "layers": self.layers, "steps": c.steps, "method": c.method, "sampler": c.sampler,
                "guidance": c.guidance, "device": self.device, "dtype": self.dtype,
                "model_rows_per_step": self.rows_per_step, "model_rows_total": self.rows_per_step * c.steps,
                "median_ms": round(self.median_ms, 3), "p95_ms": round(self.p95_ms, 3),
                "min_ms": round(min(self.times_ms), 3), "max_ms": round(max(self.times_ms), 3),
                "first_call_ms": round(self.warmup_ms[0], 3), "warmup_ms": [round(t, 3) for t in self.warmup_ms],
                "times_ms": [round(t, 3) for t in self.times_ms], "baseline": c.baseline}


def pair(model: str, canvas: int, args: argparse.Namespace, regions: int = 3, suffix: str = "") -> list[Case]:
    """SemanticDraw (LCM, few steps) and the MultiDiffusion reference (DDIM, many steps, CFG) on one scene."""
    fast = Case(f"{model}/sd-lcm{args.steps}{suffix}", model, canvas, regions, args.steps, "semanticdraw", "lcm", None)
    reference = Case(f"{model}/md-ddim{args.reference_steps}{suffix}", model, canvas, regions, args.reference_steps,
                     "multidiffusion", "ddim", args.reference_guidance, baseline=fast.id)
    return [fast, reference]


def sync_for(device: torch.device) -> Callable[[], None]:
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def time_group(backends: dict[str, Any], cases: list[Case], args: argparse.Namespace) -> list[Result]:
    """Warm every case up, then time them in alternation so each ratio sees the same machine load."""
    results, scenes = [], {}
    for case in cases:
        backend = backends[case.sampler]
        guidance = backend.default_guidance if case.guidance is None else case.guidance
        layers = case.regions + 1  # the background prompt is a layer too
        results.append(Result(case, case.label(backend.default_guidance), str(backend.device),
                              str(backend.dtype).replace("torch.", ""), layers,
                              layers * (2 if guidance > 1 else 1)))
        scenes[case.id] = make_scene(case.canvas, case.regions)

    def once(case: Case) -> float:
        backend = backends[case.sampler]
        sync = sync_for(backend.device)
        gc.collect()
        sync()
        start = time.perf_counter()
        sdw.generate(backend, scenes[case.id], case.steps, method=case.method, guidance_scale=case.guidance)
        sync()
        return (time.perf_counter() - start) * 1e3

    for result in results:
        result.warmup_ms = [once(result.case) for _ in range(args.warmup)]
    for _ in range(args.repeats):
        for result in results:
            result.times_ms.append(once(result.case))
    for result in results:
        progress(f"  {result.case.id}: median {result.median_ms:.1f} ms")
    return results


def progress(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def run_toy(args: argparse.Namespace, device: torch.device, loads: dict[str, float]) -> list[Result]:
    cases = pair("toy", 512, args)
    backends = {}
    for sampler in ("lcm", "ddim"):
        start = time.perf_counter()
        backends[sampler] = sdw.load_backend("toy", device=device, sampler=sampler)
        loads[f"toy/{sampler}"] = round(time.perf_counter() - start, 3)
    return time_group(backends, cases, args)


def run_tiny(args: argparse.Namespace, device: torch.device, loads: dict[str, float]) -> list[Result]:
    from semanticdraw_widgets.testing import make_tiny_sd_pipeline

    cases = pair("tiny", args.tiny_size, args)
    with tempfile.TemporaryDirectory(prefix="tiny-sd-") as scratch:
        start = time.perf_counter()
        folder = make_tiny_sd_pipeline(Path(scratch) / "tiny-sd")
        loads["tiny/build"] = round(time.perf_counter() - start, 3)
        backends = {}
        for sampler in ("lcm", "ddim"):
            start = time.perf_counter()
            backends[sampler] = sdw.load_backend(folder, device=device, sampler=sampler)
            loads[f"tiny/{sampler}"] = round(time.perf_counter() - start, 3)
        return time_group(backends, cases, args)


def run_real(args: argparse.Namespace, device: torch.device, loads: dict[str, float]) -> list[Result]:
    from semanticdraw_widgets.testing import make_sd15_sized_pipeline

    size, steps = args.real_canvas, args.steps
    fast = [Case(f"real/sd-lcm{steps}-r{n}", "real", size, n, steps, "semanticdraw", "lcm", None,
                 baseline=None if n == 1 else f"real/sd-lcm{steps}-r1") for n in (1, 3, 5)]
    reference = pair("real", size, args, suffix="-r3")[1]  # its baseline is real/sd-lcm<steps>-r3
    cases = [*fast, reference]
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    with tempfile.TemporaryDirectory(prefix="sd15-sized-") as scratch:
        folder = Path(args.real_folder) if args.real_folder else Path(scratch) / "sd15-sized"
        if not (folder / "model_index.json").is_file():
            progress(f"building the SD1.5-sized random pipeline in {folder} (~2 GB) ...")
            start = time.perf_counter()
            make_sd15_sized_pipeline(folder)
            loads["real/build"] = round(time.perf_counter() - start, 3)
        backends = {}
        for sampler in ("lcm", "ddim"):
            start = time.perf_counter()
            backends[sampler] = sdw.load_backend(folder, device=device, dtype=dtype, sampler=sampler)
            loads[f"real/{sampler}"] = round(time.perf_counter() - start, 3)
        results = time_group(backends, cases, args)
        release(backends, device)
    return results


def release(backends: dict, device: torch.device) -> None:
    """Free the models of a finished group before the next one loads (GPU memory is the limit there)."""
    backends.clear()
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


# family -> (real-size builder, tiny builder, few-step sampler) in semanticdraw_widgets.testing
FAMILY_CASES = {"sdxl": ("make_sdxl_sized_pipeline", "make_tiny_sdxl_pipeline", "euler"),
                "sd3": ("make_sd3_sized_pipeline", "make_tiny_sd3_pipeline", "flash")}


def run_family(name: str, args: argparse.Namespace, device: torch.device, loads: dict[str, float]) -> list[Result]:
    """SDXL or SD3: the real architecture with random weights at 1024x1024 (or the tiny one with --family-tiny)."""
    from semanticdraw_widgets import testing

    real_builder, tiny_builder, sampler = FAMILY_CASES[name]
    size = args.tiny_size if args.family_tiny else args.family_canvas
    steps = args.steps
    cases = [Case(f"{name}/sd-{sampler}{steps}-r{n}", name, size, n, steps, "semanticdraw", sampler, None,
                  baseline=None if n == 1 else f"{name}/sd-{sampler}{steps}-r1") for n in (1, 3)]
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    with tempfile.TemporaryDirectory(prefix=f"{name}-") as scratch:
        folder = Path(scratch) / name
        progress(f"building the {'tiny' if args.family_tiny else 'real-size'} random {name} pipeline ...")
        start = time.perf_counter()
        getattr(testing, tiny_builder if args.family_tiny else real_builder)(folder)
        loads[f"{name}/build"] = round(time.perf_counter() - start, 3)
        start = time.perf_counter()
        backends = {sampler: sdw.load_backend(folder, device=device, dtype=dtype, sampler=sampler)}
        loads[f"{name}/{sampler}"] = round(time.perf_counter() - start, 3)
        results = time_group(backends, cases, args)
        release(backends, device)
    return results


RUNNERS = {"toy": run_toy, "tiny": run_tiny, "real": run_real,
           "sdxl": lambda *a: run_family("sdxl", *a), "sd3": lambda *a: run_family("sd3", *a)}


# ---------------------------------------------------------------------------------------- reports --

def ratios(results: list[Result]) -> list[dict[str, Any]]:
    by_id = {r.case.id: r for r in results}
    out = []
    for r in results:
        base = by_id.get(r.case.baseline) if r.case.baseline else None
        if base is not None and base is not r:
            out.append({"case": r.case.id, "baseline": base.case.id, "ratio": round(r.median_ms / base.median_ms, 3),
                        "model_rows_ratio": round(r.rows_per_step * r.case.steps
                                                  / (base.rows_per_step * base.case.steps), 3)})
    return out


def table(results: list[Result]) -> str:
    by_ratio = {q["case"]: q for q in ratios(results)}
    head = ("case", "what", "median ms", "p95 ms", "1st call ms", "ratio (median)")
    rows = []
    for r in results:
        q = by_ratio.get(r.case.id)
        ratio = f"{q['ratio']:.2f}x {q['baseline']}" if q else ""
        rows.append((r.case.id, r.label, f"{r.median_ms:.1f}", f"{r.p95_ms:.1f}", f"{r.warmup_ms[0]:.1f}", ratio))
    widths = [max(len(row[i]) for row in (head, *rows)) for i in range(len(head))]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(head), rule, *(line(row) for row in rows)])


def target_verdict(results: list[Result], machine: dict[str, Any]) -> dict[str, Any] | None:
    target = next((r for r in results if r.case.id == TARGET_CASE), None)
    if target is None:
        return None
    comparable = machine["gpu"] is None and machine["usable_cores"] == 2
    return {"case": TARGET_CASE, "limit_ms": TARGET_MS, "median_ms": round(target.median_ms, 3),
            "pass": target.median_ms < TARGET_MS, "defined_for": "2-core CPU", "comparable_machine": comparable}


def verdict_line(verdict: dict[str, Any]) -> str:
    word = "PASS" if verdict["pass"] else "FAIL"
    note = "" if verdict["comparable_machine"] else " (the target is set for a 2-core CPU; this machine differs)"
    return (f"target: {verdict['case']} median {verdict['median_ms']:.1f} ms < {verdict['limit_ms']:.0f} ms "
            f"on a {verdict['defined_for']}: {word}{note}")


def machine_line(machine: dict[str, Any]) -> str:
    gpu = f", GPU {machine['gpu']['name']} ({machine['gpu']['memory_gib']} GiB)" if machine["gpu"] else ", no GPU"
    return (f"{machine['cpu_model']}, {machine['usable_cores']} cores, torch threads {machine['torch_num_threads']}"
            f"{gpu}; {machine['platform']}; torch {machine['torch']}, diffusers {machine['diffusers']}, "
            f"transformers {machine['transformers']}")


def markdown(report: dict[str, Any], text_table: str) -> str:
    load = report["load_average"]
    lines = [f"# generate latency, {report['machine_slug']}", "",
             f"- date: {report['date']}",
             f"- command: `{report['command']}`",
             f"- machine: {machine_line(report['machine'])}",
             f"- load average (1 min) at start / end: {load['start'][0]:.2f} / {load['end'][0]:.2f}",
             f"- settings: {report['settings']['repeats']} timed runs per case after "
             f"{report['settings']['warmup']} warm-up runs; seed {SEED}", ""]
    if report["skipped"]:
        lines += [f"- skipped: {', '.join(report['skipped'])}", ""]
    lines += [text_table, ""]
    if report["target"]:
        lines += [verdict_line(report["target"]), ""]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------- main --

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per case (default 7)")
    parser.add_argument("--warmup", type=int, default=2,
                        help="untimed runs per case first (default 2: the second call is still slower than "
                             "the rest on a CPU, the first much slower)")
    parser.add_argument("--cases", default="toy,tiny,real,sdxl,sd3",
                        help="comma-separated subset of toy,tiny,real,sdxl,sd3 (default all; real, sdxl and sd3 "
                             "need CUDA or --real-size)")
    parser.add_argument("--family-canvas", type=int, default=1024, help="canvas of the sdxl and sd3 cases (default 1024)")
    parser.add_argument("--family-tiny", action="store_true",
                        help="sdxl and sd3 cases with the tiny test pipelines at --tiny-size (a CPU code-path check)")
    parser.add_argument("--real-size", action="store_true",
                        help="run the SD1.5-sized case on the CPU too (fp32; very slow: minutes per 50-step run)")
    parser.add_argument("--real-canvas", type=int, default=512, help="canvas of the real case (default 512)")
    parser.add_argument("--real-folder", default=None,
                        help="keep the SD1.5-sized random pipeline here (built when missing) instead of a temp dir")
    parser.add_argument("--tiny-size", type=int, default=64,
                        help="canvas of the tiny case (default 64: its VAE downsamples only 2x, so 256 means "
                             "16384-token attention and ~7 s per step on 2 cores)")
    parser.add_argument("--steps", type=int, default=4, help="SemanticDraw LCM steps (default 4)")
    parser.add_argument("--reference-steps", type=int, default=50, help="MultiDiffusion DDIM steps (default 50)")
    parser.add_argument("--reference-guidance", type=float, default=7.5,
                        help="MultiDiffusion CFG scale (default 7.5, as in the paper's comparison; 1 disables CFG)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cuda or cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads before timing")
    parser.add_argument("--out", default=None,
                        help="JSON report (default benchmarks/results/generate_<machine>.json); "
                             "a Markdown copy of the table is written beside it (.md)")
    args = parser.parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = sorted(set(cases) - set(CASE_NAMES))
    if unknown or not cases:
        parser.error(f"--cases: unknown {', '.join(unknown) or '(none given)'}; choose from {', '.join(CASE_NAMES)}")
    args.case_list = [c for c in CASE_NAMES if c in cases]
    if args.repeats < 1 or args.warmup < 1:
        parser.error("--repeats and --warmup must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # the tiny test pipeline's DDIM config predates steps_offset=1; diffusers warns on every load
    warnings.filterwarnings("ignore", message=r"(?s).*steps_offset", category=FutureWarning)
    import diffusers

    diffusers.utils.logging.disable_progress_bar()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    machine = machine_info(device)
    slug = machine_slug(device)
    out = Path(args.out) if args.out else RESULTS / f"generate_{slug}.json"
    load_start = os.getloadavg()
    progress(f"machine: {machine_line(machine)}")
    progress(f"load average at start: {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}")

    results: list[Result] = []
    loads: dict[str, float] = {}
    skipped = []
    for name in args.case_list:
        if name == "real" and device.type != "cuda" and not args.real_size:
            skipped.append("real (no CUDA; pass --real-size to run it on the CPU)")
            continue
        if name in FAMILY_CASES and device.type != "cuda" and not (args.real_size or args.family_tiny):
            skipped.append(f"{name} (no CUDA; pass --real-size to run it on the CPU, or --family-tiny)")
            continue
        progress(f"{name} ...")
        results += RUNNERS[name](args, device, loads)

    load_end = os.getloadavg()
    command = "python benchmarks/bench_generate.py" + ("" if not sys.argv[1:] else " " + shlex.join(sys.argv[1:]))
    report = {
        "benchmark": "generate", "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": command, "machine_slug": slug, "machine": machine,
        "settings": {"repeats": args.repeats, "warmup": args.warmup, "seed": SEED, "cases": args.case_list,
                     "tiny_size": args.tiny_size, "real_canvas": args.real_canvas, "steps": args.steps,
                     "family_canvas": args.family_canvas, "family_tiny": args.family_tiny,
                     "reference_steps": args.reference_steps, "reference_guidance": args.reference_guidance,
                     "background": BACKGROUND, "regions": [list(r[:2]) + [list(r[2])] for r in REGIONS]},
        "load_average": {"start": list(load_start), "end": list(load_end)},
        "setup_s": loads, "skipped": skipped,
        "cases": [r.to_json() for r in results], "ratios": ratios(results),
        "target": target_verdict(results, machine),
    }
    text = table(results)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(report, text))

    stdout = sys.stdout
    stdout.write(f"machine: {machine_line(machine)}\n")
    stdout.write(f"load average (1 min) at start / end: {load_start[0]:.2f} / {load_end[0]:.2f}\n")
    stdout.write(f"{args.repeats} timed runs per case after {args.warmup} warm-up runs\n\n{text}\n\n")
    for note in skipped:
        stdout.write(f"skipped: {note}\n")
    if report["target"]:
        stdout.write(verdict_line(report["target"]) + "\n")
    stdout.write(f"wrote {out} and {out.with_suffix('.md')}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
