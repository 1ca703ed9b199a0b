"""The toy backend: an exact, offline teaching model.

Each prompt defines a Gaussian-mixture prior over clean latents: K shifted copies (phases) of a
mean texture μ_k built from the prompt's words (see ``toy_lexicon``), each with isotropic spread s²:

    x0 ~ Σ_k (1/K) N(μ_k, s² I)

For x_t = α x0 + σ ε the minimum-mean-squared-error denoiser is closed form:

    E[x0 | x_t] = Σ_k r_k (μ_k + α s² / (α² s² + σ²) · (x_t − α μ_k)),
    r_k ∝ exp(−‖x_t − α μ_k‖² / (2 (α² s² + σ²)))                     (the posterior over phases)

so at high noise the model hedges between phases, commits to one as the noise falls, and a region
painted "red bricks" converges to red bricks. Rough looks (sand, gravel, grass, fur, bricks, water, ...)
have a wider spread s (``prior_stds``, ``GRAIN``): their fine detail is drawn from the noise, as a real model's is, so
averaging independently re-noised latents (MultiDiffusion) visibly washes it out. The latent is an
invertible-by-pseudo-inverse linear map of RGB at 1/4 resolution, so decoding is exact and previews
are free.

Object words ("sun", "moon", "ball", "apple", "flower", "star") draw one whole object instead: any size,
anywhere with a broad centre bias, with a margin of shaded backdrop around it, placed by the evidence under
it and its margin only (``toy_objects``). The whole canvas draws the object near the middle at a size of
its own; a region gets a whole object inside its mask when the model sees room for one there: with
SemanticDraw's bootstrapping, the region centred on a plain surround.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import Conditioning, PromptReading, Schedule, pick_device
from .schedules import SD_NOISE_SCHEDULE, make_scheduler, make_vp_schedule
from .toy_lexicon import PATTERN_WEIGHTS, PATTERNS, embed_prompt, pattern_fields, shape_weights, unknown_words
from .toy_objects import ObjectPrior, backdrop_rgb, build_object_prior, object_x0
from .toy_tokenize import tokenize
from .toy_words import LEXICON

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
# How much of a look's fine detail is grain drawn from the noise (extra prior spread, times grain_std), per
# pattern: every rough or granular surface has some; flat colours and crisp checkers have none.
GRAIN: dict[str, float] = {"flat": 0.0, "stripes": 0.25, "dots": 0.25, "waves": 0.5, "bricks": 0.5,
                           "grass": 1.0, "clouds": 0.25, "noise": 1.0, "checker": 0.0}


class ToyBackend:
    """Closed-form Gaussian-mixture denoiser over word-defined textures (see module docstring)."""

    name = "toy"
    latent_channels = 4
    scale_factor = 4
    default_guidance = 1.0
    prior_std = 0.15  # s: how far a clean latent may stray from its texture mean
    grain_std = 0.2  # extra s of the grainiest looks (sand, gravel, fur, lawn); see GRAIN

    def __init__(self, device: str | torch.device = "cpu", dtype: torch.dtype | None = None,
                 sampler: str = "lcm") -> None:
        self.device = pick_device(device)
        self.dtype = torch.float32  # the toy is exact maths; half precision would only blur the lesson
        self.sampler = sampler
        self._scheduler = make_scheduler(sampler, SD_NOISE_SCHEDULE)
        self._means: OrderedDict[tuple, tuple[Tensor, Tensor]] = OrderedDict()
        self._objects: OrderedDict[tuple, ObjectPrior] = OrderedDict()
        self.model_calls = 0  # batched predict_x0 calls, for tests and teaching
        self.model_rows = 0  # latents denoised in total

    def __repr__(self) -> str:
        return f"ToyBackend(sampler={self.sampler!r}, device={str(self.device)!r})"

    def make_schedule(self, steps: int) -> Schedule:
        return make_vp_schedule(self._scheduler, steps).to(self.device)

    def encode_prompts(self, prompts: Sequence[str]) -> Conditioning:
        """Appearance vectors and object-shape weights; warns once per call about words the toy ignores.

        The engine encodes each text once per plan (a stream keeps its cache), so a stream warns once
        per new prompt, not every tick.
        """
        if len(prompts) == 0:
            raise ValueError("encode_prompts needs at least one prompt")
        for prompt in dict.fromkeys(prompts):
            ignored = unknown_words(prompt)
            if ignored:
                warnings.warn(f"the toy model ignores {', '.join(map(repr, ignored))} in {prompt!r}: it only knows "
                              "its lexicon's colour, texture and object words (see toy_lexicon.describe(prompt))",
                              UserWarning, stacklevel=2)
        return {"appearance": torch.stack([embed_prompt(p) for p in prompts]).to(self.device),
                "shape": torch.stack([shape_weights(p) for p in prompts]).to(self.device)}

    def unknown_words(self, prompt: str) -> list[str]:
        """Words of `prompt` the toy ignores (not in its lexicon, not function words), e.g. ['sofa']."""
        return unknown_words(prompt)

    def read_prompt(self, prompt: str) -> PromptReading:
        """The lexicon words of `prompt` the toy draws from, and the words it ignores (function words are neither)."""
        return PromptReading(used=tuple(dict.fromkeys(w for w in tokenize(prompt) if w in LEXICON)),
                             ignored=tuple(unknown_words(prompt)), reader="the toy's lexicon")

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

    def predict_x0(self, x: Tensor, step_index: Tensor, schedule: Schedule, cond: Conditioning) -> Tensor:
        # Row by row: texture prompts get the exact posterior mean under their phase mixture, object prompts
        # the posterior mean given their most probable object (toy_objects). Both use the per-row spread s.
        #
        # Batch invariance is a promise here (the stream's frames equal generate()'s bit for bit): a row's
        # x̂0 is computed by the same sequence of operations on tensors of the same shapes whatever else
        # shares the call. A batched matrix product or FFT would not keep it: their kernels pick code paths
        # (and FMA row blocks, AVX-512 vs AVX2) by batch size, so one row's rounding would depend on how
        # many rows came with it. The per-row loop costs a few Python iterations per call, not memory passes.
        self.model_calls += 1
        self.model_rows += x.shape[0]
        step_index = step_index.to(self.device)
        alpha = schedule.alphas[step_index]  # (N,)
        spread = self.prior_stds(cond["appearance"])  # (N,) s per row
        var = alpha * alpha * (spread * spread) + schedule.sigmas[step_index] * schedule.sigmas[step_index]
        gain = alpha * (spread * spread) / var  # c = α s² / var: how much x̂0 follows x_t rather than the prior
        shape = cond.get("shape")
        out = torch.empty(x.shape, dtype=torch.float32, device=x.device)
        for i in range(x.shape[0]):
            row = x[i].float()
            if shape is not None and bool(shape[i].sum() > 0):
                prior = self.object_prior(cond["appearance"][i], shape[i], row.shape[-2], row.shape[-1])
                out[i] = object_x0(row, alpha[i], schedule.sigmas[step_index[i]], spread[i], prior)
            else:
                out[i] = self._texture_x0(row, alpha[i], var[i], gain[i], cond["appearance"][i])
        return out

    def prior_stds(self, appearance: Tensor) -> Tensor:
        """(N, D) appearance vectors -> (N,) prior spread s: grainy looks leave more to the noise.

        Their fine detail is not in the mean texture but drawn from the noise, as a real model's is,
        so averaging independently re-noised latents (MultiDiffusion) visibly washes it out.
        """
        weights = appearance[:, PATTERN_WEIGHTS]
        grain = weights[:, 0] * GRAIN[PATTERNS[0]]
        for index in range(1, len(PATTERNS)):  # elementwise, in a fixed order: no kernel sees the batch size
            grain = grain + weights[:, index] * GRAIN[PATTERNS[index]]
        return self.prior_std + self.grain_std * grain

    def _texture_x0(self, x: Tensor, alpha: Tensor, var: Tensor, gain: Tensor, appearance: Tensor) -> Tensor:
        # One row (C, h, w). Σ_k r_k x̂0_k = (1 - cα) Σ_k r_k μ_k + c x_t with c = α s² / var; the posterior
        # logits need only <x_t, μ_k> and ‖μ_k‖². The dot products are an elementwise product summed along
        # one contiguous axis, and the mixture a fixed-order sum over the K components, so the rounding is
        # the same on every CPU path that runs this row (no BLAS kernel choosing blocks by batch size).
        means, norms = self.texture_means(appearance, x.shape[-2], x.shape[-1])  # (K, D), (K,)
        flat = x.reshape(-1)
        dots = (means * flat[None]).sum(1)  # (K,)
        # ‖x − α μ_k‖² up to the constant ‖x‖², which softmax ignores
        distance = -2 * alpha * dots + alpha * alpha * norms
        r = torch.softmax(-distance / (2 * var), dim=0)  # (K,)
        weight = (1 - gain * alpha) * r
        mixed = weight[0] * means[0]
        for k in range(1, means.shape[0]):
            mixed = mixed + weight[k] * means[k]
        return (gain * flat + mixed).view_as(x)

    def backdrop_latent(self, height: int = 1) -> Tensor:
        """(C, height, 1) latent of the shaded backdrop objects are drawn on (not the bootstrap's white)."""
        rgb = backdrop_rgb(height) * 2 - 1
        return torch.einsum("cr,rhw->chw", RGB_TO_LATENT, rgb).to(self.device)

    def object_prior(self, appearance: Tensor, shape: Tensor, height: int, width: int) -> ObjectPrior:
        """One object prompt at (height, width) latents -> its ObjectPrior (look, backdrop, shapes, prior); cached."""
        key = (tuple(appearance.tolist()), tuple(shape.tolist()), height, width)
        if key not in self._objects:
            fill = self._render_means(appearance, height, width)[0]  # (C, h, w)
            backdrop = self.backdrop_latent(height).expand(-1, -1, width).contiguous()
            self._objects[key] = build_object_prior(fill, backdrop, shape, height, width)
            if len(self._objects) > 64:
                self._objects.popitem(last=False)
        return self._objects[key]

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
