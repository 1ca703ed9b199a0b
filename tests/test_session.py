"""Session runtime with its real thread: requests from any thread, lifecycle, async helpers.

No sleeps and no timing bounds: every wait is on an explicit event or future (the generous timeouts
only keep a broken build from hanging CI). The state machine itself is tested by hand in
test_session_core.py.
"""

import asyncio
import concurrent.futures
import threading

import numpy as np
import pytest

import semanticdraw_widgets as sdw
from helpers import rect_mask
from semanticdraw_widgets.backends.toy import ToyBackend

SIZE = 64
HANG_GUARD = 120  # seconds; only a hung build ever waits this long


def scene(prompt="red", seed=0):
    return sdw.Scene(width=SIZE, height=SIZE, seed=seed, background=sdw.Background(prompt="white"),
                     regions=[sdw.Region(prompt=prompt, mask=rect_mask(SIZE, SIZE, 0, 0, 32, 32))])


def settle(session):
    return asyncio.run(session.settled(timeout=HANG_GUARD))


def session_threads():
    return [t for t in threading.enumerate() if t.name == "semanticdraw-session" and t.is_alive()]


def test_start_returns_at_once_and_the_stream_settles_on_generate(toy):
    session = sdw.Session(toy, scene(), steps=3)
    session.start()
    assert session.running
    try:
        frame = settle(session)
        assert session.status.state == "idle" and session.status.converged and session.status.error is None
        assert np.array_equal(np.asarray(frame.image), np.asarray(sdw.generate(toy, scene(), steps=3)))
    finally:
        session.stop()
    assert not session.running and session.status.state == "stopped"


def test_updates_from_another_thread_are_reflected(toy):
    with sdw.Session(toy, scene(), steps=3) as session:
        settle(session)
        worker = threading.Thread(target=session.update, args=(scene("blue"),))
        worker.start()
        worker.join(HANG_GUARD)
        frame = settle(session)
        assert frame.scene == scene("blue")
        assert np.array_equal(np.asarray(frame.image), np.asarray(sdw.generate(toy, scene("blue"), steps=3)))


def test_sinks_get_frames_from_the_session_thread_and_acks_release_them(toy):
    arrived = []
    threads = set()
    got_frame = threading.Event()

    def sink(encoded):
        threads.add(threading.current_thread().name)
        arrived.append(encoded)
        got_frame.set()

    with sdw.Session(toy, scene(), steps=3, max_in_flight=1) as session:
        sink_id = session.add_sink(sink)
        assert got_frame.wait(HANG_GUARD)
        while not (arrived[-1].settled):
            got_frame.clear()
            session.ack(sink_id, arrived[-1].seq, epoch=session.epoch)
            assert got_frame.wait(HANG_GUARD)
        assert threads == {"semanticdraw-session"}, "sinks are called from the loop thread only"
        assert [f.seq for f in arrived] == sorted(f.seq for f in arrived)
        assert {f.epoch for f in arrived} == {session.epoch}
        assert arrived[-1].mime == "image/png" and arrived[-1].frame.converged


def test_epochs_differ_between_sessions(toy):
    # that a stale ack releases nothing is checked exactly in test_rules_runtime.py
    first, second = sdw.Session(toy, scene()), sdw.Session(toy, scene())
    assert first.epoch != second.epoch


def test_async_helpers_work_from_a_foreign_event_loop(toy):
    session = sdw.Session(toy, scene(), steps=3)

    async def collect():
        frames = []
        async for frame in session.frames():
            frames.append(frame)
            if len(frames) == 1:  # on a loaded machine the stream may be idle already: give it work to show
                session.update(scene().with_(seed=1))
            if len(frames) == 2:
                return frames

    session.start()
    try:
        frames = asyncio.run(asyncio.wait_for(collect(), HANG_GUARD))
        assert frames[1].index > frames[0].index
    finally:
        session.stop()


def test_reconfigure_changes_steps_without_a_new_thread(toy):
    with sdw.Session(toy, scene(), steps=2) as session:
        settle(session)
        thread = session._thread
        assert session.reconfigure(steps=3, guidance_scale=1.0).result(HANG_GUARD) is None
        frame = settle(session)
        assert session._thread is thread and frame.step == 3
        assert np.array_equal(np.asarray(frame.image), np.asarray(sdw.generate(toy, scene(), steps=3)))
        for bad, message in (({"steps": 0}, "steps must be"), ({"guidance_scale": float("nan")}, "guidance_scale"),
                             ({"steps": "4"}, "steps must be"), ({"mask_mode": "fuzzy"}, "mask_mode"),
                             ({"sampler": "dpm"}, "unknown sampler settings")):
            with pytest.raises(ValueError, match=message):
                session.reconfigure(**bad)
        assert session.reconfigure(steps=np.int64(2)).result(HANG_GUARD) is None, "numpy numbers are numbers"


def test_stop_from_a_listener_and_from_a_sink_ends_the_loop(toy):
    for hook in ("listener", "sink"):
        session = sdw.Session(toy, scene(), steps=2)
        stopped_from_inside = threading.Event()

        def stop_now(*_):
            session.stop()
            stopped_from_inside.set()

        if hook == "listener":
            session.add_status_listener(lambda status: status.state == "idle" and stop_now())
        else:
            session.add_sink(stop_now)
        session.start()
        assert stopped_from_inside.wait(HANG_GUARD)
        session._thread.join(HANG_GUARD)
        assert not session.running and session.status.state == "stopped"


def test_fast_start_update_stop_cycles_leave_one_loop_and_no_thread_errors(toy):
    errors = []
    previous_hook = threading.excepthook
    threading.excepthook = lambda args: errors.append(args)
    session = sdw.Session(toy, scene(), steps=2)
    try:
        for i in range(20):
            session.start()
            session.update(scene("blue" if i % 2 else "red"))
            session.stop(timeout=0.01)
            assert session.status.state == "stopped" and not session.running
            session.start()
            assert len([t for t in session_threads() if t is session._thread]) == 1
        frame = settle(session)
        assert frame.converged and session.status.state == "idle"
    finally:
        session.stop()
        threading.excepthook = previous_hook
    assert errors == []
    assert session.status.state == "stopped"


class FailingToy(ToyBackend):
    def encode_prompts(self, prompts):
        if any("explode" in p for p in prompts):
            raise RuntimeError("CUDA out of memory (simulated)")
        return super().encode_prompts(prompts)


def test_a_failing_update_reports_an_error_keeps_the_picture_and_recovers():
    session = sdw.Session(FailingToy(), scene(), steps=2)
    with session:
        good = settle(session)
        session.update(scene("explode"))
        with pytest.raises(RuntimeError, match="out of memory"):
            settle(session)
        assert session.status.state == "error" and "out of memory" in session.status.error
        assert session.frame is good
        session.update(scene("green"))
        assert settle(session).scene == scene("green") and session.status.error is None


def test_bad_options_are_refused_with_their_name(toy):
    for options, message in (({"max_in_flight": 0}, "max_in_flight"), ({"jpeg_quality": 101}, "jpeg_quality"),
                             ({"max_fps": -1}, "max_fps"), ({"ack_timeout": float("nan")}, "ack_timeout"),
                             ({"settle_delay": -0.1}, "settle_delay")):
        with pytest.raises(ValueError, match=message):
            sdw.Session(toy, scene(), **options)
    session = sdw.Session(toy, scene())
    with pytest.raises(TypeError, match="must be callable"):
        session.add_sink(42)
    with pytest.raises(TypeError, match="needs a semanticdraw_widgets.Scene"):
        session.update("a red apple")
    with pytest.raises(RuntimeError, match="not running"):
        settle(session)


def test_a_stopped_session_leaves_no_thread_and_a_restart_starts_a_fresh_loop(toy):
    before = {t for t in threading.enumerate() if t.name.startswith("semanticdraw-")}
    session = sdw.Session(toy, scene(), steps=2)
    for _ in range(3):
        session.start()
        settle(session)
        first_thread = session._thread
        session.stop()
        assert not session.running and session.status.state == "stopped"
        assert {t for t in threading.enumerate() if t.name.startswith("semanticdraw-")} <= before, \
            "the loop, model and encode threads are all joined"
    session.start()
    try:
        assert session._thread is not first_thread and session.running
        session.update(scene("blue"))  # requests reach the new loop
        assert settle(session).scene == scene("blue")
    finally:
        session.stop()
