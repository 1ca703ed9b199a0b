"""The DenoisingInspector in real JupyterLab (Debian's Chromium via Playwright), on both drawing surfaces.

A notebook shows the inspector of a toy trace with guidance (so the guidance halves exist); the test checks
that the grid is painted (the current step's box outlined in the strip), the caption, the noise-schedule
plot and the prompt view appear, scrubs with the keyboard and checks the slider, the caption and the
painted strip agree, then isolates a layer (by clicking its tile on the ipycanvas surface, with the
buttons on the image surface). Screenshots go to $SEMANTICDRAW_TEST_ARTIFACTS (or the test's tmp_path);
their paths are printed. Every wait is on a condition in the page, never a sleep or a time bound.
"""

import json
import shutil

import pytest

from browser_support import CHROMIUM, artifact_dir, jupyter_server, open_and_run_all, write_notebook

pytestmark = pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian's chromium is not installed (.ci/run installs it)")

CELL = """
import json, warnings
import numpy as np
import semanticdraw_widgets as sdw
from semanticdraw_widgets.widgets import inspector as inspector_module
warnings.simplefilter("ignore")  # the toy says it ignores "sofa": the prompt view says so too
s = 256
brick, sun = np.zeros((s, s), bool), np.zeros((s, s), bool)
brick[16:128, 16:150] = True
sun[140:240, 130:240] = True
scene = sdw.Scene(width=s, height=s, seed=3, background=sdw.Background(prompt="blue sky", negative_prompt="grey"),
                  regions=[sdw.Region(prompt="red bricks sofa", mask=brick, prompt_strength=0.8),
                           sdw.Region(prompt="yellow sun", mask=sun)])
_, trace = sdw.generate(sdw.load_backend("toy"), scene, steps=4, guidance_scale=2.0, trace=True)
inspector = sdw.DenoisingInspector(trace, surface={surface!r})
box = (inspector.width - 2 * inspector_module.GAP) / len(trace)
geometry = dict(width=inspector.width, height=inspector.height,
                steps=[int(round(inspector_module.GAP + i * box + 1)) + 4 for i in range(len(trace))],
                sun_tile=inspector.tile_origin(inspector.layer_rows.index("x0_layers") + 1, 2))
with open({out!r}, "w") as f:
    json.dump(geometry, f)
inspector
"""

# RGBA at (x, y) of the inspector's picture: its ipycanvas <canvas>, or its <img> (drawn into a scratch canvas)
PICTURE_PIXEL_JS = """([width, x, y]) => {
    const el = [...document.querySelectorAll('canvas, img')].find(
        (e) => (e.tagName === 'IMG' ? e.naturalWidth : e.width) === width);
    if (!el || (el.tagName === 'IMG' && !el.complete)) return null;
    let ctx = el.getContext ? el.getContext('2d') : null;
    if (el.tagName === 'IMG') {
        const scratch = document.createElement('canvas');
        scratch.width = el.naturalWidth; scratch.height = el.naturalHeight;
        ctx = scratch.getContext('2d'); ctx.drawImage(el, 0, 0);
    }
    return Array.from(ctx.getImageData(x, y, 1, 1).data); }"""


def outlined_step(geometry: dict) -> str:
    """JS: the 1-based steps whose strip box is outlined: the strip's top row is near-white (232) there and dark
    (the background, 30) elsewhere; the browser's drawing may move colours by a few levels."""
    return f"""() => {{ const read = {PICTURE_PIXEL_JS};
        const px = {geometry['steps']}.map((x) => read([{geometry['width']}, x, 0]));
        if (px.some((p) => p === null)) return null;
        return px.map((p, i) => p[0] > 200 && p[1] > 200 && p[2] > 200 ? i + 1 : 0)
                 .filter((i) => i > 0); }}"""


def wait_outlined(page, geometry: dict, step: int) -> None:
    try:
        page.wait_for_function(f"() => JSON.stringify(({outlined_step(geometry)})()) === '[{step}]'", timeout=60_000)
    except Exception as error:  # say what the page shows instead
        pixels = page.evaluate(f"() => {geometry['steps']}.map((x) => ({PICTURE_PIXEL_JS})([{geometry['width']}, x, 0]))")
        raise AssertionError(f"step {step} is not the one outlined: strip pixels {pixels}, geometry {geometry}") from error


@pytest.mark.parametrize("surface", ["ipycanvas", "image"])
def test_the_inspector_in_jupyterlab(playwright_browser, tmp_path, surface):
    if surface == "ipycanvas":
        pytest.importorskip("ipycanvas")
    out = tmp_path / "geometry.json"
    shots = artifact_dir(tmp_path)
    write_notebook(tmp_path / "inspector.ipynb", CELL.format(surface=surface, out=str(out)))
    with jupyter_server(tmp_path, "lab") as base:
        page = playwright_browser.new_page(viewport={"width": 1280, "height": 3000})
        errors = []
        page.on("pageerror", lambda error: errors.append(f"{error}\n{error.stack}"))
        open_and_run_all(page, base, "inspector.ipynb")
        view = page.locator(".sdw-prompt-view")
        view.wait_for(timeout=120_000)
        geometry = json.loads(out.read_text())  # written before the inspector was displayed

        # the caption, the noise-schedule plot (one dot per step) and the prompt view, in plain words
        caption = page.locator(".widget-html", has_text="step 1/4 ·")
        caption.wait_for(timeout=60_000)
        assert "Bootstrapping: each region saw only its own mask" in caption.inner_text()
        plot = caption.locator("svg")
        assert plot.locator("circle").count() == 4 and "mask threshold" in plot.text_content()
        words = view.inner_text()
        assert "Words the model used: red, brick. Ignored (not in its vocabulary): “sofa”" in words
        assert "80% this prompt blended with 20% of the background prompt “blue sky”" in words
        assert "Guidance 2: the model guessed twice" in words and "the two guesses differ by" in words

        # the grid is painted, step 1 outlined in the strip; the plot sits inside the widget, beside the words
        wait_outlined(page, geometry, 1)
        inspector = page.locator(".widget-vbox", has=page.locator(".sdw-prompt-view")).last
        inspector.scroll_into_view_if_needed()
        picture = page.locator(f"{'canvas' if surface == 'ipycanvas' else 'img'}[width='{geometry['width']}']").last
        shown, box = picture.bounding_box(), plot.bounding_box()  # (the widget's margins move it a few px)
        assert box["x"] + box["width"] <= shown["x"] + shown["width"] + 8, (box, shown)  # beside the words, not beyond
        page.screenshot(path=str(shots / f"inspector-{surface}-step1.png"))
        inspector.screenshot(path=str(shots / f"inspector-{surface}-widget.png"))

        # scrub with the keyboard: the slider's readout, the caption and the painted strip agree
        page.locator(".widget-slider .noUi-handle").first.focus()
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        page.locator(".widget-html", has_text="step 3/4 ·").wait_for(timeout=60_000)
        assert page.locator(".widget-slider .widget-readout").first.inner_text().strip() == "3"
        wait_outlined(page, geometry, 3)
        assert "No bootstrapping" in page.locator(".widget-html", has_text="step 3/4 ·").inner_text()

        # isolate the sun: by clicking its tile (ipycanvas) or with its button (image)
        if surface == "ipycanvas":
            x, y = geometry["sun_tile"]  # the sun layer's x̂0 tile
            scale = picture.bounding_box()["width"] / geometry["width"]
            picture.click(position={"x": (x + 10) * scale, "y": (y + 10) * scale})
        else:
            page.locator(".widget-toggle-button", has_text="2: yellow sun").click()
        page.locator(".widget-toggle-button.mod-active", has_text="2: yellow sun").wait_for(timeout=60_000)
        page.wait_for_function("() => !document.querySelector('.sdw-prompt-view').innerText.includes('red bricks')",
                               timeout=60_000)
        assert "yellow sun" in view.inner_text()
        path = shots / f"inspector-{surface}-isolated.png"
        inspector.screenshot(path=str(path))
        print(f"screenshots: {shots / f'inspector-{surface}-step1.png'} {shots / f'inspector-{surface}-widget.png'} {path}")
        page.close()
    assert not errors, errors
