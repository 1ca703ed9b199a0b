"""The real front-end bundle in Debian's Chromium (Playwright), bridged to the real Python widget.

No Jupyter server: the page loads the esbuild bundle and a fake anywidget model whose save_changes /
send call into the widget in this process, and frames from the Session are pushed back into the page.
This drives real pointer events, the real canvas, CompressionStream, Blob URLs and image decoding.
"""

import base64
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

import semanticdraw_widgets as sdw
from browser_support import CHROMIUM, PREVIEW_PIXEL_JS, draw_stroke
from semanticdraw_widgets.widgets.canvas import STATIC
from semanticdraw_widgets.widgets.protocol import PROTOCOL_VERSION

HERE = Path(__file__).parent
SIZE = 128

pytestmark = pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian's chromium is not installed (.ci/run installs it)")

HARNESS = """<!doctype html><html><head><meta charset="utf-8"><link rel="stylesheet" href="/widget.css"></head>
<body><div id="root"></div><script type="module">
import widget from "/widget.js";
import { makeModel } from "/fake_model.js";
window.model = makeModel(JSON.parse(decodeURIComponent(location.hash.slice(1))));
window.cleanup = widget.render({ model: window.model, el: document.getElementById("root") });
window.ready = true;
</script></body></html>"""


def preview_pixel(page, x, y):
    """RGBA of the painted preview image at (x, y)."""
    return page.evaluate(PREVIEW_PIXEL_JS, [x, y])


def initial_state(widget):
    state = {}
    for key in ("width", "height", "brushes", "background", "seed", "steps", "guidance", "playing", "status",
                "snapshot_mime", "protocol_version"):
        state[key] = getattr(widget, key)
    for key in ("labels", "snapshot"):
        state[key] = {"$b64": base64.b64encode(bytes(getattr(widget, key))).decode()}
    return state


def open_page(browser, bridge):
    """A page serving the bundle, the harness and the fake model, with `bridge` as window.py_bridge."""
    page = browser.new_page(viewport={"width": 900, "height": 700})
    files = {"/widget.js": (STATIC / "widget.js").read_bytes(), "/widget.css": (STATIC / "widget.css").read_bytes(),
             "/fake_model.js": (HERE / "fake_model.js").read_bytes(), "/": HARNESS.encode()}
    types = {".js": "text/javascript", ".css": "text/css"}

    def serve(route):
        path = "/" + route.request.url.split("/", 3)[3].split("#")[0]
        body = files.get(path)
        if body is None:
            return route.abort()
        route.fulfill(body=body, content_type=types.get(Path(path).suffix, "text/html"))

    page.route("http://widget.test/**", serve)
    page.expose_function("py_bridge", bridge)
    return page


def test_a_saved_view_without_a_kernel_never_looks_live(browser, toy):
    """A reopened notebook replays saved widget state (here: a status that says idle) with no kernel behind it."""
    widget = sdw.SemanticDrawCanvas(toy, width=SIZE, height=SIZE, steps=2)
    state = initial_state(widget)
    state["status"] = {**state["status"], "state": "idle", "tick": 40}  # what the notebook saved
    page = open_page(browser, lambda message: None)  # nobody answers: no welcome ever comes
    page.goto("http://widget.test/#" + json.dumps(state).replace("#", "%23"))
    page.wait_for_function("window.ready === true")
    assert page.locator(".sdw-status-text").inner_text() == "connecting…"
    page.wait_for_selector(".sdw-status[data-connection='disconnected']", timeout=60_000)
    text = page.locator(".sdw-status-text").inner_text()
    assert text.startswith("disconnected: no kernel is running this widget") and "idle" not in text
    # ipywidgets marks a view whose comm is dead with a class: the view says so at once
    text = page.evaluate("""async () => { window.cleanup(); const root = document.getElementById('root');
        root.classList.add('jupyter-widgets-disconnected');
        const widget = (await import('/widget.js')).default;
        widget.render({ model: window.model, el: root });
        return root.querySelector('.sdw-status-text').textContent; }""")
    assert text.startswith("disconnected")
    page.close()


def test_draw_a_stroke_and_see_the_picture(browser, toy, tmp_path):
    widget = sdw.SemanticDrawCanvas(toy, width=SIZE, height=SIZE, steps=2)
    outbox = []  # the widget's custom messages, pushed into the page from this thread
    widget.send = lambda content, buffers=None: outbox.append((content, list(buffers or [])))
    # trait changes the kernel would sync to the browser (the status line's source)
    widget.observe(lambda change: outbox.append(({"$state": {change["name"]: change["new"]}}, [])), names=["status"])
    received = []

    def bridge(message):
        if message["kind"] == "state":
            changes = {k: memoryview(base64.b64decode(v["$b64"])) if isinstance(v, dict) and "$b64" in v else v
                       for k, v in message["changes"].items()}
            widget.set_state(changes)
        else:
            widget._handle_custom_msg(message["content"], [memoryview(base64.b64decode(b)) for b in message["buffers"]])
        received.append(message)

    page = open_page(browser, bridge)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("http://widget.test/#" + json.dumps(initial_state(widget)).replace("#", "%23"))
    page.wait_for_function("window.ready === true")
    assert any(m["kind"] == "msg" and m["content"] == {"kind": "hello", "version": PROTOCOL_VERSION} for m in received)
    assert "connecting" in page.locator(".sdw-status-text").inner_text()  # not live before the kernel's welcome
    widget.start()

    def pump(until, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            while outbox:
                content, buffers = outbox.pop(0)
                if "$state" in content:
                    page.evaluate("(updates) => window.model._applyRemote(updates)", content["$state"])
                    continue
                page.evaluate("([c, b]) => window.model._emitCustom(c, b)",
                              [content, [base64.b64encode(bytes(b)).decode() for b in buffers]])
            page.wait_for_timeout(20)
            if until():
                return
        raise AssertionError("timed out")

    # draw a horizontal stroke with the first brush across the middle of the drawing canvas
    draw_stroke(page, page.locator("canvas.sdw-draw").bounding_box(), SIZE, y=64, x0=16, x1=100)

    pump(lambda: widget.label_map[64, 16:100].all())
    labels = widget.label_map
    assert set(np.unique(labels)) == {0, 1}
    assert labels[64, 16:100].all() and not labels[10].any() and not labels[120].any()

    # frames come back as binary messages, get painted and acknowledged until the stroke shows as red bricks
    # (an earlier settled frame of the empty canvas may still be on screen, so wait for the pixels themselves)
    pump(lambda: widget.session.frame.converged and widget.session.frame.scene.regions
         and preview_pixel(page, 60, 64)[0] > preview_pixel(page, 60, 64)[1] + 60)
    acks = [m["content"] for m in received if m["kind"] == "msg" and m["content"].get("kind") == "ack"]
    assert acks and all(a["epoch"] == widget.session.epoch for a in acks)
    assert [a["seq"] for a in acks] == sorted(a["seq"] for a in acks)
    assert widget.session.frame.scene.regions[0].prompt == widget.brushes[0]["prompt"]
    pump(lambda: page.locator("canvas.sdw-preview[data-settled='true']").count() == 1)
    pump(lambda: "idle" in page.locator(".sdw-status-text").inner_text())

    # a second brush (picked in the palette) paints another region
    page.locator(".sdw-brush[data-label='2'] input[type=radio]").check()
    draw_stroke(page, page.locator("canvas.sdw-draw").bounding_box(), SIZE, y=110, x0=10, x1=118)
    pump(lambda: (widget.label_map[110, 10:118] == 2).all())

    # change the first brush's prompt while streaming: the picture follows
    prompt = page.locator(".sdw-brush[data-label='1'] input[aria-label='brush prompt']")
    prompt.fill("blue")
    prompt.press("Enter")
    prompt.dispatch_event("change")
    pump(lambda: widget.brushes[0]["prompt"] == "blue")
    pump(lambda: preview_pixel(page, 60, 64)[2] > preview_pixel(page, 60, 64)[0] + 60
         and preview_pixel(page, 60, 110)[1] > preview_pixel(page, 60, 110)[0] + 30)  # blue stroke, green grass
    pump(lambda: "idle" in page.locator(".sdw-status-text").inner_text())

    # negative prompts need guidance > 1: the field says so until guidance is raised in the toolbar
    negative = page.locator(".sdw-brush[data-label='1'] input[aria-label='brush negative prompt']")
    assert "guidance > 1" in negative.get_attribute("placeholder")
    guidance = page.locator("input[title^='guidance scale']")
    guidance.fill("3")
    guidance.dispatch_event("change")
    pump(lambda: widget.guidance == 3.0 and widget.session is not None
         and widget.session.stream.options.guidance_scale == 3.0)
    page.evaluate("(updates) => window.model._applyRemote(updates)", {"guidance": 3.0})  # the kernel's echo
    assert negative.get_attribute("placeholder") == "negative prompt"

    # undo with the keyboard removes the last stroke, and the kernel hears about it
    page.locator(".sdw-root").focus()
    page.keyboard.press("Control+z")
    pump(lambda: not (widget.label_map == 2).any() and (widget.label_map == 1).any())
    page.keyboard.press("Control+z")
    pump(lambda: not widget.label_map.any())
    page.keyboard.press("Control+Shift+z")
    pump(lambda: (widget.label_map == 1).any())

    # a restarted stream (new epoch, frames numbered from 1 again) is followed, not dropped as old frames
    old_epoch = int(page.locator("canvas.sdw-preview").get_attribute("data-epoch"))
    widget.stop()
    widget.start()
    assert widget.session.epoch != old_epoch
    pump(lambda: page.locator("canvas.sdw-preview").get_attribute("data-epoch") == str(widget.session.epoch))
    draw_stroke(page, page.locator("canvas.sdw-draw").bounding_box(), SIZE, y=20, x0=10, x1=118)
    pump(lambda: (widget.label_map[20, 10:118] == 2).all())  # brush 2 is still the one picked
    pump(lambda: preview_pixel(page, 60, 20)[1] > preview_pixel(page, 60, 20)[0] + 30)  # the new stroke, green grass
    page.screenshot(path=str(tmp_path / "canvas.png"))
    assert not errors, errors
    widget.stop()
