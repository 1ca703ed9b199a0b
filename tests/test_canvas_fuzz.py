"""Property-based fuzz of the widget protocol: whatever the browser sends, nothing escapes a comm handler,
the canvas's state stays valid, and a streaming canvas still works afterwards."""

import asyncio
import math
import re
import zlib

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import semanticdraw_widgets as sdw
from semanticdraw_widgets.widgets.protocol import BRUSH_DEFAULTS, PROTOCOL_VERSION

SIZE = 64
EXAMPLES = 60
MIN_OPERATIONS = 20  # so every run sends at least EXAMPLES * MIN_OPERATIONS = 1,200 messages

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                         st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                                 st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                           max_leaves=12)
numbers = st.one_of(st.integers(-10, 2**64), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                    st.text(max_size=5), st.none())

custom_messages = st.one_of(
    json_values,
    st.fixed_dictionaries({"kind": st.just("ack"), "epoch": numbers, "seq": numbers}),
    st.fixed_dictionaries({"kind": st.just("command"), "name": st.one_of(st.just("step"), st.text(max_size=8))}),
    st.fixed_dictionaries({"kind": st.just("hello"), "version": st.one_of(st.just(PROTOCOL_VERSION), numbers)}),
    st.fixed_dictionaries({"kind": st.text(max_size=10)}),
)
buffers = st.lists(st.binary(max_size=64).map(memoryview), max_size=2)

brush_fields = {
    "name": st.one_of(st.text(max_size=12), numbers),
    "color": st.one_of(st.just("#12ab9f"), st.text(max_size=8), numbers),
    "prompt": st.one_of(st.sampled_from(["red", "blue bricks", "", "green grass"]), numbers, st.text(max_size=20)),
    "negative_prompt": st.one_of(st.just(""), st.text(max_size=10), numbers),
    "prompt_strength": numbers, "mask_strength": numbers, "mask_blur": numbers,
    "visible": st.one_of(st.booleans(), numbers),
}
brushes = st.lists(st.fixed_dictionaries({}, optional={**brush_fields, "promt": json_scalars}), max_size=5)
# One field off a valid brush, often just past a documented limit: random dictionaries alone are almost never
# valid elsewhere, so they could not show that a limit (say mask_blur <= 64) was dropped.
edge_values = {  # each field's documented limits, and values just past them
    "prompt_strength": [-1e-9, 0.0, 1.0, 1.0000001, 2, math.nan, True], "mask_strength": [-0.5, 0.0, 1.0, 1.5, math.inf],
    "mask_blur": [-0.5, 0.0, 64.0, 64.5, 1e9, 63], "color": ["#12ab9f\n", "#12AB9F", "#12ab9", "#12ab9fa", "red", 0],
    "visible": [True, False, 1, 0, 1.0, None], "name": ["x" * 1000, "x" * 1001, 7],
    "prompt": ["x" * 1000, "x" * 1001, None], "negative_prompt": ["", "x" * 1001, b"no"],
}
near_valid_brushes = st.sampled_from(sorted(edge_values)).flatmap(
    lambda key: st.sampled_from(edge_values[key]).map(lambda value: [{**BRUSH_DEFAULTS, "prompt": "red", key: value}]))


def label_payloads():
    def from_labels(values):
        labels = np.array(values, np.uint8).repeat(SIZE * SIZE // len(values))[: SIZE * SIZE]
        labels = np.pad(labels, (0, SIZE * SIZE - labels.size))
        return zlib.compress(labels.tobytes())

    return st.one_of(st.lists(st.integers(0, 6), min_size=1, max_size=8).map(from_labels), st.binary(max_size=40),
                     st.integers(0, 3 * SIZE * SIZE).map(lambda n: zlib.compress(b"\x01" * n)), st.just(b""))


trait_writes = st.one_of(
    st.fixed_dictionaries({"brushes": brushes}),
    # (twice: one_of picks each entry equally often; with an empty label map, so no label lacks its brush)
    st.fixed_dictionaries({"brushes": near_valid_brushes, "labels": st.just(memoryview(b""))}),
    st.fixed_dictionaries({"brushes": near_valid_brushes, "labels": st.just(memoryview(b""))}),
    st.fixed_dictionaries({"guidance": st.sampled_from([-0.5, 0.0, 20.0, 20.5, math.nan, True])}),
    st.fixed_dictionaries({"background": st.one_of(json_values, st.fixed_dictionaries(
        {"prompt": st.one_of(st.sampled_from(["white", "", "sky"]), numbers), "negative_prompt": st.just("")}))}),
    st.fixed_dictionaries({"labels": label_payloads().map(memoryview)}),
    st.fixed_dictionaries({"background_image": st.binary(max_size=64).map(memoryview)}),
    st.fixed_dictionaries({"seed": numbers}),
    st.fixed_dictionaries({"steps": st.one_of(st.integers(-3, 12), numbers)}),
    st.fixed_dictionaries({"guidance": numbers}),
    st.fixed_dictionaries({"playing": st.one_of(st.booleans(), numbers)}),
    st.fixed_dictionaries({"status": json_values}),
    st.fixed_dictionaries({"width": numbers}),
    st.dictionaries(st.sampled_from(["seed", "steps", "guidance", "brushes", "labels", "bogus"]), json_values,
                    max_size=3),
)
operations = st.lists(st.one_of(st.tuples(st.just("message"), custom_messages, buffers),
                                st.tuples(st.just("state"), trait_writes)),
                      min_size=MIN_OPERATIONS, max_size=40)

SENT = {"operations": 0}


def make_canvas(toy):
    canvas = sdw.SemanticDrawCanvas(toy, width=SIZE, height=SIZE, steps=2)
    canvas.send = lambda content, buffers=None: None
    return canvas


# The oracle restates the documented rules (README "bad input", widgets/protocol.py's docstring) on its own:
# it must not call the package's validators, or a rule dropped from them would drop out of the check too.
BRUSH_KEYS = {"name", "color", "prompt", "negative_prompt", "prompt_strength", "mask_strength", "mask_blur",
              "visible"}
BRUSH_RANGES = {"prompt_strength": (0.0, 1.0), "mask_strength": (0.0, 1.0), "mask_blur": (0.0, 64.0)}
TEXT_LIMIT = 1000  # characters in a name, prompt or negative prompt
STATES = {"stopped", "starting", "streaming", "idle", "paused", "error"}
HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


def is_int(value):
    return type(value) is int


def is_text(value):
    return type(value) is str and len(value) <= TEXT_LIMIT


def assert_valid(canvas):
    brushes = canvas.brushes
    assert type(brushes) is list and len(brushes) <= 254
    for brush in brushes:
        assert type(brush) is dict and set(brush) == BRUSH_KEYS, brush
        assert all(is_text(brush[key]) for key in ("name", "prompt", "negative_prompt")), brush
        assert type(brush["color"]) is str and HEX_COLOUR.fullmatch(brush["color"]), brush
        for key, (low, high) in BRUSH_RANGES.items():
            assert type(brush[key]) is float and low <= brush[key] <= high, brush  # (a NaN fails this too)
        assert type(brush["visible"]) is bool, brush
    background = canvas.background
    assert type(background) is dict and set(background) == {"prompt", "negative_prompt"}, background
    assert all(is_text(text) for text in background.values()), background
    assert (canvas.width, canvas.height) == (SIZE, SIZE) and is_int(canvas.width) and is_int(canvas.height)
    status = canvas.status
    assert set(status) >= {"state", "fps", "tick", "error", "epoch"} and status["state"] in STATES, status
    assert status["error"] is None or type(status["error"]) is str, status
    assert is_int(canvas.steps) and 1 <= canvas.steps <= 50, canvas.steps
    assert type(canvas.guidance) is float and 0.0 <= canvas.guidance <= 20.0, canvas.guidance
    assert is_int(canvas.seed) and 0 <= canvas.seed < 2**63, canvas.seed
    assert type(canvas.playing) is bool, canvas.playing
    labels = canvas.label_map
    assert labels.shape == (SIZE, SIZE) and labels.dtype == np.uint8
    assert int(labels.max()) <= len(brushes), "every label names a brush"


def test_the_widget_survives_any_sequence_of_browser_messages(toy):
    canvas = make_canvas(toy)
    canvas.start()

    @settings(max_examples=EXAMPLES, deadline=None,  # derandomized, no database: tests/conftest.py
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(operations)
    def run(ops):
        for op in ops:
            SENT["operations"] += 1
            if op[0] == "message":
                canvas._handle_custom_msg(op[1], op[2])  # ProtocolError is reported with a warning, never raised
            else:
                canvas.set_state(op[1])
            assert_valid(canvas)

    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            run()
        assert SENT["operations"] >= EXAMPLES * MIN_OPERATIONS
        # ... and afterwards a user can still draw and get the right picture
        canvas.set_state({"brushes": [dict(BRUSH_DEFAULTS, prompt="red")],
                          "background": {"prompt": "white", "negative_prompt": ""}, "background_image": memoryview(b""),
                          "playing": True, "steps": 2, "guidance": 1.0})
        labels = np.zeros((SIZE, SIZE), np.uint8)
        labels[:32, :32] = 1
        canvas.set_state({"labels": memoryview(zlib.compress(labels.tobytes()))})
        if not canvas.running:
            canvas.start()
        frame = asyncio.run(canvas.settled(timeout=120))
        assert frame.scene == canvas.scene
        assert np.array_equal(np.asarray(frame.image), np.asarray(sdw.generate(toy, canvas.scene, steps=2)))
    finally:
        canvas.stop()
