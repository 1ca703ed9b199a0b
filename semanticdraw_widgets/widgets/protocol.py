"""Wire protocol between the Python widget and its TypeScript front end (mirrored in js/src/protocol.ts).

Version 2. Every schema and limit below is defined once on this side; ``js/src/protocol.ts`` defines the
same names, and ``tests/test_protocol_sync.py`` keeps the two equal. Durable state lives in synced
traits, so a re-rendered view or a saved notebook shows it:

    width, height        canvas size in pixels
    brushes              [{name, color, prompt, negative_prompt, prompt_strength, mask_strength,
                           mask_blur, visible}]  — brush i paints label i + 1 (BRUSH_DEFAULTS, BRUSH_LIMITS)
    background           {prompt, negative_prompt}
    background_image     PNG/JPEG bytes of a photo to inpaint into (empty: none)
    labels               zlib-compressed uint8 label map, row-major (height x width): 0 = background,
                         i = brushes[i - 1]; the browser sets it at stroke end and throttled during a stroke
    seed, steps, guidance, playing
    status               {state, fps, tick, error, epoch, warning}  (read-only: a browser write is undone)
    snapshot             JPEG/PNG of the newest picture, at most about once a second

Ephemeral events are custom messages, each a dict with a "kind":

    kernel -> browser   {kind: "frame", epoch, seq, mime, width, height, settled, tick, step} + [image bytes]
                        {kind: "welcome", version, epoch}  the answer to every hello: a live kernel
                        {kind: "error", message}
    browser -> kernel   {kind: "ack", epoch, seq}          the view has painted frame seq of that epoch;
                                                       cumulative (it releases every earlier frame too), so
                                                       a view may ack only its newest painted frame now and then
                        {kind: "command", name: "step"}    one tick while paused
                        {kind: "hello", version, [epoch, seq]}  a view (re)connected, or checks the kernel is
                                                       still there (every 15 s of silence); the newest frame
                                                       is resent unless the view shows it already (epoch, seq)

Epochs: every stream the canvas starts gets a new epoch and numbers its frames from 1. A view that sees
a frame of another epoch forgets the old stream's frames (it never compares sequence numbers across
epochs), and the kernel ignores acks that name an old epoch. So a restarted stream can never be taken
for old frames, and a stale ack can never release frames of the new one.

Unknown or malformed messages are reported (a warning and the status line), never fatal.
"""

from __future__ import annotations

import zlib
from typing import Any, Literal, Sequence, TypedDict, Union

import numpy as np

# The brush schema and the settings' limits live in the field table (fields.py); re-exported here so that
# `from semanticdraw_widgets.widgets.protocol import MAX_BRUSHES` keeps working.
from ..fields import (BRUSH_DEFAULTS, BRUSH_LIMITS, GUIDANCE_LIMITS, MAX_BRUSHES,  # noqa: F401
                      MAX_TEXT_LENGTH, STEPS_CHOICES)

PROTOCOL_VERSION = 2
COMMANDS = ("step",)
STATES = ("stopped", "starting", "streaming", "idle", "paused", "error")

PALETTE_FORMAT = "semanticdraw-palette"
PALETTE_VERSION = 1


class ProtocolError(ValueError):
    """A message from the front end that does not follow the protocol."""


class FrameMessage(TypedDict):
    kind: Literal["frame"]
    epoch: int
    seq: int
    mime: str
    width: int
    height: int
    settled: bool
    tick: int
    step: int


class WelcomeMessage(TypedDict):
    kind: Literal["welcome"]
    version: int
    epoch: int


class ErrorMessage(TypedDict):
    kind: Literal["error"]
    message: str


class AckMessage(TypedDict):
    kind: Literal["ack"]
    epoch: int
    seq: int


class CommandMessage(TypedDict):
    kind: Literal["command"]
    name: str


class HelloMessage(TypedDict, total=False):
    kind: Literal["hello"]
    version: int
    epoch: int  # the frame the view shows, when it shows one
    seq: int


ClientMessage = Union[AckMessage, CommandMessage, HelloMessage]


def _int_field(content: dict[str, Any], key: str) -> int:
    value = content.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**53:
        raise ProtocolError(f"{content.get('kind')!r} message needs a non-negative integer {key!r}, got {value!r}")
    return value


def parse_client_message(content: Any, buffers: Sequence[Any] = ()) -> ClientMessage:
    """Validate one custom message from the browser; raises ProtocolError naming what is wrong."""
    if not isinstance(content, dict):
        raise ProtocolError(f"a message must be a JSON object, got {type(content).__name__}")
    kind = content.get("kind")
    if kind == "ack":
        return AckMessage(kind="ack", epoch=_int_field(content, "epoch"), seq=_int_field(content, "seq"))
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
        hello = HelloMessage(kind="hello", version=version)
        if "epoch" in content or "seq" in content:
            hello.update(epoch=_int_field(content, "epoch"), seq=_int_field(content, "seq"))
        return hello
    raise ProtocolError(f"unknown message kind {kind!r}")


def encode_labels(labels: np.ndarray) -> bytes:
    """(H, W) uint8 label map -> compressed bytes for the `labels` trait."""
    return zlib.compress(np.ascontiguousarray(labels, dtype=np.uint8).tobytes(), level=6)


def decode_labels(data: bytes | memoryview, width: int, height: int, max_label: int = MAX_BRUSHES) -> np.ndarray:
    """Compressed `labels` trait -> (H, W) uint8; empty data means an empty canvas.

    Decompression stops one byte past the canvas size, so a zlib bomb costs at most the canvas's
    width x height bytes however far it would inflate. Labels above `max_label` (no such brush) are refused.
    """
    raw = bytes(data)
    if not raw:
        return np.zeros((height, width), np.uint8)
    expected = width * height
    inflater = zlib.decompressobj()
    try:
        flat = inflater.decompress(raw, expected + 1)
    except zlib.error as error:
        raise ProtocolError(f"label map is not zlib data ({error})") from None
    if len(flat) > expected:
        raise ProtocolError(f"label map inflates past the {width}x{height} canvas ({expected} pixels)")
    if len(flat) != expected or not inflater.eof:
        raise ProtocolError(f"label map has {len(flat)} pixels, the {width}x{height} canvas needs {expected}")
    labels = np.frombuffer(flat, np.uint8).reshape(height, width)
    top = int(labels.max())
    if top > max_label:
        raise ProtocolError(f"label map uses label {top}, but there are only {max_label} brushes")
    return labels
