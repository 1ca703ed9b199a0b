"""The canvas under hostile or careless use: closing frees everything, kernel-owned traits stay the kernel's,
refusals quote little, and the status follows the stream whatever the palette does (issue 17).

No sleeps and no timing bounds: waits are on events and futures; the hang guard only stops a broken build.
"""

import asyncio
import gc
import logging
import threading
import weakref
import zlib

import numpy as np
import pytest
import traitlets

import semanticdraw_widgets as sdw
from semanticdraw_widgets.widgets.protocol import BROWSER_WRITABLE, MAX_MESSAGE_LENGTH, PROTOCOL_VERSION, TRAITS

SIZE = 64
HANG_GUARD = 120


def session_threads():
    return {t for t in threading.enumerate() if t.name.startswith("semanticdraw-")}


def labels_with(label):
    labels = np.zeros((SIZE, SIZE), np.uint8)
    labels[:32, :32] = label
    return memoryview(zlib.compress(labels.tobytes()))


@pytest.fixture
def canvas(toy):
    widget = sdw.SemanticDrawCanvas(toy, width=SIZE, height=SIZE, steps=2)
    widget.sent = []
    widget.send = lambda content, buffers=None: widget.sent.append(content)
    yield widget
    widget.close()


def test_closed_canvases_stop_their_streams_and_are_freed(toy):
    gc.collect()
    threads_before = session_threads()
    refs = []
    for _ in range(50):
        widget = sdw.SemanticDrawCanvas(toy, width=SIZE, height=SIZE, steps=1)
        widget.start()
        session = widget.session
        widget.close()
        assert not session.running and session.status.state == "stopped", "close() stops the stream"
        refs.append(weakref.ref(widget))
        del widget, session
    gc.collect()
    assert session_threads() <= threads_before, "a closed canvas leaves no thread behind"
    assert sum(ref() is not None for ref in refs) == 0, "a closed canvas is freed"


def test_the_browser_cannot_write_kernel_owned_traits_even_while_the_stream_writes_them(canvas):
    kernel_owned = [trait.name for trait in TRAITS if trait.name not in BROWSER_WRITABLE]
    assert {"status", "snapshot", "snapshot_mime", "protocol_version", "width"} <= set(kernel_owned)
    canvas.start()
    fake = {"state": "idle", "fps": 99, "tick": 1, "error": None}
    stop = threading.Event()

    def browser():  # the comm thread, writing while the stream's thread writes the status
        while not stop.is_set():
            canvas.set_state({"status": fake})

    writer = threading.Thread(target=browser)
    writer.start()
    try:
        asyncio.run(canvas.settled(timeout=HANG_GUARD))
    finally:
        stop.set()
        writer.join(HANG_GUARD)
    assert canvas.status != fake and set(canvas.status) == {"state", "fps", "tick", "error", "epoch", "warning"}
    snapshot = bytes(canvas.snapshot)
    for name, value in (("snapshot", memoryview(b"\x89PNG not really")), ("snapshot_mime", "image/png"),
                        ("protocol_version", 1), ("width", SIZE * 2), ("status", fake)):
        canvas.set_state({name: value})
        assert name in canvas.status["error"] and "read-only" in canvas.status["error"]
    assert bytes(canvas.snapshot) == snapshot and canvas.protocol_version == PROTOCOL_VERSION
    assert canvas.width == SIZE and canvas.status["state"] == "idle"
    with pytest.raises(traitlets.TraitError):
        canvas.status = fake  # read-only for Python code too


def test_a_state_that_is_not_an_object_is_refused_not_raised(canvas):
    for state in (5, "labels", None, [1, 2]):
        canvas.set_state(state)
        assert "must be an object" in canvas.status["error"]


def test_strokes_of_removed_brushes_do_not_break_the_status_and_it_follows_pause_and_stop(canvas, caplog):
    canvas.start()
    canvas.set_state({"labels": labels_with(3)})
    asyncio.run(canvas.settled(timeout=HANG_GUARD))
    with caplog.at_level(logging.ERROR):
        canvas.set_state({"brushes": [dict(canvas.brushes[0])]})  # brush 3's strokes stay painted
        assert "label 3" in canvas.status["error"]
        paused = threading.Event()
        canvas.observe(lambda change: change["new"]["state"] == "paused" and paused.set(), names=["status"])
        canvas.playing = False
        assert paused.wait(HANG_GUARD) and canvas.status["state"] == "paused"
        canvas.stop()
        assert canvas.status["state"] == "stopped"
    assert not [r for r in caplog.records if "listener failed" in r.getMessage()], "the status listener never raises"


def test_refusals_quote_a_short_excerpt_of_huge_input(canvas):
    huge = "k" * 10**7
    with pytest.warns(RuntimeWarning):
        canvas._handle_custom_msg({"kind": huge}, [])
    assert "kkkk" in canvas.status["error"] and len(canvas.status["error"]) <= MAX_MESSAGE_LENGTH
    assert all(len(message.get("message", "")) <= MAX_MESSAGE_LENGTH for message in canvas.sent)
    canvas.set_state({huge: 1})
    assert len(canvas.status["error"]) <= MAX_MESSAGE_LENGTH
    canvas.set_state({"seed": huge})  # traitlets' own message quotes the value
    assert "seed" in canvas.status["error"] and len(canvas.status["error"]) <= MAX_MESSAGE_LENGTH
    canvas.set_state({"background": {"prompt": huge, "negative_prompt": ""}})
    assert "background" in canvas.status["error"] and len(canvas.status["error"]) <= MAX_MESSAGE_LENGTH
    with pytest.warns(RuntimeWarning):
        canvas._handle_custom_msg({"kind": "ack", "epoch": 1, "seq": [0] * 10**6}, [])
    assert len(canvas.status["error"]) <= MAX_MESSAGE_LENGTH


def test_a_bool_seed_from_the_browser_is_refused_and_the_scene_still_builds(canvas):
    canvas.set_state({"seed": True})
    assert canvas.seed == 0 and "seed" in canvas.status["error"]
    assert canvas.scene.seed == 0
