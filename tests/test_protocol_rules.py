"""The wire protocol's rules, one test per rule, on protocol.py alone (no widget, no browser).

Written against the mutants that survived the canvas-level tests (benchmarks/results/mutation.md): every
message the kernel shows for a bad browser message is pinned word for word, so a changed reason fails here.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from semanticdraw_widgets.widgets import protocol
from semanticdraw_widgets.widgets.protocol import (MAX_MESSAGE_LENGTH, PROTOCOL_VERSION, ProtocolError, build_message,
                                                  build_status, clip_message, decode_labels, encode_labels, excerpt,
                                                  no_prompt_warning, parse_client_message)


def refusal(content) -> str:
    with pytest.raises(ProtocolError) as caught:
        parse_client_message(content)
    return str(caught.value)


def test_the_no_prompt_warning_names_the_brush():
    assert no_prompt_warning("sky") == 'brush "sky" has no prompt: its strokes paint nothing until you give it one'


def test_a_message_is_clipped_to_the_limit_with_an_ellipsis_and_a_short_one_is_kept():
    assert clip_message("short") == "short"
    exact = "x" * MAX_MESSAGE_LENGTH
    assert clip_message(exact) == exact
    clipped = clip_message("y" * (MAX_MESSAGE_LENGTH + 1))
    assert clipped == "y" * (MAX_MESSAGE_LENGTH - 1) + "…" and len(clipped) == MAX_MESSAGE_LENGTH


def test_an_excerpt_quotes_the_value_shortened():
    assert excerpt("abc") == "'abc'"
    assert excerpt([1, 2, 3, 4, 5, 6]) == "[1, 2, 3, 4, ...]"
    long = excerpt("z" * 10_000)
    assert long.startswith("'zz") and "..." in long and len(long) <= protocol.EXCERPT_LENGTH + 2


def test_a_message_that_is_not_an_object_is_refused_naming_its_type():
    assert refusal([1]) == "a message must be a JSON object, got list"


@pytest.mark.parametrize("kind", [None, "nope", ["ack"], {"k": 1}, "frame", "welcome"])
def test_an_unknown_kind_or_a_kernel_kind_from_the_browser_is_refused(kind):
    """A kind that is not text (even an unhashable one) is a ProtocolError, never a TypeError."""
    assert refusal({"kind": kind}) == f"unknown message kind {excerpt(kind)}"


@pytest.mark.parametrize("content, reason", [
    ({"kind": "ack", "seq": 1}, "'ack' message needs a non-negative integer 'epoch', got nothing"),
    ({"kind": "ack", "epoch": -1, "seq": 1}, "'ack' message needs a non-negative integer 'epoch', got -1"),
    ({"kind": "ack", "epoch": True, "seq": 1}, "'ack' message needs a non-negative integer 'epoch', got True"),
    ({"kind": "ack", "epoch": 1.0, "seq": 1}, "'ack' message needs a non-negative integer 'epoch', got 1.0"),
    ({"kind": "ack", "epoch": 2**53, "seq": 1},
     f"'ack' message needs a non-negative integer 'epoch', got {2**53}"),
    ({"kind": "ack", "epoch": 1, "seq": None}, "'ack' message needs a non-negative integer 'seq', got None"),
    ({"kind": "command", "name": "jump"}, "'command' message needs 'name' to be one of step, got 'jump'"),
    ({"kind": "command", "name": 3}, "'command' message needs 'name' to be one of step, got 3"),
    ({"kind": "hello"}, "'hello' message needs a non-negative integer 'version', got nothing"),
    ({"kind": "hello", "version": PROTOCOL_VERSION, "epoch": 1},
     "'hello' message needs a non-negative integer 'seq', got nothing"),
    ({"kind": "hello", "version": PROTOCOL_VERSION, "seq": 1},
     "'hello' message needs a non-negative integer 'epoch', got nothing"),
    ({"kind": "hello", "version": PROTOCOL_VERSION + 1},
     f"front end speaks protocol {PROTOCOL_VERSION + 1}, the kernel {PROTOCOL_VERSION}: reinstall "
     "semanticdraw_widgets and reload the page"),
])
def test_a_malformed_browser_message_is_refused_saying_what_was_wanted(content, reason):
    assert refusal(content) == reason


def test_a_good_browser_message_is_returned_with_only_its_schema_fields():
    assert parse_client_message({"kind": "ack", "epoch": 0, "seq": 2**53 - 1, "extra": 1}) == {
        "kind": "ack", "epoch": 0, "seq": 2**53 - 1}
    assert parse_client_message({"kind": "hello", "version": PROTOCOL_VERSION}) == {
        "kind": "hello", "version": PROTOCOL_VERSION}
    assert parse_client_message({"kind": "hello", "version": PROTOCOL_VERSION, "epoch": 3, "seq": 4}) == {
        "kind": "hello", "version": PROTOCOL_VERSION, "epoch": 3, "seq": 4}
    assert parse_client_message({"kind": "command", "name": "step"}) == {"kind": "command", "name": "step"}


@pytest.mark.parametrize("fields, reason", [
    (dict(message=None), "'error' message needs a string 'message', got None"),
    (dict(message=1), "'error' message needs a string 'message', got 1"),
])
def test_the_kernel_cannot_build_a_message_the_schema_refuses(fields, reason):
    with pytest.raises(ValueError) as caught:
        build_message("error", **fields)
    assert str(caught.value) == reason and not isinstance(caught.value, ProtocolError)


def test_the_kernel_cannot_build_an_unknown_or_a_browser_message():
    for kind in ("nope", "ack"):
        with pytest.raises(ValueError, match=f"the protocol has no kernel message '{kind}'"):
            build_message(kind)
    with pytest.raises(ValueError, match=r"'welcome' message has no field\(s\) \['x', 'y'\]"):
        build_message("welcome", version=PROTOCOL_VERSION, epoch=0, y=1, x=2)
    frame = dict(epoch=1, seq=1, mime="image/png", width=8, height=8, settled=True, tick=0, step=1)
    assert build_message("frame", **frame) == {"kind": "frame", **frame}
    with pytest.raises(ValueError, match="'frame' message needs 'mime' to be one of image/jpeg, image/png, got 'gif'"):
        build_message("frame", **{**frame, "mime": "gif"})
    with pytest.raises(ValueError, match="'frame' message needs true or false 'settled', got 1"):
        build_message("frame", **{**frame, "settled": 1})


STATUS = dict(state="idle", fps=0.0, tick=0, error=None, epoch=0, warning=None)


@pytest.mark.parametrize("value, ok", [(0.5, True), (3, True), (True, False), (float("nan"), False),
                                       (float("inf"), False), (-float("inf"), False), ("1", False)])
def test_a_status_number_is_finite_and_not_a_bool(value, ok):
    if ok:
        assert build_status(**{**STATUS, "fps": value})["fps"] == value
    else:
        with pytest.raises(ValueError, match=r"'status' message needs a finite number 'fps', got "):
            build_status(**{**STATUS, "fps": value})


def test_the_status_has_every_field_and_no_other():
    assert build_status(**STATUS) == STATUS
    with pytest.raises(ValueError, match=r"the status has no field\(s\) \['bogus'\]"):
        build_status(**STATUS, bogus=1)
    with pytest.raises(ValueError, match=r"'status' message needs a string 'error' \(or null\), got nothing"):
        build_status(**{k: v for k, v in STATUS.items() if k != "error"})


def test_labels_are_sent_as_zlib_compressed_uint8_whatever_the_array_dtype():
    labels = np.arange(12, dtype=np.int64).reshape(3, 4)
    data = encode_labels(labels)
    assert zlib.decompress(data) == bytes(range(12))
    np.testing.assert_array_equal(decode_labels(data, 4, 3), labels.astype(np.uint8))


def test_decoded_labels_keep_the_canvas_shape_and_refuse_missing_or_extra_pixels():
    empty = decode_labels(b"", 4, 3)
    assert empty.shape == (3, 4) and empty.dtype == np.uint8 and not empty.any()
    with pytest.raises(ProtocolError, match=r"label map has 11 pixels, the 4x3 canvas needs 12"):
        decode_labels(zlib.compress(bytes(11)), 4, 3)
    with pytest.raises(ProtocolError, match=r"label map inflates past the 4x3 canvas \(12 pixels\)"):
        decode_labels(zlib.compress(bytes(13)), 4, 3)
    with pytest.raises(ProtocolError, match=r"label map uses label 3, but there are only 2 brushes"):
        decode_labels(zlib.compress(bytes([3] * 12)), 4, 3, max_label=2)
    assert decode_labels(zlib.compress(bytes([2] * 12)), 4, 3, max_label=2).max() == 2
    with pytest.raises(ProtocolError, match=r"label map is not zlib data \("):
        decode_labels(b"not zlib", 4, 3)


def test_an_absent_optional_field_does_not_end_the_check_of_the_fields_after_it():
    fields = (protocol.Field("note", "str", "", optional=True), protocol.Field("count", "uint", ""))
    with pytest.raises(ProtocolError, match="'probe' message needs a non-negative integer 'count', got nothing"):
        protocol._checked("probe", {}, fields)
    assert protocol._checked("probe", {"count": 2}, fields) == {"kind": "probe", "count": 2}
