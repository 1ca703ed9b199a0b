"""The canvas widget's Python side, driven as the browser would drive it (no kernel, recorded sends)."""

import json
import time
import zlib

import numpy as np
import pytest

import semanticdraw_widgets as sdw
from semanticdraw_widgets.widgets.protocol import PROTOCOL_VERSION, ProtocolError, decode_labels, parse_client_message

SIZE = 64


def wait_for(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


@pytest.fixture
def canvas(toy):
    widget = sdw.SemanticDrawCanvas(toy, width=SIZE, height=SIZE, steps=2)
    widget.sent = []
    widget.send = lambda content, buffers=None: widget.sent.append((content, buffers or []))
    yield widget
    widget.stop()


def browser_sets_labels(widget, labels):
    """What the kernel does when the browser syncs the label map: a memoryview buffer."""
    widget.set_state({"labels": memoryview(zlib.compress(labels.astype(np.uint8).tobytes()))})


def frames(widget):
    return [(c, b) for c, b in widget.sent if c.get("kind") == "frame"]


def painted(rows=slice(0, 32), cols=slice(0, 32), label=1):
    labels = np.zeros((SIZE, SIZE), np.uint8)
    labels[rows, cols] = label
    return labels


def test_default_palette_lets_a_user_draw_at_once(canvas):
    assert len(canvas.brushes) >= 3 and all(b["prompt"] for b in canvas.brushes)
    assert canvas.background["prompt"]
    assert canvas.protocol_version == PROTOCOL_VERSION
    scene = canvas.scene  # an empty canvas still renders the background prompt
    assert scene.regions == () and scene.background.prompt == canvas.background["prompt"]


def test_the_label_map_becomes_regions(canvas):
    labels = painted()
    labels[40:, :] = 2
    browser_sets_labels(canvas, labels)
    scene = canvas.scene
    assert [r.prompt for r in scene.regions] == [canvas.brushes[0]["prompt"], canvas.brushes[1]["prompt"]]
    assert scene.regions[0].mask[:32, :32].all() and not scene.regions[0].mask[40:].any()
    hidden = [dict(b, visible=(i != 0)) for i, b in enumerate(canvas.brushes)]
    canvas.brushes = hidden
    assert [r.prompt for r in canvas.scene.regions] == [canvas.brushes[1]["prompt"]]


def test_streams_frames_with_acks_and_follows_strokes(canvas):
    browser_sets_labels(canvas, painted())
    canvas.start()
    wait_for(lambda: canvas.status["state"] == "idle")
    sent = frames(canvas)
    assert sent and all(len(buffers) == 1 for _, buffers in sent)
    assert len(sent) <= 2, "nothing acknowledged yet: at most 2 frames in flight"
    canvas._handle_custom_msg({"kind": "ack", "epoch": sent[-1][0]["epoch"], "seq": sent[-1][0]["seq"]}, [])
    wait_for(lambda: frames(canvas)[-1][0]["settled"])
    assert bytes(frames(canvas)[-1][1][0])[:4] == b"\x89PNG"
    assert len(bytes(canvas.snapshot)) > 0

    browser_sets_labels(canvas, painted(rows=slice(32, 64), label=3))  # a new stroke with brush 3
    for _ in range(200):
        canvas._handle_custom_msg({"kind": "ack", "epoch": frames(canvas)[-1][0]["epoch"],
                                   "seq": frames(canvas)[-1][0]["seq"]}, [])
        frame = canvas.session.frame
        if frame.converged and frame.scene.regions and frame.scene.regions[0].prompt == canvas.brushes[2]["prompt"]:
            break
        time.sleep(0.02)
    expected = sdw.generate(canvas.backend, canvas.scene, steps=2)
    assert np.array_equal(np.asarray(canvas.image), np.asarray(expected))


def test_malformed_messages_warn_show_in_status_and_do_not_stop_the_session(canvas):
    browser_sets_labels(canvas, painted())
    canvas.start()
    wait_for(lambda: canvas.status["state"] == "idle")
    bad_messages = [("garbage", []), ({"kind": "teleport"}, []), ({"kind": "ack", "seq": -4}, []),
                    ({"kind": "ack"}, []), ({"kind": "command", "name": "explode"}, []),
                    ({"kind": "hello", "version": 99}, []), ([1, 2, 3], [memoryview(b"\x00\xff")])]
    for content, buffers in bad_messages:
        with pytest.warns(RuntimeWarning, match="ignored a message"):
            canvas._handle_custom_msg(content, buffers)
        assert canvas.status["state"] == "error" and "bad message" in canvas.status["error"]
    for payload in (b"not zlib at all", zlib.compress(b"\x01" * 10)):  # garbage and a wrong-sized label map
        canvas.set_state({"labels": memoryview(payload)})
        assert canvas.status["state"] == "error" and "label map" in canvas.status["error"]
    assert any(c.get("kind") == "error" for c, _ in canvas.sent)
    assert canvas.session.running
    browser_sets_labels(canvas, painted(label=2))  # a good update still works afterwards
    wait_for(lambda: canvas.session.frame.scene.regions[0].prompt == canvas.brushes[1]["prompt"]
             and canvas.status["state"] == "idle")
    assert canvas.status["error"] is None


def test_pause_and_step_commands(canvas):
    canvas.playing = False
    canvas.start()
    time.sleep(0.3)
    assert canvas.session.frame is None and canvas.status["state"] == "paused"
    canvas._handle_custom_msg({"kind": "command", "name": "step"}, [])
    wait_for(lambda: canvas.session.frame is not None)
    assert canvas.session.frame.step == 1
    canvas.playing = True
    wait_for(lambda: canvas.status["state"] == "idle")


def test_changing_steps_restarts_the_stream(canvas):
    canvas.start()
    wait_for(lambda: canvas.status["state"] == "idle")
    canvas.steps = 3
    wait_for(lambda: canvas.session is not None and canvas.session.stream.steps == 3
             and canvas.status["state"] == "idle")


def test_trace_of_the_shown_frame(toy):
    widget = sdw.SemanticDrawCanvas(toy, width=SIZE, height=SIZE, steps=2, trace=True)
    widget.send = lambda *a, **k: None
    assert widget.trace is None
    widget.start()
    try:
        wait_for(lambda: widget.status["state"] == "idle")
        assert [s.index for s in widget.trace.steps] == [0, 1]
    finally:
        widget.stop()


def test_nothing_to_draw_is_an_error_in_the_status_line(toy):
    widget = sdw.SemanticDrawCanvas(toy, width=SIZE, height=SIZE, background={"prompt": "", "negative_prompt": ""})
    widget.send = lambda *a, **k: None
    widget.start()
    assert widget.status["state"] == "error" and "nothing to draw" in widget.status["error"]
    assert widget.session is None


def test_palette_export_import_and_png_export(canvas, tmp_path):
    exported = json.loads(canvas.export_palette())
    exported["brushes"][0]["prompt"] = "purple dots"
    canvas.import_palette(json.dumps(exported))
    assert canvas.brushes[0]["prompt"] == "purple dots"
    before = list(canvas.brushes)
    with pytest.raises(sdw.PaletteError, match="unknown keys"):
        canvas.import_palette(json.dumps({"brushes": [{"prompt": "x", "promt": "typo"}]}))
    with pytest.raises(sdw.PaletteError, match="not valid JSON"):
        canvas.import_palette("{")
    assert canvas.brushes == before, "a bad palette changes nothing"
    with pytest.raises(RuntimeError, match="no picture yet"):
        canvas.export_png(tmp_path / "x.png")
    canvas.start()
    wait_for(lambda: canvas.image is not None)
    assert canvas.export_png(tmp_path / "out.png").stat().st_size > 0


def test_inpainting_into_an_uploaded_photo(canvas):
    from PIL import Image

    photo = Image.new("RGB", (200, 100), (10, 200, 30))  # another aspect ratio: cropped to fit the canvas
    canvas.set_background_image(photo)
    scene = canvas.scene
    assert scene.background.image.shape == (SIZE, SIZE, 3)
    assert np.allclose(scene.background.image[0, 0], np.array([10, 200, 30]) / 255, atol=2 / 255)
    canvas.set_state({"background_image": memoryview(b"definitely not an image")})
    with pytest.raises(sdw.SceneError, match="background image could not be read"):
        canvas.scene
    canvas.set_background_image(None)
    assert canvas.scene.background.image is None


def test_label_map_setter_and_bad_sizes(canvas):
    canvas.label_map = painted(label=2)
    assert decode_labels(canvas.labels, SIZE, SIZE).max() == 2
    with pytest.raises(ValueError, match="label map must be"):
        canvas.label_map = np.zeros((3, 3), np.uint8)
    with pytest.raises(ValueError, match="has no brush"):
        canvas.label_map = painted(label=99)
    with pytest.raises(sdw.SceneError, match="multiple of 8"):
        sdw.SemanticDrawCanvas(canvas.backend, width=500, height=512)


def test_protocol_parser():
    assert parse_client_message({"kind": "ack", "epoch": 7, "seq": 3}) == {"kind": "ack", "epoch": 7, "seq": 3}
    with pytest.raises(ProtocolError, match="unknown message kind"):
        parse_client_message({"kind": None})
    with pytest.raises(ProtocolError, match="needs a non-negative integer 'seq'"):
        parse_client_message({"kind": "ack", "epoch": 1, "seq": True})
