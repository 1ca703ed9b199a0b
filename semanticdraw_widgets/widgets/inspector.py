"""DenoisingInspector: scrub through a regional sample step by step (ipywidgets controls, ipycanvas drawing).

    inspector = sdw.DenoisingInspector(trace)      # from generate(..., trace=True)
    inspector = sdw.DenoisingInspector(canvas)     # a SemanticDrawCanvas(..., trace=True): follows its newest trace

The canvas shows one step as a grid of latent previews (the backend's cheap linear latent -> RGB map):

    row 0   x_t | x̂0 (pre-averaged) | x_{t+1} | picture (x̂0 with the masks' edges) | quantized masks
    row 1   what each layer saw (x_t, or the bootstrapped surround)        one column per layer
    row 2   what the model ran on (centred while bootstrapping)
    row 3   what the model drew on the centred rows, before the shift back (bootstrap steps only)
    row 4   each layer's x̂0, dimmed outside its quantized mask
    row 5   each layer's own x_{t+1} (multidiffusion only)

MultiDiffusion never forms a pre-averaged x̂0: its row 0 shows the averaged x_{t+1} instead of both,
and the picture previews that average. Every step's tiles are rendered to uint8 once when a trace is
loaded; a redraw only pastes them into one array and sends it with one ``put_image_data``.
"""

from __future__ import annotations

import html
import io
import threading
from typing import Any

import ipywidgets as widgets
import numpy as np
import torch
from PIL import Image

from ..animation import tile_zoom, upscale
from ..engine.trace import Trace, check_trace
from ..trace_view import (LAYER_COLOURS, explain_step, mask_colours, mask_edge, next_latent, schedule_svg,
                          step_caption, step_tiles)

LABEL = 16  # px above each tile for its label
STRIP = 14  # px at the top: one box per step, bootstrap steps in orange
GAP = 4
BACKGROUND = np.array([30, 30, 34], np.uint8)
EMPTY = np.array([52, 52, 58], np.uint8)  # a layer tile hidden while another layer is isolated
BOOTSTRAP_COLOUR = "#f0a030"
STEP_COLOUR = "#6a6a78"
TEXT_COLOUR = "#e8e8e8"


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
                 interval_ms: int = 800) -> None:
        trace = source_trace(source)
        live = not isinstance(source, Trace)
        if live and getattr(source, "record_trace", True) is False:
            raise ValueError("this canvas records no trace: create it with SemanticDrawCanvas(..., trace=True)")
        if trace is None and not live:
            raise ValueError("no trace to inspect")
        if trace is not None:
            check_trace(trace)
        self.source = source
        self.trace: Trace | None = None
        self.zoom_option = zoom
        self.tiles: list[dict[str, list[tuple[str, np.ndarray]]]] = []
        self.decoded: Image.Image | None = None
        self.decoded_step: int | None = None  # the step `decoded` shows; hidden on every other step
        self.last_frame: np.ndarray | None = None  # the array handed to the canvas by the newest redraw
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
        self.canvas = self._make_canvas()
        self.picture = widgets.Image(format="png", layout=widgets.Layout(display="none"))
        self.picture_label = widgets.HTML(layout=widgets.Layout(display="none"))  # which step was decoded
        self.slider.observe(lambda _: self.draw(), names="value")
        self.layer.observe(lambda _: self.draw(), names="value")
        self.decode_button.on_click(lambda _: self.full_decode())
        self.canvas.on_mouse_down(self._on_click)
        super().__init__([widgets.HBox([self.play, self.slider, self.decode_button]), self.layer,
                          self.canvas, self.info, self.picture_label, self.picture])
        if trace is not None:
            self.load(trace)
        else:
            self.info.value = "<i>Waiting for the canvas to finish a frame…</i>"
        if follow if follow is not None else self._followable():
            self.follow()

    # -- loading -------------------------------------------------------------------------------
    @staticmethod
    def _make_canvas():
        from ipycanvas import Canvas  # the widget's only ipycanvas dependency

        return Canvas(width=1, height=1)

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
        self.layer_rows = (["layer_inputs", "model_inputs", "x0_centred", "x0_layers"]
                           + (["x_next_layers"] if reference else []))
        self.layer_rows = [r for r in self.layer_rows if getattr(first, r) is not None]
        self.tiles = [self._render(trace, i) for i in range(len(trace))]
        p = len(trace.prompts)
        self.columns = max(5, p)
        rows = 1 + len(self.layer_rows)
        self.width = GAP + self.columns * (self.tile_w + GAP)
        self.height = STRIP + GAP + rows * (LABEL + self.tile_h + GAP)
        self.canvas.width, self.canvas.height = self.width, self.height
        self.canvas.layout.width = f"{self.width}px"
        self.canvas.layout.height = f"{self.height}px"
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
        return frame, labels

    def draw(self) -> None:
        """Redraw the selected step (and isolation) with one image and a few text commands."""
        if self.trace is None:
            return
        from ipycanvas import hold_canvas

        with self._lock:
            position = max(0, min(self.step, len(self.tiles) - 1))
            if self.decoded_step is not None and self.decoded_step != position:
                # a decoded picture belongs to its own step only
                self.picture.layout.display = self.picture_label.layout.display = "none"
            elif self.decoded_step == position:
                self.picture.layout.display = self.picture_label.layout.display = None
            frame, labels = self.compose(position, self.isolated)
            self.last_frame = frame
            with hold_canvas():
                self.canvas.clear()
                self.canvas.put_image_data(frame, 0, 0)
                self._draw_strip(position)
                self.canvas.font = "11px sans-serif"
                self.canvas.fill_style = TEXT_COLOUR
                for text, x, y in labels:
                    self.canvas.fill_text(text, x, y, max_width=self.tile_w)
            self.info.value = self._info_html(position)

    def _draw_strip(self, position: int) -> None:
        """One box per step along the top: bootstrap steps orange, the current step outlined."""
        count = len(self.tiles)
        box = (self.width - 2 * GAP) / count
        for i, step in enumerate(self.trace.steps):
            self.canvas.fill_style = BOOTSTRAP_COLOUR if step.bootstrap else STEP_COLOUR
            self.canvas.fill_rect(GAP + i * box + 1, 2, box - 2, STRIP - 4)
        self.canvas.stroke_style = TEXT_COLOUR
        self.canvas.line_width = 2
        self.canvas.stroke_rect(GAP + position * box + 1, 1, box - 2, STRIP - 2)

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
        return (f"<div style='display:flex;gap:12px;align-items:flex-start'><div>"
                f"<b>{html.escape(step_caption(trace, position))}</b><br>{' · '.join(numbers)}<br>{boot}<br>"
                f"layers: {swatches}<ul style='margin:4px 0'>{words}</ul><small>x_{{t+1}} = next_alpha·x̂0 + "
                f"next_pred_noise·ε̂ + next_fresh_noise·z; click a layer's tile to isolate it</small></div>"
                f"{schedule_svg(trace, position)}</div>")

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

