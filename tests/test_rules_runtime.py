"""Runtime and widget rules that a mutant once removed with the suite still green (issue 15).

Each test names the deliberate breakage it was checked against. No sleeps: "nothing happened" is
observed after a barrier request that the session's loop handles after the one under test (its
requests run in order, and a released frame is handed to its sink within the request that released
it), so the check is exact, not a race.
"""

import asyncio
import math
import threading
import tracemalloc
import zlib

import numpy as np
import pytest

import semanticdraw_widgets as sdw
from helpers import rect_mask
from semanticdraw_widgets.widgets.protocol import GUIDANCE_LIMITS, ProtocolError, decode_labels

SIZE = 64
HANG_GUARD = 120  # seconds; only a hung build ever waits this long


def scene():
    return sdw.Scene(width=SIZE, height=SIZE, seed=0, background=sdw.Background(prompt="white"),
                     regions=[sdw.Region(prompt="red", mask=rect_mask(SIZE, SIZE, 0, 0, 32, 32))])


def barrier(session):
    """Returns once the loop has handled every request made before it (the stream is idle)."""
    asyncio.run(session.settled(timeout=HANG_GUARD))


# -- stale acks ----------------------------------------------------------------------------------------
def test_an_ack_naming_another_epoch_releases_no_frame(toy):
    """Broken by deleting the epoch check in Session.ack: the stale ack then releases the waiting frame."""
    old_epoch = sdw.Session(toy, scene()).epoch  # another stream's epoch (never started)
    session = sdw.Session(toy, scene(), steps=2, settle_delay=0.0, ack_timeout=HANG_GUARD)
    assert session.epoch != old_epoch
    held, seen = [], []
    finished = threading.Event()

    def eager(encoded):  # a view that acks at once, so the stream never waits for `held`'s view
        seen.append(encoded)
        session.ack(eager_id, encoded.seq, epoch=encoded.epoch)
        if encoded.settled:
            finished.set()

    held_id = session.add_sink(held.append, max_in_flight=1)  # never acks by itself: one frame, then it waits
    eager_id = session.add_sink(eager, max_in_flight=8)
    with session:
        assert finished.wait(HANG_GUARD)
        assert len(held) == 1 and not held[0].settled, "one frame out; the settled one waits for an ack"
        session.ack(held_id, 10**6, epoch=old_epoch)
        barrier(session)
        assert len(held) == 1, "an ack naming an old epoch released a frame of this one"
        session.ack(held_id, held[0].seq, epoch=session.epoch)  # the same view acking properly ...
        barrier(session)
        assert len(held) == 2 and held[1].settled, "... gets the waiting frame (the check above could fail)"


def test_the_canvas_ignores_an_ack_for_an_old_epoch(toy):
    """Broken by deleting the epoch check in Session.ack or by the canvas not passing the ack's epoch on."""
    old_epoch = sdw.Session(toy, scene()).epoch
    canvas = sdw.SemanticDrawCanvas(toy, width=SIZE, height=SIZE, steps=2, max_in_flight=1)
    sent = []
    canvas.send = lambda content, buffers=None: sent.append(content)
    labels = np.zeros((SIZE, SIZE), np.uint8)
    labels[:32, :32] = 1
    canvas.label_map = labels
    finished = threading.Event()

    def eager(encoded):
        canvas.session.ack(eager_id, encoded.seq, epoch=encoded.epoch)
        if encoded.settled:
            finished.set()

    canvas.start()
    try:
        eager_id = canvas.session.add_sink(eager, max_in_flight=8)
        assert finished.wait(HANG_GUARD)
        frames = lambda: [c for c in sent if c.get("kind") == "frame"]  # noqa: E731
        assert len(frames()) == 1 and not frames()[0]["settled"]
        canvas._handle_custom_msg({"kind": "ack", "epoch": old_epoch, "seq": 10**6}, [])
        barrier(canvas.session)
        assert len(frames()) == 1, "a stale ack released a frame of the new stream"
        first = frames()[0]
        canvas._handle_custom_msg({"kind": "ack", "epoch": first["epoch"], "seq": first["seq"]}, [])
        barrier(canvas.session)
        assert len(frames()) == 2 and frames()[1]["settled"]
    finally:
        canvas.stop()


# -- the label map's size bound ---------------------------------------------------------------------------
BOMB = zlib.compress(b"\x01" * (64 * 2**20), 9)  # 64 MiB of label 1 in ~64 KB


def peak_bytes(action):
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_label_map_bomb_is_never_inflated_past_the_canvas():
    """Broken by inflating without the bound (``inflater.decompress(raw)``): the message is the same, but
    the 64 MiB are allocated first. A 64x64 canvas needs 4 KiB; the bound keeps the peak far below 64 MiB."""
    def decode():
        with pytest.raises(ProtocolError, match="inflates past"):
            decode_labels(BOMB, SIZE, SIZE)

    assert peak_bytes(decode) < 2 * 2**20


def test_a_label_map_bomb_from_the_browser_costs_no_memory(toy):
    canvas = sdw.SemanticDrawCanvas(toy, width=SIZE, height=SIZE, steps=2)
    canvas.send = lambda content, buffers=None: None
    assert peak_bytes(lambda: canvas.set_state({"labels": memoryview(BOMB)})) < 2 * 2**20
    assert "inflates past" in canvas.status["error"] and canvas.label_map.max() == 0


def test_exactly_the_canvas_size_inflates_and_one_byte_more_is_refused():
    labels = decode_labels(zlib.compress(b"\x01" * SIZE * SIZE), SIZE, SIZE, max_label=1)
    assert labels.shape == (SIZE, SIZE) and labels.min() == 1
    with pytest.raises(ProtocolError, match="inflates past"):
        decode_labels(zlib.compress(b"\x01" * (SIZE * SIZE + 1)), SIZE, SIZE, max_label=1)
    with pytest.raises(ProtocolError, match="4095 pixels"):
        decode_labels(zlib.compress(b"\x01" * (SIZE * SIZE - 1)), SIZE, SIZE, max_label=1)


# -- the canvas's guidance range ------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [GUIDANCE_LIMITS[1] + 0.5, GUIDANCE_LIMITS[0] - 0.5, math.inf, math.nan])
def test_the_canvas_refuses_guidance_outside_its_range_before_any_session_checks_it(toy, bad):
    """Broken by deleting the range check in the canvas's guidance validator: a stopped canvas has no
    Session to refuse the value later, so the validator is the only check."""
    canvas = sdw.SemanticDrawCanvas(toy, width=SIZE, height=SIZE, steps=2, guidance=1.5)
    canvas.send = lambda content, buffers=None: None
    canvas.set_state({"guidance": bad})  # from the browser
    assert canvas.guidance == 1.5 and "guidance" in canvas.status["error"]
    with pytest.raises(Exception, match="guidance"):
        canvas.guidance = bad  # from Python
    assert canvas.guidance == 1.5
    for good in GUIDANCE_LIMITS:  # the limits themselves are allowed
        canvas.guidance = good
        assert canvas.guidance == good


def test_a_brush_colour_with_a_trailing_newline_is_refused():
    """Found by the fuzz test's independent oracle: the colour regex ended in "$", which also matches before
    a final newline, so "#12ab9f\\n" was kept as a colour."""
    from semanticdraw_widgets.widgets.palette import PaletteError, validate_brush

    assert validate_brush({"color": "#12AB9f"})["color"] == "#12AB9f"
    for bad in ("#12ab9f\n", "#12ab9f ", " #12ab9f", "#12ab9"):
        with pytest.raises(PaletteError, match="color"):
            validate_brush({"color": bad})


# -- the Session's own requests, each through its loop (found by the mutation run of 3 December) ----------------

def test_a_session_pauses_resumes_and_reports_a_viewers_notice_and_warning(toy):
    session = sdw.Session(toy, scene(), steps=2, settle_delay=0.0)
    with session:
        session.pause()
        session.annotate("a note", "a warning")  # returns once the loop has handled both requests
        assert session.status.state == "paused"
        assert (session.status.notice, session.status.warning) == ("a note", "a warning")
        session.resume()
        barrier(session)
        assert session.status.state == "idle"


def test_a_removed_sink_or_status_listener_hears_nothing_more(toy):
    session = sdw.Session(toy, scene(), steps=2, settle_delay=0.0)
    frames, statuses = [], []
    listener = statuses.append
    with session:
        sink_id = session.add_sink(frames.append, max_in_flight=8)
        session.add_status_listener(listener)
        barrier(session)
        session.remove_sink(sink_id)
        session.remove_status_listener(listener)
        seen_frames, seen_statuses = len(frames), len(statuses)
        session.update(sdw.Scene(width=SIZE, height=SIZE, seed=3, background=sdw.Background(prompt="white"),
                                 regions=scene().regions))
        session.annotate("after")
        barrier(session)
        assert (len(frames), len(statuses)) == (seen_frames, seen_statuses)


def test_a_sessions_frames_are_jpeg_and_its_settled_frame_png(toy):
    session = sdw.Session(toy, scene(), steps=2, settle_delay=0.0)
    frames = []
    settled = threading.Event()

    def sink(encoded):
        frames.append(encoded)
        session.ack(sink_id, encoded.seq, epoch=encoded.epoch)
        if encoded.settled:
            settled.set()

    sink_id = session.add_sink(sink, max_in_flight=8)
    with session:
        assert settled.wait(HANG_GUARD)
    assert all(f.data[:2] == b"\xff\xd8" for f in frames if not f.settled) and frames[0].mime == "image/jpeg"
    assert frames[-1].data[:8] == b"\x89PNG\r\n\x1a\n" and frames[-1].mime == "image/png"


@pytest.fixture
def session_errors():
    """The errors runtime/session.py logs (from its loop thread), with an event set by the first one."""
    import logging

    from semanticdraw_widgets.runtime import session as session_module

    class Recorder(logging.Handler):
        def __init__(self):
            super().__init__(logging.ERROR)
            self.records, self.arrived = [], threading.Event()

        def emit(self, record):
            self.records.append(record)
            self.arrived.set()

    recorder = Recorder()
    logger = logging.getLogger(session_module.__name__)
    logger.addHandler(recorder)
    yield recorder
    logger.removeHandler(recorder)


def test_an_encoder_failure_is_logged_and_the_session_goes_on(toy, monkeypatch, session_errors):
    from semanticdraw_widgets.runtime import session as session_module

    def broken(*args, **kwargs):
        raise RuntimeError("no encoder")

    monkeypatch.setattr(session_module, "encode_image", broken)
    session = sdw.Session(toy, scene(), steps=2, settle_delay=0.0)
    with session:
        assert session_errors.arrived.wait(HANG_GUARD)
        barrier(session)
        assert session.status.state == "idle"
    record = session_errors.records[0]
    assert record.getMessage() == "semanticdraw: could not encode a frame" and record.exc_info[0] is RuntimeError


def test_a_jpeg_frame_uses_the_sessions_quality():
    import io

    from PIL import Image

    from semanticdraw_widgets.runtime.session import encode_image

    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), np.uint8))
    for quality in (30, 95):
        expected = io.BytesIO()
        image.save(expected, format="JPEG", quality=quality)
        assert encode_image(image, "image/jpeg", quality) == expected.getvalue()


def test_a_failing_frame_sink_is_logged_by_name_and_the_others_still_get_frames(toy, session_errors):
    def broken(encoded):
        raise ValueError("a view's bug")

    session = sdw.Session(toy, scene(), steps=2, settle_delay=0.0)
    frames = []
    session.add_sink(broken)
    session.add_sink(frames.append)
    with session:
        barrier(session)
    records = session_errors.records
    assert frames and records and records[0].getMessage() == "semanticdraw: a frame sink failed"
    assert records[0].exc_info[0] is ValueError


def test_a_session_left_running_does_not_keep_python_from_exiting():
    import subprocess
    import sys

    code = ("import semanticdraw_widgets as sdw\n"
            "from semanticdraw_widgets.backends.toy import ToyBackend\n"
            "scene = sdw.Scene(width=64, height=64, background=sdw.Background(prompt='white'))\n"
            "sdw.Session(ToyBackend(), scene, steps=2).start()\n")
    done = subprocess.run([sys.executable, "-c", code], timeout=HANG_GUARD, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
