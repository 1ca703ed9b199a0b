"""Wire protocol between the Python widget and its TypeScript front end, declared once.

Version 2. This module is the single home of the protocol: the synced traits (``TRAITS``: type, who may
write them), the status trait's fields (``STATUS_FIELDS``) and every custom message (``MESSAGES``: kind,
direction, fields and their types). From these tables come

* the Python checks: ``parse_client_message`` (browser -> kernel), ``build_message`` (kernel -> browser,
  so a message the schema lacks cannot be sent), ``build_status`` and ``BROWSER_WRITABLE``;
* the TypeScript types and runtime checks in ``js/src/protocol.generated.ts``;
* the tables of ``docs/protocol.md`` (between its ``generated`` markers; the prose around them is kept).

Regenerate both after a change with ``python -m semanticdraw_widgets.widgets.protocol_codegen --write``;
``tests/test_protocol_sync.py`` regenerates them and fails on any difference.

Epochs: every stream the canvas starts gets a new epoch and numbers its frames from 1. A view that sees
a frame of another epoch forgets the old stream's frames (it never compares sequence numbers across
epochs), and the kernel ignores acks that name an old epoch. Unknown or malformed messages are reported
(a warning and the status line), never fatal; a reason quotes at most a short excerpt of a bad value.
"""

from __future__ import annotations

import reprlib
import zlib
from dataclasses import dataclass
from typing import Any, Literal, Sequence

import numpy as np

# The brush schema and the settings' limits live in the field table (fields.py); re-exported here so that
# `from semanticdraw_widgets.widgets.protocol import MAX_BRUSHES` keeps working.
from ..fields import (BRUSH_DEFAULTS, BRUSH_LIMITS, GUIDANCE_LIMITS, MAX_BRUSHES,  # noqa: F401
                      MAX_TEXT_LENGTH, STEPS_CHOICES)
from ..runtime.core import STATES

PROTOCOL_VERSION = 2
COMMANDS = ("step",)
MIMES = ("image/jpeg", "image/png")

PALETTE_FORMAT = "semanticdraw-palette"
PALETTE_VERSION = 1



class ProtocolError(ValueError):
    """A message from the front end that does not follow the protocol."""


# -- the schema ------------------------------------------------------------------------------------
# A field type is one of: "uint" (a whole number 0 <= n < 2**53, not a bool), "number" (finite), "str",
# "bool", or a tuple of allowed strings.
FieldType = Any


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType
    help: str
    optional: bool = False  # may be left out (a TypeScript `name?:`)
    nullable: bool = False  # may be null


@dataclass(frozen=True)
class Message:
    kind: str
    direction: Literal["kernel", "browser"]  # who sends it
    fields: tuple[Field, ...]
    help: str
    buffers: str = ""  # what its binary buffers hold ("" = none)
    together: tuple[str, ...] = ()  # optional fields that come all together or not at all


@dataclass(frozen=True)
class Trait:
    name: str
    ts: str  # its TypeScript type
    writer: Literal["kernel", "both", "browser"]  # who may change it
    help: str


STATUS_FIELDS = (
    Field("state", STATES, "what the stream does"),
    Field("fps", "number", "frames per second over the last second of streaming"),
    Field("tick", "uint", "model ticks run so far"),
    Field("error", "str", "why the stream or the last input failed", nullable=True),
    Field("epoch", "uint", "the stream generation; frames of an older epoch belong to a stopped stream"),
    Field("warning", "str", "what the user should know although nothing failed (prompt-less brushes, ignored "
                            "words)", nullable=True),
)

TRAITS = (
    Trait("width", "number", "kernel", "canvas size in pixels (the label map and every frame)"),
    Trait("height", "number", "kernel", "canvas size in pixels"),
    Trait("brushes", "Brush[]", "both", "brush i paints label i + 1; at most MAX_BRUSHES"),
    Trait("background", "BackgroundState", "both", "the background layer: {prompt, negative_prompt}"),
    Trait("labels", "DataView", "browser", "zlib-compressed uint8 label map, row-major height x width: 0 = "
                                           "background, i = brushes[i - 1]; synced at stroke end and throttled "
                                           "during a stroke"),
    Trait("background_image", "DataView", "both", "PNG/JPEG bytes of a photo to inpaint into; empty = none"),
    Trait("seed", "number", "both", "the noise seed"),
    Trait("steps", "number", "both", "denoising steps of the stream"),
    Trait("guidance", "number", "both", "classifier-free guidance scale"),
    Trait("playing", "boolean", "both", "play or pause the stream"),
    Trait("status", "Status", "kernel", "what the stream does (see the status fields)"),
    Trait("snapshot", "DataView", "kernel", "the newest picture, about once a second (what a reopened "
                                            "notebook shows)"),
    Trait("snapshot_mime", "string", "kernel", "the snapshot's image type"),
    Trait("protocol_version", "number", "kernel", "the protocol version the kernel speaks"),
)

MESSAGES = (
    Message("frame", "kernel", (
        Field("epoch", "uint", "stream generation: a new one restarts the numbering"),
        Field("seq", "uint", "1, 2, ... within the epoch"),
        Field("mime", MIMES, "JPEG while streaming, PNG once settled"),
        Field("width", "uint", "picture width"),
        Field("height", "uint", "picture height"),
        Field("settled", "bool", "the lossless finished picture"),
        Field("tick", "uint", "the model tick that made it"),
        Field("step", "uint", "denoising steps behind it"),
    ), "one picture of the stream", buffers="the encoded image"),
    Message("welcome", "kernel", (
        Field("version", "uint", "the kernel's PROTOCOL_VERSION"),
        Field("epoch", "uint", "the current stream, 0 when none runs"),
    ), "the answer to every hello: the kernel is alive"),
    Message("error", "kernel", (
        Field("message", "str", "what was refused and why"),
    ), "a refused input or a failed request"),
    Message("ack", "browser", (
        Field("epoch", "uint", "the stream of the frame"),
        Field("seq", "uint", "the newest painted frame; cumulative: every earlier one of the epoch too"),
    ), "the view has painted frame seq of that epoch"),
    Message("command", "browser", (
        Field("name", COMMANDS, "what to do"),
    ), "`step`: one tick while paused"),
    Message("hello", "browser", (
        Field("version", "uint", "the view's PROTOCOL_VERSION"),
        Field("epoch", "uint", "the stream of the frame the view shows", optional=True),
        Field("seq", "uint", "the frame the view shows", optional=True),
    ), "a view (re)connected, or checks the kernel is still there; answered with a welcome, and with the "
       "newest frame unless the view shows it already (at most one frame per view per "
       "`HELLO_FRAME_INTERVAL` seconds: repeated hellos are coalesced)", together=("epoch", "seq")),
)
MESSAGE_BY_KIND = {message.kind: message for message in MESSAGES}
BROWSER_WRITABLE = frozenset(trait.name for trait in TRAITS if trait.writer != "kernel")
HELLO_FRAME_INTERVAL = 1.0  # seconds: a view gets its newest frame again at most this often
EXCERPT_LENGTH = 60  # characters of a bad value quoted in a message
MAX_MESSAGE_LENGTH = 500  # characters of an error or warning the kernel shows (status line, error message)
# One wording for a warning both sides show (the view at the first stroke, the kernel once strokes arrive)
NO_PROMPT_WARNING = 'brush "{name}" has no prompt: its strokes paint nothing until you give it one'


def no_prompt_warning(name: str) -> str:
    return NO_PROMPT_WARNING.replace("{name}", name)


def clip_message(text: str) -> str:
    """`text` cut to ``MAX_MESSAGE_LENGTH`` characters (a reason must not echo a huge input)."""
    return text if len(text) <= MAX_MESSAGE_LENGTH else text[:MAX_MESSAGE_LENGTH - 1] + "…"


_EXCERPT = reprlib.Repr()  # (Python 3.11's Repr takes no keyword arguments)
_EXCERPT.maxstring = _EXCERPT.maxother = EXCERPT_LENGTH
_EXCERPT.maxlist = _EXCERPT.maxdict = 4


def excerpt(value: Any) -> str:
    """A short, escaped repr of `value` for an error message (a 10 MB field name stays a line)."""
    return _EXCERPT.repr(value)


def _check(value: Any, field: Field) -> bool:
    if value is None:
        return field.nullable
    if isinstance(field.type, tuple):
        return isinstance(value, str) and value in field.type
    if field.type == "uint":
        return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53
    if field.type == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value \
            and abs(value) != float("inf")
    return isinstance(value, {"str": str, "bool": bool}[field.type])


def _wanted(field: Field) -> str:
    if isinstance(field.type, tuple):
        return f"{field.name!r} to be one of {', '.join(field.type)}"
    kind = {"uint": "a non-negative integer", "number": "a finite number", "str": "a string",
            "bool": "true or false"}[field.type]
    return f"{kind} {field.name!r}" + (" (or null)" if field.nullable else "")


def _checked(kind: str, content: dict[str, Any], fields: Sequence[Field], together: Sequence[str] = ()) -> dict:
    out: dict[str, Any] = {"kind": kind}
    for field in fields:
        if field.name not in content:
            if field.optional and not any(name in content for name in together if field.name in together):
                continue
            raise ProtocolError(f"{kind!r} message needs {_wanted(field)}, got nothing")
        value = content[field.name]
        if not _check(value, field):
            raise ProtocolError(f"{kind!r} message needs {_wanted(field)}, got {excerpt(value)}")
        out[field.name] = value
    return out


def parse_client_message(content: Any, buffers: Sequence[Any] = ()) -> dict[str, Any]:
    """Validate one custom message from the browser against ``MESSAGES``; raises ProtocolError naming what is wrong."""
    if not isinstance(content, dict):
        raise ProtocolError(f"a message must be a JSON object, got {type(content).__name__}")
    kind = content.get("kind")
    message = MESSAGE_BY_KIND.get(kind) if isinstance(kind, str) else None
    if message is None or message.direction != "browser":
        raise ProtocolError(f"unknown message kind {excerpt(kind)}")
    parsed = _checked(message.kind, content, message.fields, message.together)
    if kind == "hello" and parsed["version"] != PROTOCOL_VERSION:
        raise ProtocolError(f"front end speaks protocol {parsed['version']}, the kernel {PROTOCOL_VERSION}: "
                            f"reinstall semanticdraw_widgets and reload the page")
    return parsed


def build_message(kind: str, **fields: Any) -> dict[str, Any]:
    """A kernel -> browser message, checked against ``MESSAGES`` (a kind or field it lacks is a bug: ValueError)."""
    message = MESSAGE_BY_KIND.get(kind)
    if message is None or message.direction != "kernel":
        raise ValueError(f"the protocol has no kernel message {kind!r}")
    unknown = set(fields) - {field.name for field in message.fields}
    if unknown:
        raise ValueError(f"{kind!r} message has no field(s) {sorted(unknown)}")
    try:
        return _checked(kind, fields, message.fields)
    except ProtocolError as error:
        raise ValueError(str(error)) from None


def build_status(**fields: Any) -> dict[str, Any]:
    """The status trait's value, checked against ``STATUS_FIELDS`` (every field, no other)."""
    unknown = set(fields) - {field.name for field in STATUS_FIELDS}
    if unknown:
        raise ValueError(f"the status has no field(s) {sorted(unknown)}")
    try:
        checked = _checked("status", fields, STATUS_FIELDS)
    except ProtocolError as error:
        raise ValueError(str(error)) from None
    del checked["kind"]
    return checked


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

