"""The shared engine's wire format: round trips, and malformed or oversized messages refused before allocation."""

import json
import struct

import pytest
import torch

from semanticdraw_widgets.serve import wire


def _message(header: dict, body: bytes = b"") -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + body


def test_round_trip_keeps_dtype_shape_values_and_meta():
    tensors = {"x": torch.randn(2, 4, 3, 5), "steps": torch.tensor([0, 3], dtype=torch.int64),
               "half": torch.randn(3).half(), "brain": torch.randn(4).bfloat16(), "mask": torch.tensor([True, False]),
               "empty": torch.zeros(0, 7)}
    meta, back = wire.decode(wire.encode({"op": "predict", "cond": ["a", "b"]}, tensors))
    assert meta == {"op": "predict", "cond": ["a", "b"]}
    assert back.keys() == tensors.keys()
    for name, tensor in tensors.items():
        assert back[name].dtype == tensor.dtype and back[name].shape == tensor.shape
        assert torch.equal(back[name], tensor)


def test_messages_are_safetensors_that_any_reader_opens():
    safetensors_torch = pytest.importorskip("safetensors.torch")
    data = wire.encode({"op": "x"}, {"a": torch.arange(6.0).view(2, 3)})
    assert torch.equal(safetensors_torch.load(data)["a"], torch.arange(6.0).view(2, 3))


def test_a_non_contiguous_tensor_travels_as_its_values():
    x = torch.arange(12.0).view(3, 4).t()
    assert torch.equal(wire.decode(wire.encode({}, {"x": x}))[1]["x"], x)


def test_oversized_message_is_refused_before_parsing():
    data = wire.encode({}, {"x": torch.zeros(1000)})
    with pytest.raises(wire.TooLarge, match="over the limit of 100 bytes"):
        wire.decode(data, max_bytes=100)


def test_a_shape_larger_than_its_bytes_is_refused_without_allocating():
    # 2**40 floats would be 4 TiB: the check must compare sizes, never try to allocate
    data = _message({"x": {"dtype": "F32", "shape": [2**20, 2**20], "data_offsets": [0, 16]}}, b"\0" * 16)
    with pytest.raises(wire.WireError, match="needs 4398046511104 bytes"):
        wire.decode(data)


@pytest.mark.parametrize("header, body, message", [
    ({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 32]}}, b"\0" * 16, "do not lie inside"),
    ({"x": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4, "non-negative integers"),
    ({"x": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}}, b"\0" * 4, "non-negative integers"),
    ({"x": {"dtype": "F32", "shape": [1] * 9, "data_offsets": [0, 4]}}, b"\0" * 4, "at most 8"),
    ({"x": {"dtype": "O", "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 8, "dtype 'O' is not accepted"),
    ({"x": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}, b"\0" * 4, "do not lie inside"),
    ({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
      "y": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8, "overlaps"),
    ({"x": [1, 2]}, b"", "must be an object"),
    ({"__metadata__": {"sdw": "{not json"}}, b"", "metadata is not JSON"),
    ({"__metadata__": {"sdw": "[1]"}}, b"", "must be a JSON object"),
    ({"__metadata__": {"sdw": 3}}, b"", "JSON string"),
])
def test_malformed_headers_are_refused_with_the_rule(header, body, message):
    with pytest.raises(wire.WireError, match=message):
        wire.decode(_message(header, body))


def test_truncated_and_garbage_messages_are_refused():
    with pytest.raises(wire.WireError, match="too short"):
        wire.decode(b"\x01\x02")
    with pytest.raises(wire.WireError, match="only 3 follow"):
        wire.decode(struct.pack("<Q", 50) + b"abc")
    with pytest.raises(wire.TooLarge, match="header of"):
        wire.decode(struct.pack("<Q", 2**62) + b"abc")
    with pytest.raises(wire.WireError, match="not JSON"):
        wire.decode(struct.pack("<Q", 3) + b"\xff\xfe{")


def test_too_many_tensors_are_refused():
    header = {f"t{i}": {"dtype": "U8", "shape": [0], "data_offsets": [0, 0]} for i in range(wire.MAX_TENSORS + 1)}
    with pytest.raises(wire.TooLarge, match="tensors, over the limit"):
        wire.decode(_message(header))


def test_pickle_never_decodes():
    import pickle

    with pytest.raises(wire.WireError):
        wire.decode(pickle.dumps({"x": torch.zeros(3)}))


def test_decoded_tensors_do_not_alias_the_message():
    data = bytearray(wire.encode({}, {"x": torch.ones(4)}))
    x = wire.decode(data)[1]["x"]
    data[-4:] = b"\0\0\0\0"
    assert torch.equal(x, torch.ones(4))
