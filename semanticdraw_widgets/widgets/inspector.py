"""DenoisingInspector: scrub through a regional sample step by step (ipywidgets controls; ipycanvas or PNG drawing).

    inspector = sdw.DenoisingInspector(trace)      # from generate(..., trace=True)
    inspector = sdw.DenoisingInspector(canvas)     # a SemanticDrawCanvas(..., trace=True): follows its newest trace

The canvas shows one step as a grid of latent previews (the backend's cheap linear latent -> RGB map):

    row 0   x_t | x̂0 (pre-averaged) | x_{t+1} | picture (x̂0 with the masks' edges) | quantized masks
    row 1   what each layer saw (x_t, or the bootstrapped surround)        one column per layer
    row 2   what the model ran on (centred while bootstrapping)
    row 3   what the model drew on the centred rows, before the shift back (bootstrap steps only)
    row 4   (guidance > 1) each layer's unconditional x̂0, then its conditional x̂0: the guidance halves
    row 5   each layer's x̂0 (guided when guidance ran), dimmed outside its quantized mask
    row 6   each layer's own x_{t+1} (multidiffusion only)

Rows a trace did not record are left out. Below the grid: the step in words beside the noise schedule, and
the prompt view: per layer, the words the model used (the backend's ``read_prompt``), how much of its
conditioning is its own prompt (prompt strength) and what classifier-free guidance did with it.

MultiDiffusion never forms a pre-averaged x̂0: its row 0 shows the averaged x_{t+1} instead of both,
and the picture previews that average. Every step's tiles are rendered to uint8 once when a trace is
loaded; a redraw only pastes them into one array (``compose``) and hands it to one of two thin surfaces:

    "ipycanvas"  an ipycanvas Canvas: one ``put_image_data``, labels as text commands, click a tile to isolate
    "image"      a plain ipywidgets.Image: the labels drawn into the array by Pillow, sent as one PNG; works
                 where ipycanvas cannot draw (Colab: googlecolab/colabtools#4157) or is not installed

``surface="auto"`` (the default) picks "image" on Colab or without ipycanvas, else "ipycanvas". The
"isolate" buttons isolate a layer on both surfaces.
"""

from __future__ import annotations

import html
import importlib.util
import io
import sys
import threading
from typing import Any, Callable

import ipywidgets as widgets
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from ..animation import tile_zoom, upscale
from ..engine.trace import Trace, check_trace
from ..trace_view import (LAYER_COLOURS, explain_prompts, explain_step, guidance_gaps, mask_colours, mask_edge,
                          next_latent, prompt_readings, schedule_svg, step_caption, step_tiles)

LABEL = 16  # px above each tile for its label
STRIP = 14  # px at the top: one box per step, bootstrap steps in orange
GAP = 4
BACKGROUND = np.array([30, 30, 34], np.uint8)
EMPTY = np.array([52, 52, 58], np.uint8)  # a layer tile hidden while another layer is isolated
BOOTSTRAP_COLOUR = "#f0a030"
STEP_COLOUR = "#6a6a78"
TEXT_COLOUR = "#e8e8e8"
FONT_PX = 11
SURFACES = ("auto", "ipycanvas", "image")
# labels of the guidance rows: the same x̂0 the model made, named for what it was conditioned on
ROW_LABELS = {"x0_uncond": "uncond x̂0", "x0_cond": "cond x̂0"}


def _rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i: i + 2], 16) for i in (1, 3, 5)], np.uint8)


def choose_surface(surface: str = "auto") -> str:
    """"ipycanvas" or "image": what `surface` ("auto", "ipycanvas", "image") means on this kernel.

    "auto" draws on a plain PNG image on Colab, where ipycanvas canvases stay blank
    (googlecolab/colabtools#4157), and wherever ipycanvas is not installed.
    """
    if surface not in SURFACES:
        raise ValueError(f"surface must be one of {', '.join(map(repr, SURFACES))}, got {surface!r}: 'auto' picks "
                         "'image' on Colab or without ipycanvas, else 'ipycanvas'")
    has_ipycanvas = importlib.util.find_spec("ipycanvas") is not None
    if surface == "ipycanvas" and not has_ipycanvas:
        raise ValueError("surface='ipycanvas' needs ipycanvas, which is not installed: pip install ipycanvas, "
                         "or use surface='image' (a plain PNG picture)")
    if surface != "auto":
        return surface
    return "image" if "google.colab" in sys.modules or not has_ipycanvas else "ipycanvas"


class CanvasSurface:
    """Draws a composed frame on an ipycanvas Canvas: one ``put_image_data``, labels as text commands."""

    clickable = True  # tiles answer clicks (isolate a layer)

    def __init__(self) -> None:
        from ipycanvas import Canvas  # the inspector's only ipycanvas dependency, on this surface only

        self.widget = Canvas(width=1, height=1)

    def resize(self, width: int, height: int) -> None:
        self.widget.width, self.widget.height = width, height
        self.widget.layout.width, self.widget.layout.height = f"{width}px", f"{height}px"

    def show(self, frame: np.ndarray, labels: list[tuple[str, int, int]], max_width: int) -> None:
        from ipycanvas import hold_canvas

        with hold_canvas():
            self.widget.clear()
            self.widget.put_image_data(frame, 0, 0)
            self.widget.font = f"{FONT_PX}px sans-serif"
            self.widget.fill_style = TEXT_COLOUR
            for text, x, y in labels:
                self.widget.fill_text(text, x, y, max_width=max_width)

    def on_click(self, callback: Callable[[float, float], None]) -> None:
        self.widget.on_mouse_down(callback)


class ImageSurface:
    """Draws a composed frame as one PNG in a plain ipywidgets.Image (no ipycanvas, works on Colab): the
    labels are drawn into a copy of the frame by Pillow. An Image has no clicks: isolate with the buttons."""

    clickable = False

    def __init__(self) -> None:
        self.widget = widgets.Image(format="png")
        try:  # DejaVu draws the combining hat of "x̂0"; Pillow's built-in font shows a box for it
            self.font, self.hat = ImageFont.truetype("DejaVuSans.ttf", FONT_PX), "\u0302"
        except OSError:
            try:
                self.font = ImageFont.load_default(size=FONT_PX)
            except TypeError:  # Pillow < 10.1: one small bitmap font
                self.font = ImageFont.load_default()
            self.hat = "^"
        self._fitted: dict[tuple[str, int], str] = {}  # label, width -> the label shortened to fit
        self.last_png: bytes = b""

    def resize(self, width: int, height: int) -> None:
        self.widget.width, self.widget.height = width, height  # CSS pixels: one per frame pixel, like the canvas
        self.widget.layout.width, self.widget.layout.height = f"{width}px", f"{height}px"
        self._fitted.clear()  # a new trace: new labels

    def fit(self, text: str, max_width: int) -> str:
        """`text`, cut with "…" to fit `max_width` pixels (ipycanvas squeezes instead; Pillow cannot)."""
        key = (text, max_width)
        if key not in self._fitted:
            fitted = text.replace("\u0302", self.hat)
            while len(fitted) > 1 and self.font.getlength(fitted) > max_width:
                fitted = fitted[:-2] + "…"
            self._fitted[key] = fitted
        return self._fitted[key]

    def show(self, frame: np.ndarray, labels: list[tuple[str, int, int]], max_width: int) -> None:
        picture = Image.fromarray(frame)  # a copy: the composed frame stays label-free, as on the canvas
        draw = ImageDraw.Draw(picture)
        for text, x, y in labels:
            draw.text((x, y), self.fit(text, max_width), fill=TEXT_COLOUR, font=self.font, anchor="ls")
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG", compress_level=1)  # fast: the previews compress well anyway
        self.last_png = buffer.getvalue()
        self.widget.value = self.last_png

    def on_click(self, callback: Callable[[float, float], None]) -> None:
        raise NotImplementedError("an ipywidgets.Image reports no clicks: isolate a layer with the buttons")


def source_trace(source: Any) -> Trace | None:
    """The trace behind `source`: a Trace itself, or the `trace` attribute of a live object (a canvas)."""
    if isinstance(source, Trace):
        return source
    if hasattr(source, "trace"):
        return source.trace
    raise TypeError(f"DenoisingInspector needs a Trace (generate(..., trace=True)) or an object with a "
                    f"`trace` attribute such as SemanticDrawCanvas(..., trace=True), got {type(source).__name__}")


class DenoisingInspector(widgets.VBox):
    """Step slider with play, layer isolation, a grid of latent previews and the step's numbers."""

    def __init__(self, source: Any, *, zoom: int | None = None, follow: bool | None = None,
                 interval_ms: int = 800, surface: str = "auto") -> None:
        trace = source_trace(source)
        live = not isinstance(source, Trace)
        if live and getattr(source, "record_trace", True) is False:
            raise ValueError("this canvas records no trace: create it with SemanticDrawCanvas(..., trace=True)")
        if trace is None and not live:
            raise ValueError("no trace to inspect")
        if trace is not None:
            check_trace(trace)
        self.surface_name = choose_surface(surface)
        self.source = source
        self.trace: Trace | None = None
        self.zoom_option = zoom
        self.tiles: list[dict[str, list[tuple[str, np.ndarray]]]] = []
        self.decoded: Image.Image | None = None
        self.decoded_step: int | None = None  # the step `decoded` shows; hidden on every other step
        self.last_frame: np.ndarray | None = None  # the array handed to the canvas by the newest redraw
        self.readings: dict = {}  # prompt -> PromptReading, read once per loaded trace
        self.gaps: list[list[tuple[float, float]] | None] = []  # per step: guidance_gaps, computed at load
        self._following = False
        self._lock = threading.RLock()  # a followed canvas reloads from its session thread

        # 1-based like the caption ("step 4/4" sits at 4): ``step`` is the 0-based position
        self.slider = widgets.IntSlider(value=1, min=1, max=1, description="step", continuous_update=True)
        self.play = widgets.Play(value=1, min=1, max=1, interval=interval_ms, description="play")
        self.play_link = widgets.jslink((self.play, "value"), (self.slider, "value"))  # plays in the browser
        self.layer = widgets.ToggleButtons(options=[("all layers", -1)], value=-1, description="isolate",
                                           style={"button_width": "auto"})
        self.decode_button = widgets.Button(description="full decode", icon="image",
                                            tooltip="decode this step's x̂0 through the model's decoder")
        self.info = widgets.HTML()
        self.prompt_view = widgets.HTML()
        self.surface = CanvasSurface() if self.surface_name == "ipycanvas" else ImageSurface()
        self.canvas = self.surface.widget  # what shows the grid: an ipycanvas Canvas or an ipywidgets.Image
        self.picture = widgets.Image(format="png", layout=widgets.Layout(display="none"))
        self.picture_label = widgets.HTML(layout=widgets.Layout(display="none"))  # which step was decoded
        self.slider.observe(lambda _: self.draw(), names="value")
        self.layer.observe(lambda _: self.draw(), names="value")
        self.decode_button.on_click(lambda _: self.full_decode())
        if self.surface.clickable:
            self.surface.on_click(self._on_click)
        super().__init__([widgets.HBox([self.play, self.slider, self.decode_button]), self.layer,
                          self.canvas, self.info, self.prompt_view, self.picture_label, self.picture])
        if trace is not None:
            self.load(trace)
        else:
            self.info.value = "<i>Waiting for the canvas to finish a frame…</i>"
        if follow if follow is not None else self._followable():
            self.follow()

    # -- loading -------------------------------------------------------------------------------
    def load(self, trace: Trace) -> None:
        """Show `trace`: render every step's tiles once, size the canvas, reset the controls."""
        check_trace(trace)
        with self._lock:
            self._load(trace)

    def _load(self, trace: Trace) -> None:
        # self.trace is set only once the tiles and controls match it: a caller reading it from another
        # thread (the trace of a followed canvas arrives on the session thread) never sees it half loaded
        first = trace.steps[0]
        _, h, w = first.x_t.shape
        self.zoom = self.zoom_option or tile_zoom(h, w)
        self.tile_h, self.tile_w = h * self.zoom, w * self.zoom
        reference = trace.method == "multidiffusion"
        self.layer_rows = (["layer_inputs", "model_inputs", "x0_centred", "x0_uncond", "x0_cond", "x0_layers"]
                           + (["x_next_layers"] if reference else []))
        self.layer_rows = [r for r in self.layer_rows if getattr(first, r) is not None]
        self.tiles = [self._render(trace, i) for i in range(len(trace))]
        p = len(trace.prompts)
        self.columns = max(5, p)
        rows = 1 + len(self.layer_rows)
        self.width = GAP + self.columns * (self.tile_w + GAP)
        self.height = STRIP + GAP + rows * (LABEL + self.tile_h + GAP)
        self.surface.resize(self.width, self.height)
        self.readings = prompt_readings(trace)
        self.gaps = [guidance_gaps(step) for step in trace.steps]
        options = [("all layers", -1)] + [(f"{k}: {prompt or '(empty)'}", k) for k, prompt in enumerate(trace.prompts)]
        with self.layer.hold_trait_notifications():
            if self.layer.value >= p:
                self.layer.value = -1
            self.layer.options = options
        with self.slider.hold_trait_notifications():
            self.slider.max = self.play.max = len(trace)
            self.slider.value = min(self.slider.value, len(trace))
        self.picture.layout.display = self.picture_label.layout.display = "none"
        self.decoded = self.decoded_step = None
        self.trace = trace
        self.decode_button.disabled = self._decoder() is None
        self.draw()

    def _render(self, trace: Trace, position: int) -> dict[str, list[tuple[str, np.ndarray]]]:
        """Every tile of one step as upscaled uint8 RGB, plus the per-layer mask weights for overlays."""
        merged = ["x0"] if trace.steps[position].x0 is not None else []
        tiles = step_tiles(trace, position, ["x_t", *merged, "x_next", "masks", *self.layer_rows])
        out = {name: [(label, upscale(t, self.zoom)) for label, t in tiles[name]] for name in tiles}
        for name, short in ROW_LABELS.items():
            if name in out:
                out[name] = [(f"{short}: {trace.prompts[k]}", t) for k, (_, t) in enumerate(out[name])]
        masks = trace.steps[position].masks
        out["_masks"] = [(str(k), upscale(m[..., None], self.zoom)[..., 0])
                         for k, m in enumerate(masks.float().clamp(0, 1).cpu().numpy())]
        out["_mask_tiles"] = [(str(k), upscale(mask_colours(masks, only=k), self.zoom)) for k in range(len(masks))]
        step = trace.steps[position]
        if step.bootstrap and "layer_inputs" in out:
            # at high noise the plain surround looks like noise: name it and draw where it begins
            edges = [mask_edge(m) for m in masks.float().clamp(0, 1).cpu().numpy()]
            marked = []
            for k, (label, tile) in enumerate(out["layer_inputs"]):
                if not torch.equal(step.layer_inputs[k], step.x_t):  # this layer got a surround
                    tile = tile.copy()
                    tile[upscale(edges[k][..., None], self.zoom)[..., 0]] = (255, 255, 255)
                    label = f"saw: {trace.prompts[k]} + plain surround ({step.noise_level:.0%} noise)"
                marked.append((label, tile))
            out["layer_inputs"] = marked
        return out

    # -- following a live source ---------------------------------------------------------------
    def refresh(self) -> bool:
        """Re-read the source's newest trace; True when it was new and is now shown."""
        trace = source_trace(self.source)
        if trace is None or not trace.steps:
            return False
        if self.trace is not None and [id(s) for s in trace.steps] == [id(s) for s in self.trace.steps]:
            return False
        self.load(trace)
        return True

    def _followable(self) -> bool:
        """Whether the source announces finished pictures: a traitlets `status` dict, as the canvas has."""
        has_trait = getattr(self.source, "has_trait", None)
        return has_trait is not None and has_trait("status")

    def follow(self, on: bool = True) -> None:
        """Refresh whenever a live source (a canvas) reports a finished picture; follow(False) stops."""
        if not self._followable():
            if on:
                raise ValueError(f"{type(self.source).__name__} has no `status` trait to follow: call refresh() "
                                 "to re-read its newest trace")
            return
        if on and not self._following:
            self.source.observe(self._on_status, names="status")
        elif not on and self._following:
            self.source.unobserve(self._on_status, names="status")
        self._following = on

    def _on_status(self, change: dict) -> None:
        if (change.get("new") or {}).get("state") == "idle":
            self.refresh()

    # -- drawing -------------------------------------------------------------------------------
    @property
    def step(self) -> int:
        """The 0-based position of the step shown (the slider counts from 1, as the caption does)."""
        return self.slider.value - 1

    @property
    def isolated(self) -> int | None:
        return None if self.layer.value == -1 else self.layer.value

    def tile_origin(self, row: int, column: int) -> tuple[int, int]:
        """Top-left pixel (x, y) of the tile at `row`, `column` (labels sit above it)."""
        return GAP + column * (self.tile_w + GAP), STRIP + GAP + row * (LABEL + self.tile_h + GAP) + LABEL

    def compose(self, position: int, isolated: int | None) -> tuple[np.ndarray, list[tuple[str, int, int]]]:
        """The canvas picture of one step: (H, W, 3) uint8 and the labels [(text, x, y)] to draw over it."""
        tiles = self.tiles[position]
        frame = np.empty((self.height, self.width, 3), np.uint8)
        frame[:] = BACKGROUND
        labels: list[tuple[str, int, int]] = []
        th, tw = self.tile_h, self.tile_w

        def put(row: int, column: int, tile: np.ndarray, label: str) -> None:
            x, y = self.tile_origin(row, column)
            frame[y: y + th, x: x + tw] = tile
            labels.append((label, x, y - 3))

        masks = tiles["_masks"]
        shown = range(len(masks)) if isolated is None else [isolated]
        picture = tiles["x0" if "x0" in tiles else "x_next"][0][1].copy()
        for k in shown:
            picture[mask_edge(masks[k][1])] = LAYER_COLOURS[k % len(LAYER_COLOURS)]
        mask_tile = tiles["masks" if isolated is None else "_mask_tiles"][isolated or 0][1]
        final = position == len(self.tiles) - 1
        if "x0" in tiles:  # SemanticDraw: the pre-averaged x̂0, then the one re-noise from it
            merged = [(tiles["x0"][0][1], "x̂0 (pre-averaged)"),
                      (tiles["x_next"][0][1], "final latent" if final else "x_{t+1}")]
        else:  # MultiDiffusion forms no x̂0: what it merges is the layers' own x_{t+1}
            merged = [(tiles["x_next"][0][1], "averaged final latents" if final else "averaged x_{t+1}")]
        row = [(tiles["x_t"][0][1], "x_t"), *merged, (picture, "picture (preview)"), (mask_tile, "quantized masks")]
        for column, (image, label) in enumerate(row):
            put(0, column, image, label)
        for r, name in enumerate(self.layer_rows, start=1):
            for k, (label, tile) in enumerate(tiles[name]):
                if isolated is None or k == isolated:
                    put(r, k, tile, label)
                else:
                    x, y = self.tile_origin(r, k)
                    frame[y: y + th, x: x + tw] = EMPTY
        self._paint_strip(frame, position)
        return frame, labels

    def _paint_strip(self, frame: np.ndarray, position: int) -> None:
        """One box per step along the top: bootstrap steps orange, the current step outlined."""
        box = (self.width - 2 * GAP) / len(self.tiles)
        for i, step in enumerate(self.trace.steps):
            x0, x1 = int(round(GAP + i * box + 1)), int(round(GAP + (i + 1) * box - 1))
            frame[2: STRIP - 2, x0: x1] = _rgb(BOOTSTRAP_COLOUR) if step.bootstrap else _rgb(STEP_COLOUR)
            if i == position:
                outline = _rgb(TEXT_COLOUR)
                frame[0: 2, x0: x1] = frame[STRIP - 2: STRIP, x0: x1] = outline
                frame[0: STRIP, x0: x0 + 2] = frame[0: STRIP, x1 - 2: x1] = outline

    def draw(self) -> None:
        """Redraw the selected step (and isolation): one composed array on the surface, and the texts."""
        if self.trace is None:
            return
        with self._lock:
            position = max(0, min(self.step, len(self.tiles) - 1))
            if self.decoded_step is not None and self.decoded_step != position:
                # a decoded picture belongs to its own step only
                self.picture.layout.display = self.picture_label.layout.display = "none"
            elif self.decoded_step == position:
                self.picture.layout.display = self.picture_label.layout.display = None
            frame, labels = self.compose(position, self.isolated)
            self.last_frame = frame
            self.surface.show(frame, labels, self.tile_w)
            self.info.value = self._info_html(position)
            self.prompt_view.value = self._prompt_html(position)

    def _info_html(self, position: int) -> str:
        trace, step = self.trace, self.trace.steps[position]
        numbers = [f"timestep <b>{step.timestep:g}</b>", f"noise level <b>{step.noise_level:.3f}</b>"]
        numbers += [f"{name} = {value:.4f}" for name, value in step.coefficients.items() if value is not None
                    and value == value]  # NaN: a trace recorded before the field existed
        if trace.guidance is not None:
            numbers.append(f"guidance {trace.guidance:g}")
        boot = (f"<span style='color:{BOOTSTRAP_COLOUR}'><b>bootstrap step</b></span>: regions saw a plain "
                f"surround and were centred (shifts {list(step.shifts)})" if step.bootstrap else "no bootstrapping")
        swatches = " ".join(
            f"<span style='color:rgb{tuple(int(c) for c in LAYER_COLOURS[k % len(LAYER_COLOURS)])}'>■</span> "
            f"{html.escape(prompt)}" for k, prompt in enumerate(trace.prompts))
        words = "".join(f"<li>{html.escape(line)}</li>" for line in explain_step(trace, position))
        hint = ("click a layer's tile or its button above to isolate it" if self.surface.clickable
                else "isolate a layer with the buttons above")
        # the words shrink and wrap beside the plot; the plot keeps its size (it was pushed out of the widget)
        return (f"<div style='display:flex;gap:12px;align-items:flex-start;max-width:{self.width}px'>"
                f"<div style='flex:1 1 320px;min-width:0'>"
                f"<b>{html.escape(step_caption(trace, position))}</b><br>{' · '.join(numbers)}<br>{boot}<br>"
                f"layers: {swatches}<ul style='margin:4px 0'>{words}</ul><small>x_{{t+1}} = next_alpha·x̂0 + "
                f"next_pred_noise·ε̂ + next_fresh_noise·z; {hint}</small></div>"
                f"<div style='flex:none'>{schedule_svg(trace, position)}</div></div>")

    def _prompt_html(self, position: int) -> str:
        """The prompt view: per layer, the words the model used, the prompt-strength blend, the guidance."""
        trace = self.trace
        layers = explain_prompts(trace, position, self.readings, self.gaps[position])
        items = []
        for k, (title, lines) in enumerate(layers):
            if self.isolated is not None and k != self.isolated:
                continue
            colour = tuple(int(c) for c in LAYER_COLOURS[k % len(LAYER_COLOURS)])
            items.append(f"<li><span style='color:rgb{colour}'>■</span> <b>{html.escape(title)}</b><ul>"
                         + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul></li>")
        pruned = (f"<br><small>Not computed (they could not change the picture): "
                  f"{html.escape(', '.join(trace.pruned))}</small>" if trace.pruned else "")
        return (f"<div class='sdw-prompt-view' style='max-width:{self.width}px'><b>What the model was told</b>: every layer is its own request to "
                f"the model, drawn over the whole latent and then kept inside its mask.<ul style='margin:4px 0'>"
                f"{''.join(items)}</ul>{pruned}</div>")

    # -- interaction ---------------------------------------------------------------------------
    def tile_at(self, x: float, y: float) -> tuple[int, int] | None:
        """(row, column) of the tile under canvas pixel (x, y), labels included; None between tiles."""
        row = int((y - STRIP - GAP) // (LABEL + self.tile_h + GAP))
        column = int((x - GAP) // (self.tile_w + GAP))
        if y < STRIP + GAP or not 0 <= row <= len(self.layer_rows) or not 0 <= column < self.columns:
            return None
        return row, column

    def _on_click(self, x: float, y: float) -> None:
        hit = self.tile_at(x, y)
        if hit is None or hit[0] == 0 or self.trace is None or hit[1] >= len(self.trace.prompts):
            return
        self.layer.value = -1 if self.layer.value == hit[1] else hit[1]

    def _decoder(self):
        if self.trace is not None and self.trace.decode is not None:
            return self.trace.decode
        backend = getattr(self.source, "backend", None)
        return getattr(backend, "decode_latents", None)

    def full_decode(self) -> Image.Image:
        """Decode the selected step's x̂0 (MultiDiffusion: its next latent) through the model; shown below."""
        decoder = self._decoder()
        if decoder is None:
            raise ValueError("this trace has no decoder: record it with generate(..., trace=True), "
                             "or inspect a canvas, whose backend decodes")
        position = self.step
        step = self.trace.steps[position]
        latent = step.x0 if step.x0 is not None else next_latent(step, self.trace.steps)
        with torch.inference_mode():
            rgb = decoder(latent[None])[0].float().clamp(0, 1)
        array = rgb.mul(255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
        self.decoded = Image.fromarray(np.ascontiguousarray(array))
        buffer = io.BytesIO()
        self.decoded.save(buffer, format="PNG")
        self.picture.value = buffer.getvalue()
        self.decoded_step = position
        self.picture_label.value = f"<b>full decode of step {position + 1}/{len(self.trace)}</b> (the model's decoder)"
        self.picture.layout.display = self.picture_label.layout.display = None
        return self.decoded

