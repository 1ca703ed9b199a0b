"""Session runtime: daemon-thread loop, latest-wins inbox, flow-controlled sinks, errors that don't kill it."""

import asyncio
import io
import threading
import time

import numpy as np
import pytest
from PIL import Image

import semanticdraw_widgets as sdw
from helpers import rect_mask
from semanticdraw_widgets.backends.toy import ToyBackend

SIZE = 64


def scene(prompt="red", seed=0):
    return sdw.Scene(width=SIZE, height=SIZE, seed=seed, background=sdw.Background(prompt="white"),
                     regions=[sdw.Region(prompt=prompt, mask=rect_mask(SIZE, SIZE, 0, 0, 32, 32))])


class RecordingSink:
    def __init__(self):
        self.frames = []
        self.arrived = threading.Event()

    def __call__(self, encoded):
        self.frames.append(encoded)
        self.arrived.set()


def wait_for(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


def test_start_returns_at_once_and_the_stream_settles(toy):
    session = sdw.Session(toy, scene(), steps=3)
    started = time.monotonic()
    session.start()
    assert time.monotonic() - started < 5 and session.running
    try:
        frame = session.wait_frame(timeout=20)
        assert frame.image.size == (SIZE, SIZE)
        wait_for(lambda: session.status.state == "idle")
        assert session.status.converged and session.status.error is None
        assert np.array_equal(np.asarray(session.frame.image), np.asarray(sdw.generate(toy, scene(), steps=3)))
    finally:
        session.stop()
    assert not session.running and session.status.state == "stopped"


def test_sinks_get_jpeg_while_streaming_then_one_settled_png_with_at_most_n_in_flight():
    backend = ToyBackend()
    sink = RecordingSink()
    with sdw.Session(backend, scene(), steps=4, max_in_flight=2) as session:
        sink_id = session.add_sink(sink)
        wait_for(lambda: len(sink.frames) >= 2)
        time.sleep(0.3)
        assert len(sink.frames) == 2, "no ack yet: never more than 2 frames in flight"
        for _ in range(20):  # ack everything as a browser would, until the settled frame arrives
            session.ack(sink_id, sink.frames[-1].seq)
            if sink.frames[-1].settled:
                break
            time.sleep(0.05)
        wait_for(lambda: sink.frames[-1].settled)
        last = sink.frames[-1]
        assert last.mime == "image/png"
        assert Image.open(io.BytesIO(last.data)).size == (SIZE, SIZE)
        assert all(f.mime == "image/jpeg" for f in sink.frames[:-1])
        seqs = [f.seq for f in sink.frames]
        assert seqs == sorted(seqs)
        calls = backend.model_calls
        time.sleep(0.3)
        assert backend.model_calls == calls, "idle: no model calls without a change"


def test_a_late_sink_gets_the_current_picture(toy):
    with sdw.Session(toy, scene(), steps=2) as session:
        wait_for(lambda: session.status.state == "idle")
        sink = RecordingSink()
        session.add_sink(sink)
        assert sink.arrived.wait(5) and sink.frames[0].frame.converged
        wait_for(lambda: sink.frames[-1].settled)  # and the lossless picture once the settle delay has passed


def test_the_lossless_picture_waits_for_a_quiet_moment(toy):
    """While edits keep coming, finished pictures go as JPEG; the PNG follows only after settle_delay of quiet."""
    sink = RecordingSink()
    with sdw.Session(toy, scene(), steps=2, settle_delay=1.0, max_in_flight=100) as session:
        session.add_sink(sink)
        for colour in ("blue", "green", "red", "blue"):  # every picture finishes within the 0.2 s between edits
            time.sleep(0.2)
            session.update(scene(colour))
        wait_for(lambda: session.frame.converged and session.frame.scene.regions[0].prompt == "blue")
        converged_at = time.monotonic()
        assert any(f.frame.converged for f in sink.frames[:-1]), "finished pictures were sent (as JPEG)"
        assert not any(f.settled for f in sink.frames), "no PNG while edits keep coming"
        wait_for(lambda: sink.frames[-1].settled)
        assert time.monotonic() - converged_at > 0.5
        last = sink.frames[-1]
        assert last.mime == "image/png" and last.frame.scene.regions[0].prompt == "blue"
        assert sum(f.settled for f in sink.frames) == 1


def test_updates_from_another_thread_are_reflected(toy):
    with sdw.Session(toy, scene(), steps=3) as session:
        wait_for(lambda: session.status.state == "idle")
        threading.Thread(target=session.update, args=(scene("blue"),)).start()
        wait_for(lambda: session.frame.scene.regions[0].prompt == "blue" and session.frame.converged)
        expected = sdw.generate(toy, scene("blue"), steps=3)
        assert np.array_equal(np.asarray(session.frame.image), np.asarray(expected))


def test_async_helpers_work_from_a_foreign_event_loop(toy):
    session = sdw.Session(toy, scene(), steps=3)

    async def collect():
        frames = []
        async for frame in session.frames():
            frames.append(frame)
            if len(frames) == 2:
                return frames

    session.start()
    try:
        frames = asyncio.run(asyncio.wait_for(collect(), 20))
        assert frames[1].index > frames[0].index
    finally:
        session.stop()


def test_pause_and_single_step(toy):
    backend = ToyBackend()
    session = sdw.Session(backend, scene(), steps=4)
    session.pause()
    session.start()
    try:
        time.sleep(0.3)
        assert backend.model_calls == 0 and session.status.state == "paused"
        session.step()
        wait_for(lambda: backend.model_calls == 1)
        time.sleep(0.2)
        assert backend.model_calls == 1
        session.resume()
        wait_for(lambda: session.status.state == "idle")
    finally:
        session.stop()


class FailingToy(ToyBackend):
    """Fails whenever a prompt mentions 'explode', as an out-of-memory error would."""

    def encode_prompts(self, prompts):
        if any("explode" in p for p in prompts):
            raise RuntimeError("CUDA out of memory (simulated)")
        return super().encode_prompts(prompts)


def test_a_failing_update_reports_an_error_keeps_the_picture_and_recovers():
    session = sdw.Session(FailingToy(), scene(), steps=2)
    with session:
        wait_for(lambda: session.status.state == "idle")
        good = session.frame
        session.update(scene("explode"))
        wait_for(lambda: session.status.state == "error")
        assert "out of memory" in session.status.error
        assert session.frame is good
        session.update(scene("green"))
        wait_for(lambda: session.status.state == "idle" and session.frame.scene == scene("green"))
        assert session.status.error is None


def test_status_listeners_and_bad_arguments(toy):
    seen = []
    with pytest.raises(ValueError, match="max_in_flight must be at least 1"):
        sdw.Session(toy, scene(), max_in_flight=0)
    with sdw.Session(toy, scene(), steps=2) as session:
        session.add_status_listener(lambda status: seen.append(status.state))
        wait_for(lambda: "idle" in seen)


def test_backpressure_waits_for_acks_instead_of_rendering_frames_nobody_can_show():
    backend = ToyBackend()
    sink = RecordingSink()
    with sdw.Session(backend, scene(), steps=8, max_in_flight=1, ack_timeout=30) as session:
        sink_id = session.add_sink(sink)
        wait_for(lambda: len(sink.frames) == 1)

        def calls_settle():  # the stream stops ticking: no change over 0.3 s
            before = backend.model_calls
            time.sleep(0.3)
            return backend.model_calls == before

        wait_for(calls_settle)
        stalled = backend.model_calls
        assert stalled < 8 and not session.stream.idle, "unfinished, yet waiting for the only view's ack"
        time.sleep(0.3)
        assert backend.model_calls == stalled and len(sink.frames) == 1
        session.ack(sink_id, sink.frames[-1].seq)
        wait_for(lambda: backend.model_calls > stalled)

        def acked_frames(count):  # a view that keeps acknowledging keeps the stream going
            session.ack(sink_id, sink.frames[-1].seq)
            return len(sink.frames) >= count

        wait_for(lambda: acked_frames(3))
        session.update(scene("blue"))
        wait_for(lambda: acked_frames(5))


def test_a_silent_view_is_not_waited_for_after_the_ack_timeout():
    backend = ToyBackend()
    with sdw.Session(backend, scene(), steps=4, max_in_flight=1, ack_timeout=0.2) as session:
        session.add_sink(lambda frame: None)  # never acknowledges
        wait_for(lambda: session.status.state == "idle")


def test_settled_returns_the_finished_picture_at_once_when_idle(toy):
    with sdw.Session(toy, scene(), steps=3) as session:
        first = asyncio.run(session.settled(timeout=20))
        assert first.converged
        started = time.monotonic()
        again = asyncio.run(session.settled(timeout=20))  # idle: no new frame is coming, and none is needed
        assert again is first and time.monotonic() - started < 1
        session.update(scene("blue"))
        after_edit = asyncio.run(session.settled(timeout=20))
        assert after_edit.converged and after_edit.scene == scene("blue")
