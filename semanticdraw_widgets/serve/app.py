"""The thin Ray Serve layer over ``EngineService``: HTTP ingress, request batching, replicas.

Everything that decides anything (token, checks, grouping, caching) is in ``service.py`` and is
tested without Ray; this module only moves bytes between Serve and it. Each replica holds one model
(one GPU when there are GPUs: ``num_gpus=1``) and batches the model calls that reach it within
``batch_wait_s`` into one ``run_batch`` (Serve's ``@serve.batch``). Stats are per replica.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ipaddress
import os
import secrets
import signal
import socket
import time
from dataclasses import asdict
from typing import Any

from .service import EngineService, Limits, Reply

APP_NAME = "semanticdraw"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_token_file(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        token = handle.read().strip()
    if len(token) < 16:
        raise ValueError(f"the token in {path!r} is {len(token)} characters long: use at least 16, e.g. "
                         f"python -c \"import secrets; print(secrets.token_urlsafe(24))\" > {path}")
    return token


def engine_deployment(*, replicas: int = 1, num_gpus: float = 0, max_batch_size: int = 64,
                      batch_wait_s: float = 0.005, autoscaling: dict | None = None,
                      torch_threads: int | None = None) -> Any:
    """The Serve deployment class, made on demand so that importing this module does not need Ray."""
    from ray import serve
    from starlette.requests import Request
    from starlette.responses import Response

    options: dict[str, Any] = {"ray_actor_options": {"num_gpus": num_gpus}, "max_ongoing_requests": 256,
                               "logging_config": {"enable_access_log": False}}  # a line per tick drowns the rest
    if autoscaling:
        options["autoscaling_config"] = autoscaling
    else:
        options["num_replicas"] = replicas

    @serve.deployment(name="SemanticDrawEngine", **options)
    class Engine:
        def __init__(self, spec: str, token: str | None, limits: dict) -> None:
            import torch

            from ..backends.loading import load_backend

            if num_gpus == 0:  # Ray gives an actor one OpenMP thread; a CPU engine shares the cores among replicas
                torch.set_num_threads(torch_threads or max(1, (os.cpu_count() or 1) // replicas))

            self.service = EngineService(load_backend(spec), token=token, limits=Limits(**limits), spec=spec)
            # checks and (de)serialisation on a few threads; the service's lock keeps model calls one at a time
            self.pool = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="semanticdraw-engine")
            self.model_calls.set_max_batch_size(max_batch_size)
            self.model_calls.set_batch_wait_timeout_s(batch_wait_s)

        async def __call__(self, request: Request) -> Response:
            limit = self.service.limits.max_request_bytes
            declared = request.headers.get("content-length")
            if declared is not None and (not declared.isdigit() or int(declared) > limit):
                return _response(Reply.error(413, f"request of {declared} bytes is over the limit of {limit} bytes"))
            chunks, size = [], 0
            async for chunk in request.stream():  # chunked bodies are counted as they come
                size += len(chunk)
                if size > limit:
                    return _response(Reply.error(413, f"request is over the limit of {limit} bytes"))
                chunks.append(chunk)
            loop = asyncio.get_running_loop()
            routed = await loop.run_in_executor(self.pool, self.service.route, request.method, request.url.path,
                                                dict(request.headers), b"".join(chunks))
            if not isinstance(routed, Reply):
                routed = await self.model_calls(routed)
            return _response(routed)

        @serve.batch(max_batch_size=64, batch_wait_timeout_s=0.005)
        async def model_calls(self, jobs: list) -> list:
            return await asyncio.get_running_loop().run_in_executor(self.pool, self.service.run_batch, jobs)

    def _response(reply: Reply) -> Response:
        return Response(content=reply.body, status_code=reply.status, media_type=reply.content_type)

    return Engine


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def start_engine(spec: str, *, host: str = "127.0.0.1", port: int = 8765, token: str | None = None,
                 replicas: int = 1, address: str | None = None, limits: Limits = Limits(),
                 batch_wait_s: float = 0.005, max_batch_size: int = 64, num_cpus: int | None = None,
                 torch_threads: int | None = None, autoscaling: dict | None = None) -> str:
    """Start Ray (or join ``address``), deploy the engine, wait until it answers; returns its URL."""
    import ray
    from ray import serve

    if token is None and not is_loopback(host):
        raise ValueError(f"host {host!r} would let anyone on the network use the engine without a token: pass "
                         "--token-file FILE, or keep the default --host 127.0.0.1")
    if address:
        ray.init(address=address)
    elif not ray.is_initialized():
        for attempt in (1, 2):
            try:
                ray.init(num_cpus=num_cpus, include_dashboard=False)
                break
            except Exception as error:  # Ray waits 30 s for its raylet, too little on an overloaded machine
                ray.shutdown()
                if attempt == 2 or "timed out during startup" not in str(error):
                    raise
    gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
    serve.start(http_options={"host": host, "port": port})
    deployment = engine_deployment(replicas=replicas, num_gpus=gpus, max_batch_size=max_batch_size,
                                   batch_wait_s=batch_wait_s, torch_threads=torch_threads, autoscaling=autoscaling)
    serve.run(deployment.bind(spec, token, asdict(limits)), name=APP_NAME, route_prefix="/", blocking=False)
    return f"http://{'127.0.0.1' if host in ('0.0.0.0', 'localhost') else host}:{port}"


def stop_engine() -> None:
    import ray
    from ray import serve

    serve.shutdown()
    ray.shutdown()


def serve_forever(spec: str, *, host: str, port: int, token_file: str | None, replicas: int,
                  address: str | None, max_request_mb: int = 64, autoscaling: dict | None = None) -> None:
    """`semanticdraw serve`: start, say how to connect, run until Ctrl+C, stop cleanly."""
    token = read_token_file(token_file) if token_file else None
    if token is None and not is_loopback(host):
        raise ValueError(f"--host {host} needs --token-file: without a token the engine listens on loopback only")
    url = start_engine(spec, host=host, port=port, token=token, replicas=replicas, address=address,
                       limits=Limits(max_request_bytes=max_request_mb * 2**20), autoscaling=autoscaling)
    if token is None:
        print(f"no --token-file: the engine listens on {host} only (this machine; anyone logged in here can use it)")
    print(f"semanticdraw engine for {spec!r} at {url} (health: {url}/healthz)")
    connect = f'sdw.load_backend("{url}"' + (', token=...)  # or set SEMANTICDRAW_TOKEN' if token else ")")
    print(f"students connect with:  import semanticdraw_widgets as sdw; backend = {connect}")
    print("Ctrl+C stops the engine", flush=True)

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)  # `kill`, a service manager: the same clean stop as Ctrl+C
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # started in the background by a shell
        signal.signal(signal.SIGINT, interrupt)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        print("stopping the engine", flush=True)
    finally:
        stop_engine()


def new_token() -> str:
    return secrets.token_urlsafe(24)


__all__ = ["APP_NAME", "engine_deployment", "free_port", "is_loopback", "new_token", "read_token_file",
           "serve_forever", "start_engine", "stop_engine"]
