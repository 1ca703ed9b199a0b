"""Run by test_stream_exactness.py in a subprocess: is the toy batch-invariant on THIS CPU path?

    ATEN_CPU_CAPABILITY=avx2 python tests/exactness_probe.py THREADS [THREADS ...]

ATEN_CPU_CAPABILITY is read once when torch loads, so each CPU path needs its own process. Prints one
JSON line: the capability torch actually used and, per thread count, what failed (empty when exact).
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import semanticdraw_widgets as sdw  # noqa: E402
from helpers import rect_mask  # noqa: E402
from semanticdraw_widgets.backends.toy import ToyBackend  # noqa: E402


def failures() -> list[str]:
    out = []
    backend = ToyBackend()
    schedule = backend.make_schedule(3)
    prompts = ["red bricks", "blue water with waves", "white", "green grass", "yellow", "sun", "red apple"]
    cond = backend.encode_prompts(prompts)
    x = torch.randn(len(prompts), 4, 96, 128, generator=torch.Generator().manual_seed(0))
    steps = torch.tensor([0, 1, 2, 0, 1, 2, 1])
    batched = backend.predict_x0(x, steps, schedule, cond)
    for n in range(1, len(prompts)):
        parts = [backend.predict_x0(x[i:i + n], steps[i:i + n], schedule, {k: v[i:i + n] for k, v in cond.items()})
                 for i in range(0, len(prompts), n)]
        if not torch.equal(torch.cat(parts), batched):
            out.append(f"rows in groups of {n} differ from one call")
    size = 256
    scene = sdw.Scene(width=size, height=size, seed=24, background=sdw.Background(prompt="white sky"),
                      regions=[sdw.Region(prompt="red bricks", mask=rect_mask(size, size, 0, 0, 128, 150)),
                               sdw.Region(prompt="blue water", mask=rect_mask(size, size, 100, 50, 256, 256)),
                               sdw.Region(prompt="sun", mask=rect_mask(size, size, 10, 150, 110, 250))])
    for guidance in (None, 2.0):
        stream = sdw.Stream(backend, scene, steps=3, guidance_scale=guidance)
        stream.tick()
        edited = scene.with_region(0, prompt="green grass").with_(seed=5)
        stream.update(edited)  # lands on a half-filled ring
        frame = stream.tick()
        while not frame.converged:
            frame = stream.tick()
        expected = sdw.generate(backend, edited, steps=3, guidance_scale=guidance)
        if not np.array_equal(np.asarray(frame.image), np.asarray(expected)):
            out.append(f"stream after an edit differs from generate() (guidance {guidance})")
    return out


if __name__ == "__main__":
    report = {"capability": torch.backends.cpu.get_cpu_capability(), "threads": {}}
    for threads in map(int, sys.argv[1:] or ["1"]):
        torch.set_num_threads(threads)
        report["threads"][threads] = failures()
    print(json.dumps(report))
