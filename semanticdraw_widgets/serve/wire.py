"""The wire format between a shared engine and its clients: safetensors bytes, never pickle.

One message = the safetensors layout (an 8-byte little-endian header length, a JSON header naming
each tensor's dtype, shape and byte range, then the raw bytes) with the request's own fields as one
JSON string in the header's ``__metadata__``. Any safetensors reader can open a message; this module
reads it itself so that every limit is checked on the header alone, BEFORE any tensor is allocated:

* the whole message is at most ``max_bytes`` (the server also refuses a larger Content-Length before
  reading the body), the header at most ``MAX_HEADER_BYTES``;
* at most ``MAX_TENSORS`` tensors of at most ``MAX_DIMS`` dimensions, dtypes from ``DTYPES`` only;
* every tensor's byte range lies inside the message, ranges do not overlap, and
  ``prod(shape) * itemsize`` equals its range's length (so a shape cannot ask for more memory than
  the message carries).

A message that breaks a rule raises ``WireError`` (``TooLarge`` for size limits) naming the rule.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import sys
from typing import Any, Mapping

import numpy as np
import torch
from torch import Tensor

MAX_BYTES = 256 * 2**20  # default limit of one message; the server's is set by its options
MAX_HEADER_BYTES = 2**20
MAX_TENSORS = 4096  # an upload of cached rows holds one tensor per row and key
MAX_DIMS = 8
META_KEY = "sdw"

# safetensors dtype names <-> torch dtypes; nothing else travels.
DTYPES: dict[str, torch.dtype] = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
                                  "F64": torch.float64, "I64": torch.int64, "I32": torch.int32,
                                  "U8": torch.uint8, "BOOL": torch.bool}
_NAMES = {dtype: name for name, dtype in DTYPES.items()}


class WireError(ValueError):
    """A message broke a rule of the wire format; the text names the rule (an HTTP 400)."""

    status = 400


class TooLarge(WireError):
    """A message, or a tensor declared in it, is over a size limit (an HTTP 413)."""

    status = 413


def encode(meta: Mapping[str, Any], tensors: Mapping[str, Tensor] | None = None) -> bytes:
    """JSON-able `meta` plus named tensors -> message bytes (tensors are copied to the CPU, contiguous)."""
    header: dict[str, Any] = {"__metadata__": {META_KEY: json.dumps(meta, separators=(",", ":"))}}
    chunks: list[bytes] = []
    offset = 0
    for name, tensor in (tensors or {}).items():
        if not isinstance(tensor, Tensor):
            raise TypeError(f"tensor {name!r} must be a torch.Tensor, got {type(tensor).__name__}")
        if tensor.dtype not in _NAMES:
            raise WireError(f"tensor {name!r} has dtype {tensor.dtype}, which does not travel: "
                            f"use one of {', '.join(map(str, _NAMES))}")
        data = _tensor_bytes(tensor)
        header[name] = {"dtype": _NAMES[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # safetensors pads the header so the data starts 8-aligned
    return b"".join([struct.pack("<Q", len(text)), text, *chunks])


def _tensor_bytes(tensor: Tensor) -> bytes:
    flat = tensor.detach().to("cpu").contiguous()
    if flat.dtype == torch.bfloat16:  # numpy has no bfloat16: send its bits
        flat = flat.view(torch.int16)
    array = flat.numpy()
    if sys.byteorder != "little":
        array = array.byteswap()
    return array.tobytes()


def decode(data: bytes | bytearray | memoryview, *, max_bytes: int = MAX_BYTES) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """Message bytes -> (meta, tensors). Every limit is checked on the header before tensors are made."""
    total = len(data)
    if total > max_bytes:
        raise TooLarge(f"message of {total} bytes is over the limit of {max_bytes} bytes: send fewer or "
                       "smaller tensors (a smaller canvas), or raise the server's --max-request-mb")
    if total < 8:
        raise WireError(f"message of {total} bytes is too short for a header: expected safetensors bytes")
    (length,) = struct.unpack_from("<Q", data, 0)
    if length > MAX_HEADER_BYTES:
        raise TooLarge(f"message header of {length} bytes is over the limit of {MAX_HEADER_BYTES} bytes")
    if 8 + length > total:
        raise WireError(f"message header says {length} bytes but only {total - 8} follow")
    try:
        header = json.loads(bytes(data[8: 8 + length]))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WireError(f"message header is not JSON: {error}") from None
    if not isinstance(header, dict):
        raise WireError("message header must be a JSON object")
    meta = _read_meta(header.pop("__metadata__", None))
    if len(header) > MAX_TENSORS:
        raise TooLarge(f"message has {len(header)} tensors, over the limit of {MAX_TENSORS}")
    body = total - 8 - length
    layout = sorted(((_check_entry(name, entry, body), name) for name, entry in header.items()),
                    key=lambda item: item[0][2])
    previous_end = 0
    for (_, _, begin, end), name in layout:
        if begin < previous_end:
            raise WireError(f"tensor {name!r} overlaps the tensor before it (bytes {begin}..{end})")
        previous_end = end
    start = 8 + length
    view = memoryview(data)
    tensors = {}
    for (dtype, shape, begin, end), name in layout:  # only now, with every size known to fit, allocate
        tensors[name] = _make_tensor(view[start + begin: start + end], dtype, shape)
    return meta, tensors


def _read_meta(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not isinstance(raw.get(META_KEY, ""), str):
        raise WireError(f"message __metadata__ must map {META_KEY!r} to a JSON string")
    if META_KEY not in raw:
        return {}
    try:
        meta = json.loads(raw[META_KEY])
    except json.JSONDecodeError as error:
        raise WireError(f"message metadata is not JSON: {error}") from None
    if not isinstance(meta, dict):
        raise WireError("message metadata must be a JSON object")
    return meta


def _check_entry(name: str, entry: Any, body: int) -> tuple[torch.dtype, tuple[int, ...], int, int]:
    if not isinstance(entry, dict):
        raise WireError(f"tensor {name!r}: header entry must be an object with dtype, shape and data_offsets")
    dtype = DTYPES.get(entry.get("dtype"))
    if dtype is None:
        raise WireError(f"tensor {name!r}: dtype {entry.get('dtype')!r} is not accepted; use one of "
                        f"{', '.join(DTYPES)}")
    shape, offsets = entry.get("shape"), entry.get("data_offsets")
    if not isinstance(shape, list) or len(shape) > MAX_DIMS or not all(
            type(n) is int and n >= 0 for n in shape):
        raise WireError(f"tensor {name!r}: shape must be a list of at most {MAX_DIMS} non-negative integers, "
                        f"got {shape!r}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(n) is int for n in offsets)
            and 0 <= offsets[0] <= offsets[1] <= body):
        raise WireError(f"tensor {name!r}: data_offsets {offsets!r} do not lie inside the {body} data bytes")
    itemsize = torch.empty((), dtype=dtype).element_size()
    need = math.prod(shape) * itemsize  # Python integers: no overflow, however large the shape
    if need != offsets[1] - offsets[0]:
        raise WireError(f"tensor {name!r}: shape {shape} of {entry['dtype']} needs {need} bytes but its "
                        f"data_offsets give {offsets[1] - offsets[0]}")
    return dtype, tuple(shape), offsets[0], offsets[1]


def _make_tensor(chunk: memoryview, dtype: torch.dtype, shape: tuple[int, ...]) -> Tensor:
    raw_dtype = torch.int16 if dtype == torch.bfloat16 else dtype
    array = np.frombuffer(chunk, dtype=torch.empty((), dtype=raw_dtype).numpy().dtype).copy()
    if sys.byteorder != "little":
        array = array.byteswap()
    tensor = torch.from_numpy(array)
    if dtype == torch.bfloat16:
        tensor = tensor.view(torch.bfloat16)
    return tensor.reshape(shape)


def row_handle(row: Mapping[str, Tensor]) -> str:
    """The content address of one conditioning row ({key: tensor without the batch dim}).

    Client and server both compute it, so a handle names exactly one row of bytes: the server checks
    uploads against it, and a client can never make another client's handle mean something else.
    """
    digest = hashlib.blake2b(digest_size=16)
    for key in sorted(row):
        tensor = row[key]
        digest.update(f"{key}|{_NAMES.get(tensor.dtype, tensor.dtype)}|{tuple(tensor.shape)}|".encode())
        digest.update(_tensor_bytes(tensor))
    return digest.hexdigest()
