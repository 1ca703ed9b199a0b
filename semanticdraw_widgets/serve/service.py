"""The shared engine's request handling and cross-client batching, in plain Python (no Ray here).

``EngineService.route`` turns one HTTP request into either an immediate ``Reply`` (health, stats,
info, schedules, prompt encodings, uploads, image encodes, previews: cheap or rare) or a ``Job``
(a model call: ``predict`` or ``decode``) that is fully checked before it may join a batch.
``EngineService.run_batch`` takes the jobs that arrived together from any number of clients, groups
them by what can share one call (operation, latent shape, dtype), runs ONE backend call per group
and splits the result back. A job that is bad can therefore only ever fail alone: every check runs
in ``route``, and if a merged call still fails, its jobs are retried one by one so the others get
their answer.

Prompt encodings are cached here by content handle (``wire.row_handle``): a tick sends latents, step
indices and one 32-character handle per row, never text embeddings. Different clients' schedules
(different step counts) share a call too: their per-step tensors are concatenated and each job's
step indices shifted, which gives every row exactly the values of its own schedule.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import torch
from torch import Tensor

from ..backends.base import Backend, Schedule
from ..backends.schedules import steps_range
from . import wire

JSON = "application/json"
BINARY = "application/octet-stream"
TOKEN_HEADER = "authorization"  # "Bearer <token>"
CLIENT_HEADER = "x-sdw-client"  # a random id per client backend, for /stats only
_FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


@dataclass(frozen=True)
class Limits:
    """What one request may ask for; every check happens before the request can join a batch."""

    max_request_bytes: int = 64 * 2**20
    max_rows: int = 256  # rows (latents) in one model call request
    max_latent_side: int = 256  # latent pixels: 2048 image pixels for SD, 1024 for the toy
    max_prompts: int = 64
    max_prompt_chars: int = 2000
    cache_bytes: int = 512 * 2**20  # prompt-encoding rows kept by handle


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = JSON

    @staticmethod
    def json(data: Any, status: int = 200) -> "Reply":
        return Reply(status, json.dumps(data).encode(), JSON)

    @staticmethod
    def error(status: int, message: str, **extra: Any) -> "Reply":
        return Reply.json({"error": message, **extra}, status)


class RequestError(Exception):
    """A request the engine refuses (a 4xx); the text says what to do."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.extra = status, extra

    def reply(self) -> Reply:
        return Reply.error(self.status, str(self), **self.extra)


@dataclass
class Job:
    """One checked model-call request, waiting to share a batch."""

    op: str  # "predict" or "decode"
    client: str
    x: Tensor  # (N, C, h, w)
    steps: int = 0  # predict: the schedule's step count
    step_index: Tensor | None = None  # predict: (N,)
    cond: list[dict[str, Tensor]] = field(default_factory=list)  # predict: one cached row per latent

    @property
    def group(self) -> tuple:
        """Jobs with equal groups can run as one backend call."""
        return (self.op, tuple(self.x.shape[1:]), self.x.dtype)


@dataclass
class Stats:
    model_calls: int = 0  # backend.predict_x0 calls
    rows: int = 0  # latents those calls denoised
    decode_calls: int = 0
    jobs: int = 0
    shared_calls: int = 0  # model calls that served more than one client
    max_clients_per_call: int = 0
    refused: int = 0  # requests answered 4xx
    failed_calls: int = 0  # merged calls that raised and were retried job by job
    clients: set[str] = field(default_factory=set)


class RowCache:
    """Conditioning rows by content handle, least recently used first out, bounded in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._rows: OrderedDict[str, dict[str, Tensor]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._rows)

    def put(self, handle: str, row: dict[str, Tensor]) -> None:
        size = sum(t.numel() * t.element_size() for t in row.values())
        with self._lock:
            if handle in self._rows:
                self._rows.move_to_end(handle)
                return
            self._rows[handle] = row
            self.bytes += size
            while self.bytes > self.max_bytes and len(self._rows) > 1:
                _, old = self._rows.popitem(last=False)
                self.bytes -= sum(t.numel() * t.element_size() for t in old.values())

    def get(self, handles: Sequence[str]) -> tuple[list[dict[str, Tensor]], list[str]]:
        """(rows, missing handles); rows is complete only when nothing is missing."""
        with self._lock:
            missing = [h for h in dict.fromkeys(handles) if h not in self._rows]
            if missing:
                return [], missing
            for h in dict.fromkeys(handles):
                self._rows.move_to_end(h)
            return [self._rows[h] for h in handles], []


def schedule_tensors(schedule: Schedule) -> dict[str, Tensor]:
    fields = ("timesteps", "alphas", "sigmas", "noise_levels", "pred_noise", "fresh_noise")
    out = {name: getattr(schedule, name) for name in fields}
    out.update({f"extras.{k}": v for k, v in schedule.extras.items()})
    return out


def schedule_from_tensors(tensors: Mapping[str, Tensor]) -> Schedule:
    fields = ("timesteps", "alphas", "sigmas", "noise_levels", "pred_noise", "fresh_noise")
    return Schedule(*(tensors[name] for name in fields),
                    extras={k[len("extras."):]: v for k, v in tensors.items() if k.startswith("extras.")})


def merge_schedules(schedules: Sequence[Schedule]) -> tuple[Schedule, list[int]]:
    """Concatenate per-step tensors; returns the merged schedule and each schedule's index offset."""
    offsets, total = [], 0
    for s in schedules:
        offsets.append(total)
        total += len(s)
    if len(schedules) == 1:
        return schedules[0], offsets
    merged = {k: torch.cat([schedule_tensors(s)[k] for s in schedules])
              for k in schedule_tensors(schedules[0])}
    return schedule_from_tensors(merged), offsets


class EngineService:
    """Everything the server does, minus HTTP and Ray (see the module docstring)."""

    def __init__(self, backend: Backend, *, token: str | None = None, limits: Limits = Limits(),
                 spec: str = "") -> None:
        self.backend = backend
        self.token = token
        self.limits = limits
        self.spec = spec
        self.stats = Stats()
        self.rows = RowCache(limits.cache_bytes)
        self._schedules: dict[int, Schedule] = {}
        self._lock = threading.RLock()  # one backend call at a time: backends are not thread-safe
        with self._lock, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            probe = backend.encode_prompts([""])
        # Every uploaded row must look like this model's own encodings (keys, row shapes, dtypes).
        self.cond_spec = {k: (tuple(v.shape[1:]), v.dtype) for k, v in probe.items()}
        self.steps_range = steps_range(backend)

    # -- requests ---------------------------------------------------------------------------------
    def authorized(self, headers: Mapping[str, str]) -> bool:
        if self.token is None:  # loopback-only mode (the server refuses other hosts without a token)
            return True
        given = headers.get(TOKEN_HEADER, "")
        expected = f"Bearer {self.token}"
        return hmac.compare_digest(given.encode(), expected.encode())  # constant time

    def route(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply | Job:
        """One request -> an immediate Reply, or a checked Job for ``run_batch``. Never raises."""
        headers = {k.lower(): v for k, v in headers.items()}
        try:
            if path == "/healthz" and method == "GET":
                return Reply.json({"ok": True, "model": self.backend.name})
            if not self.authorized(headers):
                raise RequestError(401, "missing or wrong token: pass token=... to load_backend, or set the "
                                        "SEMANTICDRAW_TOKEN environment variable (ask whoever runs the engine)")
            client = headers.get(CLIENT_HEADER, "anonymous")[:64]
            if path == "/stats" and method == "GET":
                return Reply.json(self.stats_json())
            if path == "/info" and method == "GET":
                return Reply.json(self.info())
            if method != "POST":
                raise RequestError(404 if path not in _POST_PATHS else 405,
                                   f"{method} {path} is not an engine request; see GET /healthz")
            if path not in _POST_PATHS:
                raise RequestError(404, f"unknown engine request {path!r}")
            if len(body) > self.limits.max_request_bytes:
                raise wire.TooLarge(f"request of {len(body)} bytes is over the limit of "
                                    f"{self.limits.max_request_bytes} bytes")
            meta, tensors = wire.decode(body, max_bytes=self.limits.max_request_bytes)
            return getattr(self, "_" + path.strip("/"))(client, meta, tensors)
        except RequestError as error:
            self.stats.refused += 1
            return error.reply()
        except wire.WireError as error:
            self.stats.refused += 1
            return Reply.error(error.status, str(error))

    def info(self) -> dict[str, Any]:
        b = self.backend
        lo, hi, sampler = self.steps_range
        return {"name": b.name, "latent_channels": int(b.latent_channels), "scale_factor": int(b.scale_factor),
                "dtype": str(b.dtype).replace("torch.", ""), "default_guidance": float(b.default_guidance),
                "steps_range": [lo, hi, sampler], "sampler": getattr(b, "sampler", sampler),
                "family": getattr(b, "family", b.name), "spec": self.spec,
                "unknown_words": callable(getattr(b, "unknown_words", None)), "limits": self.limits.__dict__}

    def stats_json(self) -> dict[str, Any]:
        s = self.stats
        return {"model_calls": s.model_calls, "rows": s.rows, "clients": len(s.clients),
                "rows_per_call": round(s.rows / s.model_calls, 2) if s.model_calls else 0.0,
                "shared_calls": s.shared_calls, "max_clients_per_call": s.max_clients_per_call,
                "decode_calls": s.decode_calls, "jobs": s.jobs, "refused": s.refused,
                "failed_calls": s.failed_calls, "cached_rows": len(self.rows)}

    # -- immediate operations ------------------------------------------------------------------------
    def schedule(self, steps: Any) -> Schedule:
        lo, hi, sampler = self.steps_range
        if type(steps) is not int or not lo <= steps <= hi:
            raise RequestError(400, f"steps must be an integer from {lo} to {hi} for the {sampler} sampler, "
                                    f"got {steps!r}")
        with self._lock:
            if steps not in self._schedules:
                self._schedules[steps] = self.backend.make_schedule(steps).to("cpu")
            return self._schedules[steps]

    def _schedule(self, client: str, meta: dict, tensors: dict) -> Reply:
        return Reply(200, wire.encode({}, schedule_tensors(self.schedule(meta.get("steps")))), BINARY)

    def _encode(self, client: str, meta: dict, tensors: dict) -> Reply:
        prompts = meta.get("prompts")
        limit = self.limits
        if (not isinstance(prompts, list) or not 1 <= len(prompts) <= limit.max_prompts
                or not all(isinstance(p, str) and len(p) <= limit.max_prompt_chars for p in prompts)):
            raise RequestError(400, f"prompts must be a list of 1 to {limit.max_prompts} strings of at most "
                                    f"{limit.max_prompt_chars} characters")
        with self._lock, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cond = {k: v.to("cpu") for k, v in self.backend.encode_prompts(prompts).items()}
        handles = []
        for i in range(len(prompts)):
            row = {k: v[i] for k, v in cond.items()}
            handles.append(wire.row_handle(row))
            self.rows.put(handles[-1], row)
        return Reply(200, wire.encode({"handles": handles, "warnings": [str(w.message) for w in caught]}, cond),
                     BINARY)

    def _upload(self, client: str, meta: dict, tensors: dict) -> Reply:
        """Rows the client made itself (e.g. prompt strength blends), stored under their content handles."""
        rows: dict[str, dict[str, Tensor]] = {}
        for name, tensor in tensors.items():
            handle, _, key = name.partition("/")
            rows.setdefault(handle, {})[key] = tensor
        for handle, row in rows.items():
            self._check_row(row)
            if wire.row_handle(row) != handle:
                raise RequestError(400, f"uploaded row {handle!r} does not match its content handle")
        for handle, row in rows.items():
            self.rows.put(handle, row)
        return Reply(200, wire.encode({"stored": len(rows)}), BINARY)

    def _check_row(self, row: dict[str, Tensor]) -> None:
        spec = {k: (tuple(v.shape), v.dtype) for k, v in row.items()}
        if spec != self.cond_spec:
            raise RequestError(400, f"uploaded conditioning row {spec} does not match this model's "
                                    f"conditioning {self.cond_spec}: was it made for another model?")

    def _unknown_words(self, client: str, meta: dict, tensors: dict) -> Reply:
        prompt = meta.get("prompt")
        fn = getattr(self.backend, "unknown_words", None)
        if not isinstance(prompt, str) or len(prompt) > self.limits.max_prompt_chars or not callable(fn):
            raise RequestError(400, "unknown_words needs one prompt string and a model that knows its words")
        return Reply.json({"words": list(fn(prompt))})

    def _encode_images(self, client: str, meta: dict, tensors: dict) -> Reply:
        images = self._checked_images(tensors.get("images"))
        with self._lock, torch.inference_mode():
            latents = self.backend.encode_images(images.to(self.backend.device)).float().cpu()
        return Reply(200, wire.encode({}, {"latents": latents}), BINARY)

    def _latent_to_rgb(self, client: str, meta: dict, tensors: dict) -> Reply:
        latents = self._checked_latents(tensors.get("latents"))
        with self._lock, torch.inference_mode():
            rgb = self.backend.latent_to_rgb(latents.to(self.backend.device)).float().cpu()
        return Reply(200, wire.encode({}, {"rgb": rgb}), BINARY)

    # -- model calls: checked here, batched in run_batch -------------------------------------------------
    def _predict(self, client: str, meta: dict, tensors: dict) -> Job:
        x = self._checked_latents(tensors.get("x"))
        steps = meta.get("steps")
        schedule = self.schedule(steps)
        index = tensors.get("step_index")
        n = x.shape[0]
        if index is None or index.dtype != torch.int64 or tuple(index.shape) != (n,):
            raise RequestError(400, f"step_index must be an int64 tensor of shape ({n},)")
        if n and not (0 <= int(index.min()) and int(index.max()) < len(schedule)):
            raise RequestError(400, f"step_index values must lie in 0..{len(schedule) - 1} for {steps} steps")
        handles = meta.get("cond")
        if not isinstance(handles, list) or len(handles) != n or not all(isinstance(h, str) for h in handles):
            raise RequestError(400, f"cond must be a list of {n} row handles, one per latent")
        rows, missing = self.rows.get(handles)
        if missing:  # the client uploads them and asks again (also after a server restart)
            raise RequestError(409, f"{len(missing)} conditioning rows are not cached here: upload them",
                               missing=missing)
        return Job("predict", client, x, steps=steps, step_index=index, cond=rows)

    def _decode(self, client: str, meta: dict, tensors: dict) -> Job:
        return Job("decode", client, self._checked_latents(tensors.get("latents")))

    def _checked_latents(self, x: Tensor | None) -> Tensor:
        b, lim = self.backend, self.limits
        if x is None or x.dim() != 4 or x.dtype not in _FLOAT_DTYPES:
            raise RequestError(400, "latents must be a float tensor of shape (N, C, h, w)")
        n, c, h, w = x.shape
        if c != b.latent_channels or not 1 <= n <= lim.max_rows or not (
                1 <= h <= lim.max_latent_side and 1 <= w <= lim.max_latent_side):
            raise RequestError(400, f"latents of shape {tuple(x.shape)} refused: this model needs "
                                    f"{b.latent_channels} channels, 1 to {lim.max_rows} rows and sides of 1 to "
                                    f"{lim.max_latent_side} latent pixels")
        return x

    def _checked_images(self, images: Tensor | None) -> Tensor:
        lim, f = self.limits, self.backend.scale_factor
        side = lim.max_latent_side * f
        if (images is None or images.dim() != 4 or images.dtype not in _FLOAT_DTYPES or images.shape[1] != 3
                or not 1 <= images.shape[0] <= lim.max_rows or max(images.shape[2:]) > side):
            raise RequestError(400, f"images must be a float tensor (N, 3, H, W) with sides of at most {side}")
        return images

    def run_batch(self, jobs: Sequence[Job]) -> list[Reply]:
        """One backend call per group of compatible jobs, split back; a failing call is retried job by job."""
        replies: list[Reply | None] = [None] * len(jobs)
        groups: dict[tuple, list[int]] = {}
        for i, job in enumerate(jobs):
            groups.setdefault(job.group, []).append(i)
        for members in groups.values():
            try:
                outputs = self._call([jobs[i] for i in members])
            except Exception:  # one bad job must not cost the others their answer
                self.stats.failed_calls += 1
                outputs = []
                for i in members:
                    try:
                        outputs.extend(self._call([jobs[i]]))
                    except Exception as error:
                        outputs.append(Reply.error(500, f"the model call failed: {type(error).__name__}: {error}"))
            for i, out in zip(members, outputs):
                replies[i] = out
        return replies  # type: ignore[return-value]

    def _call(self, jobs: list[Job]) -> list[Reply]:
        b = self.backend
        x = torch.cat([job.x for job in jobs]).to(b.device)
        with self._lock, torch.inference_mode():
            if jobs[0].op == "decode":
                out = b.decode_latents(x).float().cpu()
                self.stats.decode_calls += 1
                name = "images"
            else:
                distinct = list(dict.fromkeys(job.steps for job in jobs))
                schedule, offsets = merge_schedules([self.schedule(s) for s in distinct])
                shift = dict(zip(distinct, offsets))
                index = torch.cat([job.step_index + shift[job.steps] for job in jobs])
                rows = [row for job in jobs for row in job.cond]
                cond = {k: torch.stack([row[k] for row in rows]).to(b.device) for k in rows[0]}
                out = b.predict_x0(x, index, schedule.to(b.device), cond).float().cpu()
                self.stats.model_calls += 1
                self.stats.rows += x.shape[0]
                name = "x0"
        clients = {job.client for job in jobs}
        self.stats.jobs += len(jobs)
        self.stats.clients |= clients
        if jobs[0].op == "predict" and len(clients) > 1:
            self.stats.shared_calls += 1
        self.stats.max_clients_per_call = max(self.stats.max_clients_per_call, len(clients))
        replies, start = [], 0
        for job in jobs:
            part = out[start: start + job.x.shape[0]]
            start += job.x.shape[0]
            replies.append(Reply(200, wire.encode({}, {name: _compact_images(part) if name == "images" else part}),
                                 BINARY))
        return replies


def _compact_images(images: Tensor) -> Tensor:
    """Decoded RGB in [0, 1]: as 8-bit when that is lossless (the toy's decoder), else float16."""
    levels = images * 255
    rounded = levels.round()
    if torch.equal(rounded / 255, images) and bool((rounded >= 0).all()) and bool((rounded <= 255).all()):
        return rounded.to(torch.uint8)
    return images.to(torch.float16)


_POST_PATHS = {"/schedule", "/encode", "/upload", "/predict", "/decode", "/encode_images", "/latent_to_rgb",
               "/unknown_words"}


class InProcessTransport:
    """Talk to an EngineService in this process (tests, and a sanity check without Ray): each model call
    runs as a batch of one; ``down`` simulates an engine that does not answer."""

    def __init__(self, service: EngineService) -> None:
        self.service = service
        self.down = False
        self.requests = 0

    def __call__(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
        if self.down:
            raise ConnectionRefusedError(111, "Connection refused")
        self.requests += 1
        routed = self.service.route(method, path, headers, body or b"")
        reply = routed if isinstance(routed, Reply) else self.service.run_batch([routed])[0]
        return reply.status, reply.body
