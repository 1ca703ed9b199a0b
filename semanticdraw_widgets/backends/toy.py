"""The toy backend: an exact, offline teaching model.

Each prompt defines a Gaussian-mixture prior over clean latents: K shifted copies (phases) of a
mean texture μ_k built from the prompt's words (see ``toy_lexicon``), each with isotropic spread s²:

    x0 ~ Σ_k (1/K) N(μ_k, s² I)

For x_t = α x0 + σ ε the minimum-mean-squared-error denoiser is closed form:

    E[x0 | x_t] = Σ_k r_k (μ_k + α s² / (α² s² + σ²) · (x_t − α μ_k)),
    r_k ∝ exp(−‖x_t − α μ_k‖² / (2 (α² s² + σ²)))                     (the posterior over phases)

so at high noise the model hedges between phases, commits to one as the noise falls, and a region
painted "red bricks" converges to red bricks. The latent is an invertible-by-pseudo-inverse linear
map of RGB at 1/4 resolution, so decoding is exact and previews are free. It is a teaching model,
not a photo model: it has no notion of objects, only of colours and textures.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import Conditioning, Schedule, pick_device
from .schedules import SD_NOISE_SCHEDULE, make_scheduler, make_vp_schedule
from .toy_lexicon import embed_prompt, pattern_fields

# Fixed RGB (in [-1, 1]) -> 4-channel latent map; four channels like SD so shapes feel familiar.
RGB_TO_LATENT = torch.tensor([
    [0.45, 0.45, 0.45],
    [0.80, -0.40, -0.40],
    [0.00, 0.70, -0.70],
    [-0.30, 0.50, 0.20],
])
LATENT_TO_RGB = torch.linalg.pinv(RGB_TO_LATENT)  # (3, 4)
# Phases (dy, dx) of the K mixture components, as fractions of the pattern period.
PHASES = torch.tensor([[0.0, 0.0], [0.5, 0.25], [0.25, 0.5], [0.75, 0.75]])


class ToyBackend:
    """Closed-form Gaussian-mixture denoiser over word-defined textures (see module docstring)."""

    name = "toy"
    latent_channels = 4
    scale_factor = 4
    default_guidance = 1.0
    prior_std = 0.15  # s: how far a clean latent may stray from its texture mean

    def __init__(self, device: str | torch.device = "cpu", dtype: torch.dtype | None = None,
                 sampler: str = "lcm") -> None:
        self.device = pick_device(device)
        self.dtype = torch.float32  # the toy is exact maths; half precision would only blur the lesson
        self.sampler = sampler
        self._scheduler = make_scheduler(sampler, SD_NOISE_SCHEDULE)
        self._means: OrderedDict[tuple, tuple[Tensor, Tensor]] = OrderedDict()
        self._stacks: OrderedDict[tuple, tuple[Tensor, Tensor]] = OrderedDict()
        self.model_calls = 0  # batched predict_x0 calls, for tests and teaching
        self.model_rows = 0  # latents denoised in total

    def __repr__(self) -> str:
        return f"ToyBackend(sampler={self.sampler!r}, device={str(self.device)!r})"

    def make_schedule(self, steps: int) -> Schedule:
        return make_vp_schedule(self._scheduler, steps).to(self.device)

    def encode_prompts(self, prompts: Sequence[str]) -> Conditioning:
        if len(prompts) == 0:
            raise ValueError("encode_prompts needs at least one prompt")
        return {"appearance": torch.stack([embed_prompt(p) for p in prompts]).to(self.device)}

    def texture_means(self, appearance: Tensor, height: int, width: int) -> tuple[Tensor, Tensor]:
        """(D,) appearance vector -> flattened latent means (K, C*h*w) and their squared norms (K,), cached."""
        key = (tuple(appearance.tolist()), height, width)
        if key not in self._means:
            means = self._render_means(appearance, height, width).flatten(1)
            self._means[key] = (means, (means * means).sum(1))
            if len(self._means) > 256:
                self._means.popitem(last=False)
        return self._means[key]

    def _render_means(self, vector: Tensor, height: int, width: int) -> Tensor:
        k = PHASES.shape[0]
        primary, secondary, weights, log_scale = vector[0:3], vector[3:6], vector[6:-1], vector[-1]
        fields = pattern_fields(height, width, torch.full((k,), float(2 ** log_scale)), PHASES, device=self.device)
        coverage = torch.einsum("p,kphw->khw", weights.to(fields), fields)  # (K, h, w) 1 = primary colour
        colours = torch.stack([secondary, primary]).to(fields) * 2 - 1  # (2, 3) in [-1, 1]
        latent_colours = colours @ RGB_TO_LATENT.T.to(fields)  # (2, C)
        return (latent_colours[0][None, :, None, None]
                + (latent_colours[1] - latent_colours[0])[None, :, None, None] * coverage[:, None])

    def stacked_means(self, appearances: Tensor, height: int, width: int) -> tuple[Tensor, Tensor]:
        """(G, D) appearance vectors -> their means stacked to (G*K, C*h*w) and squared norms, cached by prompt set."""
        key = (tuple(map(tuple, appearances.tolist())), height, width)
        if key not in self._stacks:
            parts = [self.texture_means(a, height, width) for a in appearances]
            self._stacks[key] = (torch.cat([m for m, _ in parts]), torch.cat([n for _, n in parts]))
            if len(self._stacks) > 16:
                self._stacks.popitem(last=False)
        return self._stacks[key]

    def predict_x0(self, x: Tensor, step_index: Tensor, schedule: Schedule, cond: Conditioning) -> Tensor:
        # Σ_k r_k x̂0_k = (1 - cα) Σ_k r_k μ_k + c x_t with c = α s² / var, and the posterior logits need
        # only <x_t, μ_k> and ‖μ_k‖². Every row is scored against the components of every prompt in the
        # batch at once (components of other prompts get zero weight): two matmuls over the whole batch
        # instead of gathering and scattering rows per prompt, which costs memory passes on a CPU.
        self.model_calls += 1
        self.model_rows += x.shape[0]
        step_index = step_index.to(self.device)
        alpha = schedule.alphas[step_index][:, None]  # (N, 1)
        var = alpha ** 2 * self.prior_std ** 2 + schedule.sigmas[step_index][:, None] ** 2
        gain = alpha * self.prior_std ** 2 / var  # c
        flat = x.float().flatten(1)  # (N, D)
        prompts, owner = torch.unique(cond["appearance"], dim=0, return_inverse=True)  # (G, D'), (N,)
        means, norms = self.stacked_means(prompts, x.shape[-2], x.shape[-1])  # (G*K, D), (G*K,)
        component_owner = torch.arange(len(prompts), device=owner.device).repeat_interleave(PHASES.shape[0])
        own = owner[:, None] == component_owner[None]  # (N, G*K): the row's prompt owns the component
        # ‖x − α μ_k‖² up to the per-row constant ‖x‖², which softmax ignores
        distance = -2 * alpha * (flat @ means.T) + alpha ** 2 * norms[None]  # (N, G*K)
        r = torch.softmax((-distance / (2 * var)).masked_fill(~own, float("-inf")), dim=1)
        return torch.addmm(gain * flat, (1 - gain * alpha) * r, means).view_as(x)

    def encode_images(self, images: Tensor) -> Tensor:
        small = F.avg_pool2d(images.float().to(self.device), self.scale_factor)
        return torch.einsum("cr,nrhw->nchw", RGB_TO_LATENT.to(small), small * 2 - 1)

    def latent_to_rgb(self, latents: Tensor) -> Tensor:
        rgb = torch.einsum("rc,nchw->nrhw", LATENT_TO_RGB.to(latents.device, torch.float32), latents.float())
        return ((rgb + 1) / 2).clamp(0, 1)

    def decode_latents(self, latents: Tensor) -> Tensor:
        # The toy's decoder quantizes to 8 bits at latent resolution, then upsamples bilinearly in
        # channels-last uint8: on a CPU that is ~15x cheaper than upsampling floats, and the result is
        # already laid out as the HWC pixels an image needs (to_pil's permute is then free).
        small = self.latent_to_rgb(latents).mul(255).round_().to(torch.uint8)
        large = F.interpolate(small.contiguous(memory_format=torch.channels_last), scale_factor=self.scale_factor,
                              mode="bilinear", align_corners=False)
        return large.float().div_(255)
