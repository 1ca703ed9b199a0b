"""A Backend whose model runs in a shared engine (``semanticdraw serve``), reached over HTTP.

``load_backend("http://HOST:PORT", token=...)`` returns a ``RemoteBackend``. It satisfies the
Backend protocol, so generate, Stream, Session, the canvas, the inspector and compare_methods run
unchanged: the stream batch stays in this kernel and only model calls travel. Tensors live on this
kernel's CPU; the engine's replica holds the model on its GPU.

What a tick sends: the latents (float32) and one int64 step index per row, plus a 32-character
handle per row naming its prompt encoding, which the engine caches; encodings travel once, when a
prompt (or a prompt-strength blend of two) is new. What comes back: the x̂0 latents (float32), then
the decoded frame (8-bit when that is lossless, else float16).

Faults: when the engine does not answer, calls raise ``EngineUnavailable`` naming the URL and what
to do; it carries ``retry_after`` (bounded exponential backoff: 0.5 s doubling to 10 s), which a
Session uses to try again by itself, keeping the last picture meanwhile.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import uuid
import warnings
from typing import Any, Callable, Sequence
from urllib.parse import urlparse

import torch
from torch import Tensor

from ..backends.base import Conditioning, Schedule
from ..backends.errors import ModelLoadError
from . import wire
from .service import CLIENT_HEADER, schedule_from_tensors, schedule_tensors

TOKEN_ENV = "SEMANTICDRAW_TOKEN"
BACKOFF_START, BACKOFF_MAX = 0.5, 10.0  # seconds between a Session's retries while the engine is away

# transport(method, path, body, headers) -> (status, body); raises OSError when nothing answers
Transport = Callable[[str, str, bytes | None, dict[str, str]], tuple[int, bytes]]


class EngineError(RuntimeError):
    """The engine answered but refused or failed the request; the text is the engine's reason."""

    def __init__(self, message: str, status: int = 500, extra: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.extra = status, extra or {}


class EngineUnavailable(ConnectionError):
    """Nothing answered at the engine's URL; ``retry_after`` says when trying again makes sense."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class HttpTransport:
    """Keep-alive HTTP/1.1 to the engine, one connection per thread (loopback or a trusted network)."""

    def __init__(self, url: str, timeout: float = 120.0) -> None:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"engine URL must look like http://HOST:PORT, got {url!r}")
        self.scheme, self.host = parsed.scheme, parsed.hostname
        self.port = parsed.port or (443 if parsed.scheme == "https" else 80)
        self.prefix = parsed.path.rstrip("/")
        self.timeout = timeout
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
            conn = self._local.conn = cls(self.host, self.port, timeout=self.timeout)
        return conn

    def __call__(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
        for attempt in (0, 1):  # a kept-alive connection the server has closed fails once: reconnect
            conn = self._connection()
            try:
                conn.request(method, self.prefix + path, body=body, headers=headers)
                response = conn.getresponse()
                return response.status, response.read()
            except (http.client.HTTPException, OSError):
                conn.close()
                self._local.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


class RemoteBackend:
    """The Backend protocol over the wire (see the module docstring)."""

    def __init__(self, url: str, token: str | None = None, *, transport: Transport | None = None,
                 timeout: float = 120.0) -> None:
        self.url = url.rstrip("/")
        token = token if token is not None else os.environ.get(TOKEN_ENV) or None
        self._headers = {"Content-Type": wire_type(), CLIENT_HEADER: uuid.uuid4().hex}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._transport = transport or HttpTransport(self.url, timeout)
        self._failures = 0
        self._lock = threading.Lock()
        self._handles: set[str] = set()  # rows this client knows the engine holds
        self._schedules: dict[int, Schedule] = {}  # by step count
        self.bytes_sent = 0  # request and response bodies, for the README's bytes-per-tick figures
        self.bytes_received = 0
        info = self._json("GET", "/info")
        self.info = info
        self.name: str = info["name"]
        self.latent_channels: int = info["latent_channels"]
        self.scale_factor: int = info["scale_factor"]
        self.default_guidance: float = info["default_guidance"]
        dtypes = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
        self.dtype: torch.dtype = dtypes.get(info["dtype"], torch.float32)  # (a name from the server, not code)
        self.device = torch.device("cpu")  # the stream's tensors stay in this kernel
        self.sampler = info["sampler"]
        self._steps_range = tuple(info["steps_range"])
        self.model_calls = 0  # this client's predict calls (the engine may have merged them with others')
        self.model_rows = 0
        if info.get("unknown_words"):
            self.unknown_words = self._unknown_words

    def __repr__(self) -> str:
        return f"RemoteBackend({self.url!r}, model={self.info.get('spec') or self.name!r})"

    def steps_range(self) -> tuple[int, int, str | None]:
        return self._steps_range  # type: ignore[return-value]

    # -- the Backend protocol ----------------------------------------------------------------------
    def make_schedule(self, steps: int) -> Schedule:
        steps = int(steps)
        if steps not in self._schedules:  # one round trip per step count: a schedule depends on it alone
            _, tensors = self._call("/schedule", {"steps": steps})
            self._schedules[steps] = schedule_from_tensors(tensors)
        return self._schedules[steps]

    def encode_prompts(self, prompts: Sequence[str]) -> Conditioning:
        if len(prompts) == 0:
            raise ValueError("encode_prompts needs at least one prompt")
        chunk = int(self.info.get("limits", {}).get("max_prompts", 64))
        parts = []
        for start in range(0, len(prompts), chunk):  # a scene with many regions: several requests
            meta, cond = self._call("/encode", {"prompts": list(prompts[start: start + chunk])})
            for message in meta.get("warnings", []):
                warnings.warn(message, UserWarning, stacklevel=2)
            self._handles.update(meta.get("handles", []))
            parts.append(cond)
        return {key: torch.cat([part[key] for part in parts]) for key in parts[0]}

    def predict_x0(self, x: Tensor, step_index: Tensor, schedule: Schedule, cond: Conditioning) -> Tensor:
        steps = self._steps_of(schedule)
        handles, rows = self._handles_of(cond, x.shape[0])
        meta = {"steps": steps, "cond": handles}
        tensors = {"x": x.detach().cpu(), "step_index": step_index.detach().cpu().long()}
        missing = [h for h in dict.fromkeys(handles) if h not in self._handles]
        if missing:
            self._upload(missing, rows)
        try:
            _, out = self._call("/predict", meta, tensors)
        except EngineError as error:
            if error.status != 409:
                raise
            self._handles.difference_update(error.extra.get("missing", []))  # evicted, or the engine restarted
            self._upload(error.extra.get("missing", []), rows)
            _, out = self._call("/predict", meta, tensors)
        self.model_calls += 1
        self.model_rows += x.shape[0]
        return out["x0"]

    def decode_latents(self, latents: Tensor) -> Tensor:
        images = self._call("/decode", {}, {"latents": latents.detach().cpu()})[1]["images"]
        return images.float().div_(255) if images.dtype == torch.uint8 else images.float()

    def encode_images(self, images: Tensor) -> Tensor:
        return self._call("/encode_images", {}, {"images": images.detach().cpu().float()})[1]["latents"]

    def latent_to_rgb(self, latents: Tensor) -> Tensor:
        return self._call("/latent_to_rgb", {}, {"latents": latents.detach().cpu().float()})[1]["rgb"]

    def _unknown_words(self, prompt: str) -> list[str]:
        return self._json("POST", "/unknown_words", wire.encode({"prompt": prompt}))["words"]

    def stats(self) -> dict[str, Any]:
        """The engine's counters (model_calls, rows, clients, ...), as GET /stats returns them."""
        return self._json("GET", "/stats")

    # -- handles ---------------------------------------------------------------------------------------
    def _steps_of(self, schedule: Schedule) -> int:
        """The engine rebuilds a schedule from its step count; any other schedule would silently differ."""
        steps = len(schedule)
        known = self._schedules.get(steps)
        if known is not schedule and (known is None or not all(
                torch.equal(a, b) for a, b in zip(schedule_tensors(known).values(), schedule_tensors(schedule).values()))):
            raise ValueError("predict_x0 got a schedule this remote backend did not make: pass the one "
                             "make_schedule(steps) returned (the engine rebuilds schedules from their step count)")
        return steps

    def _handles_of(self, cond: Conditioning, n: int) -> tuple[list[str], dict[str, dict[str, Tensor]]]:
        cpu = {k: v.detach().cpu() for k, v in cond.items()}
        handles, rows = [], {}
        for i in range(n):
            row = {k: v[i] for k, v in cpu.items()}
            handle = wire.row_handle(row)
            handles.append(handle)
            rows.setdefault(handle, row)
        return handles, rows

    def _upload(self, missing: Sequence[str], rows: dict[str, dict[str, Tensor]]) -> None:
        tensors = {f"{h}/{k}": v for h in missing for k, v in rows[h].items()}
        self._call("/upload", {}, tensors)
        self._handles.update(missing)

    # -- transport ---------------------------------------------------------------------------------------
    def _call(self, path: str, meta: dict, tensors: dict[str, Tensor] | None = None) -> tuple[dict, dict[str, Tensor]]:
        status, body = self._send("POST", path, wire.encode(meta, tensors))
        return wire.decode(body, max_bytes=2**31)

    def _json(self, method: str, path: str, body: bytes | None = None) -> dict:
        status, data = self._send(method, path, body)
        return json.loads(data)

    def _unavailable(self, reason: str) -> EngineUnavailable:
        with self._lock:
            wait = min(BACKOFF_START * 2 ** self._failures, BACKOFF_MAX)
            self._failures += 1
        return EngineUnavailable(
            f"the shared engine at {self.url} did not answer ({reason}); check that `semanticdraw serve` is "
            f"running there and the address is right. A Session keeps its picture and tries again by itself "
            f"(next try in {wait:g} s).", retry_after=wait)

    def _send(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        try:
            status, data = self._transport(method, path, body, dict(self._headers))
        except OSError as error:
            raise self._unavailable(f"{type(error).__name__}: {error}") from None
        if status in (502, 503, 504) or (status == 404 and not data.startswith(b"{")):
            # Serve's proxy itself answered: the engine application is starting, restarting or not deployed
            raise self._unavailable(f"HTTP {status} from the proxy: {data[:120].decode(errors='replace')}")
        with self._lock:
            self._failures = 0
        self.bytes_sent += len(body or b"")
        self.bytes_received += len(data)
        if status >= 400:
            try:
                detail = json.loads(data)
            except ValueError:
                detail = {"error": data[:200].decode(errors="replace")}
            message = detail.pop("error", "") if isinstance(detail, dict) else str(detail)
            extra = detail if isinstance(detail, dict) else {}
            if status == 401:
                message = f"the engine at {self.url} refused this client: {message}"
            raise EngineError(f"{self.url}{path}: HTTP {status}: {message}", status, extra)
        return status, data


def wire_type() -> str:
    return "application/octet-stream"


def load_remote_backend(url: str, token: str | None = None, **options: Any) -> RemoteBackend:
    """``load_backend("http://...")`` lands here; ``token`` falls back to $SEMANTICDRAW_TOKEN."""
    unknown = {k for k, v in options.items() if v not in (None, False, "auto", 1.0)}
    if unknown:
        raise ValueError(f"{', '.join(sorted(unknown))} cannot be set by a client of a shared engine: the engine's "
                         f"model is chosen by `semanticdraw serve --model ...`; pass only token=")
    try:
        return RemoteBackend(url, token)
    except EngineError as error:  # refused at connection time (a wrong token): a load error, one CLI line
        raise ModelLoadError(str(error)) from error
