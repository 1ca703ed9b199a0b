"""SemanticDrawCanvas: paint regions with semantic brushes in the notebook, watch the picture stream back.

The browser draws strokes locally and syncs a compressed label map (see ``protocol``); this class
checks what arrives, turns traits into a Scene (``palette.scene_from_labels``) and feeds a ``Session``.
The canvas is a view of the Session's core: it keeps no copy of settings, status or frames. Its frames
and its status trait come from the Session's owner thread through a ``StreamLink`` (``canvas_link``);
the status trait is the core's status (``canvas_status``), including this canvas's own note about a
refused input, which it hands to the core with ``Session.annotate``. The uploaded photo is decoded in
``canvas_photo``. Everything durable is a trait, so a reloaded view shows the same state.

Nothing from the browser can raise out of a comm handler: a refused trait value or message shows its
reason in the status line, the trait goes back to its last good value, and the stream keeps running.
The browser may write only the traits the protocol marks as such (``protocol.BROWSER_WRITABLE``).
"""

from __future__ import annotations

import io
import logging
import os
import threading
import warnings
from importlib import resources
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets
from PIL import Image

from ..backends.base import Backend
from ..engine.stream import Frame
from ..engine.trace import Trace
from ..runtime.session import Session
from ..files import read_bytes_bounded
from ..images import save_image_atomic
from ..scene import Background, Scene, SceneError
from ..samplers import steps_range
from ..validation import ValidationError, check_field
from .canvas_link import StreamLink
from .canvas_photo import PhotoCache, open_photo, png_bytes
from .canvas_status import scene_warning, status_value
from .palette import (DEFAULT_BACKGROUND, DEFAULT_BRUSHES, PaletteError, make_brush, palette_from_json,
                      palette_to_json, scene_from_labels, validate_background, validate_brushes)
from .traits import ByteView, Checked
from .protocol import (BROWSER_WRITABLE, HELLO_FRAME_INTERVAL, PROTOCOL_VERSION, ProtocolError,
                       build_message, clip_message, decode_labels, encode_labels, excerpt, parse_client_message)

log = logging.getLogger(__name__)

STATIC = resources.files("semanticdraw_widgets") / "widgets" / "static"
MAX_PALETTE_FILE_BYTES = 16 * 2**20  # a palette of 254 brushes with 1,000-character texts is under 2 MB

__all__ = ["PaletteError", "SemanticDrawCanvas", "make_brush", "snapshot_image"]




class SemanticDrawCanvas(anywidget.AnyWidget):
    """Draw with semantic brushes; a few-step diffusion model renders the regions live.

    canvas = SemanticDrawCanvas(backend, width=512, height=512); canvas.start(); canvas  # display it
    """

    # The bundle's text, not its path: for a path anywidget ties every instance to a class-wide file watcher
    # signal (hot reload) that holds it forever, so no canvas could ever be freed.
    _esm = (STATIC / "widget.js").read_text(encoding="utf-8")
    _css = (STATIC / "widget.css").read_text(encoding="utf-8")

    width = traitlets.Int(512).tag(sync=True)
    height = traitlets.Int(512).tag(sync=True)
    # Checked in the trait type, not by @validate: traitlets skips @validate when the browser's value equals the
    # current one (visible 1.0 for True), which would keep the raw value instead of the checker's copy.
    brushes = Checked(validate_brushes, []).tag(sync=True)
    background = Checked(validate_background, {"prompt": "", "negative_prompt": ""}).tag(sync=True)
    labels = ByteView(b"").tag(sync=True)
    background_image = ByteView(b"").tag(sync=True)  # PNG/JPEG bytes; regions are inpainted into it
    # Checked in the trait type, by the field table: traitlets.Int/Float alone take True (a bool is an int).
    seed = Checked(lambda value: check_field("seed", value), 0).tag(sync=True)
    steps = Checked(lambda value: check_field("steps", value), 4).tag(sync=True)
    guidance = Checked(lambda value: check_field("guidance_scale", value, path="guidance", nullable=False),
                       1.0).tag(sync=True)
    playing = traitlets.Bool(True).tag(sync=True)
    # written by the kernel only (set_trait): read-only for Python code, refused from the browser (set_state)
    status = traitlets.Dict(status_value(None), read_only=True).tag(sync=True)
    snapshot = ByteView(b"", read_only=True).tag(sync=True)
    snapshot_mime = traitlets.Unicode("image/jpeg", read_only=True).tag(sync=True)
    protocol_version = traitlets.Int(PROTOCOL_VERSION, read_only=True).tag(sync=True)

    def __init__(self, backend: Backend, width: int = 512, height: int = 512, *, seed: int = 0, steps: int = 4,
                 guidance: float = 1.0, brushes: list[dict[str, Any]] | None = None,
                 background: dict[str, str] | None = None, max_in_flight: int = 6, trace: bool = False,
                 **kwargs: Any) -> None:
        if not hasattr(backend, "make_schedule"):
            raise TypeError(f"SemanticDrawCanvas needs a backend from sdw.load_backend(...), got {type(backend).__name__}")
        self._lock = threading.RLock()  # which Session: comm handlers and cells may race on start/stop
        self._link: StreamLink | None = None  # the Session streaming for this canvas, once one was made
        self._want_running = False
        Scene(width=width, height=height, seed=seed, background=Background(prompt="x"))  # checks size and seed
        self.backend = backend  # before the traits: steps are checked against its sampler
        self._notice: str | None = None  # why the last input was refused, shown until an input is accepted
        self._decoded_labels: tuple[Any, np.ndarray] = (None, np.zeros((height, width), np.uint8))
        super().__init__(width=width, height=height, seed=seed, steps=steps, guidance=guidance,
                         brushes=validate_brushes(DEFAULT_BRUSHES if brushes is None else brushes),
                         background=validate_background(DEFAULT_BACKGROUND if background is None else background),
                         **kwargs)
        self._fixed_sizes = {"width": width, "height": height}
        self.max_in_flight = max_in_flight
        self.record_trace = trace
        self._photo = PhotoCache(width, height)
        self.on_msg(self._handle_message)
        self.observe(self._on_scene_trait, names=["brushes", "background", "background_image", "labels", "seed"])
        self.observe(self._on_sampler_trait, names=["steps", "guidance"])
        self.observe(self._on_playing, names=["playing"])

    # -- trait validation: the same rules for Python code and the browser ------------------------------

    @traitlets.validate("steps")
    def _valid_steps(self, proposal: dict[str, Any]) -> int:
        lo, hi, sampler = steps_range(self.backend)  # the sampler registry's range, as the stream will check it
        try:
            return check_field("steps", proposal["value"], min=lo, max=hi,
                               why=f" (the {sampler} sampler's range)" if sampler else "")
        except ValidationError as error:
            raise traitlets.TraitError(str(error)) from None

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

    @traitlets.validate("background_image")
    def _valid_photo(self, proposal: dict[str, Any]) -> Any:
        data = proposal["value"]
        try:  # decoded now: a file that is no photo is refused at upload (the kept photo stays), not at every stroke
            self._photo.fitted(data)
        except SceneError as error:
            raise traitlets.TraitError(str(error)) from None
        return data

    def set_state(self, sync_data: Any) -> None:
        """Trait values from the browser: only those it may write; a refused one shows in the status line and
        the view is corrected."""
        if not isinstance(sync_data, dict):
            self._show_error(f"refused a state update from the browser: it must be an object, got "
                             f"{type(sync_data).__name__}")
            return
        allowed = {}
        for name, value in sync_data.items():
            if name in BROWSER_WRITABLE:
                allowed[name] = value
            else:
                self._show_error(f"refused {excerpt(name)} from the browser: it is read-only there (only the "
                                 f"kernel writes it)")
                if name in self.keys:
                    self.send_state(name)  # the view shows the value the kernel kept
        try:
            super().set_state(allowed)  # together, so that brushes and labels are checked against each other
            return
        except Exception:  # find the refused value(s): apply one at a time, keep the good ones
            pass
        for name, value in allowed.items():
            try:
                super().set_state({name: value})
            except Exception as error:  # TraitError, TypeError...: never out of the comm handler
                self._show_error(f"refused {name} from the browser: {_reason(error)}")
                self.send_state(name)

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
            image = open_photo(Path(image), self.width, self.height)
        self.background_image = png_bytes(image)

    @property
    def image(self) -> Image.Image | None:
        """The newest picture, or None before the first frame."""
        session = self.session
        frame = session.frame if session is not None else None
        return frame.image if frame is not None else None

    @property
    def trace(self) -> Trace | None:
        """Step-by-step history of the newest finished frame (SemanticDrawCanvas(..., trace=True)), else None."""
        session = self.session
        return session.trace if session is not None else None

    def inspect(self, surface: str = "auto") -> Any:
        """A DenoisingInspector that follows this canvas's newest finished picture, step by step.

        Turns tracing on if the canvas was made without ``trace=True`` (restarting a running stream once).
        ``surface`` is the inspector's drawing surface ("auto", "ipycanvas" or "image"; see DenoisingInspector).
        """
        from .inspector import DenoisingInspector

        if not self.record_trace:
            self.record_trace = True
            if self.running:
                self.stop()
                self.start()
        return DenoisingInspector(self, surface=surface)

    @property
    def session(self) -> Session | None:
        link = self._link
        return link.session if link is not None else None

    @property
    def running(self) -> bool:
        session = self.session
        return session is not None and session.running

    def start(self) -> None:
        """Start streaming (returns at once). Errors show in the status line; a later fix starts it then."""
        with self._lock:
            self._want_running = True
            if self.running:
                return
            scene = self._scene_or_error()
            if scene is None:
                return
            try:  # a new Session, so a new epoch; its settings are the traits (no other copy exists)
                session = Session(self.backend, scene, self.steps, max_in_flight=self.max_in_flight,
                                  guidance_scale=self.guidance, resend_interval=HELLO_FRAME_INTERVAL,
                                  trace_ticks=self.steps if self.record_trace else 0)
            except (ValueError, TypeError) as error:  # e.g. steps the sampler refuses
                self._show_error(str(error))
                return
            if not self.playing:
                session.pause()
            old, self._link = self._link, StreamLink(self, session, self.max_in_flight)
            if old is not None:
                old.close()
            session.annotate(self._notice, self._current_warning())
            session.start()

    def stop(self) -> None:
        """Stop streaming; the last picture stays. Safe to call twice."""
        with self._lock:
            self._want_running = False
            session = self.session
        if session is not None:
            session.stop()

    def close(self) -> None:
        """Stop the stream, release its threads and close the widget; the canvas can then be freed."""
        with self._lock:
            self._want_running = False
            link, self._link = self._link, None
        if link is not None:
            link.close()
        super().close()

    async def next_frame(self, timeout: float | None = None) -> Frame:
        return await self._live_session().next_frame(timeout)

    async def settled(self, timeout: float | None = None) -> Frame:
        """Await the finished picture of what is drawn now (at once when it is already showing)."""
        return await self._live_session().settled(timeout)

    def export_png(self, path: str | Path) -> Path:
        """Save the newest picture as PNG (atomically: a failed write leaves the old file)."""
        image = self.image
        if image is None:
            raise RuntimeError("no picture yet: start the canvas and wait for a frame")
        path = Path(path)
        save_image_atomic(image, path, format="PNG")
        return path

    def export_palette(self) -> str:
        """The brushes and background as JSON (a palette file)."""
        return palette_to_json(self.brushes, self.background)

    def import_palette(self, text: str | os.PathLike) -> None:
        """Replace brushes and background from palette JSON; all or nothing: a bad palette changes nothing.

        Strokes painted with brushes the new palette lacks are erased.
        """
        if isinstance(text, os.PathLike):
            raw = read_bytes_bounded(text, MAX_PALETTE_FILE_BYTES, "palette file", PaletteError)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise PaletteError(f"{os.fspath(text)}: not UTF-8 text; pass a palette saved by export_palette") from None
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
            self._note(self._notice)  # the warning may have changed
            return
        scene = self._scene_or_error()
        if scene is None:
            return
        if not self.running:
            self._notice = None
            self.start()  # it failed to start before (say, an empty background prompt): now it can
        elif self.session is not None:
            self.session.update(scene)
            self._note(None)

    def _on_sampler_trait(self, change: dict[str, Any]) -> None:
        session = self.session
        if session is None or not self.running:
            return  # start() reads the traits
        key = change["name"]
        settings = {"steps": change["new"]} if key == "steps" else {"guidance_scale": change["new"]}
        try:
            reply = session.reconfigure(**settings)
        except ValueError as error:
            self._refuse_setting(session, key, change["new"], str(error))
            return
        reply.add_done_callback(lambda done: self._setting_applied(session, key, change["new"], done))

    def _setting_applied(self, session: Session, key: str, value: Any, done: Any) -> None:
        error = done.exception()
        if error is None:
            self._note(None)
        else:
            self._refuse_setting(session, key, value, str(error))

    def _refuse_setting(self, session: Session, key: str, value: Any, reason: str) -> None:
        """Show the refusal and put the trait back to what the stream runs (the core's status says it)."""
        good = session.status.steps if key == "steps" else session.status.guidance_scale
        self._show_error(f"{key} {value!r} refused ({reason}); kept {good!r}")
        if getattr(self, key) != good:
            setattr(self, key, good)  # reconfigures to the running value: a no-op for the stream

    def _on_playing(self, change: dict[str, Any]) -> None:
        session = self.session
        if change["new"]:
            if not self.running:
                self.start()  # play on a stopped canvas starts it
            elif session is not None:
                session.resume()
        elif session is not None:
            session.pause()

    def _current_warning(self) -> str | None:
        try:
            labels = self.label_map
        except (ProtocolError, PaletteError):  # strokes of brushes removed since: nothing to warn about them
            labels = np.zeros(0, np.uint8)
        return scene_warning(labels, self.brushes, self.background, self.backend)

    def _note(self, notice: str | None) -> None:
        """This canvas's note on its input (None: the last input was accepted) and warning, to the status line.

        With a Session, the core reports them (from its owner's thread, like every status); before the first
        one exists, nothing else writes the status trait.
        """
        self._notice = notice
        warning = self._current_warning()
        session = self.session
        if session is not None:
            session.annotate(notice, warning)
        else:
            with self._lock:
                self.set_trait("status", status_value(None, notice, warning))

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
        message = clip_message(message)
        self._note(message)
        try:
            self.send(build_message("error", message=message))
        except Exception:  # no front end connected (a script, or the comm is closed): the status trait has it
            log.debug("semanticdraw: could not send an error message", exc_info=True)

    def _live_session(self) -> Session:
        session = self.session
        if session is None or not session.running:
            raise RuntimeError("the canvas is not streaming: call canvas.start() first"
                               + (f" ({self.status['error']})" if self.status.get("error") else ""))
        return session

    def _background_pixels(self) -> Image.Image | None:
        """The uploaded photo, cropped and scaled to the canvas; decoded once per upload, not per stroke."""
        return self._photo.fitted(self.background_image)

    # -- messages from the browser ---------------------------------------------------------------------
    def _handle_message(self, widget: Any, content: Any, buffers: list[Any]) -> None:
        try:
            self._dispatch(parse_client_message(content, buffers))
        except ProtocolError as error:
            warnings.warn(clip_message(f"semanticdraw: ignored a message from the front end: {error}"),
                          RuntimeWarning, stacklevel=2)
            self._show_error(f"ignored a bad message from the browser: {error}")
        except Exception as error:  # nothing raises out of a comm handler
            log.exception("semanticdraw: a message from the browser failed")
            self._show_error(f"a message from the browser failed: {_reason(error)}")

    def _dispatch(self, message: dict[str, Any]) -> None:
        link = self._link
        session = link.session if link is not None else None
        if message["kind"] == "ack":
            if link is not None:
                link.session.ack(link.sink_id, message["seq"], epoch=message["epoch"])
        elif message["kind"] == "command":
            if session is None or not session.running:
                self._show_error("press play first: the canvas is not streaming")
            else:
                session.step()
        elif message["kind"] == "hello":
            live = session is not None and session.running
            self.send(build_message("welcome", version=PROTOCOL_VERSION, epoch=session.epoch if live else 0))
            if live:  # the newest frame again, from the Session's thread, unless the view shows it (coalesced)
                shown = (message["epoch"], message["seq"]) if "epoch" in message else None
                session.resend(link.sink_id, shown)


def _reason(error: BaseException) -> str:
    return str(error) or type(error).__name__


def snapshot_image(canvas: SemanticDrawCanvas) -> Image.Image | None:
    """Decode the snapshot trait (what a reopened notebook shows)."""
    data = bytes(canvas.snapshot)
    return Image.open(io.BytesIO(data)).convert("RGB") if data else None
