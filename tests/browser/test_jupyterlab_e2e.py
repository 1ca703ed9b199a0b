"""End to end in real JupyterLab: a notebook shows the canvas on the toy model, Playwright draws a stroke in
Debian's Chromium, the kernel receives a region mask covering it, and a rendered frame appears in the page."""

import json
import shutil
import time

import pytest

from browser_support import (CHROMIUM, CHROMIUM_ARGS, PREVIEW_PIXEL_JS, draw_stroke, jupyterlab, open_and_run_all,
                             write_notebook)

pytestmark = pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian's chromium is not installed (.ci/run installs it)")

CELL = """
import json, os
import semanticdraw_widgets as sdw
canvas = sdw.SemanticDrawCanvas(sdw.load_backend("toy"), width=128, height=128, steps=2)
def report(change):
    labels = canvas.label_map
    tmp = {out!r} + ".tmp"
    with open(tmp, "w") as f:
        json.dump({{"count": int((labels == 1).sum()), "row": labels[64].tolist()}}, f)
    os.replace(tmp, {out!r})
canvas.observe(report, names=["labels"])
canvas.start()
canvas
"""


def test_draw_in_jupyterlab_and_see_the_kernel_mask_and_a_frame(tmp_path):
    pytest.importorskip("nbformat")
    playwright = pytest.importorskip("playwright.sync_api")
    out = tmp_path / "labels.json"
    write_notebook(tmp_path / "canvas.ipynb", CELL.format(out=str(out)))
    with jupyterlab(tmp_path) as base, playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        open_and_run_all(page, base, "canvas.ipynb")
        canvas = page.wait_for_selector("canvas.sdw-draw", timeout=120_000)
        page.wait_for_selector("canvas.sdw-preview[data-seq]", timeout=60_000)  # the first frame arrived
        canvas.scroll_into_view_if_needed()
        draw_stroke(page, canvas.bounding_box(), 128, y=64.5, x0=16, x1=100)
        stroke_end = time.monotonic()

        deadline = time.monotonic() + 60
        while not (out.exists() and all(json.loads(out.read_text())["row"][20:96])):
            assert time.monotonic() < deadline, "the kernel never received the stroke"
            time.sleep(0.05)
        received = json.loads(out.read_text())
        assert received["count"] >= 80 * 3, "a brush stroke several pixels wide"
        assert not any(received["row"][:3]) and not any(received["row"][114:])  # brush radius 12 around x 16..100

        # a new frame of the edited scene is painted: the stroke's pixels turn brick red in the preview
        page.wait_for_function(f"() => {{ const [r, g] = ({PREVIEW_PIXEL_JS})([60, 64]); return r > g + 60; }}",
                               timeout=60_000)
        seconds = time.monotonic() - stroke_end

        # Enter commits a prompt (JupyterLab swallows the browser's own change-on-Enter): the stroke turns blue
        prompt = page.locator(".sdw-brush[data-label='1'] input[placeholder='prompt']")
        prompt.fill("blue")
        prompt.press("Enter")
        page.wait_for_function(f"() => {{ const [r, g, b] = ({PREVIEW_PIXEL_JS})([60, 64]); return b > r + 60; }}",
                               timeout=60_000)
        # Ctrl+Z right after drawing undoes the stroke (drawing gives the widget the keyboard, not the notebook)
        cells = page.locator(".jp-Cell").count()
        before = json.loads(out.read_text())["count"]  # the first stroke's last sync came long ago
        draw_stroke(page, canvas.bounding_box(), 128, y=20.5, x0=16, x1=100)
        deadline = time.monotonic() + 60
        while not json.loads(out.read_text())["count"] > before:
            assert time.monotonic() < deadline, "the kernel never received the second stroke"
            time.sleep(0.05)
        page.keyboard.press("Control+z")
        deadline = time.monotonic() + 60
        while json.loads(out.read_text())["count"] != before:
            assert time.monotonic() < deadline, "undo never reached the kernel"
            time.sleep(0.05)
        assert page.locator(".jp-Cell").count() == cells, "the notebook took Ctrl+Z as its own"
        page.screenshot(path=str(tmp_path / "jupyterlab.png"))
        assert "error" not in page.locator(".sdw-status").inner_text().lower()
        browser.close()
    assert not errors, errors
    assert seconds < 60
