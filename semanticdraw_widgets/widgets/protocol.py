"""Wire protocol between the Python widget and its TypeScript front end (mirrored in js/src/protocol.ts).

Version 1. Durable state lives in synced traits, so a re-rendered view or a saved notebook shows it:

    width, height        canvas size in pixels
    brushes              [{name, color, prompt, negative_prompt, prompt_strength, mask_strength,
                           mask_blur, visible}]  — brush i paints label i + 1
    background           {prompt, negative_prompt}
    background_image     PNG/JPEG bytes of a photo to inpaint into (empty: none)
    labels               zlib-compressed uint8 label map, row-major (height x width): 0 = background,
                         i = brushes[i - 1]; the browser sets it at stroke end and throttled during a stroke
    seed, steps, guidance, playing
    status               {state, fps, tick, error}  (read-only for the browser)
    snapshot             JPEG/PNG of the newest picture, at most about once a second

Ephemeral events are custom messages, each a dict with a "kind":

    kernel -> browser   {kind: "frame", seq, mime, width, height, settled, tick, step} + [image bytes]
                        {kind: "error", message}
    browser -> kernel   {kind: "ack", seq}                 the view has painted frame seq; cumulative (it
                                                       releases every earlier frame too), so a view may
                                                       ack only its newest painted frame now and then
                        {kind: "command", name: "step"}    one tick while paused
                        {kind: "hello", version}           a view (re)connected; the newest frame is resent

Unknown kinds are reported (a warning and the status line), never fatal.
"""

from __future__ import annotations

import zlib
from typing import Any, Literal, Sequence, TypedDict, Union

import numpy as np

PROTOCOL_VERSION = 1
MAX_LABELS = 255
COMMANDS = ("step",)


class ProtocolError(ValueError):
    """A message from the front end that does not follow the protocol."""


class FrameMessage(TypedDict):
    kind: Literal["frame"]
    seq: int
    mime: str
    width: int
    height: int
    settled: bool
    tick: int
    step: int


class ErrorMessage(TypedDict):
    kind: Literal["error"]
    message: str


class AckMessage(TypedDict):
    kind: Literal["ack"]
    seq: int


class CommandMessage(TypedDict):
    kind: Literal["command"]
    name: str


class HelloMessage(TypedDict):
    kind: Literal["hello"]
    version: int


ClientMessage = Union[AckMessage, CommandMessage, HelloMessage]


def _int_field(content: dict[str, Any], key: str) -> int:
    value = content.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProtocolError(f"{content.get('kind')!r} message needs a non-negative integer {key!r}, got {value!r}")
    return value


def parse_client_message(content: Any, buffers: Sequence[Any] = ()) -> ClientMessage:
    """Validate one custom message from the browser; raises ProtocolError naming what is wrong."""
    if not isinstance(content, dict):
        raise ProtocolError(f"a message must be a JSON object, got {type(content).__name__}")
    kind = content.get("kind")
    if kind == "ack":
        return AckMessage(kind="ack", seq=_int_field(content, "seq"))
    if kind == "command":
        name = content.get("name")
        if name not in COMMANDS:
            raise ProtocolError(f"unknown command {name!r}: expected one of {', '.join(COMMANDS)}")
        return CommandMessage(kind="command", name=name)
    if kind == "hello":
        version = _int_field(content, "version")
        if version != PROTOCOL_VERSION:
            raise ProtocolError(f"front end speaks protocol {version}, the kernel {PROTOCOL_VERSION}: "
                                f"reinstall semanticdraw_widgets and reload the page")
        return HelloMessage(kind="hello", version=version)
    raise ProtocolError(f"unknown message kind {kind!r}")


def encode_labels(labels: np.ndarray) -> bytes:
    """(H, W) uint8 label map -> compressed bytes for the `labels` trait."""
    return zlib.compress(np.ascontiguousarray(labels, dtype=np.uint8).tobytes(), level=6)


def decode_labels(data: bytes | memoryview, width: int, height: int) -> np.ndarray:
    """Compressed `labels` trait -> (H, W) uint8; empty data means an empty canvas."""
    raw = bytes(data)
    if not raw:
        return np.zeros((height, width), np.uint8)
    try:
        flat = zlib.decompress(raw)
    except zlib.error as error:
        raise ProtocolError(f"label map is not zlib data ({error})") from None
    if len(flat) != width * height:
        raise ProtocolError(f"label map has {len(flat)} pixels, the {width}x{height} canvas needs {width * height}")
    return np.frombuffer(flat, np.uint8).reshape(height, width)
