"""The link between a canvas and the Session that streams for it.

Everything here runs in the Session's owner thread (the loop thread while it runs; see
``runtime/session.py``): the sink sends every frame and keeps the snapshot trait, the status listener
writes the status trait. So frames leave from one place, and the status is only ever the core's.
"""

from __future__ import annotations

import time
from typing import Any

from ..runtime.session import EncodedFrame, Session, SessionStatus
from .canvas_status import status_value
from .protocol import build_message

SNAPSHOT_INTERVAL = 1.0  # seconds between snapshot trait updates while streaming
STATUS_INTERVAL = 0.25  # seconds between status updates that only move the counters
_COUNTERS = ("fps", "tick")


class StreamLink:
    """One Session's frames and status, relayed to one canvas."""

    def __init__(self, canvas: Any, session: Session, max_in_flight: int) -> None:
        self.canvas = canvas
        self.session = session
        self._last_snapshot = float("-inf")
        self._last_status = float("-inf")
        session.add_status_listener(self.show_status)
        self.sink_id = session.add_sink(self.send_frame, max_in_flight)

    def send_frame(self, encoded: EncodedFrame) -> None:
        message = build_message("frame", epoch=encoded.epoch, seq=encoded.seq, mime=encoded.mime,
                                width=encoded.width, height=encoded.height, settled=encoded.settled,
                                tick=encoded.frame.index, step=encoded.frame.step)
        self.canvas.send(message, buffers=[encoded.data])
        now = time.monotonic()
        if encoded.settled or now - self._last_snapshot >= SNAPSHOT_INTERVAL:
            self._last_snapshot = now
            with self.canvas.hold_sync():
                self.canvas.set_trait("snapshot_mime", encoded.mime)
                self.canvas.set_trait("snapshot", encoded.data)

    def show_status(self, status: SessionStatus) -> None:
        # State, error and warning changes sync at once; the counters at most STATUS_INTERVAL apart, so a fast
        # stream does not add a comm message per frame.
        value = status_value(status)
        now = time.monotonic()
        current = self.canvas.status
        same = all(value[key] == current.get(key) for key in value if key not in _COUNTERS)
        if same and now - self._last_status < STATUS_INTERVAL:
            return
        self._last_status = now
        self.canvas.set_trait("status", value)

    def close(self) -> None:
        """Stop the stream and let go of the canvas (the Session keeps no reference to it afterwards)."""
        self.session.stop()
        self.session.remove_sink(self.sink_id)
        self.session.remove_status_listener(self.show_status)
