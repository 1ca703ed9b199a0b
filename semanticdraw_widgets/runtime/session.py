"""Session: runs a Stream from an asyncio event loop in its own daemon thread.

Why a thread of its own: comm handlers arrive on the kernel's main thread or on a subshell thread
depending on the front end, Colab does not pump the kernel loop between cells, and a blocking cell
freezes the kernel loop. So nothing here relies on the caller's loop or thread:

* inputs  — ``update(scene)`` only writes the newest scene into the Stream's locked inbox (latest wins)
  and wakes the loop with ``call_soon_threadsafe``; the Stream applies it between ticks.
* compute — ticks run on one model thread; the loop stays free for acks, wake-ups and stop().
* outputs — frames are encoded off the model path and handed to sinks with ack-based flow control: at
  most ``max_in_flight`` unacknowledged frames per sink (acks are cumulative), newer frames replace a
  waiting one (newest wins, nothing queues up). While every sink's window is full the loop waits for an
  ack rather than render frames nobody can show (a sink silent for ``ack_timeout`` seconds is not
  waited for). Frames go as JPEG, the finished picture included; a lossless PNG of it follows once the
  stream has stayed idle for ``settle_delay`` seconds (while the user keeps editing, a finished picture
  is replaced within moments, and a PNG costs ~20x the encoding time and ~10x the bytes).
* errors  — a failing tick sets an error status, keeps the previous picture and waits for the next
  update; the session stays alive.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import itertools
import logging
import random
import threading
import time
from dataclasses import dataclass, field, replace
from typing import AsyncIterator, Callable

from PIL import Image

from ..backends.base import Backend
from ..engine.stream import Frame, Stream
from ..scene import Scene

log = logging.getLogger(__name__)

STATES = ("stopped", "streaming", "idle", "paused", "error")
# Epochs start at a random point so that even a view that outlived a kernel restart sees a new one.
_epochs = itertools.count(random.SystemRandom().randrange(1, 2**30))


@dataclass(frozen=True)
class EncodedFrame:
    """One frame as it goes over the wire."""

    epoch: int  # the session's stream generation: unique per Session, so a view can tell restarts apart
    seq: int  # increases by one per frame the session produces
    data: bytes
    mime: str  # "image/jpeg" while streaming, "image/png" for the settled picture
    width: int
    height: int
    settled: bool
    frame: Frame


@dataclass(frozen=True)
class SessionStatus:
    state: str  # one of STATES
    tick: int  # model ticks run so far
    fps: float  # frames per second over the last second of streaming
    converged: bool
    error: str | None = None  # the last error, cleared by the next successful tick


FrameSink = Callable[[EncodedFrame], None]


def encode_image(image: Image.Image, mime: str, quality: int = 85) -> bytes:
    """JPEG (fast, lossy) or PNG (lossless) bytes of an RGB image."""
    buffer = io.BytesIO()
    if mime == "image/jpeg":
        image.save(buffer, format="JPEG", quality=quality)
    else:
        image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


@dataclass
class _SinkState:
    sink: FrameSink
    max_in_flight: int
    sent: list[int] = field(default_factory=list)  # seqs sent and not yet acknowledged
    waiting: EncodedFrame | None = None  # newest frame held back by flow control
    last_ack: float = field(default_factory=time.monotonic)

    def saturated(self, now: float, ack_timeout: float) -> bool:
        """Full ack window and still acknowledging (a view silent for `ack_timeout` is not waited for)."""
        return len(self.sent) >= self.max_in_flight and now - self.last_ack < ack_timeout


class Session:
    """Stream frames of the newest scene from a daemon thread (see the module docstring)."""

    def __init__(self, backend: Backend, scene: Scene, steps: int = 4, *, max_in_flight: int = 2,
                 jpeg_quality: int = 85, max_fps: float | None = None, ack_timeout: float = 2.0,
                 settle_delay: float = 0.3, **stream_options) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {max_in_flight}")
        self.stream = Stream(backend, scene, steps, **stream_options)
        self.max_in_flight = max_in_flight
        self.jpeg_quality = jpeg_quality
        self.min_interval = 1 / max_fps if max_fps else 0.0
        self.ack_timeout = ack_timeout
        self.settle_delay = settle_delay
        self._lock = threading.RLock()
        self._sinks: dict[int, _SinkState] = {}
        self._status_listeners: list[Callable[[SessionStatus], None]] = []
        self._waiters: list[concurrent.futures.Future] = []
        self._status = SessionStatus(state="stopped", tick=0, fps=0.0, converged=False)
        self._frame: Frame | None = None
        self._seq = 0
        self.epoch = next(_epochs)
        self._last_encoded: EncodedFrame | None = None
        self._settled_for: Scene | None = None  # the scene whose finished picture went out as PNG
        self._converged_at = 0.0  # monotonic time the newest frame finished its picture
        self._paused = False
        self._single_steps = 0
        self._failed_scene: Scene | None = None
        self._tick_times: list[float] = []
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stopping = threading.Event()
        self._model_pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._encode_pool: concurrent.futures.ThreadPoolExecutor | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Start streaming in a daemon thread; returns at once. Starting twice is harmless."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        started = threading.Event()
        self._model_pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="semanticdraw-model")
        self._encode_pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="semanticdraw-encode")
        self._thread = threading.Thread(target=self._thread_main, args=(started,), name="semanticdraw-session",
                                        daemon=True)
        self._thread.start()
        started.wait(timeout=10)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the current tick and join the thread."""
        self._stopping.set()
        self._poke()
        if self._thread is not None:
            self._thread.join(timeout)
        for pool in (self._model_pool, self._encode_pool):
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        self._thread = self._loop = self._wake = None
        self._set_status(state="stopped")

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> "Session":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- inputs (any thread) ----------------------------------------------------------------------
    def update(self, scene: Scene) -> None:
        """Show `scene` next; the newest update wins and applies between ticks."""
        self.stream.update(scene)
        self._poke()

    def pause(self) -> None:
        with self._lock:
            self._paused = True
        self._poke()

    def resume(self) -> None:
        with self._lock:
            self._paused = False
        self._poke()

    def step(self) -> None:
        """Run exactly one tick while paused (for step-by-step teaching)."""
        with self._lock:
            self._single_steps += 1
        self._poke()

    def add_sink(self, sink: FrameSink, max_in_flight: int | None = None) -> int:
        """Register a frame consumer; returns its id for ``ack``/``remove_sink``. The newest frame is sent at once."""
        with self._lock:
            sink_id = max(self._sinks, default=0) + 1
            state = _SinkState(sink, max_in_flight or self.max_in_flight)
            self._sinks[sink_id] = state
            latest = self._last_encoded
            if latest is not None:
                state.sent.append(latest.seq)
        if latest is not None:
            self._deliver(sink, latest)
        return sink_id

    def remove_sink(self, sink_id: int) -> None:
        with self._lock:
            self._sinks.pop(sink_id, None)

    def ack(self, sink_id: int, seq: int) -> None:
        """The sink has shown frame `seq` (and so every earlier one); may release a waiting frame."""
        with self._lock:
            state = self._sinks.get(sink_id)
            if state is None:
                return
            state.sent = [s for s in state.sent if s > seq]
            state.last_ack = time.monotonic()
            release = state.waiting if len(state.sent) < state.max_in_flight else None
            if release is not None:
                state.waiting = None
                state.sent.append(release.seq)
        if release is not None:
            self._deliver(state.sink, release)
        self._poke()  # a ticking loop may be waiting for room in the ack window

    def add_status_listener(self, listener: Callable[[SessionStatus], None]) -> None:
        with self._lock:
            self._status_listeners.append(listener)

    # -- outputs ----------------------------------------------------------------------------------
    @property
    def status(self) -> SessionStatus:
        with self._lock:
            return self._status

    @property
    def frame(self) -> Frame | None:
        """The newest frame, or None before the first one."""
        with self._lock:
            return self._frame

    def wait_frame(self, timeout: float | None = None) -> Frame:
        """Block until the next frame (for scripts and tests; use ``await next_frame()`` in notebooks)."""
        return self._new_waiter().result(timeout)

    async def next_frame(self, timeout: float | None = None) -> Frame:
        """Await the next frame from any event loop (the kernel's included) without blocking it."""
        return await asyncio.wait_for(asyncio.wrap_future(self._new_waiter()), timeout)

    async def settled(self, timeout: float | None = None) -> Frame:
        """Await the finished picture of the current scene; returns at once when the stream is idle."""

        async def wait() -> Frame:
            while True:
                frame = self.frame
                if frame is not None and frame.converged and self.stream.idle:
                    return frame
                waiter = self._new_waiter()
                if self.frame is not frame:  # a frame landed between the check and the waiter
                    continue
                await asyncio.wrap_future(waiter)

        return await asyncio.wait_for(wait(), timeout)

    async def frames(self) -> AsyncIterator[Frame]:
        """``async for frame in session.frames():`` every frame from now on."""
        while True:
            yield await self.next_frame()

    def _new_waiter(self) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self._lock:
            self._waiters.append(future)
        return future

    # -- the loop ---------------------------------------------------------------------------------
    def _poke(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:  # the loop closed between the check and the call: nothing to wake
                pass

    def _thread_main(self, started: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._run(started))
        finally:
            loop.close()

    async def _run(self, started: threading.Event) -> None:
        self._wake = asyncio.Event()
        started.set()
        self._set_status(state="paused" if self._paused else "streaming")
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            if not self._should_tick():
                self._wake.clear()
                if self._should_tick() or self._stopping.is_set():
                    continue
                due = self._settle_due()
                if due is not None and due <= time.monotonic():
                    self._settle()
                    continue
                # the timeout re-checks views that stopped acknowledging (see ack_timeout) and settles
                timeout = self.ack_timeout if due is None else min(self.ack_timeout, due - time.monotonic())
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=timeout)
                except asyncio.TimeoutError:
                    pass
                continue
            began = time.perf_counter()
            try:
                frame = await loop.run_in_executor(self._model_pool, self.stream.tick)
            except Exception as error:  # any model failure: report, keep the picture, wait for an update
                log.exception("semanticdraw: tick failed")
                with self._lock:
                    self._failed_scene = self.stream.scene
                self._set_status(state="error", error=f"{type(error).__name__}: {error}")
                continue
            self._publish(frame)
            pause = self.min_interval - (time.perf_counter() - began)
            if pause > 0:
                await asyncio.sleep(pause)

    def _should_tick(self) -> bool:
        with self._lock:
            if self._failed_scene is not None:
                if self.stream.scene is self._failed_scene:
                    return False
                self._failed_scene = None
            if self._paused and self._single_steps == 0:
                return False
            if self._single_steps:
                self._single_steps -= 1
                return True
            if not self.stream.idle:
                # Backpressure: while every view's ack window is full, a new frame would only be dropped,
                # so wait for an ack instead of spending CPU (often shared with the browser) on it.
                now = time.monotonic()
                return not self._sinks or not all(s.saturated(now, self.ack_timeout) for s in self._sinks.values())
            return self._frame is None  # idle: the picture is finished and delivered

    def _settle_due(self) -> float | None:
        """When the finished picture's lossless PNG is due (monotonic), or None when none is owed."""
        with self._lock:
            frame = self._frame
            if frame is None or not frame.converged or self._settled_for == frame.scene or not self.stream.idle:
                return None
            return self._converged_at + self.settle_delay

    def _settle(self) -> None:
        with self._lock:
            frame = self._frame
            self._settled_for = frame.scene
        self._encode_pool.submit(self._encode_and_send, frame, "image/png")

    def _publish(self, frame: Frame) -> None:
        now = time.perf_counter()
        with self._lock:
            repeated = self._frame is frame  # an idle stream hands back its last frame
            self._frame = frame
            waiters: list[concurrent.futures.Future] = []
            if not repeated:
                waiters, self._waiters = self._waiters, []
                self._tick_times = [t for t in self._tick_times if now - t < 1.0] + [now]
            fps = len(self._tick_times) / max(now - self._tick_times[0], 1e-3) if len(self._tick_times) > 1 else 0.0
            if frame.converged and not repeated:
                self._converged_at = time.monotonic()
            paused = self._paused
        if not repeated:
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(frame)
        state = "paused" if paused else ("idle" if frame.converged else "streaming")
        self._set_status(state=state, tick=frame.index, fps=round(fps, 1), converged=frame.converged, error=None)
        if not repeated:
            self._encode_pool.submit(self._encode_and_send, frame, "image/jpeg")

    def _encode_and_send(self, frame: Frame, mime: str) -> None:
        try:
            data = encode_image(frame.image, mime, self.jpeg_quality)
        except Exception:  # an encoder failure must not kill the session; the next frame tries again
            log.exception("semanticdraw: could not encode a frame")
            return
        with self._lock:
            self._seq += 1
            encoded = EncodedFrame(epoch=self.epoch, seq=self._seq, data=data, mime=mime, width=frame.image.width,
                                   height=frame.image.height, settled=mime == "image/png", frame=frame)
            self._last_encoded = encoded
            deliveries = []
            for state in self._sinks.values():
                if len(state.sent) < state.max_in_flight:
                    state.sent.append(encoded.seq)
                    deliveries.append(state.sink)
                else:
                    state.waiting = encoded  # newest wins: replaces any frame still waiting
        for sink in deliveries:
            self._deliver(sink, encoded)

    def _deliver(self, sink: FrameSink, encoded: EncodedFrame) -> None:
        try:
            sink(encoded)
        except Exception:  # a broken view must not stop the stream for the others
            log.exception("semanticdraw: a frame sink failed")

    def _set_status(self, **changes) -> None:
        with self._lock:
            self._status = replace(self._status, **changes)
            status, listeners = self._status, list(self._status_listeners)
        for listener in listeners:
            try:
                listener(status)
            except Exception:  # listeners are UI code; their failure must not stop the stream
                log.exception("semanticdraw: a status listener failed")
