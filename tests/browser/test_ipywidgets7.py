"""The canvas on Colab's kernel-side widget stack with an ipywidgets 7 front end: classic Notebook 6.5 with
ipywidgets 7.7.1, widgetsnbextension 3.6 and anywidget 0.9.21 (the versions Colab ships, docs/colab.md).
A stroke reaches the kernel as binary labels and a rendered frame comes back as a binary snapshot, through
ipywidgets 7's protocol and widget manager. (Colab's own widget manager cannot run here.)

Needs a venv holding that stack: the current one when its ipywidgets is 7.x (the colab-stack CI job), or the
one whose bin folder $SEMANTICDRAW_IPYWIDGETS7_BIN names; otherwise skipped. See docs/colab.md to make one.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from browser_support import CHROMIUM, TOKEN, artifact_dir, draw_stroke, jupyter_server, wait_until, write_notebook
from test_jupyterlab_e2e import CELL, kernel_labels, pixel_is


def ipywidgets7_bin() -> Path | None:
    named = os.environ.get("SEMANTICDRAW_IPYWIDGETS7_BIN")
    candidates = [Path(named)] if named else [Path(sys.executable).parent]
    for folder in candidates:
        python, jupyter = folder / "python", folder / "jupyter"
        if not (python.exists() and jupyter.exists()):
            continue
        probe = subprocess.run([str(python), "-c", "import ipywidgets, notebook; print(ipywidgets.__version__, "
                                "notebook.__version__)"], capture_output=True, text=True)
        versions = probe.stdout.split()
        if probe.returncode == 0 and versions[0].startswith("7.") and versions[1].startswith("6."):
            return folder
    return None


BIN = ipywidgets7_bin()
pytestmark = [
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian's chromium is not installed (.ci/run installs it)"),
    pytest.mark.skipif(BIN is None, reason="no venv with ipywidgets 7 and notebook 6.5: set SEMANTICDRAW_IPYWIDGETS7_BIN"),
]


def test_draw_and_see_frames_with_ipywidgets_7(playwright_browser, tmp_path):
    size = 128
    out = tmp_path / "labels.json"
    write_notebook(tmp_path / "canvas.ipynb", CELL.format(out=str(out), size=size, rows=[64]))
    with jupyter_server(tmp_path, "classic", bin_dir=BIN) as base:
        page = playwright_browser.new_page(viewport={"width": 1280, "height": 900})
        errors = []
        page.on("pageerror", lambda error: errors.append(f"{error}\n{error.stack}"))
        page.route(lambda url: not url.startswith("http://127.0.0.1"), lambda route: route.abort())
        page.goto(f"{base}/notebooks/canvas.ipynb?token={TOKEN}", timeout=120_000)
        # loaded, connected and answered kernel_info: cells run before that are dropped by Notebook 6.5
        page.wait_for_function("""() => { const n = window.Jupyter?.notebook;
            return !!n && n._fully_loaded === true && n.kernel?.is_connected?.() === true
                && Object.keys(n.kernel.info_reply || {}).length > 0; }""", timeout=120_000)
        page.evaluate("Jupyter.notebook.execute_all_cells()")
        canvas = page.wait_for_selector("canvas.sdw-draw", timeout=120_000)
        page.wait_for_selector(".sdw-status[data-connection='live']", timeout=60_000)
        page.wait_for_selector("canvas.sdw-preview[data-seq]", timeout=60_000)  # a first frame arrived
        canvas.scroll_into_view_if_needed()
        draw_stroke(page, canvas.bounding_box(), size, y=64.5, x0=16, x1=100)
        wait_until(lambda: (k := kernel_labels(out)) is not None and all(k["rows"]["64"][20:96]),
                   "the kernel has the stroke (binary labels from the page)")
        page.wait_for_function(pixel_is(60, 64, "r > g + 60"), timeout=60_000)  # red bricks, from the kernel
        page.screenshot(path=str(artifact_dir(tmp_path) / "ipywidgets7-classic.png"))
        page.close()
    assert not errors, errors
