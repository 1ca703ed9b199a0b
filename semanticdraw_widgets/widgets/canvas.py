"""SemanticDrawCanvas: paint regions with semantic brushes in the notebook, watch the picture stream back.

The browser draws strokes locally and syncs a compressed label map (see ``protocol``); this class
checks what arrives, turns traits into a Scene (``palette.scene_from_labels``), feeds a ``Session`` and
relays its frames as binary custom messages with epoch-tagged acknowledgements. Everything durable is
a trait, so a reloaded view shows the same state.

Nothing from the browser can raise out of a comm handler: a refused trait value or message shows its
reason in the status line, the trait goes back to its last good value, and the stream keeps running.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import os
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
from ..images import open_image_bounded, photo_pixel_budget
from ..scene import Background, Scene, SceneError
from .palette import (DEFAULT_BACKGROUND, DEFAULT_BRUSHES, PaletteError, make_brush, painted_without_prompt,
                      palette_from_json, palette_to_json, scene_from_labels, validate_background, validate_brushes)
from .protocol import (GUIDANCE_LIMITS, PROTOCOL_VERSION, FrameMessage, ProtocolError, WelcomeMessage,
                       decode_labels, encode_labels, parse_client_message)

log = logging.getLogger(__name__)

STATIC = resources.files("semanticdraw_widgets") / "widgets" / "static"
SNAPSHOT_INTERVAL = 1.0  # seconds between snapshot trait updates while streaming
STATUS_INTERVAL = 0.25  # seconds between status updates that only move the counters
# An uploaded photo may be far larger than the canvas (a phone photo on a 512x512 canvas), but not unbounded:
# its header is checked against images.photo_pixel_budget before a pixel is decoded.
MAX_PHOTO_BYTES = 64 * 2**20
MAX_STREAM_STEPS = 50

__all__ = ["PaletteError", "SemanticDrawCanvas", "make_brush", "snapshot_image"]


class _WholeNumber(traitlets.Int):
    """An Int that refuses booleans: traitlets.Int takes True as 1, and a browser's `seed: false` equals the
    current 0, so traitlets stored the bool without calling the @validate checks (and canvas.scene raised)."""

    def validate(self, obj: Any, value: Any) -> int:
        if isinstance(value, (bool, np.bool_)):
            self.error(obj, value)
        return super().validate(obj, value)


class _Checked(traitlets.TraitType):
    """A trait whose value is always the checker's normalised copy. (A @validate hook is skipped by traitlets
    when the browser's value *equals* the current one, e.g. visible 1.0 for True, so the raw value was kept.)"""

    def __init__(self, check: Any, default: Any) -> None:
        self._check = check
        super().__init__(default)

    def validate(self, obj: Any, value: Any) -> Any:
        try:
            return self._check(value)
        except PaletteError as error:
            raise traitlets.TraitError(str(error)) from None


class SemanticDrawCanvas(anywidget.AnyWidget):
    """Draw with semantic brushes; a few-step diffusion model renders the regions live.

    canvas = SemanticDrawCanvas(backend, width=512, height=512); canvas.start(); canvas  # display it
    """

    _esm = STATIC / "widget.js"
    _css = STATIC / "widget.css"

    width = traitlets.Int(512).tag(sync=True)
    height = traitlets.Int(512).tag(sync=True)
    brushes = _Checked(validate_brushes, []).tag(sync=True)
    background = _Checked(validate_background, {"prompt": "", "negative_prompt": ""}).tag(sync=True)
    labels = CByteMemoryView(b"").tag(sync=True)
    background_image = CByteMemoryView(b"").tag(sync=True)  # PNG/JPEG bytes; regions are inpainted into it
    seed = _WholeNumber(0).tag(sync=True)
    steps = _WholeNumber(4).tag(sync=True)
    guidance = traitlets.Float(1.0).tag(sync=True)
    playing = traitlets.Bool(True).tag(sync=True)
    status = traitlets.Dict({"state": "stopped", "fps": 0.0, "tick": 0, "error": None, "epoch": 0,
                             "warning": None}).tag(sync=True)
    snapshot = CByteMemoryView(b"").tag(sync=True)
    snapshot_mime = traitlets.Unicode("image/jpeg").tag(sync=True)
    protocol_version = traitlets.Int(PROTOCOL_VERSION).tag(sync=True)

    def __init__(self, backend: Backend, width: int = 512, height: int = 512, *, seed: int = 0, steps: int = 4,
                 guidance: float = 1.0, brushes: list[dict[str, Any]] | None = None,
                 background: dict[str, str] | None = None, max_in_flight: int = 6, trace: bool = False,
                 **kwargs: Any) -> None:
        if not hasattr(backend, "make_schedule"):
            raise TypeError(f"SemanticDrawCanvas needs a backend from sdw.load_backend(...), got {type(backend).__name__}")
        Scene(width=width, height=height, seed=seed, background=Background(prompt="x"))  # checks size and seed
        self._writing_status = False
        self._reverting = False
        self._notice: str | None = None  # why the last input was refused, shown until an input is accepted
        self._decoded_labels: tuple[Any, np.ndarray] = (None, np.zeros((height, width), np.uint8))
        super().__init__(width=width, height=height, seed=seed, steps=steps, guidance=guidance,
                         brushes=validate_brushes(DEFAULT_BRUSHES if brushes is None else brushes),
                         background=validate_background(DEFAULT_BACKGROUND if background is None else background),
                         **kwargs)
        self.backend = backend
        self._fixed_sizes = {"width": width, "height": height}
        self.max_in_flight = max_in_flight
        self.record_trace = trace
        self._session: Session | None = None
        self._sink_id: int | None = None
        self._want_running = False
        self._lock = threading.RLock()  # session lifecycle only: comm handlers and cells may race on it
        self._last_snapshot = 0.0
        self._last_status = 0.0
        self._last_encoded: EncodedFrame | None = None
        self._good_settings = {"steps": self.steps, "guidance": self.guidance}
        self._photo: tuple[bytes, Image.Image | None] = (b"", None)  # digest of the upload -> the fitted photo
        self.on_msg(self._handle_message)
        self.observe(self._on_scene_trait, names=["brushes", "background", "background_image", "labels", "seed"])
        self.observe(self._on_sampler_trait, names=["steps", "guidance"])
        self.observe(self._on_playing, names=["playing"])

    # -- trait validation: the same rules for Python code and the browser ------------------------------
    @traitlets.validate("status")
    def _only_the_kernel_writes_status(self, proposal: dict[str, Any]) -> dict[str, Any]:
        if not self._writing_status:
            raise traitlets.TraitError("status is read-only: it reports the stream")
        return proposal["value"]

    @traitlets.validate("seed")
    def _valid_seed(self, proposal: dict[str, Any]) -> int:
        seed = proposal["value"]
        if not 0 <= seed < 2**63:
            raise traitlets.TraitError(f"seed must be a whole number from 0 to 2**63 - 1, got {seed}")
        return seed

    @traitlets.validate("guidance")
    def _valid_guidance(self, proposal: dict[str, Any]) -> float:
        value = proposal["value"]
        low, high = GUIDANCE_LIMITS
        if not math.isfinite(value) or not low <= value <= high:
            raise traitlets.TraitError(f"guidance must be a number from {low:g} to {high:g}, got {value}")
        return value

    @traitlets.validate("steps")
    def _valid_steps(self, proposal: dict[str, Any]) -> int:
        if not 1 <= proposal["value"] <= MAX_STREAM_STEPS:
            raise traitlets.TraitError(f"steps must be from 1 to {MAX_STREAM_STEPS} in the canvas (a stream keeps one "
                                       f"latent per step), got {proposal['value']}")
        return proposal["value"]  # the sampler's own limit is checked when the stream applies it

    @traitlets.validate("width", "height")
    def _fixed_size(self, proposal: dict[str, Any]) -> int:
        name = proposal["trait"].name
        fixed = getattr(self, "_fixed_sizes", None)  # (not getattr(self, name): a held change already holds the new one)
        if fixed is not None and proposal["value"] != fixed[name]:
            raise traitlets.TraitError(f"{name} is fixed once the canvas exists: make a new SemanticDrawCanvas")
        return proposal["value"]

    @traitlets.validate("labels")
    def _valid_labels(self, proposal: dict[str, Any]) -> Any:
        data = proposal["value"]
        try:  # bounded by the canvas size before anything is inflated; decoded once, kept for label_map
            labels = decode_labels(data, self.width, self.height, max_label=len(self.brushes))
        except ProtocolError as error:
            raise traitlets.TraitError(str(error)) from None
        self._decoded_labels = (data, labels)
        return data

    def set_state(self, sync_data: dict[str, Any]) -> None:
        """Trait values from the browser: a refused one shows in the status line and the view is corrected."""
        try:
            super().set_state(sync_data)  # together, so that brushes and labels are checked against each other
            return
        except Exception:  # find the refused value(s): apply one at a time, keep the good ones
            pass
        for name, value in sync_data.items():
            try:
                super().set_state({name: value})
            except Exception as error:  # TraitError, TypeError...: never out of the comm handler
                self._show_error(f"refused {name} from the browser: {_reason(error)}")
                if name in self.keys:
                    self.send_state(name)  # the view shows the value the kernel kept

    # -- public API -------------------------------------------------------------------------------
    @property
    def scene(self) -> Scene:
        """The Scene the canvas describes now (raises SceneError when there is nothing to draw)."""
        return scene_from_labels(self.label_map, self.brushes, self.background, seed=self.seed,
                                 background_image=self._background_pixels())

    @property
    def label_map(self) -> np.ndarray:
        """(H, W) uint8: 0 background, i = brushes[i - 1]."""
        data, labels = self._decoded_labels
        if data is not self.labels:
            labels = decode_labels(self.labels, self.width, self.height, max_label=len(self.brushes))
        if labels.size and int(labels.max()) > len(self.brushes):
            raise PaletteError(f"the label map uses label {int(labels.max())}, but there are only "
                               f"{len(self.brushes)} brushes")
        return labels

    @label_map.setter
    def label_map(self, labels: np.ndarray) -> None:
        labels = np.asarray(labels)
        if labels.shape != (self.height, self.width):
            raise ValueError(f"label map must be ({self.height}, {self.width}), got {labels.shape}")
        if not (np.issubdtype(labels.dtype, np.integer) or labels.dtype == bool):
            raise ValueError(f"label map must hold integer labels, got dtype {labels.dtype}")
        if labels.size and (int(labels.min()) < 0 or int(labels.max()) > len(self.brushes)):
            raise ValueError(f"label {int(labels.max())} has no brush (there are {len(self.brushes)}); "
                             f"use 0 for background and 1..{len(self.brushes)}")
        self.labels = encode_labels(labels.astype(np.uint8))

    def set_background_image(self, image: Image.Image | str | Path | None) -> None:
        """Inpaint into a photo (a PIL image or a file path); None removes it."""
        if image is None:
            self.background_image = b""
            return
        if not isinstance(image, Image.Image):
            image = _open_photo(Path(image), self.width, self.height)
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="PNG")
        self.background_image = buffer.getvalue()

    @property
    def image(self) -> Image.Image | None:
        """The newest picture, or None before the first frame."""
        frame = self._session.frame if self._session is not None else None
        return frame.image if frame is not None else None

    @property
    def trace(self) -> Trace | None:
        """Step-by-step history of the newest finished frame (SemanticDrawCanvas(..., trace=True)), else None."""
        return self._session.stream.last_trace() if self._session is not None else None

    def inspect(self) -> Any:
        """A DenoisingInspector that follows this canvas's newest finished picture, step by step.

        Turns tracing on if the canvas was made without ``trace=True`` (restarting a running stream once).
        """
        from .inspector import DenoisingInspector

        if not self.record_trace:
            self.record_trace = True
            if self.running:
                self.stop()
                self.start()
        return DenoisingInspector(self)

    @property
    def session(self) -> Session | None:
        return self._session

    @property
    def running(self) -> bool:
        return self._session is not None and self._session.running

    def start(self) -> None:
        """Start streaming (returns at once). Errors show in the status line; a later fix starts it then."""
        with self._lock:
            self._want_running = True
            if self.running:
                return
            scene = self._scene_or_error()
            if scene is None:
                return
            try:
                session = Session(self.backend, scene, self._good_settings["steps"], max_in_flight=self.max_in_flight,
                                  guidance_scale=self._good_settings["guidance"],
                                  trace_ticks=self._good_settings["steps"] if self.record_trace else 0)
            except (ValueError, TypeError) as error:  # e.g. steps the sampler refuses
                self._show_error(str(error))
                return
            if not self.playing:
                session.pause()
            self._session = session
            self._last_encoded = None
            session.add_status_listener(self._on_status)
            self._sink_id = session.add_sink(self._send_frame)
            session.start()

    def stop(self) -> None:
        """Stop streaming; the last picture stays. Safe to call twice."""
        with self._lock:
            self._want_running = False
            session = self._session
        if session is not None:
            session.stop()
        else:
            self._write_status(state="stopped")

    async def next_frame(self, timeout: float | None = None) -> Frame:
        return await self._live_session().next_frame(timeout)

    async def settled(self, timeout: float | None = None) -> Frame:
        """Await the finished picture of what is drawn now (at once when it is already showing)."""
        return await self._live_session().settled(timeout)

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
        return palette_to_json(self.brushes, self.background)

    def import_palette(self, text: str | os.PathLike) -> None:
        """Replace brushes and background from palette JSON; all or nothing: a bad palette changes nothing.

        Strokes painted with brushes the new palette lacks are erased.
        """
        if isinstance(text, os.PathLike):
            text = Path(text).read_text(encoding="utf-8")
        elif isinstance(text, str) and not text.lstrip().startswith("{") and text.strip().endswith(".json"):
            raise PaletteError(f"import_palette takes the palette's JSON text or a pathlib.Path, not the file name "
                               f"{text!r}: canvas.import_palette(Path({text!r}))")
        brushes, background = palette_from_json(text)
        labels = self.label_map
        with self.hold_sync():
            if labels.size and int(labels.max()) > len(brushes):
                self.labels = encode_labels(np.where(labels > len(brushes), 0, labels).astype(np.uint8))
            self.brushes = brushes
            self.background = background

    # -- traits -> session ---------------------------------------------------------------------------
    def _on_scene_trait(self, change: dict[str, Any]) -> None:
        if not self._want_running:
            return
        scene = self._scene_or_error()
        if scene is None:
            return
        self._clear_notice()
        if not self.running:
            self.start()  # it failed to start before (say, an empty background prompt): now it can
        elif self._session is not None:
            self._session.update(scene)

    def _on_sampler_trait(self, change: dict[str, Any]) -> None:
        key = change["name"]
        if self._reverting:
            return
        if self._session is None or not self.running:
            self._good_settings[key] = change["new"]
            return
        settings = {"steps": change["new"]} if key == "steps" else {"guidance_scale": change["new"]}
        try:
            reply = self._session.reconfigure(**settings)
        except ValueError as error:
            self._refuse_setting(key, str(error))
            return
        reply.add_done_callback(lambda done: self._setting_applied(key, change["new"], done))

    def _setting_applied(self, key: str, value: Any, done: Any) -> None:
        error = done.exception()
        if error is None:
            self._good_settings[key] = value
            self._clear_notice()
        else:
            self._refuse_setting(key, str(error))

    def _refuse_setting(self, key: str, reason: str) -> None:
        good = self._good_settings[key]
        self._show_error(f"{key} {getattr(self, key)!r} refused ({reason}); kept {good!r}")
        if getattr(self, key) != good:
            self._reverting = True  # the stream still runs the good value: nothing to reconfigure
            try:
                setattr(self, key, good)
            finally:
                self._reverting = False

    def _on_playing(self, change: dict[str, Any]) -> None:
        if change["new"]:
            if not self.running:
                self.start()  # play on a stopped canvas starts it
            elif self._session is not None:
                self._session.resume()
        elif self._session is not None:
            self._session.pause()

    def _on_status(self, status: SessionStatus) -> None:
        # State and error changes sync at once; fps/tick counters at most STATUS_INTERVAL apart, so a
        # fast stream does not add a comm message per frame.
        now = time.monotonic()
        current = self.status
        if (status.state, status.error) == (current.get("state"), current.get("error")) \
                and now - self._last_status < STATUS_INTERVAL:
            return
        self._last_status = now
        self._write_status(state=status.state, fps=status.fps, tick=status.tick, error=status.error or self._notice,
                           epoch=status.epoch, warning=self._warning())

    def _warning(self) -> str | None:
        """What the user should know although nothing failed: prompt-less brushes, words the model ignores."""
        notes = []
        try:
            labels = self.label_map
        except ProtocolError:
            labels = np.zeros(0, np.uint8)
        for name in painted_without_prompt(labels, self.brushes):
            notes.append(f"brush {name!r} has no prompt, so its strokes paint nothing yet")
        unknown_words = getattr(self.backend, "unknown_words", None)
        if callable(unknown_words):
            texts = [self.background["prompt"]] + [b["prompt"] for b in self.brushes if b["visible"]]
            ignored = sorted({word for text in texts for word in unknown_words(text)})
            if ignored:
                notes.append(f"the model ignores: {', '.join(ignored)}")
        return "; ".join(notes) or None

    def _write_status(self, **changes: Any) -> None:
        self._writing_status = True
        try:
            self.status = {**self.status, **changes}
        finally:
            self._writing_status = False

    def _scene_or_error(self) -> Scene | None:
        """The current Scene, or None after showing why there is none in the status line."""
        try:
            return self.scene
        except (SceneError, ProtocolError, PaletteError) as error:
            self._show_error(str(error))
            return None

    def _show_error(self, message: str) -> None:
        """A refused input: the reason goes to the status line (until the next accepted change); the state
        stays what the stream is doing."""
        self._notice = message
        self._write_status(error=message)
        try:
            self.send({"kind": "error", "message": message})
        except Exception:  # no front end connected (a script, or the comm is closed): the status trait has it
            log.debug("semanticdraw: could not send an error message", exc_info=True)

    def _clear_notice(self) -> None:
        if self._notice is not None:
            self._notice = None
            session_error = self._session.status.error if self._session is not None and self.running else None
            self._write_status(error=session_error)

    def _live_session(self) -> Session:
        if self._session is None or not self.running:
            raise RuntimeError("the canvas is not streaming: call canvas.start() first"
                               + (f" ({self.status['error']})" if self.status.get("error") else ""))
        return self._session

    # -- the uploaded photo ----------------------------------------------------------------------------
    def _background_pixels(self) -> Image.Image | None:
        """The uploaded photo, cropped and scaled to the canvas; decoded once per upload, not per stroke."""
        data = self.background_image
        if not len(data):
            return None
        digest = hashlib.blake2b(data, digest_size=16).digest()
        if self._photo[0] != digest:
            photo = _open_photo(bytes(data), self.width, self.height)
            self._photo = (digest, ImageOps.fit(photo, (self.width, self.height), Image.Resampling.BICUBIC))
        return self._photo[1]

    # -- frames ----------------------------------------------------------------------------------------
    def _send_frame(self, encoded: EncodedFrame) -> None:
        self._last_encoded = encoded
        message = FrameMessage(kind="frame", epoch=encoded.epoch, seq=encoded.seq, mime=encoded.mime,
                               width=encoded.width, height=encoded.height, settled=encoded.settled,
                               tick=encoded.frame.index, step=encoded.frame.step)
        self.send(dict(message), buffers=[encoded.data])
        now = time.monotonic()
        if encoded.settled or now - self._last_snapshot >= SNAPSHOT_INTERVAL:
            self._last_snapshot = now
            with self.hold_sync():
                self.snapshot_mime = encoded.mime
                self.snapshot = encoded.data

    def _handle_message(self, widget: Any, content: Any, buffers: list[Any]) -> None:
        try:
            self._dispatch(parse_client_message(content, buffers))
        except ProtocolError as error:
            warnings.warn(f"semanticdraw: ignored a message from the front end: {error}", RuntimeWarning,
                          stacklevel=2)
            self._show_error(f"ignored a bad message from the browser: {error}")
        except Exception as error:  # nothing raises out of a comm handler
            log.exception("semanticdraw: a message from the browser failed")
            self._show_error(f"a message from the browser failed: {_reason(error)}")

    def _dispatch(self, message: dict[str, Any]) -> None:
        session = self._session
        if message["kind"] == "ack":
            if session is not None and self._sink_id is not None:
                session.ack(self._sink_id, message["seq"], epoch=message["epoch"])
        elif message["kind"] == "command":
            if session is None or not self.running:
                self._show_error("press play first: the canvas is not streaming")
            else:
                session.step()
        elif message["kind"] == "hello":
            epoch = session.epoch if session is not None and self.running else 0
            self.send(dict(WelcomeMessage(kind="welcome", version=PROTOCOL_VERSION, epoch=epoch)))
            newest = self._last_encoded
            shown = (message.get("epoch"), message.get("seq"))
            if newest is not None and epoch and not (shown[0] == newest.epoch and shown[1] >= newest.seq):
                self._send_frame(newest)  # (a view that shows it already, say after a heartbeat, is spared it)


def _open_photo(data: bytes | Path, width: int, height: int) -> Image.Image:
    """Decode an uploaded photo with its size checked from the header first (a bomb costs nothing)."""
    if isinstance(data, bytes) and len(data) > MAX_PHOTO_BYTES:
        raise SceneError(f"background image is {len(data) / 2**20:.0f} MB; upload one under "
                         f"{MAX_PHOTO_BYTES // 2**20} MB", field="background.image")
    image = open_image_bounded(data, max_pixels=photo_pixel_budget(width, height), field="background image",
                               target_size=(width, height))
    return ImageOps.exif_transpose(image).convert("RGB")


def _reason(error: BaseException) -> str:
    return str(error) or type(error).__name__


def snapshot_image(canvas: SemanticDrawCanvas) -> Image.Image | None:
    """Decode the snapshot trait (what a reopened notebook shows)."""
    data = bytes(canvas.snapshot)
    return Image.open(io.BytesIO(data)).convert("RGB") if data else None

