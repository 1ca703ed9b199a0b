"""Fast path for a backend's network calls: static shapes, CUDA graphs, channels-last.

A few-step stream is launch-bound on a GPU: SD1.5's UNet issues about a thousand small kernels per
call, so at the stream's batch sizes the card waits on Python. Capturing the call once per input
shape as a CUDA graph and replaying it removes that cost. This module does it for any callable over
(nested) tensors, so every family's denoiser (UNet, transformer) and VAE decoder can use it:

    call = CapturedCall(unet.forward, mode="graphs")
    out = call(x, t, encoder_hidden_states=embeds)      # first call at this shape: capture
    out = call(x2, t2, encoder_hidden_states=embeds2)   # same shapes: copy inputs in, replay

How the cache is keyed, and why changing prompts, masks or the seed never re-captures:

- Every tensor leaf of ``(args, kwargs)`` is an INPUT: the key holds its shape, dtype and device,
  never its values. Its values are copied into a static buffer owned by the capture before replay.
  Text embeddings, timesteps and latents must therefore be passed as tensors (they are).
- Every non-tensor leaf (ints, floats, strings, None) is a CONSTANT baked into the capture: the key
  holds its value, so a Python float that changes every call would capture every call. ``captures``
  counts them, so a test can tell.
- Outputs are cloned out of the capture's memory, so a later replay never overwrites a result the
  caller still holds.

Modes: "graphs" (manual ``torch.cuda.CUDAGraph`` capture, CUDA only), "compile" (``torch.compile``
with mode "reduce-overhead", which captures CUDA graphs of Inductor's fused kernels; slower to warm
up), "eager" (the same static-buffer path without capture: what the CPU tests exercise) and "auto"
(graphs on CUDA; on any other device the module is left alone, so nothing changes on the CPU).

A capture references the module's parameters by address: fuse LoRAs (``fuse_lora``) and move or cast
the module BEFORE wrapping it, never after.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import Any, Callable, Iterable

import torch
from torch import Tensor
from torch.utils._pytree import tree_flatten, tree_map, tree_unflatten

MODES = ("auto", "graphs", "compile", "eager")
# Attributes of a backend that hold its denoiser network (called through forward) and its decoders
# (called through decode); accelerate_backend wraps whichever exist.
DENOISER_ATTRIBUTES = ("unet", "transformer")
DECODER_ATTRIBUTES = ("vae", "tiny_vae")


class _Capture:
    """One input signature: static input buffers and a function that refreshes the static outputs."""

    def __init__(self, static_inputs: list[Tensor], run: Callable[[], Any], failed: bool = False) -> None:
        self.static_inputs = static_inputs
        self.run = run
        self.failed = failed  # capture raised: this signature runs eagerly


class CapturedCall:
    """Wrap ``fn`` (a module's forward or decode) so each input signature is captured once and replayed.

    max_entries bounds the number of captures kept (least recently used go first): a stream whose
    region count changes meets a new batch size per count, and each capture holds its static buffers.
    """

    def __init__(self, fn: Callable[..., Any], *, mode: str = "graphs", max_entries: int = 32,
                 warmup_calls: int = 2, channels_last: bool = False) -> None:
        if mode not in ("graphs", "compile", "eager"):
            raise ValueError(f"CapturedCall mode must be 'graphs', 'compile' or 'eager', got {mode!r} "
                             f"(use accelerate_module for 'auto')")
        if mode == "graphs" and not torch.cuda.is_available():
            raise RuntimeError("mode='graphs' needs CUDA; use mode='eager' (or accelerate_module(mode='auto'), "
                               "which leaves the module alone off CUDA)")
        self.fn, self.mode, self.max_entries = fn, mode, max_entries
        self.warmup_calls, self.channels_last = warmup_calls, channels_last
        self.captures = 0  # signatures captured so far (a re-capture after eviction counts again)
        self.replays = 0
        self.failed_captures = 0
        self.fallbacks = 0  # calls run eagerly because they could not be captured (CPU tensors in graphs mode...)
        self._entries: OrderedDict[Any, _Capture] = OrderedDict()
        self._pool = None
        self._compiled = torch.compile(fn, mode="reduce-overhead", dynamic=False) if mode == "compile" else None

    def __repr__(self) -> str:
        return f"CapturedCall(mode={self.mode!r}, captures={self.captures}, replays={self.replays})"

    @property
    def signatures(self) -> list[Any]:
        return list(self._entries)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        leaves, spec = tree_flatten((args, kwargs))
        key = self._key(leaves, spec)
        if key is None:
            self.fallbacks += 1
            return self.fn(*args, **kwargs)
        entry = self._entries.get(key)
        if entry is None:
            try:
                entry = self._capture(leaves, spec)
                self.captures += 1
            except Exception as error:  # e.g. a host sync inside fn: run this signature eagerly from now on
                if self.mode == "eager":
                    raise
                warnings.warn(f"could not capture {getattr(self.fn, '__qualname__', self.fn)!r} in mode "
                              f"{self.mode!r} ({type(error).__name__}: {error}); running it eagerly", stacklevel=2)
                entry = _Capture([], lambda: None, failed=True)
                self.failed_captures += 1
            self._entries[key] = entry
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
        if entry.failed:
            self.fallbacks += 1
            return self.fn(*args, **kwargs)
        tensors = [leaf for leaf in leaves if isinstance(leaf, Tensor)]
        with torch.inference_mode():
            for static, value in zip(entry.static_inputs, tensors):
                static.copy_(value)
            out = entry.run()
            self.replays += 1
            # clone out of the capture's memory: the next replay overwrites its outputs in place
            return tree_map(lambda v: v.clone() if isinstance(v, Tensor) else v, out)

    def _key(self, leaves: list[Any], spec: Any) -> tuple | None:
        """Shapes/dtypes/devices of tensor leaves, values of the others; None when not capturable."""
        parts: list[Any] = [spec]
        for leaf in leaves:
            if isinstance(leaf, Tensor):
                if self.mode == "graphs" and leaf.device.type != "cuda":
                    return None
                if leaf.requires_grad and torch.is_grad_enabled():
                    return None  # inference only: a capture would drop the autograd graph
                parts.append((tuple(leaf.shape), leaf.dtype, leaf.device))
            else:
                try:
                    hash(leaf)
                except TypeError:
                    return None
                parts.append(("const", type(leaf), leaf))
        return tuple(parts)

    def _static_like(self, value: Tensor) -> Tensor:
        fmt = torch.channels_last if self.channels_last and value.dim() == 4 else torch.contiguous_format
        with torch.inference_mode(False):  # a normal tensor, so later calls outside inference mode may copy into it
            return torch.empty(value.shape, dtype=value.dtype, device=value.device).to(memory_format=fmt)

    def _capture(self, leaves: list[Any], spec: Any) -> _Capture:
        static = [self._static_like(leaf) if isinstance(leaf, Tensor) else None for leaf in leaves]
        for buffer, leaf in zip(static, leaves):
            if buffer is not None:
                buffer.copy_(leaf)
        merged = [buffer if buffer is not None else leaf for buffer, leaf in zip(static, leaves)]
        args, kwargs = tree_unflatten(merged, spec)
        static_inputs = [buffer for buffer in static if buffer is not None]

        if self.mode == "eager":
            return _Capture(static_inputs, lambda: self.fn(*args, **kwargs))
        if self.mode == "compile":
            def run_compiled() -> Any:
                torch.compiler.cudagraph_mark_step_begin()  # outputs of the previous replay were cloned
                return self._compiled(*args, **kwargs)

            with torch.inference_mode():
                for _ in range(self.warmup_calls + 1):  # the first call compiles, the next records the graph
                    run_compiled()
            return _Capture(static_inputs, run_compiled)

        # graphs: warm up on a side stream (lazy init, cuDNN autotuning), then capture into one shared pool
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side), torch.inference_mode():
            for _ in range(self.warmup_calls):
                self.fn(*args, **kwargs)
        torch.cuda.current_stream().wait_stream(side)
        if self._pool is None:
            self._pool = torch.cuda.graph_pool_handle()
        graph = torch.cuda.CUDAGraph()
        with torch.inference_mode(), torch.cuda.graph(graph, pool=self._pool):
            static_out = self.fn(*args, **kwargs)
        # Sharing one pool between captures is safe here: calls are sequential on one stream, and
        # every output is cloned right after its replay, before any other capture runs.

        def replay() -> Any:
            graph.replay()
            return static_out

        return _Capture(static_inputs, replay)


class AcceleratedModule:
    """A stand-in for a module whose listed methods go through CapturedCall; every other attribute
    (config, dtype, device, encode, ...) is the module's own, so a backend keeps using it unchanged."""

    def __init__(self, module: torch.nn.Module, *, methods: Iterable[str] = ("forward",), mode: str = "graphs",
                 channels_last: bool = False, **options: Any) -> None:
        self.__dict__["module"] = module
        self.__dict__["calls"] = {name: CapturedCall(getattr(module, name), mode=mode, channels_last=channels_last,
                                                     **options) for name in methods}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        call = self.calls.get("forward")
        return call(*args, **kwargs) if call is not None else self.module(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        calls = self.__dict__["calls"]
        return calls[name] if name in calls else getattr(self.__dict__["module"], name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.module, name, value)

    def __repr__(self) -> str:
        return f"AcceleratedModule({type(self.module).__name__}, {self.calls})"

    @property
    def captures(self) -> int:
        return sum(call.captures for call in self.calls.values())


def _module_device(module: torch.nn.Module) -> torch.device:
    for tensor in module.parameters():
        return tensor.device
    return torch.device("cpu")


def resolve_mode(mode: str, device: torch.device) -> str | None:
    """The mode to use on `device`, or None for "leave the module alone"."""
    if mode not in MODES:
        raise ValueError(f"acceleration mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "auto":
        return "graphs" if device.type == "cuda" else None
    if mode in ("graphs", "compile") and device.type != "cuda":
        warnings.warn(f"acceleration mode {mode!r} needs a CUDA device, the model is on {device.type}: "
                      f"running it eagerly", stacklevel=3)
        return None
    return mode


def accelerate_module(module: torch.nn.Module, *, methods: Iterable[str] = ("forward",), mode: str = "auto",
                      **options: Any) -> torch.nn.Module | AcceleratedModule:
    """Wrap `module` for its device: on CUDA channels-last and captured calls, elsewhere unchanged
    (unless mode='eager' asks for the static-buffer path anyway, as the CPU tests do)."""
    if isinstance(module, AcceleratedModule):
        return module
    chosen = resolve_mode(mode, _module_device(module))
    if chosen is None:
        return module
    requested = options.pop("channels_last", None)
    channels_last = chosen != "eager" if requested is None else bool(requested)
    if channels_last:
        module = module.to(memory_format=torch.channels_last)
    return AcceleratedModule(module, methods=methods, mode=chosen, channels_last=channels_last, **options)


def accelerate_backend(backend: Any, mode: str = "auto", **options: Any) -> Any:
    """Wrap a backend's denoiser (``unet``/``transformer``: forward) and decoders (``vae``/``tiny_vae``:
    decode) in place and return the backend. Call it after the backend is built and its LoRAs fused.

    On a CUDA device this also turns on cuDNN autotuning (captures run the tuned kernels ever after).
    """
    device = torch.device(getattr(backend, "device", "cpu"))
    if resolve_mode(mode, device) is None:
        return backend
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    for name in DENOISER_ATTRIBUTES:
        if isinstance(getattr(backend, name, None), torch.nn.Module):
            setattr(backend, name, accelerate_module(getattr(backend, name), mode=mode, **options))
    for name in DECODER_ATTRIBUTES:
        module = getattr(backend, name, None)
        if isinstance(module, torch.nn.Module) and hasattr(module, "decode"):
            setattr(backend, name, accelerate_module(module, methods=("decode",), mode=mode, **options))
    return backend


def captures_of(backend: Any) -> dict[str, int]:
    """Captures made so far per wrapped attribute of `backend` (for tests and benchmarks)."""
    return {name: getattr(backend, name).captures for name in (*DENOISER_ATTRIBUTES, *DECODER_ATTRIBUTES)
            if isinstance(getattr(backend, name, None), AcceleratedModule)}
