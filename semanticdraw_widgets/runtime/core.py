"""The Session's state machine: what to tick next, what to send to whom, when to settle.

``SessionCore`` holds ALL runtime state (the scene inbox, pending sampler settings, pause and single
steps, the status, the sinks and their flow control, the settle deadline, the waiters). It has no
thread, no event loop and no clock of its own: its one owner (the Session's loop thread) calls it with
the time, runs the model ticks and the encodes it asks for, and then hands out what it queued in its
outbox (frames to deliver, images to encode). Tests drive it by hand with a manual clock.

A tick job carries the newest scene and settings to the model thread; the Stream is touched only by
the job that runs there, one at a time, so the Stream itself needs no lock.
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from ..engine.stream import Frame, Stream
from ..engine.trace import Trace
from ..scene import Scene
from .flow import FlowControl

log = logging.getLogger(__name__)

STATES = ("stopped", "streaming", "idle", "paused", "error")


@dataclass(frozen=True)
class SessionStatus:
    state: str  # one of STATES
    tick: int  # model ticks run so far
    fps: float  # frames per second over the last second of streaming
    converged: bool
    error: str | None = None  # the last error, cleared by the next successful tick
    epoch: int = 0  # the session's stream generation (see EncodedFrame.epoch)
    steps: int = 0  # the sampler settings the stream runs now (refused ones never show here)
    guidance_scale: float = 0.0
    notice: str | None = None  # a viewer's note (say, why its last input was refused), see ``annotate``
    warning: str | None = None  # a viewer's warning (say, a brush without a prompt), see ``annotate``


@dataclass(frozen=True)
class EncodedFrame:
    """One frame as it goes over the wire."""

    epoch: int  # unique per Session, so a view can tell a restarted stream from old frames
    seq: int  # increases by one per frame the session encodes, from 1
    data: bytes
    mime: str  # "image/jpeg" while streaming and for the finished picture, "image/png" once settled
    width: int
    height: int
    settled: bool
    frame: Frame


FrameSink = Callable[[EncodedFrame], None]


@dataclass(frozen=True)
class EncodeRequest:
    frame: Frame
    mime: str


@dataclass
class TickJob:
    """What one model tick applies before it ticks (runs on the model thread, see ``run_tick_job``)."""

    scene: Scene | None
    settings: dict[str, Any]
    replies: list[concurrent.futures.Future]  # reconfigure() callers, told once the settings applied or failed
    settings_error: Exception | None = None
    # filled on the model thread, the only one that touches the Stream, for the owner to read afterwards:
    applied: tuple[int, float] | None = None  # (steps, guidance_scale) the stream runs after the job
    trace: Trace | None = None  # the stream's newest finished trace


def run_tick_job(stream: Stream, job: TickJob) -> Frame:
    """Apply the job's settings (all or nothing) and scene, then tick once."""
    if job.settings:
        try:
            stream.reconfigure(**job.settings)
        except Exception as error:  # refused settings: the stream keeps its last good ones
            job.settings_error = error
    if job.scene is not None:
        stream.update(job.scene)
    frame = stream.tick()
    job.applied = (stream.steps, stream.options.guidance_scale)
    job.trace = stream.last_trace() if stream.trace_ticks else None
    return frame


@dataclass
class _Sink:
    sink: FrameSink
    flow: FlowControl[EncodedFrame]
    next_resend: float = float("-inf")  # when a resend of the newest frame may go again
    resend_due: bool = False  # a resend asked for sooner than that, to go then (hellos coalesce)


def _resolve(future: concurrent.futures.Future, result: Any = None, error: BaseException | None = None) -> None:
    if future.done():  # cancelled or timed out by its caller
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


@dataclass
class SessionCore:
    """All runtime state of a Session, changed only by its owner's calls (see the module docstring)."""

    stream: Stream
    epoch: int
    max_in_flight: int = 2
    ack_timeout: float = 2.0
    settle_delay: float = 0.3
    resend_interval: float = 1.0  # at most one resend of the newest frame per sink this often
    status: SessionStatus = field(init=False)
    frame: Frame | None = field(default=None, init=False)  # the newest frame
    latest: EncodedFrame | None = field(default=None, init=False)  # the newest encoded frame
    listeners: list[Callable[[SessionStatus], None]] = field(default_factory=list, init=False)
    trace: Trace | None = field(default=None, init=False)  # of the newest finished frame (when tracing)

    def __post_init__(self) -> None:
        self.status = SessionStatus(state="stopped", tick=0, fps=0.0, converged=False, epoch=self.epoch,
                                    steps=self.stream.steps, guidance_scale=self.stream.options.guidance_scale)
        self._running = False
        self._ticking = False
        self._paused = False
        self._failed = False
        self._retry_at: float | None = None  # a transient failure (error.retry_after) is retried by itself then
        self._single_steps = 0
        self._inbox: Scene | None = None
        self._resync = False  # see start()
        self._settings: dict[str, Any] = {}
        self._setting_replies: list[concurrent.futures.Future] = []
        self._sinks: dict[int, _Sink] = {}
        self._next_sink_id = 1
        self._seq = 0
        self._settle_at: float | None = None
        self._settled_frame: Frame | None = None  # the frame whose lossless PNG was asked for
        self._tick_times: deque[float] = deque()
        self._frame_waiters: list[concurrent.futures.Future] = []
        self._settled_waiters: list[concurrent.futures.Future] = []
        self.outbox_deliveries: list[tuple[FrameSink, EncodedFrame]] = []
        self.outbox_encodes: list[EncodeRequest] = []

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> None:
        self._running = True
        # A tick that landed while stopped was dropped (tick_done), though the stream moved on: one more tick
        # hands back the stream's newest frame (no model call when it is idle), so nothing waits on a lost frame.
        self._resync = True
        self._refresh_status()

    def stop(self) -> None:
        self._running = False
        self._settle_at = None
        stopped = RuntimeError("the session stopped before the frame came: call start() again")
        for waiter in self._frame_waiters + self._settled_waiters:
            _resolve(waiter, error=stopped)
        self._frame_waiters, self._settled_waiters = [], []
        self._refresh_status()

    # -- requests -------------------------------------------------------------------------------------
    def update(self, scene: Scene) -> None:
        """The newest scene wins; a scene whose tick failed is tried again (even the same object)."""
        self._inbox = scene
        self._failed = False
        self._settle_at = None
        self._refresh_status()

    def reconfigure(self, settings: dict[str, Any], reply: concurrent.futures.Future) -> None:
        self._settings.update(settings)
        self._setting_replies.append(reply)
        self._failed = False
        self._settle_at = None
        self._refresh_status()

    def pause(self) -> None:
        self._paused = True
        self._refresh_status()

    def resume(self) -> None:
        self._paused = False
        self._refresh_status()

    def step(self) -> None:
        """One tick while paused (for step-by-step teaching)."""
        self._single_steps += 1
        self._failed = False

    def annotate(self, notice: str | None, warning: str | None) -> None:
        """A viewer's own note and warning, reported in the status beside the stream's state."""
        self._refresh_status(notice=notice, warning=warning)

    def resend(self, sink_id: int, shown: tuple[int, int] | None, now: float) -> None:
        """Offer the newest frame again to a view that does not show it (a hello from a re-rendered view).

        At most once per ``resend_interval`` per sink: a request sooner waits for the interval's end, and
        any number of requests meanwhile make one resend (1,000 hellos are not 1,000 frames).
        """
        state = self._sinks.get(sink_id)
        latest = self.latest
        if state is None or latest is None or not self._running:
            return
        if shown is not None and shown[0] == latest.epoch and shown[1] >= latest.seq:
            return  # it shows the newest already (a heartbeat)
        if now < state.next_resend:
            state.resend_due = True
            return
        state.next_resend = now + self.resend_interval
        state.resend_due = False
        self._offer(state, latest)

    def add_sink(self, sink: FrameSink, window: int | None, now: float) -> int:
        """Register a frame consumer; it gets the current picture at once (if it is encoded yet)."""
        sink_id = self._next_sink_id
        self._next_sink_id += 1
        state = _Sink(sink, FlowControl(window or self.max_in_flight, self.ack_timeout, last_ack=now))
        self._sinks[sink_id] = state
        # Only a picture of the newest frame: when a newer frame's encode is under way, it comes to every
        # sink, this one included, as soon as it is ready.
        if self.latest is not None and self.latest.frame is self.frame:
            self._offer(state, self.latest)
        return sink_id

    def remove_sink(self, sink_id: int) -> None:
        self._sinks.pop(sink_id, None)

    def ack(self, sink_id: int, seq: int, now: float) -> None:
        state = self._sinks.get(sink_id)
        if state is None:
            return
        released = state.flow.ack(seq, now)
        if released is not None:
            self.outbox_deliveries.append((state.sink, released))

    def add_frame_waiter(self, waiter: concurrent.futures.Future) -> None:
        if not self._running:
            _resolve(waiter, error=RuntimeError("the session is not running: call start() first"))
        else:
            self._frame_waiters.append(waiter)

    def add_settled_waiter(self, waiter: concurrent.futures.Future) -> None:
        """Resolved with the finished picture of the newest scene (at once when it is already showing)."""
        if not self._running:
            _resolve(waiter, error=RuntimeError("the session is not running: call start() first"))
        elif self._failed:
            _resolve(waiter, error=RuntimeError(f"the stream failed: {self.status.error}; update the scene "
                                                f"or the settings to try again"))
        elif self._finished():
            _resolve(waiter, self.frame)
        else:
            self._settled_waiters.append(waiter)

    # -- ticking ----------------------------------------------------------------------------------------
    @property
    def idle(self) -> bool:
        """Nothing left to compute: the newest scene and settings are applied and their picture is complete."""
        return (not self._ticking and not self._resync and self._inbox is None and not self._settings
                and self.stream.idle)

    def want_tick(self, now: float) -> bool:
        if not self._running or self._ticking or self._failed:
            return False
        if self._single_steps:
            return True
        if self._paused or self.idle:
            return False
        # Backpressure: while every view's ack window is full, a new frame would only be dropped, so
        # wait for an ack instead of spending CPU (often shared with the browser) on it.
        return not self._sinks or not all(s.flow.saturated(now) for s in self._sinks.values())

    def begin_tick(self) -> TickJob:
        job = TickJob(scene=self._inbox, settings=self._settings, replies=self._setting_replies)
        self._inbox, self._settings, self._setting_replies = None, {}, []
        self._resync = False
        self._single_steps = max(0, self._single_steps - 1)
        self._ticking = True
        return job

    def tick_done(self, job: TickJob, frame: Frame, now: float) -> None:
        self._ticking = False
        self._answer_settings(job)
        if not self._running:
            return
        new = frame is not self.frame  # an idle stream hands back its last frame
        self.frame = frame
        if job.trace is not None:
            self.trace = job.trace
        applied = {"steps": job.applied[0], "guidance_scale": job.applied[1]} if job.applied else {}
        error = f"{type(job.settings_error).__name__}: {job.settings_error}" if job.settings_error else None
        if new:
            self._tick_times.append(now)
            while now - self._tick_times[0] > 1.0:
                self._tick_times.popleft()
            self.outbox_encodes.append(EncodeRequest(frame, "image/jpeg"))
            for waiter in self._frame_waiters:
                _resolve(waiter, frame)
            self._frame_waiters = []
        finished = self._finished()
        self._settle_at = now + self.settle_delay if finished and self._settled_frame is not frame else None
        self._refresh_status(error=error, **applied)  # before the settled waiters: who awaits it sees it too
        if finished:
            for waiter in self._settled_waiters:
                _resolve(waiter, frame)
            self._settled_waiters = []

    def tick_failed(self, job: TickJob, error: Exception, now: float) -> None:
        self._ticking = False
        self._answer_settings(job)
        if not self._running:
            return
        # A scene the user sent while the failing tick ran is newer than the one that failed: try it at once
        # (without this it waited for yet another edit).
        self._failed = self._inbox is None
        if job.scene is not None and self._inbox is None:
            self._inbox = job.scene  # a tick that failed before its scene applied must not lose the scene
        # An error that knows when trying again makes sense (a shared engine that is away: serve/client.py)
        # is retried then without an update; any other waits for the next update, as before.
        retry = getattr(error, "retry_after", None)
        self._retry_at = now + float(retry) if isinstance(retry, (int, float)) and retry >= 0 else None
        message = f"{type(error).__name__}: {error}"
        self._refresh_status(error=message)
        failed = RuntimeError(f"the stream failed: {message}; update the scene or the settings to try again")
        for waiter in self._settled_waiters:
            _resolve(waiter, error=failed)
        self._settled_waiters = []

    # -- timers and encodes ----------------------------------------------------------------------------
    def next_deadline(self, now: float) -> float | None:
        """When the owner should call ``timers_due``: the settle, or a silent view's ack timeout."""
        deadlines = [self._settle_at] if self._settle_at is not None else []
        deadlines += [s.next_resend for s in self._sinks.values() if s.resend_due]
        if self._failed and self._retry_at is not None:
            deadlines.append(self._retry_at)
        if self._running and not self.idle and self._sinks:
            deadlines += [s.flow.saturation_ends() for s in self._sinks.values() if s.flow.saturated(now)]
        return min(deadlines, default=None)

    def timers_due(self, now: float) -> None:
        for sink_id, state in list(self._sinks.items()):
            if state.resend_due and now >= state.next_resend:
                self.resend(sink_id, None, now)
        if self._failed and self._retry_at is not None and now >= self._retry_at:
            self._retry_at, self._failed = None, False  # the status keeps the error text until a tick succeeds
            self._refresh_status()
        if self._settle_at is None or now < self._settle_at:
            return  # (an ack timeout needs no action: want_tick sees it)
        self._settle_at = None
        if self._running and self._finished() and self._settled_frame is not self.frame:
            self._settled_frame = self.frame
            self.outbox_encodes.append(EncodeRequest(self.frame, "image/png"))

    def encoded(self, request: EncodeRequest, data: bytes) -> None:
        """An encode came back: number it and offer it to every sink (newest wins per sink)."""
        self._seq += 1
        image = request.frame.image
        encoded = EncodedFrame(epoch=self.epoch, seq=self._seq, data=data, mime=request.mime, width=image.width,
                               height=image.height, settled=request.mime == "image/png", frame=request.frame)
        self.latest = encoded
        for state in self._sinks.values():
            self._offer(state, encoded)

    def take_outbox(self) -> tuple[list[tuple[FrameSink, EncodedFrame]], list[EncodeRequest]]:
        deliveries, encodes = self.outbox_deliveries, self.outbox_encodes
        self.outbox_deliveries, self.outbox_encodes = [], []
        return deliveries, encodes

    # -- helpers ---------------------------------------------------------------------------------------
    def _finished(self) -> bool:
        return self.frame is not None and self.frame.converged and self.idle

    def _offer(self, state: _Sink, encoded: EncodedFrame) -> None:
        if state.flow.offer(encoded) is not None:
            self.outbox_deliveries.append((state.sink, encoded))

    def _answer_settings(self, job: TickJob) -> None:
        for reply in job.replies:
            _resolve(reply, error=job.settings_error)

    def _refresh_status(self, **changes: Any) -> None:
        """Derive the state from the facts, so the status can never disagree with them."""
        if not self._running:
            state = "stopped"
        elif self._paused:
            state = "paused"
        elif self._failed:
            state = "error"
        elif self._finished():
            state = "idle"
        else:
            state = "streaming"
        frame = self.frame
        streaming = state == "streaming" and len(self._tick_times) > 1
        fps = (len(self._tick_times) - 1) / max(self._tick_times[-1] - self._tick_times[0], 1e-3) if streaming else 0.0
        status = replace(self.status, state=state, converged=bool(frame and frame.converged and self.idle),
                         tick=frame.index if frame is not None else self.status.tick, fps=round(fps, 1),
                         **changes)
        if status == self.status:
            return
        self.status = status
        for listener in list(self.listeners):
            try:
                listener(status)
            except Exception:  # listeners are UI code; their failure must not stop the stream
                log.exception("semanticdraw: a status listener failed")
