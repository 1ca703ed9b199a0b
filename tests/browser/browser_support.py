"""Shared by the browser tests and bench_widget.py: Debian's Chromium, a JupyterLab or Notebook 7 server on
127.0.0.1 isolated in a temp folder (stopped cleanly), and mouse strokes on the drawing canvas."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

TOKEN = "semanticdraw-test"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Offline and as root: no sandbox, and none of Chromium's background connections (refused here anyway).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


# RGBA of the drawn preview at (x, y); the preview is a canvas that frames are painted into.
PREVIEW_PIXEL_JS = """([x, y]) => { const c = document.querySelector('canvas.sdw-preview');
    return c && c.width > 1 ? Array.from(c.getContext('2d').getImageData(x, y, 1, 1).data) : [0, 0, 0, 0]; }"""


def artifact_dir(tmp_path: Path) -> Path:
    """Where browser tests keep screenshots: $SEMANTICDRAW_TEST_ARTIFACTS (made if absent) or the test's tmp_path."""
    folder = Path(os.environ.get("SEMANTICDRAW_TEST_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def wait_until(condition, what: str, timeout: float = 60.0, poll: float = 0.05) -> None:
    """Poll `condition` (state outside the page, such as a file the kernel writes) until it holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(poll)


def draw_stroke(page, box: dict, canvas_size: int, y: float, x0: float, x1: float, points: int = 28) -> None:
    """Drag the mouse along row `y` from x0 to x1, in canvas pixels of a canvas shown at `box`."""
    scale = box["width"] / canvas_size
    page.mouse.move(box["x"] + x0 * scale, box["y"] + y * scale)
    page.mouse.down()
    for i in range(1, points + 1):
        page.mouse.move(box["x"] + (x0 + (x1 - x0) * i / points) * scale, box["y"] + y * scale)
    page.mouse.up()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyter_server(root: Path, app: str = "lab", timeout: float = 90.0, bin_dir: Path | None = None) -> Iterator[str]:
    """Yield the base URL of a JupyterLab (app "lab"), Notebook 7 (app "notebook") or classic Notebook 6.5 (app
    "classic", Colab's kernel-side stack) serving `root`, run from `bin_dir` (default: this Python's venv);
    the whole process group is killed afterwards."""
    if app == "lab":  # no news toast (Notebook 7 has no such plugin: a settings file for it breaks its loading)
        settings = root / "cfg/lab/user-settings/@jupyterlab/apputils-extension"
        settings.mkdir(parents=True, exist_ok=True)
        (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(root / "cfg"), JUPYTER_RUNTIME_DIR=str(root / "rt"),
               IPYTHONDIR=str(root / "ipy"), JUPYTER_PLATFORM_DIRS="1", HF_HUB_OFFLINE="1")
    port = free_port()
    jupyter = str((bin_dir or Path(sys.executable).parent) / "jupyter")
    if app == "classic":  # notebook 6.5 is its own server: no ServerApp, no IdentityProvider
        command = [jupyter, "notebook", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
                   f"--NotebookApp.token={TOKEN}", f"--NotebookApp.notebook_dir={root}"]
    else:
        app_class = {"lab": "LabApp", "notebook": "JupyterNotebookApp"}[app]
        command = [jupyter, app, "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
                   f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}",
                   f"--{app_class}.expose_app_in_browser=True"]
    if app == "lab":
        command += ["--LabApp.news_url=None", "--LabApp.extension_manager=readonly", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    base = f"http://127.0.0.1:{port}"
    log_path = root / f"{app}-server.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=1).read()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"jupyter {app} did not start:\n" + log_path.read_text())
                time.sleep(0.1)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def jupyterlab(root: Path, timeout: float = 90.0):
    """A JupyterLab serving `root` (see jupyter_server)."""
    return jupyter_server(root, "lab", timeout)


def write_notebook(path: Path, source: str) -> None:
    """Write a one-cell Python 3 notebook running `source`."""
    import nbformat

    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                  "language": "python"}})
    notebook.cells = [nbformat.v4.new_code_cell(source)]
    nbformat.write(notebook, path)


def open_and_run_all(page, base: str, notebook: str, timeout_ms: int = 120_000, app: str = "lab") -> None:
    """Open a notebook in Lab (or Notebook 7), wait for its kernel, then run every cell."""
    page.route(lambda url: not url.startswith("http://127.0.0.1"), lambda route: route.abort())
    path = f"lab/tree/{notebook}" if app == "lab" else f"notebooks/{notebook}"
    page.goto(f"{base}/{path}?token={TOKEN}", timeout=timeout_ms)
    page.wait_for_function("""() => { const w = window.jupyterapp?.shell.currentWidget;
        return w?.sessionContext?.session?.kernel?.status === 'idle'; }""", timeout=timeout_ms)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
