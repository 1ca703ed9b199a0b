"""Where the time goes while the canvas streams in real JupyterLab (toy model, 512x512).

    python benchmarks/profile_widget.py [--draw] [--seconds 6] [--max-in-flight 6] [--no-favicon]

Runs the canvas in JupyterLab + Debian's Chromium like bench_widget.py, then for --seconds either keeps
drawing zig-zag strokes (--draw) or has the kernel re-seed the canvas every 100 ms, and prints:

* frames/s painted in the page and produced by the kernel;
* CPU use of every process group (kernel, Jupyter server, each Chromium process, the Playwright driver);
* kernel status changes/s and favicon requests/s: every message the page sends to the kernel (frame acks,
  label-map syncs) makes the kernel publish busy then idle, and JupyterLab answers each busy with a
  favicon swap, which the browser fetches from the server;
* with --no-favicon, the same with JupyterLab's favicon <link>s removed from the page (an experiment on
  the host page, to size that cost; the widget never touches the page's favicon).

It is a diagnostic, not a benchmark with targets: bench_widget.py is the one that reports them.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_widget import RESEED, canvas_in_jupyterlab, draw_zigzags, page_point  # noqa: E402

PROBE = """() => {
  const preview = document.querySelector('canvas.sdw-preview');
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  window.sdwProfile = { painted: 0, statusChanges: 0 };
  new MutationObserver(() => { window.sdwProfile.painted += 1; })
    .observe(preview, { attributes: true, attributeFilter: ['data-seq'] });
  kernel.statusChanged.connect(() => { window.sdwProfile.statusChanges += 1; });
}"""


def process_cpu_seconds() -> collections.Counter:
    """CPU seconds so far of each process group involved (summed over its processes)."""
    ticks = os.sysconf("SC_CLK_TCK")
    totals: collections.Counter = collections.Counter()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if "ipykernel" in command:
            group = "kernel"
        elif "jupyter-lab" in command or "jupyter lab" in command:
            group = "server"
        elif "chromium" in command:
            kind = command.split("--type=")[1].split()[0] if "--type=" in command else "browser"
            if kind == "utility" and "--utility-sub-type=" in command:
                kind = command.split("--utility-sub-type=")[1].split()[0].split(".")[-1]
            group = f"chromium {kind}"
        elif "node" in command and "playwright" in command:
            group = "playwright driver (node)"
        elif Path(__file__).name in command:
            group = "this script"
        else:
            continue
        totals[group] += (int(fields[11]) + int(fields[12])) / ticks
    return totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--draw", action="store_true", help="draw strokes (default: the kernel re-seeds every 100 ms)")
    parser.add_argument("--max-in-flight", type=int, default=6)
    parser.add_argument("--no-favicon", action="store_true", help="remove JupyterLab's favicon links (experiment)")
    args = parser.parse_args(argv)

    with canvas_in_jupyterlab(args.max_in_flight) as (page, canvas):
        favicon_requests = []
        page.on("request", lambda request: favicon_requests.append(request.url) if "favicon" in request.url else None)
        page.evaluate(PROBE)
        if args.no_favicon:
            page.evaluate("() => document.querySelectorAll('link.favicon, link[rel=icon]').forEach((l) => l.remove())")
        if not args.draw:
            page.evaluate(RESEED)
            page.wait_for_timeout(1000)
        at = page_point(canvas)

        cpu_before, favicons_before = process_cpu_seconds(), len(favicon_requests)
        page.evaluate("window.sdwProfile.painted = 0; window.sdwProfile.statusChanges = 0")
        if args.draw:
            elapsed = draw_zigzags(page, at, args.seconds)
        else:
            started = time.monotonic()
            page.wait_for_timeout(int(args.seconds * 1000))
            elapsed = time.monotonic() - started
        counts = page.evaluate("window.sdwProfile")
        cpu = process_cpu_seconds()
        status = page.locator(".sdw-status-text").inner_text()

    print(f"{'drawing' if args.draw else 'kernel re-seeding every 100 ms'}, max_in_flight {args.max_in_flight}"
          f"{', favicon links removed' if args.no_favicon else ''}, {elapsed:.1f} s")
    print(f"painted {counts['painted'] / elapsed:.1f} frames/s; kernel status line: {status}")
    print(f"kernel status changes {counts['statusChanges'] / elapsed:.1f}/s, "
          f"favicon requests {(len(favicon_requests) - favicons_before) / elapsed:.1f}/s")
    print("CPU, % of one core:")
    for group, seconds in sorted(cpu.items(), key=lambda kv: -(kv[1] - cpu_before.get(kv[0], 0))):
        share = (seconds - cpu_before.get(group, 0)) / elapsed * 100
        if share >= 0.5:
            print(f"  {share:5.0f}  {group}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
