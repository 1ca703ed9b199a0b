"""Ack-based flow control for one frame sink: jupyter_rfb's frame feedback as a small pure object.

A sink may hold at most ``window`` frames it has not acknowledged. Acks are cumulative: acknowledging
seq n acknowledges every frame up to n. A frame offered while the window is full waits, and a newer
offer replaces it (newest wins, nothing queues up). A sink silent for ``ack_timeout`` seconds no longer
counts as saturated, so one closed browser tab cannot stall the stream for everyone else.

Time is passed in (``now``), so tests drive it with a manual clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar


class Sequenced(Protocol):
    @property
    def seq(self) -> int: ...


F = TypeVar("F", bound=Sequenced)


@dataclass
class FlowControl(Generic[F]):
    window: int
    ack_timeout: float
    last_ack: float  # when the sink last acknowledged (or was added)
    sent: int = 0  # frames handed to the sink
    unacked: list[int] = field(default_factory=list)  # their seqs, oldest first, not yet acknowledged
    waiting: F | None = None  # the newest frame held back while the window is full

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ValueError(f"the ack window must be at least 1 frame, got {self.window}")

    @property
    def in_flight(self) -> int:
        return len(self.unacked)

    def offer(self, frame: F) -> F | None:
        """The frame to send now, or None when it must wait for an ack (it replaces any waiting one)."""
        if self.in_flight >= self.window:
            self.waiting = frame
            return None
        return self._send(frame)

    def ack(self, seq: int, now: float) -> F | None:
        """Record a cumulative ack; returns the waiting frame when it may go now."""
        self.unacked = [s for s in self.unacked if s > seq]
        self.last_ack = now
        if self.waiting is not None and self.in_flight < self.window:
            frame, self.waiting = self.waiting, None
            return self._send(frame)
        return None

    def saturated(self, now: float) -> bool:
        """Full window and still acknowledging: a new frame could not be shown, so don't render one."""
        return self.in_flight >= self.window and now - self.last_ack < self.ack_timeout

    def saturation_ends(self) -> float:
        """When a saturated sink stops counting as such unless it acknowledges first."""
        return self.last_ack + self.ack_timeout

    def _send(self, frame: F) -> F:
        self.unacked.append(frame.seq)
        self.sent += 1
        return frame
