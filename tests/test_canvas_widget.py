"""The canvas widget's Python side, driven as the browser would drive it (no kernel, recorded sends).

Waits are on explicit futures (canvas.settled) and events; the hang guard only stops a broken build.
"""

import asyncio
import io
import json
import threading
import zlib

import numpy as np
import traitlets
import pytest
from PIL import Image

import semanticdraw_widgets as sdw
from semanticdraw_widgets.widgets.palette import scene_from_labels, validate_brush
from semanticdraw_widgets.widgets.protocol import (BRUSH_DEFAULTS, PROTOCOL_VERSION, ProtocolError, decode_labels,
                                                   parse_client_message)

SIZE = 64
HANG_GUARD = 120


def record_sends(widget):
    widget.sent = []
    widget.frame_arrived = threading.Event()

    def send(content, buffers=None):
        widget.sent.append((content, buffers or []))
        if content.get("kind") == "frame":
            widget.frame_arrived.set()

    widget.send = send
    return widget


@pytest.fixture
def canvas(toy):
    widget = record_sends(sdw.SemanticDrawCanvas(toy, width=SIZE, height=SIZE, steps=2))
    yield widget
    widget.stop()


def settle(widget):
    return asyncio.run(widget.settled(timeout=HANG_GUARD))


def settle_and_deliver(widget):
    """The finished picture, once its frame has gone out to the view too (encodes run after the tick)."""
    frame = settle(widget)
    while True:
        widget.frame_arrived.clear()
        if frames(widget) and frames(widget)[-1][0]["tick"] == frame.index:
            return frame
        assert widget.frame_arrived.wait(HANG_GUARD)


def browser_sets_labels(widget, labels):
    """What the kernel does when the browser syncs the label map: a memoryview buffer."""
    widget.set_state({"labels": memoryview(zlib.compress(labels.astype(np.uint8).tobytes()))})


def frames(widget):
    return [(c, b) for c, b in widget.sent if c.get("kind") == "frame"]


def ack_newest(widget):
    content, _ = frames(widget)[-1]
    widget._handle_custom_msg({"kind": "ack", "epoch": content["epoch"], "seq": content["seq"]}, [])


def painted(rows=slice(0, 32), cols=slice(0, 32), label=1):
    labels = np.zeros((SIZE, SIZE), np.uint8)
    labels[rows, cols] = label
    return labels


def png_bytes(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_default_palette_lets_a_user_draw_at_once(canvas):
    assert len(canvas.brushes) >= 3 and all(b["prompt"] for b in canvas.brushes)
    assert canvas.background["prompt"] and canvas.protocol_version == PROTOCOL_VERSION
    assert all(set(b) == set(BRUSH_DEFAULTS) for b in canvas.brushes), "every brush follows the one schema"
    scene = canvas.scene  # an empty canvas still renders the background prompt
    assert scene.regions == () and scene.background.prompt == canvas.background["prompt"]


def test_the_label_map_becomes_regions(canvas):
    labels = painted()
    labels[40:, :] = 2
    browser_sets_labels(canvas, labels)
    scene = canvas.scene
    assert [r.prompt for r in scene.regions] == [canvas.brushes[0]["prompt"], canvas.brushes[1]["prompt"]]
    assert scene.regions[0].mask[:32, :32].all() and not scene.regions[0].mask[40:].any()
    canvas.brushes = [dict(b, visible=(i != 0)) for i, b in enumerate(canvas.brushes)]
    assert [r.prompt for r in canvas.scene.regions] == [canvas.brushes[1]["prompt"]]


def test_scene_from_labels_is_pure_and_refuses_labels_without_a_brush():
    brushes = [validate_brush({"prompt": "red"}), validate_brush({"prompt": ""})]
    background = {"prompt": "white", "negative_prompt": ""}
    scene = scene_from_labels(painted(label=2), brushes, background, seed=3)
    assert scene.regions == () and scene.seed == 3, "a prompt-less brush paints nothing"
    with pytest.raises(sdw.PaletteError, match="label 3"):
        scene_from_labels(painted(label=3), brushes, background, seed=0)


def test_streams_frames_with_epoch_tagged_acks_and_follows_strokes(canvas):
    browser_sets_labels(canvas, painted())
    canvas.start()
    settle_and_deliver(canvas)
    sent = frames(canvas)
    assert sent and all(len(buffers) == 1 for _, buffers in sent)
    assert {c["epoch"] for c, _ in sent} == {canvas.session.epoch} == {canvas.status["epoch"]}
    assert canvas.status["state"] == "idle"
    browser_sets_labels(canvas, painted(rows=slice(32, 64), label=3))  # a new stroke with brush 3
    while True:  # a view that keeps acknowledging gets every frame up to the finished one
        canvas.frame_arrived.clear()
        ack_newest(canvas)
        content = frames(canvas)[-1][0]
        frame = canvas.session.frame
        if frame.converged and frame.scene.regions and frame.scene.regions[0].prompt == canvas.brushes[2]["prompt"] \
                and content["tick"] == frame.index:
            break
        assert canvas.frame_arrived.wait(HANG_GUARD)
    expected = sdw.generate(canvas.backend, canvas.scene, steps=2)
    assert np.array_equal(np.asarray(canvas.image), np.asarray(expected))


def deliver_the_settled_png(widget):
    settle_and_deliver(widget)
    while not frames(widget)[-1][0]["settled"]:
        widget.frame_arrived.clear()
        ack_newest(widget)
        assert widget.frame_arrived.wait(HANG_GUARD)


def test_the_settled_png_follows_and_becomes_the_snapshot(canvas):
    canvas.start()
    deliver_the_settled_png(canvas)
    assert bytes(frames(canvas)[-1][1][0])[:4] == b"\x89PNG" and canvas.snapshot_mime == "image/png"


def test_changing_steps_while_streaming_reconfigures_the_same_stream(canvas):
    canvas.start()
    settle(canvas)
    session, epoch = canvas.session, canvas.session.epoch
    canvas.set_state({"steps": 3})
    frame = settle(canvas)
    assert canvas.session is session and session.epoch == epoch and session.stream.steps == 3
    assert frame.step == 3 and canvas.status["state"] == "idle"
    assert np.array_equal(np.asarray(frame.image), np.asarray(sdw.generate(canvas.backend, canvas.scene, steps=3)))
    canvas.set_state({"guidance": 2.5})
    settle(canvas)
    assert session.stream.options.guidance_scale == 2.5


def test_bad_sampler_settings_are_refused_and_the_stream_keeps_the_last_good_ones(canvas):
    canvas.start()
    settle(canvas)
    session = canvas.session
    for trait, value in (("steps", 0), ("steps", 5000), ("guidance", float("nan")), ("guidance", -1.0)):
        done = threading.Event()
        canvas.observe(lambda change: done.set(), names=[trait])
        canvas.set_state({trait: value})
        if getattr(canvas, trait) != {"steps": 2, "guidance": 1.0}[trait]:
            assert done.wait(HANG_GUARD), "a refused value is put back"
        assert getattr(canvas, trait) == {"steps": 2, "guidance": 1.0}[trait]
        assert trait in canvas.status["error"] and "refused" in canvas.status["error"]
    assert canvas.session is session and session.running and session.stream.steps == 2
    canvas.set_state({"steps": 3})  # a valid value applies at once afterwards
    assert settle(canvas).step == 3


def test_an_invalid_scene_does_not_kill_the_stream_and_a_fix_restarts_it(toy):
    widget = record_sends(sdw.SemanticDrawCanvas(toy, width=SIZE, height=SIZE, steps=2,
                                                 background={"prompt": "", "negative_prompt": ""}))
    try:
        widget.start()
        assert "nothing to draw" in widget.status["error"] and not widget.running
        widget.set_state({"steps": 3})  # while the scene is invalid: remembered, nothing breaks
        widget.set_state({"background": {"prompt": "white", "negative_prompt": ""}})
        assert widget.running, "the fix starts the stream the user asked for"
        assert settle(widget).step == 3
    finally:
        widget.stop()


def test_play_on_a_stopped_canvas_starts_it_and_pause_shows_at_once(canvas):
    canvas.playing = False
    assert not canvas.running
    canvas.playing = True
    assert canvas.running
    settle(canvas)
    paused = threading.Event()
    canvas.observe(lambda change: change["new"]["state"] == "paused" and paused.set(), names=["status"])
    canvas.playing = False
    assert paused.wait(HANG_GUARD) and canvas.status["state"] == "paused"


def test_pause_and_step_commands(toy):
    backend = type(toy)()
    widget = record_sends(sdw.SemanticDrawCanvas(backend, width=SIZE, height=SIZE, steps=2, playing=False))
    try:
        widget.start()
        assert widget.session.frame is None and widget.status["state"] == "paused"
        stepped = threading.Event()
        widget.session.add_status_listener(lambda status: status.tick >= 1 and stepped.set())
        widget._handle_custom_msg({"kind": "command", "name": "step"}, [])
        assert stepped.wait(HANG_GUARD)
        assert widget.session.frame.step == 1 and backend.model_calls == 1 and widget.status["state"] == "paused"
        widget.playing = True
        assert settle(widget).converged
    finally:
        widget.stop()


def test_stop_then_start_is_a_new_epoch_and_hello_is_welcomed(canvas):
    canvas.start()
    settle(canvas)
    old_epoch = canvas.session.epoch
    canvas.stop()
    assert canvas.status["state"] == "stopped" and not canvas.running
    canvas._handle_custom_msg({"kind": "hello", "version": PROTOCOL_VERSION}, [])
    assert canvas.sent[-1][0] == {"kind": "welcome", "version": PROTOCOL_VERSION, "epoch": 0}, "no live stream"
    canvas.start()
    deliver_the_settled_png(canvas)  # so no other frame comes meanwhile: every frame below is a resend
    assert canvas.session.epoch != old_epoch
    assert frames(canvas)[-1][0]["epoch"] == canvas.session.epoch and frames(canvas)[-1][0]["seq"] >= 1
    canvas._handle_custom_msg({"kind": "ack", "epoch": old_epoch, "seq": 10**6}, [])  # stale: ignored, harmless
    canvas.frame_arrived.clear()
    canvas._handle_custom_msg({"kind": "hello", "version": PROTOCOL_VERSION}, [])
    welcome = [c for c, _ in canvas.sent if c.get("kind") == "welcome"][-1]
    assert welcome["epoch"] == canvas.session.epoch
    assert canvas.frame_arrived.wait(HANG_GUARD), "the newest frame is resent to the new view"
    newest = frames(canvas)[-1][0]
    assert newest["epoch"] == canvas.session.epoch
    count = len(frames(canvas))
    canvas._handle_custom_msg({"kind": "hello", "version": PROTOCOL_VERSION, "epoch": newest["epoch"],
                               "seq": newest["seq"]}, [])  # a heartbeat from a view that shows it already
    sync_with_session(canvas)
    assert len(frames(canvas)) == count and canvas.sent[-1][0]["kind"] == "welcome"
    canvas.frame_arrived.clear()
    canvas._handle_custom_msg({"kind": "hello", "version": PROTOCOL_VERSION, "epoch": old_epoch, "seq": 99}, [])
    assert canvas.frame_arrived.wait(HANG_GUARD), "a view showing an older stream gets the newest frame"
    assert len(frames(canvas)) == count + 1 and frames(canvas)[-1][0]["seq"] == newest["seq"]


def sync_with_session(widget):
    """Return once the session's loop has handled every request handed to it before (they run in order)."""
    widget.session.remove_sink(widget.session.add_sink(lambda encoded: None))


def test_a_flood_of_hellos_resends_the_newest_frame_once_per_interval(canvas, monkeypatch):
    monkeypatch.setattr("semanticdraw_widgets.widgets.canvas.HELLO_FRAME_INTERVAL", 3600.0)
    canvas.start()
    settle_and_deliver(canvas)
    count = len(frames(canvas))
    for _ in range(1000):
        canvas._handle_custom_msg({"kind": "hello", "version": PROTOCOL_VERSION}, [])
    sync_with_session(canvas)
    assert len([c for c, _ in canvas.sent if c["kind"] == "welcome"]) == 1000, "every hello is welcomed"
    assert len(frames(canvas)) == count + 1, "1,000 hellos resend one frame, not 1,000"


def test_malformed_messages_warn_show_in_status_and_do_not_stop_the_session(canvas):
    browser_sets_labels(canvas, painted())
    canvas.start()
    settle(canvas)
    bad_messages = [("garbage", []), ({"kind": "teleport"}, []), ({"kind": "ack", "epoch": 1, "seq": -4}, []),
                    ({"kind": "ack"}, []), ({"kind": "command", "name": "explode"}, []),
                    ({"kind": "hello", "version": 99}, []), ([1, 2, 3], [memoryview(b"\x00\xff")])]
    for content, buffers in bad_messages:
        with pytest.warns(RuntimeWarning, match="ignored a message"):
            canvas._handle_custom_msg(content, buffers)
        assert "bad message" in canvas.status["error"] and canvas.status["state"] == "idle"
    good_labels = bytes(canvas.labels)
    for payload in (b"not zlib at all", zlib.compress(b"\x01" * 10), zlib.compress(b"\x09" * SIZE * SIZE)):
        canvas.set_state({"labels": memoryview(payload)})  # garbage, a wrong size, a label with no brush
        assert "label" in canvas.status["error"] and bytes(canvas.labels) == good_labels
    assert any(c.get("kind") == "error" for c, _ in canvas.sent)
    assert canvas.session.running
    browser_sets_labels(canvas, painted(label=2))  # a good update still works afterwards
    frame = settle(canvas)
    assert frame.scene.regions[0].prompt == canvas.brushes[1]["prompt"] and canvas.status["error"] is None


def test_malformed_brushes_and_status_writes_from_the_browser_are_refused(canvas):
    before = canvas.brushes
    for brush_change in ({"prompt": 5}, {"prompt_strength": "abc"}, {"mask_blur": None}, {"visible": "no"},
                         {"mask_strength": 1.5}, {"color": "red"}, {"promt": "typo"}, {"prompt": "x" * 5000}):
        canvas.set_state({"brushes": [dict(before[0], **brush_change)] + before[1:]})
        assert canvas.brushes == before and "brushes[0]" in canvas.status["error"]
    canvas.set_state({"brushes": [dict(before[0])] * 255})
    assert canvas.brushes == before and "at most 254" in canvas.status["error"]
    canvas.set_state({"status": {"state": "idle", "fps": 99, "tick": 1, "error": None}})
    assert canvas.status["state"] == "stopped" and "read-only" in canvas.status["error"]
    for trait, value in (("seed", -1), ("seed", "seven"), ("width", 128), ("playing", "yes")):
        canvas.set_state({trait: value})
        assert trait in canvas.status["error"]
    assert canvas.seed == 0 and canvas.width == SIZE


def test_a_label_map_bomb_is_refused_without_inflating_it(canvas):
    bomb = zlib.compress(b"\x00" * (64 * 2**20), 9)  # 64 MiB of zeros in ~64 KB
    with pytest.raises(ProtocolError, match="inflates past"):
        decode_labels(bomb, SIZE, SIZE)
    canvas.set_state({"labels": memoryview(bomb)})
    assert "inflates past" in canvas.status["error"] and canvas.label_map.max() == 0


def test_trace_of_the_shown_frame(toy):
    widget = record_sends(sdw.SemanticDrawCanvas(toy, width=SIZE, height=SIZE, steps=2, trace=True))
    assert widget.trace is None
    widget.start()
    try:
        settle(widget)
        assert [s.index for s in widget.trace.steps] == [0, 1]
        widget.steps = 3
        settle(widget)
        assert [s.index for s in widget.trace.steps] == [0, 1, 2], "the trace follows a steps change"
    finally:
        widget.stop()


def test_palette_export_import_is_all_or_nothing(canvas, tmp_path):
    exported = json.loads(canvas.export_palette())
    assert exported["format"] == "semanticdraw-palette" and exported["version"] == 1
    exported["brushes"][0]["prompt"] = "purple dots"
    canvas.import_palette(json.dumps(exported))
    assert canvas.brushes[0]["prompt"] == "purple dots"
    before, background = list(canvas.brushes), dict(canvas.background)
    good = json.loads(canvas.export_palette())
    bad_palettes = [
        ("{", "not valid JSON"),
        (json.dumps({"brushes": []}), "not a palette file"),
        (json.dumps(dict(good, version=99)), "version 99 is not supported"),
        (json.dumps(dict(good, brushes=[{"prompt": "x", "promt": "typo"}])), "unknown keys"),
        (json.dumps(dict(good, brushes=good["brushes"] + [{"prompt_strength": "abc"}])), r"brushes\[4\].prompt_strength"),
        (json.dumps(dict(good, background={"prompt": 3})), "background.prompt"),
        ("[" * 100000 + "]" * 100000, "not valid JSON"),
    ]
    for text, message in bad_palettes:
        with pytest.raises(sdw.PaletteError, match=message):
            canvas.import_palette(text)
        assert canvas.brushes == before and canvas.background == background, "a bad palette changes nothing"
    with pytest.raises(RuntimeError, match="no picture yet"):
        canvas.export_png(tmp_path / "x.png")
    canvas.start()
    settle(canvas)
    assert canvas.export_png(tmp_path / "out.png").stat().st_size > 0


def test_an_uploaded_photo_is_decoded_once_and_bounded(canvas):
    photo = Image.new("RGB", (200, 100), (10, 200, 30))  # another aspect ratio: cropped to fit the canvas
    canvas.set_background_image(photo)
    scene = canvas.scene
    assert scene.background.image.shape == (SIZE, SIZE, 3)
    assert np.allclose(scene.background.image[0, 0], np.array([10, 200, 30]) / 255, atol=2 / 255)
    assert canvas._background_pixels() is canvas._background_pixels(), "decoded once per upload, not per stroke"
    kept = bytes(canvas.background_image)
    # a refused upload says why and leaves the kept photo: the strokes after it still reach the model
    canvas.set_state({"background_image": memoryview(b"definitely not an image")})
    assert "background image: not an image in a supported format" in canvas.status["error"]
    assert bytes(canvas.background_image) == kept and canvas.scene.background.image is not None
    huge = png_bytes(Image.new("1", (20000, 20000)))  # 400 megapixels in a few hundred KB
    canvas.set_state({"background_image": memoryview(huge)})
    assert "background image: refused before decoding" in canvas.status["error"]
    assert bytes(canvas.background_image) == kept
    with pytest.raises(traitlets.TraitError, match="background image: not an image"):
        canvas.background_image = b"not from the browser either"
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


def test_a_prompt_less_brush_says_so_in_the_status_line(canvas):
    canvas.brushes = canvas.brushes + [validate_brush({"name": "empty one"})]
    browser_sets_labels(canvas, painted(label=len(canvas.brushes)))
    canvas.start()
    settle(canvas)
    assert "empty one" in canvas.status["warning"] and "no prompt" in canvas.status["warning"]


def test_protocol_parser():
    assert parse_client_message({"kind": "ack", "epoch": 7, "seq": 3}) == {"kind": "ack", "epoch": 7, "seq": 3}
    with pytest.raises(ProtocolError, match="unknown message kind"):
        parse_client_message({"kind": None})
    with pytest.raises(ProtocolError, match="needs a non-negative integer 'seq'"):
        parse_client_message({"kind": "ack", "epoch": 1, "seq": True})
    with pytest.raises(ProtocolError, match="needs a non-negative integer 'epoch'"):
        parse_client_message({"kind": "ack", "seq": 1})


def test_inspect_turns_tracing_on_and_follows_the_canvas(canvas):
    canvas.start()
    settle(canvas)
    inspector = canvas.inspect()
    assert canvas.record_trace and canvas.running
    frame = settle(canvas)
    inspector.refresh()
    assert [s.index for s in inspector.trace.steps] == list(range(frame.step)) == [0, 1]


def test_a_photo_uploaded_before_drawing_is_the_picture_and_clearing_strokes_gives_it_back(canvas):
    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8))
    canvas.set_background_image(photo)
    canvas.start()
    first = settle(canvas)
    assert first.scene.regions == () and canvas.status["error"] is None
    difference = np.abs(np.asarray(first.image, np.int16) - np.asarray(photo, np.int16))
    assert difference.max() <= 2, "no regions: the picture is the photo"
    browser_sets_labels(canvas, painted())
    painted_frame = settle(canvas)
    assert np.abs(np.asarray(painted_frame.image, np.int16)[:32, :32] - np.asarray(photo, np.int16)[:32, :32]).max() > 2
    browser_sets_labels(canvas, np.zeros((SIZE, SIZE), np.uint8))  # clear every stroke
    cleared = settle(canvas)
    assert np.array_equal(np.asarray(cleared.image), np.asarray(first.image))


def test_import_palette_reads_a_path_and_says_so_for_a_file_name(canvas, tmp_path):
    path = tmp_path / "palette.json"
    exported = json.loads(canvas.export_palette())
    exported["brushes"][0]["prompt"] = "orange stripes"
    path.write_text(json.dumps(exported))
    canvas.import_palette(path)
    assert canvas.brushes[0]["prompt"] == "orange stripes"
    with pytest.raises(sdw.PaletteError, match="takes the palette's JSON text or a pathlib.Path"):
        canvas.import_palette(str(path))


def test_inspect_passes_the_surface_on(canvas):
    assert canvas.inspect(surface="image").surface_name == "image"
