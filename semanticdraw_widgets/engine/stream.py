"""Multi-prompt stream batch: a ring of T latents at T noise levels, advanced by ONE model call per tick.

Slot k holds a latent at step k. Every tick a new latent enters at step 0 (from the slot's fixed,
seeded noise), all slots take one regional step together — one batched backend call of
T × layers rows (×2 only when guidance > 1) — and the slot that completed step T-1 leaves as a frame:

    x_new   = α_0 z_start + σ_0 ε_start                     (fixed per stream: same seed, same start)
    x̂0_k    = regional x̂0 of every slot k = 0..T-1         (one batched call)
    frame   = x̂0_{T-1}
    x_{k+1} = α_{k+1} x̂0_k + ρ_{k+1} ε̂_k + φ_{k+1} ε_{k+1}  (ε_{k+1} fixed per slot)

Because every noise is fixed per slot and drawn exactly as ``generate`` draws it, a static scene
converges after T ticks to the same picture as ``generate(backend, scene, steps=T)`` and the stream
then goes idle: ``tick()`` returns the last frame without calling the model until the scene changes.
A Stream is plain single-threaded code: its owner (``runtime.Session`` runs it from one thread) calls
``update(scene)`` and ``reconfigure(...)`` between ticks; the newest update applies at the next tick.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace

import torch
from PIL import Image
from torch import Tensor

from ..backends.base import Backend
from ..scene import Scene
from ..validation import as_int, check_run_options
from .generate import decode, require_finite, seeded_noise, stream_noise_shapes
from .plan import Plan, PlanCache, SamplerOptions, make_plan
from .pruning import dropped_prompts, prune_plan
from .sampler import advance, make_trace, predict_regional, start_latent, trace_steps
from .trace import Trace, TraceStep, detach_to_cpu


@dataclass(frozen=True)
class Frame:
    image: Image.Image
    index: int  # tick that produced it
    converged: bool  # the picture of the current scene is complete; further ticks would not change it
    step: int  # steps completed by the latent shown (T for a finished frame, fewer while the ring fills)
    scene: Scene  # the scene applied when this frame was made
    latent: Tensor  # (C, h, w) the x̂0 shown, on the CPU


class Stream:
    """SemanticDraw's stream batch for one scene at a time (see the module docstring)."""

    def __init__(self, backend: Backend, scene: Scene, steps: int = 4, *, guidance_scale: float | None = None,
                 bootstrap_steps: int = 1, mask_mode: str = "continuous", cover_alpha: float = 0.0,
                 trace_ticks: int = 0) -> None:
        if not isinstance(scene, Scene):
            raise TypeError(f"Stream needs a semanticdraw_widgets.Scene, got {type(scene).__name__}")
        checked = check_run_options(backend, steps=steps, guidance_scale=guidance_scale,
                                    bootstrap_steps=bootstrap_steps, mask_mode=mask_mode, cover_alpha=cover_alpha)
        steps, guidance_scale, bootstrap_steps = checked["steps"], checked["guidance_scale"], checked["bootstrap_steps"]
        mask_mode, cover_alpha = checked["mask_mode"], checked["cover_alpha"]
        trace_ticks = as_int(trace_ticks, "trace_ticks", min=0)
        self.backend = backend
        self.options = SamplerOptions(guidance_scale=guidance_scale, bootstrap_steps=bootstrap_steps,
                                      mask_mode=mask_mode, cover_alpha=cover_alpha)
        self.schedule = backend.make_schedule(steps)
        self.steps = len(self.schedule)
        self.cache = PlanCache(backend)
        self.trace_ticks = trace_ticks
        self.traces: deque[list[TraceStep]] = deque(maxlen=trace_ticks)
        self._pending: Scene | None = None
        self._scene: Scene | None = None
        self._plan: Plan | None = None
        self._pruned: tuple[str, ...] = ()  # prompts of layers not computed (they cannot change the picture)
        self._ring: list[Tensor] = []  # latents at steps 1..k (slot k-1 holds step k), newest first
        self._since_change = 0  # ticks run since the scene last changed
        self._tick = 0
        self._last: Frame | None = None
        self.model_calls = 0
        self._apply(scene)

    # -- scene handling -------------------------------------------------------------------------
    def update(self, scene: Scene) -> None:
        """Queue `scene` (latest wins); it takes effect at the next tick."""
        if not isinstance(scene, Scene):
            raise TypeError(f"update() needs a semanticdraw_widgets.Scene, got {type(scene).__name__}")
        self._pending = scene

    def reconfigure(self, steps: int | None = None, **options) -> None:
        """Change sampler settings (steps, guidance_scale, bootstrap_steps, mask_mode, cover_alpha) now.

        All or nothing: the new schedule and plan are built before anything changes, so a refused value
        (a ValueError naming it) leaves the stream as it was. Text, mask and image caches are kept.
        """
        unknown = set(options) - set(SamplerOptions.__dataclass_fields__)
        if unknown:
            raise TypeError(f"reconfigure() got unknown settings {sorted(unknown)}; "
                            f"known: steps, {', '.join(SamplerOptions.__dataclass_fields__)}")
        new_options = replace(self.options, **options)
        schedule = self.backend.make_schedule(steps) if steps not in (None, self.steps) else self.schedule
        if new_options == self.options and schedule is self.schedule:
            return
        scene = self._scene
        full = make_plan(self.backend, scene, schedule, new_options, self.cache)
        plan = prune_plan(full)
        self._pruned = dropped_prompts(full)
        steps_changed = len(schedule) != self.steps or not torch.equal(schedule.timesteps, self.schedule.timesteps)
        self.options, self.schedule, self.steps, self._plan = new_options, schedule, len(schedule), plan
        if steps_changed:  # the noise layout and the ring depend on the number of steps
            self._make_noise(scene)
            self._ring = []
            self.traces = deque(maxlen=self.trace_ticks and max(self.trace_ticks, self.steps))
        self._since_change = 0

    @property
    def scene(self) -> Scene:
        """The newest scene, applied or still queued."""
        return self._pending or self._scene

    @property
    def idle(self) -> bool:
        """True when the current scene's picture is complete and no update is queued."""
        return self._pending is None and self._last is not None and self._since_change >= self.steps

    def _apply(self, scene: Scene) -> None:
        """Rebuild the plan for `scene`; noise and ring are reset only when seed or size change."""
        old = self._scene
        if old is not None and scene == old:
            return
        full = make_plan(self.backend, scene, self.schedule, self.options, self.cache)
        plan = prune_plan(full)
        if old is None or (scene.width, scene.height, scene.seed) != (old.width, old.height, old.seed):
            self._make_noise(scene)
        if old is None or (scene.width, scene.height) != (old.width, old.height):
            self._ring = []
        self._scene, self._plan, self._since_change = scene, plan, 0
        self._pruned = dropped_prompts(full)

    def _make_noise(self, scene: Scene) -> None:
        init, plain, fresh = seeded_noise(scene.seed, stream_noise_shapes(self.backend, scene, self.steps),
                                          self.backend.device)
        self._start_noise, self._plain_noise, self._fresh = init, plain, fresh

    # -- ticking --------------------------------------------------------------------------------
    def tick(self) -> Frame:
        """Advance every slot one step with one batched model call, or return the last frame when idle."""
        pending, self._pending = self._pending, None
        if pending is not None:
            self._apply(pending)
        if self._last is not None and self._since_change >= self.steps:
            return self._last
        plan = self._plan
        x = torch.cat([start_latent(plan, self._start_noise), *self._ring])  # (B, C, h, w), slot b at step b
        steps = list(range(x.shape[0]))
        with torch.inference_mode():
            pred = predict_regional(self.backend, plan, x, steps, self._plain_noise.expand(len(steps), -1, -1, -1),
                                    keep_guidance=bool(self.traces.maxlen))  # a trace shows the guidance halves
            self.model_calls += 1
            require_finite(pred.x0)  # before the ring moves: a refused tick leaves the stream as it was
            finished = len(steps) == self.steps
            shown = pred.x0[-1:]
            # every slot but a finished one moves to the next step
            advancing = steps[:-1] if finished else steps
            moved = advance(plan, x[: len(advancing)], pred.x0[: len(advancing)], advancing, self._fresh)
            self._record(x, steps, pred, torch.cat([moved, shown]) if finished else moved)
            self._ring = [latent[None] for latent in moved]
            image = decode(self.backend, plan, shown, self._scene)
        self._since_change += 1
        self._tick += 1
        converged = finished and self._since_change >= self.steps
        self._last = Frame(image=image, index=self._tick, converged=converged, step=steps[-1] + 1,
                           scene=self._scene, latent=detach_to_cpu(shown[0]))
        return self._last

    def last_trace(self) -> Trace | None:
        """The step-by-step history of the newest finished frame (needs trace_ticks >= steps), else None.

        The latent shown at tick n was at step k during tick n - (T - 1 - k), so its history is
        gathered diagonally from the last T recorded ticks.
        """
        t = self.steps
        recent = list(self.traces)[-t:]
        if len(recent) < t or len(recent[-1]) < t:  # no finished frame recorded yet
            return None
        return make_trace(self.backend, self._plan, pruned=self._pruned, steps=[recent[k][k] for k in range(t)])

    def _record(self, x: Tensor, steps: list[int], pred, x_next: Tensor) -> None:
        if self.traces.maxlen:  # tracing off costs nothing
            self.traces.append(trace_steps(self._plan, x, steps, pred, x_next=x_next))
