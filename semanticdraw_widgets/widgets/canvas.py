"""SemanticDrawCanvas: paint regions with semantic brushes in the notebook, watch the picture stream back.

The browser draws strokes locally and syncs a compressed label map (see ``protocol``); this class
turns traits into a Scene, feeds a ``Session`` and relays its frames as binary custom messages
with acknowledgements. Everything durable is a trait, so a reloaded view shows the same state.
"""

from __future__ import annotations

import io
import json
import logging
import threading
import time
import warnings
from importlib import resources
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets
from ipywidgets.widgets.trait_types import CByteMemoryView
from PIL import Image, ImageOps

from ..backends.base import Backend
from ..engine.stream import Frame
from ..engine.trace import Trace
from ..runtime.session import EncodedFrame, Session, SessionStatus
from ..scene import Background, Region, Scene, SceneError
from .protocol import PROTOCOL_VERSION, FrameMessage, ProtocolError, WelcomeMessage, decode_labels, encode_labels, parse_client_message

log = logging.getLogger(__name__)

STATIC = resources.files("semanticdraw_widgets") / "widgets" / "static"
BRUSH_KEYS = ("name", "color", "prompt", "negative_prompt", "prompt_strength", "mask_strength", "mask_blur", "visible")


def make_brush(name: str, color: str, prompt: str, **options: Any) -> dict[str, Any]:
    """A brush with the defaults a new brush gets in the front end."""
    brush = {"name": name, "color": color, "prompt": prompt, "negative_prompt": "", "prompt_strength": 1.0,
             "mask_strength": 1.0, "mask_blur": 0.0, "visible": True}
    brush.update(options)
    return brush


DEFAULT_BRUSHES = [
    make_brush("bricks", "#d9503f", "red bricks"),
    make_brush("grass", "#3fae4a", "green grass"),
    make_brush("sun", "#f2c230", "yellow sun", mask_blur=8.0),
    make_brush("water", "#2d6fd6", "blue water with waves"),
]
DEFAULT_BACKGROUND = {"prompt": "blue sky with white clouds", "negative_prompt": ""}
SNAPSHOT_INTERVAL = 1.0  # seconds between snapshot trait updates while streaming
STATUS_INTERVAL = 0.25  # seconds between status updates that only move the counters


class PaletteError(ValueError):
    """A palette (brushes + background) that cannot be used; the message says which field."""


def validate_palette(data: Any) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Check a palette dict {"background": {...}, "brushes": [...]}; returns normalised copies."""
    if not isinstance(data, dict) or not isinstance(data.get("brushes"), list):
        raise PaletteError('a palette is a JSON object with a "brushes" list (and an optional "background")')
    brushes = []
    for i, raw in enumerate(data["brushes"]):
        if not isinstance(raw, dict) or not isinstance(raw.get("prompt", ""), str):
            raise PaletteError(f"brushes[{i}] must be an object with a text prompt")
        unknown = set(raw) - set(BRUSH_KEYS)
        if unknown:
            raise PaletteError(f"brushes[{i}] has unknown keys {sorted(unknown)}; allowed: {', '.join(BRUSH_KEYS)}")
        brush = make_brush(str(raw.get("name", f"brush {i + 1}")), str(raw.get("color", "#888888")),
                           raw.get("prompt", ""), **{k: raw[k] for k in BRUSH_KEYS[3:] if k in raw})
        brushes.append(brush)
    if len(brushes) > 254:
        raise PaletteError(f"at most 254 brushes fit the label map, got {len(brushes)}")
    background = data.get("background", {})
    if not isinstance(background, dict):
        raise PaletteError('"background" must be an object {"prompt": ..., "negative_prompt": ...}')
    return brushes, {"prompt": str(background.get("prompt", "")),
                     "negative_prompt": str(background.get("negative_prompt", ""))}


class SemanticDrawCanvas(anywidget.AnyWidget):
    """Draw with semantic brushes; a few-step diffusion model renders the regions live.

    canvas = SemanticDrawCanvas(backend, width=512, height=512); display(canvas); canvas.start()
    """

    _esm = STATIC / "widget.js"
    _css = STATIC / "widget.css"

    width = traitlets.Int(512).tag(sync=True)
    height = traitlets.Int(512).tag(sync=True)
    brushes = traitlets.List(traitlets.Dict()).tag(sync=True)
    background = traitlets.Dict().tag(sync=True)
    labels = CByteMemoryView(b"").tag(sync=True)
    background_image = CByteMemoryView(b"").tag(sync=True)  # PNG/JPEG bytes; regions are inpainted into it
    seed = traitlets.Int(0).tag(sync=True)
    steps = traitlets.Int(4).tag(sync=True)
    guidance = traitlets.Float(1.0).tag(sync=True)
    playing = traitlets.Bool(True).tag(sync=True)
    status = traitlets.Dict({"state": "stopped", "fps": 0.0, "tick": 0, "error": None}).tag(sync=True)
    snapshot = CByteMemoryView(b"").tag(sync=True)
    snapshot_mime = traitlets.Unicode("image/jpeg").tag(sync=True)
    protocol_version = traitlets.Int(PROTOCOL_VERSION).tag(sync=True)

    def __init__(self, backend: Backend, width: int = 512, height: int = 512, *, seed: int = 0, steps: int = 4,
                 brushes: list[dict[str, Any]] | None = None, background: dict[str, str] | None = None,
                 max_in_flight: int = 6, trace: bool = False, **kwargs: Any) -> None:
        Scene(width=width, height=height, background=Background(prompt="x"))  # validates the size early
        super().__init__(width=width, height=height, seed=seed, steps=steps,
                         brushes=[dict(b) for b in (brushes or DEFAULT_BRUSHES)],
                         background=dict(background or DEFAULT_BACKGROUND), **kwargs)
        self.backend = backend
        self.max_in_flight = max_in_flight
        self.record_trace = trace
        self._session: Session | None = None
        self._sink_id: int | None = None
        self._lock = threading.RLock()
        self._last_snapshot = 0.0
        self._last_status = 0.0
        self._last_encoded: EncodedFrame | None = None
        self.on_msg(self._handle_message)
        self.observe(self._on_scene_trait, names=["brushes", "background", "background_image", "labels", "seed",
                                                  "width", "height"])
        self.observe(self._on_sampler_trait, names=["steps", "guidance"])
        self.observe(self._on_playing, names=["playing"])

    # -- public API --------------------------------------------------------------------------
    @property
    def scene(self) -> Scene:
        """The Scene the canvas describes now (raises SceneError when there is nothing to draw)."""
        label_map = decode_labels(self.labels, self.width, self.height)
        regions = []
        for index, brush in enumerate(self.brushes, start=1):
            mask = label_map == index
            if not brush.get("visible", True) or not brush.get("prompt", "").strip() or not mask.any():
                continue
            regions.append(Region(prompt=brush["prompt"], mask=mask,
                                  negative_prompt=brush.get("negative_prompt", ""),
                                  prompt_strength=float(brush.get("prompt_strength", 1.0)),
                                  mask_strength=float(brush.get("mask_strength", 1.0)),
                                  mask_blur=float(brush.get("mask_blur", 0.0))))
        background = Background(prompt=self.background.get("prompt", ""),
                                negative_prompt=self.background.get("negative_prompt", ""),
                                image=self._background_pixels())
        return Scene(width=self.width, height=self.height, seed=self.seed, background=background, regions=regions)

    def _background_pixels(self) -> Image.Image | None:
        """The uploaded background photo, cropped and scaled to the canvas (None when there is none)."""
        data = bytes(self.background_image)
        if not data:
            return None
        try:
            image = Image.open(io.BytesIO(data))
            image.load()
        except Exception as error:  # Pillow raises several types for truncated or unknown files
            raise SceneError(f"background image could not be read ({error}); upload a PNG or JPEG") from None
        return ImageOps.fit(image.convert("RGB"), (self.width, self.height), Image.Resampling.BICUBIC)

    def set_background_image(self, image: Image.Image | str | Path | None) -> None:
        """Inpaint into a photo (a PIL image or a file path); None removes it."""
        if image is None:
            self.background_image = b""
            return
        if not isinstance(image, Image.Image):
            image = Image.open(image)
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="PNG")
        self.background_image = buffer.getvalue()

    @property
    def label_map(self) -> np.ndarray:
        """(H, W) uint8: 0 background, i = brushes[i - 1]."""
        return decode_labels(self.labels, self.width, self.height)

    @label_map.setter
    def label_map(self, labels: np.ndarray) -> None:
        labels = np.asarray(labels)
        if labels.shape != (self.height, self.width):
            raise ValueError(f"label map must be ({self.height}, {self.width}), got {labels.shape}")
        if labels.size and int(labels.max()) > len(self.brushes):
            raise ValueError(f"label {int(labels.max())} has no brush (there are {len(self.brushes)})")
        self.labels = encode_labels(labels.astype(np.uint8))

    @property
    def image(self) -> Image.Image | None:
        """The newest picture, or None before the first frame."""
        frame = self._session.frame if self._session is not None else None
        return frame.image if frame is not None else None

    @property
    def trace(self) -> Trace | None:
        """Step-by-step history of the newest finished frame (SemanticDrawCanvas(..., trace=True)), else None."""
        return self._session.stream.last_trace() if self._session is not None else None

    @property
    def session(self) -> Session | None:
        return self._session

    def start(self) -> None:
        """Start streaming (returns at once). Errors show in the status line."""
        with self._lock:
            if self._session is not None and self._session.running:
                return
            scene = self._scene_or_error()
            if scene is None:
                return
            self._session = Session(self.backend, scene, self.steps, max_in_flight=self.max_in_flight,
                                    guidance_scale=self.guidance, trace_ticks=self.steps if self.record_trace else 0)
            if not self.playing:
                self._session.pause()
            self._sink_id = self._session.add_sink(self._send_frame)
            self._session.add_status_listener(self._on_status)
            self._session.start()

    def stop(self) -> None:
        with self._lock:
            session, self._session = self._session, None
        if session is not None:
            session.stop()
        self.status = {**self.status, "state": "stopped"}

    async def next_frame(self, timeout: float | None = None) -> Frame:
        if self._session is None:
            raise RuntimeError("the canvas is not streaming: call canvas.start() first")
        return await self._session.next_frame(timeout)

    async def settled(self, timeout: float | None = None) -> Frame:
        """Await the finished picture of what is drawn now (at once when the stream is idle)."""
        if self._session is None:
            raise RuntimeError("the canvas is not streaming: call canvas.start() first")
        return await self._session.settled(timeout)

    def export_png(self, path: str | Path) -> Path:
        """Save the newest picture as PNG."""
        image = self.image
        if image is None:
            raise RuntimeError("no picture yet: start the canvas and wait for a frame")
        path = Path(path)
        image.save(path, format="PNG")
        return path

    def export_palette(self) -> str:
        """The brushes and background as JSON (a palette file)."""
        return json.dumps({"format": "semanticdraw-palette", "version": 1, "background": self.background,
                           "brushes": self.brushes}, indent=2)

    def import_palette(self, text: str) -> None:
        """Replace brushes and background from palette JSON; a bad palette changes nothing."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise PaletteError(f"palette is not valid JSON: {error}") from None
        brushes, background = validate_palette(data)
        with self.hold_sync():
            self.brushes = brushes
            self.background = background

    # -- traits -> session -----------------------------------------------------------------------
    def _on_scene_trait(self, change: dict[str, Any]) -> None:
        scene = self._scene_or_error() if self._session is not None else None
        if scene is not None and self._session is not None:
            self._session.update(scene)

    def _on_sampler_trait(self, change: dict[str, Any]) -> None:
        if self._session is not None:  # steps and guidance shape the stream: start a new one
            self.stop()
            self.start()

    def _on_playing(self, change: dict[str, Any]) -> None:
        if self._session is not None:
            self._session.resume() if change["new"] else self._session.pause()

    def _on_status(self, status: SessionStatus) -> None:
        # State and error changes sync at once; fps/tick counters at most STATUS_INTERVAL apart, so a
        # fast stream does not add a comm message per frame.
        now = time.monotonic()
        current = self.status
        if (status.state, status.error) == (current.get("state"), current.get("error")) \
                and now - self._last_status < STATUS_INTERVAL:
            return
        self._last_status = now
        self.status = {"state": status.state, "fps": status.fps, "tick": status.tick, "error": status.error}

    def _scene_or_error(self) -> Scene | None:
        """The current Scene, or None after showing why there is none in the status line."""
        try:
            return self.scene
        except (SceneError, ProtocolError) as error:
            self._show_error(str(error))
            return None

    def _show_error(self, message: str) -> None:
        self.status = {**self.status, "state": "error", "error": message}
        self.send({"kind": "error", "message": message})

    # -- frames --------------------------------------------------------------------------------
    def _send_frame(self, encoded: EncodedFrame) -> None:
        self._last_encoded = encoded
        message = FrameMessage(kind="frame", epoch=encoded.epoch, seq=encoded.seq, mime=encoded.mime, width=encoded.width,
                               height=encoded.height, settled=encoded.settled, tick=encoded.frame.index,
                               step=encoded.frame.step)
        self.send(dict(message), buffers=[encoded.data])
        now = time.monotonic()
        if encoded.settled or now - self._last_snapshot >= SNAPSHOT_INTERVAL:
            self._last_snapshot = now
            with self.hold_sync():
                self.snapshot_mime = encoded.mime
                self.snapshot = encoded.data

    def _handle_message(self, widget: Any, content: Any, buffers: list[Any]) -> None:
        try:
            message = parse_client_message(content, buffers)
        except ProtocolError as error:
            warnings.warn(f"semanticdraw: ignored a message from the front end: {error}", RuntimeWarning,
                          stacklevel=2)
            self._show_error(f"ignored a bad message from the browser: {error}")
            return
        session = self._session
        if message["kind"] == "ack" and session is not None and self._sink_id is not None:
            if message["epoch"] == session.epoch:  # an ack for an earlier stream's frames releases nothing
                session.ack(self._sink_id, message["seq"])
        elif message["kind"] == "command" and session is not None:
            session.step()
        elif message["kind"] == "hello":
            self.send(dict(WelcomeMessage(kind="welcome", version=PROTOCOL_VERSION,
                                          epoch=session.epoch if session is not None else 0)))
            if self._last_encoded is not None:
                self._send_frame(self._last_encoded)


def snapshot_image(canvas: SemanticDrawCanvas) -> Image.Image | None:
    """Decode the snapshot trait (what a reopened notebook shows)."""
    data = bytes(canvas.snapshot)
    return Image.open(io.BytesIO(data)).convert("RGB") if data else None
