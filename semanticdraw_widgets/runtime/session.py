"""Session: runs a Stream from an asyncio event loop in its own daemon thread.

Why a thread of its own: comm handlers arrive on the kernel's main thread or on a subshell thread
depending on the front end, Colab does not pump the kernel loop between cells, and a blocking cell
freezes the kernel loop. So nothing here relies on the caller's loop or thread.

One owner. All runtime state lives in a ``SessionCore`` (see ``core.py``): the scene inbox, the pending
sampler settings, the status, the sinks and their flow control, the settle deadline, the newest trace.
Whoever owns the core is the only one who calls it:

    phase       owner of the core                     how another thread's request reaches it
    stopped     the caller, holding ``_lock``          it runs at once, in the caller's thread
    running     the loop thread                        ``loop.call_soon_threadsafe``
    stopping    the loop thread (finishing its tick)   ``loop.call_soon_threadsafe``

              start()                stop()                 the loop's next turn
    stopped ──────────► running ───────────► stopping ─────────────────────────► stopped
                           ▲                    │         (the thread ends; a start() now
                           └────────────────────┘          waits for it, then starts a new one)
                        start() before the loop's next turn revives the same loop

The phase changes only under ``_lock``, so a request and a phase change never cross. Sinks and status
listeners run in the owner's thread; a sink or listener may call back (even ``stop()``) at once.

Threads: the loop thread, plus one model thread (ticks run one at a time there, so the loop stays free
for acks and requests) and one encode thread (frames are encoded beside the next tick, in order).

* outputs — frames are handed to sinks with ack-based flow control: at most ``max_in_flight``
  unacknowledged frames per sink (acks are cumulative), newer frames replace a waiting one (newest wins).
  While every sink's window is full the loop waits for an ack rather than render frames nobody can show
  (a sink silent for ``ack_timeout`` seconds is not waited for). Frames go as JPEG, the finished picture
  included; a lossless PNG of it follows once the stream has stayed idle for ``settle_delay`` seconds,
  through one cancellable ``call_later`` handle (which also serves coalesced resends, see ``resend``).
* settings — ``reconfigure(steps=..., guidance_scale=...)`` applies between ticks, keeps the caches,
  and is all or nothing: refused settings leave the last good ones running (``status.steps``).
* errors  — a failing tick sets an error status, keeps the previous picture and waits for the next
  update (the same Scene object again retries); the session stays alive.
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
from typing import Any, AsyncIterator, Callable, Literal

from PIL import Image

from ..backends.base import Backend
from ..engine.stream import Frame, Stream
from ..engine.trace import Trace
from ..scene import Scene
from ..validation import check_field, check_run_options
from .core import STATES, EncodedFrame, EncodeRequest, FrameSink, SessionCore, SessionStatus, run_tick_job

log = logging.getLogger(__name__)

__all__ = ["STATES", "EncodedFrame", "FrameSink", "Session", "SessionStatus", "encode_image"]

# Epochs start at a random point, so that even a view that outlived a kernel restart sees a new one.
_epochs = itertools.count(random.SystemRandom().randrange(1, 2**30))


def encode_image(image: Image.Image, mime: str, quality: int = 85) -> bytes:
    """JPEG (fast, lossy) or PNG (lossless) bytes of an RGB image."""
    buffer = io.BytesIO()
    if mime == "image/jpeg":
        image.save(buffer, format="JPEG", quality=quality)
    else:
        image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


SETTINGS = ("steps", "guidance_scale", "bootstrap_steps", "mask_mode", "cover_alpha")


def validate_settings(stream: Stream, settings: dict[str, Any]) -> dict[str, Any]:
    """Check new sampler settings against the stream's backend (steps per sampler) before handing them over."""
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        raise ValueError(f"unknown sampler settings {sorted(unknown)}; known: {', '.join(SETTINGS)}")
    current = {"steps": stream.steps, **{k: getattr(stream.options, k) for k in SETTINGS[1:]}}
    checked = check_run_options(stream.backend, **{**current, **settings})
    return {key: checked[key] for key in settings}


class Session:
    """Stream frames of the newest scene from a daemon thread (see the module docstring)."""

    def __init__(self, backend: Backend, scene: Scene, steps: int = 4, *, max_in_flight: int = 2,
                 jpeg_quality: int = 85, max_fps: float | None = None, ack_timeout: float = 2.0,
                 settle_delay: float = 0.3, resend_interval: float = 1.0, **stream_options: Any) -> None:
        max_in_flight = check_field("max_in_flight", max_in_flight)  # limits: the field table (fields.py)
        self.jpeg_quality = check_field("jpeg_quality", jpeg_quality)
        max_fps = check_field("max_fps", max_fps)
        self.min_interval = 1 / max_fps if max_fps is not None else 0.0
        ack_timeout = check_field("ack_timeout", ack_timeout)
        settle_delay = check_field("settle_delay", settle_delay)
        resend_interval = check_field("resend_interval", resend_interval)
        self.stream = Stream(backend, scene, steps, **stream_options)  # touched only by tick jobs once started
        self.epoch = next(_epochs)
        self.max_in_flight = max_in_flight
        self._core = SessionCore(self.stream, self.epoch, max_in_flight=max_in_flight, ack_timeout=ack_timeout,
                                 settle_delay=settle_delay, resend_interval=resend_interval)
        self._lock = threading.RLock()  # guards _phase (and the core while stopped); re-entered by callbacks
        self._phase: Literal["stopped", "running", "stopping"] = "stopped"
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._encodes: set[asyncio.Future] = set()
        self._model_pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._encode_pool: concurrent.futures.ThreadPoolExecutor | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Start streaming in a daemon thread; returns at once. Starting twice is harmless."""
        with self._lock:
            if self._phase == "running":
                return
            if self._phase == "stopping":  # the loop has not reached its next turn: keep it
                self._phase = "running"
                self._call(self._core.start)
                return
            old = self._thread
        if old is not None:
            old.join()  # a loop on its way out only closes its pools now
        with self._lock:
            if self._phase != "stopped" or self._thread is not old:  # another start() won the race
                return
            self._loop = asyncio.new_event_loop()
            self._wake = asyncio.Event()
            self._model_pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="semanticdraw-model")
            self._encode_pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="semanticdraw-encode")
            self._core.start()
            self._flush()  # still the owner here: the loop thread takes over below
            self._phase = "running"
            self._thread = threading.Thread(target=self._thread_main, args=(self._loop,), name="semanticdraw-session",
                                            daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the current tick and join the thread; safe from any thread, a listener or a sink included.

        The status says "stopped" when this returns, even if a long tick outlives `timeout`; a start()
        meanwhile revives that same loop instead of starting a second one.
        """
        stopped = threading.Event()

        def stop_core() -> None:
            self._core.stop()
            stopped.set()

        with self._lock:
            if self._phase == "running":
                self._phase = "stopping"
            thread = self._thread
            self._call(stop_core)
        if thread is None or thread is threading.current_thread():
            return  # never started, or called from the loop itself: it ends once this callback returns
        # The loop is never busy for long (ticks run on the model thread), so the handover is waited for in
        # full: the status says "stopped" on return, however loaded the machine. Only the tick may outlast `timeout`.
        stopped.wait()
        thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._phase == "running"

    def __enter__(self) -> "Session":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- requests (any thread) -------------------------------------------------------------------
    def update(self, scene: Scene) -> None:
        """Show `scene` next; the newest update wins and applies between ticks."""
        if not isinstance(scene, Scene):
            raise TypeError(f"update() needs a semanticdraw_widgets.Scene, got {type(scene).__name__}")
        self._call(self._core.update, scene)

    def reconfigure(self, **settings: Any) -> concurrent.futures.Future:
        """Change steps, guidance_scale, bootstrap_steps, mask_mode or cover_alpha without a restart.

        Values are checked at once against the backend (steps per sampler; a ValueError names the
        setting). The returned future resolves when they apply at the next tick: with None, or with the
        error that left the last good settings in place (also shown in ``status.error``).
        """
        checked = validate_settings(self.stream, settings)
        reply: concurrent.futures.Future = concurrent.futures.Future()
        self._call(self._core.reconfigure, checked, reply)
        return reply

    def pause(self) -> None:
        self._call(self._core.pause)

    def resume(self) -> None:
        self._call(self._core.resume)

    def step(self) -> None:
        """Run exactly one tick while paused (for step-by-step teaching)."""
        self._call(self._core.step)

    def annotate(self, notice: str | None = None, warning: str | None = None) -> None:
        """Report a viewer's own note and warning in ``status.notice``/``status.warning`` (replacing the last).

        Returns once the status (and so every listener) shows them: a refused input is reported at once.
        """
        done: concurrent.futures.Future = concurrent.futures.Future()
        self._call(lambda: (self._core.annotate(notice, warning), done.set_result(None)))
        done.result()

    def add_sink(self, sink: FrameSink, max_in_flight: int | None = None) -> int:
        """Register a frame consumer; returns its id for ``ack``/``remove_sink``. The newest frame is sent at once."""
        if not callable(sink):
            raise TypeError(f"a frame sink must be callable with an EncodedFrame, got {type(sink).__name__}")
        if max_in_flight is not None:
            max_in_flight = check_field("max_in_flight", max_in_flight)
        result: concurrent.futures.Future = concurrent.futures.Future()
        self._call(lambda: result.set_result(self._core.add_sink(sink, max_in_flight, time.monotonic())))
        return result.result()

    def remove_sink(self, sink_id: int) -> None:
        self._call(self._core.remove_sink, sink_id)

    def ack(self, sink_id: int, seq: int, epoch: int | None = None) -> None:
        """The sink has shown frame `seq` (and so every earlier one); an ack for another epoch is ignored."""
        if epoch is not None and epoch != self.epoch:
            return
        self._call(lambda: self._core.ack(sink_id, seq, time.monotonic()))

    def resend(self, sink_id: int, shown: tuple[int, int] | None = None) -> None:
        """Send the newest frame to the sink again unless it shows it (`shown` = its epoch, seq); coalesced."""
        self._call(lambda: self._core.resend(sink_id, shown, time.monotonic()))

    def add_status_listener(self, listener: Callable[[SessionStatus], None]) -> None:
        """Call `listener(status)` on every status change (from the owner's thread, see the module docstring)."""
        self._call(self._core.listeners.append, listener)

    def remove_status_listener(self, listener: Callable[[SessionStatus], None]) -> None:
        self._call(lambda: listener in self._core.listeners and self._core.listeners.remove(listener))

    # -- outputs (any thread) ------------------------------------------------------------------------
    @property
    def status(self) -> SessionStatus:
        return self._core.status  # an immutable snapshot, replaced whole by the owner

    @property
    def frame(self) -> Frame | None:
        """The newest frame, or None before the first one."""
        return self._core.frame

    @property
    def trace(self) -> Trace | None:
        """The step-by-step history of the newest finished frame (when tracing), else None."""
        return self._core.trace  # replaced whole by the owner, never changed in place

    def wait_frame(self, timeout: float | None = None) -> Frame:
        """Block until the next frame (for scripts and tests; use ``await next_frame()`` in notebooks)."""
        return self._waiter(self._core.add_frame_waiter).result(timeout)

    async def next_frame(self, timeout: float | None = None) -> Frame:
        """Await the next frame from any event loop (the kernel's included) without blocking it."""
        return await asyncio.wait_for(asyncio.wrap_future(self._waiter(self._core.add_frame_waiter)), timeout)

    async def settled(self, timeout: float | None = None) -> Frame:
        """Await the finished picture of the current scene; returns at once when it is already showing.

        When it returns, ``status`` already says idle and converged. Raises RuntimeError if a tick fails.
        """
        return await asyncio.wait_for(asyncio.wrap_future(self._waiter(self._core.add_settled_waiter)), timeout)

    async def frames(self) -> AsyncIterator[Frame]:
        """``async for frame in session.frames():`` every frame from now on."""
        while True:
            yield await self.next_frame()

    def _waiter(self, register: Callable[[concurrent.futures.Future], None]) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._call(register, future)
        return future

    # -- handing requests to the owner ---------------------------------------------------------------
    def _call(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn(*args)` as the core's owner (see the phase table in the module docstring)."""
        with self._lock:
            if self._phase != "stopped" and threading.current_thread() is not self._thread:
                self._loop.call_soon_threadsafe(self._handle, fn, args)
                return
            # stopped: this caller owns the core while it holds the lock; or the loop thread calling back
            self._handle(fn, args)

    def _handle(self, fn: Callable[..., Any], args: tuple) -> None:
        """Run a request as the owner, then deliver what it queued (and wake the loop if it runs)."""
        if self._phase == "stopped":  # on the loop thread only the loop itself sets it, so it cannot change under us
            with self._lock:  # the loop has let go: the core belongs to whoever holds the lock
                fn(*args)
                self._flush()
            return
        fn(*args)  # on the loop thread: no lock, so a sink or listener may take its own locks freely
        self._flush()
        self._wake.set()

    def _flush(self) -> None:
        """Deliver what the core queued and start the encodes it asked for."""
        deliveries, encodes = self._core.take_outbox()
        for sink, encoded in deliveries:
            try:
                sink(encoded)
            except Exception:  # a broken view must not stop the stream for the others
                log.exception("semanticdraw: a frame sink failed")
        for request in encodes:
            self._encode(request)

    def _encode(self, request: EncodeRequest) -> None:
        if self._phase == "stopped" or self._loop is None:
            return  # stopped: nobody takes frames any more
        future = self._loop.run_in_executor(self._encode_pool, encode_image, request.frame.image, request.mime,
                                            self.jpeg_quality)
        self._encodes.add(future)
        future.add_done_callback(lambda done: self._encoded(request, done))

    def _encoded(self, request: EncodeRequest, done: asyncio.Future) -> None:
        self._encodes.discard(done)
        if done.cancelled():
            return
        if done.exception() is not None:  # an encoder failure must not kill the session; the next frame tries
            log.error("semanticdraw: could not encode a frame", exc_info=done.exception())
            return
        self._handle(self._core.encoded, (request, done.result()))

    # -- the loop ------------------------------------------------------------------------------------
    def _thread_main(self, loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._run(loop))
        finally:
            loop.close()

    async def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        core, wake = self._core, self._wake
        try:
            while True:
                with self._lock:
                    if self._phase == "stopping":  # decided under the lock: a start() now starts a new loop
                        self._phase = "stopped"
                        break
                if core.want_tick(time.monotonic()):
                    began = time.monotonic()
                    job = core.begin_tick()
                    try:
                        frame = await loop.run_in_executor(self._model_pool, run_tick_job, self.stream, job)
                    except Exception as error:  # any model failure: report, keep the picture, wait for an update
                        log.exception("semanticdraw: tick failed")
                        self._handle(core.tick_failed, (job, error, time.monotonic()))
                    else:
                        self._handle(core.tick_done, (job, frame, time.monotonic()))
                    pause = self.min_interval - (time.monotonic() - began)
                    if pause > 0:
                        await asyncio.sleep(pause)
                    continue
                self._arm_timer(loop, core.next_deadline(time.monotonic()))
                await wake.wait()
                wake.clear()
        finally:
            with self._lock:
                self._phase = "stopped"  # (also when leaving through an exception)
                if self._timer is not None:
                    self._timer.cancel()
                self._handle(core.stop, ())
            if self._encodes:  # let encodes under way land (they are milliseconds) and reach the sinks
                await asyncio.gather(*self._encodes, return_exceptions=True)
            # requests handed over before the phase changed still sit in the loop's queue: run them now
            await asyncio.sleep(0)
            # both pools are idle now (the loop leaves only between ticks, and the encodes have landed), so
            # waiting joins their threads at once: a stopped session leaves no thread behind
            self._model_pool.shutdown(wait=True)
            self._encode_pool.shutdown(wait=True)

    def _arm_timer(self, loop: asyncio.AbstractEventLoop, deadline: float | None) -> None:
        """One cancellable handle for the next settle, resend or ack timeout."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if deadline is not None:
            self._timer = loop.call_later(max(0.0, deadline - time.monotonic()), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._handle(self._core.timers_due, (time.monotonic(),))
