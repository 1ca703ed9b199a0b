"""The Backend protocol: what the regional engine needs from a model family.

Every family works in one shared parameterisation of the forward process,

    x_i = alphas[i] * x0 + sigmas[i] * eps,                                  (1)

(variance preserving for ε/v-prediction models, ``alphas = 1 - sigmas`` for flow matching (SD3)), so the
engine can pre-average x̂0 predictions and re-noise once without knowing which family it drives.
A backend owns loading, dtype, its scheduler maths (boundary scalings, prediction type) and its
noise levels; the engine never imports a diffusers pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence, runtime_checkable

import torch
from torch import Tensor

# A batch of text conditionings: every tensor has the batch on dim 0 (e.g. "prompt_embeds": (N, 77, 768)).
Conditioning = dict[str, Tensor]


@dataclass(frozen=True)
class Schedule:
    """Per-step constants of a sampler, all (S,) float32 tensors on the backend's device.

    Moving from step i to i + 1 after predicting x̂0 (and ε̂ derived from it through (1)):

        x_{i+1} = alphas[i+1] * x̂0 + pred_noise[i+1] * ε̂ + fresh_noise[i+1] * z,  z ~ N(0, I)

    LCM: pred_noise = 0 (fresh noise only); DDIM/Euler/flow-Euler: fresh_noise = 0; TCD mixes both.
    ``noise_levels`` in [0, 1] is the fraction of noise at each step; masks are quantized against it.
    """

    timesteps: Tensor  # (S,) the value the model is conditioned on
    alphas: Tensor  # (S,) signal scale in (1)
    sigmas: Tensor  # (S,) noise scale in (1)
    noise_levels: Tensor  # (S,) in [0, 1], decreasing
    pred_noise: Tensor  # (S,) entry 0 unused
    fresh_noise: Tensor  # (S,) entry 0 unused
    extras: dict[str, Tensor] = field(default_factory=dict)  # family specific, e.g. LCM c_skip/c_out

    def __len__(self) -> int:
        return int(self.timesteps.shape[0])

    def to(self, device: torch.device | str) -> "Schedule":
        move = lambda t: t.to(device)  # noqa: E731
        return Schedule(
            *(move(t) for t in (self.timesteps, self.alphas, self.sigmas, self.noise_levels,
                                 self.pred_noise, self.fresh_noise)),
            extras={k: move(v) for k, v in self.extras.items()},
        )


@runtime_checkable
class Backend(Protocol):
    """One model family (toy, SD1.x/2.x, SDXL, SD3) behind the interface the engine uses.

    Family-specific conditioning rides in the Conditioning dict (SDXL and SD3 add
    "pooled_prompt_embeds"), so the engine's lerp/cat/take treat every entry alike; flow-matching
    families express alpha = 1 - sigma through the Schedule.

    Optional: ``read_prompt(prompt) -> PromptReading`` (which words the model uses, ignores or cuts off),
    shown by the inspector's prompt view; ``read_prompt(backend, prompt)`` below has the default.
    """

    name: str
    latent_channels: int
    scale_factor: int  # image pixels per latent pixel
    device: torch.device
    dtype: torch.dtype
    default_guidance: float

    def make_schedule(self, steps: int) -> Schedule:
        """Timesteps and coefficients for a `steps`-step sample, derived from `steps` alone."""

    def encode_prompts(self, prompts: Sequence[str]) -> Conditioning:
        """Text conditioning for each prompt, batch on dim 0."""

    def predict_x0(self, x: Tensor, step_index: Tensor, schedule: Schedule, cond: Conditioning) -> Tensor:
        """x̂0 for latents x (N, C, h, w) at per-sample steps `step_index` (N,), float32 out."""

    def encode_images(self, images: Tensor) -> Tensor:
        """(N, 3, H, W) RGB in [0, 1] -> (N, C, H/f, W/f) clean latents (x0 space)."""

    def decode_latents(self, latents: Tensor) -> Tensor:
        """(N, C, h, w) clean latents -> (N, 3, h*f, w*f) RGB in [0, 1]."""

    def latent_to_rgb(self, latents: Tensor) -> Tensor:
        """Cheap linear preview (N, C, h, w) -> (N, 3, h, w) RGB in [0, 1], for traces."""


@dataclass(frozen=True)
class PromptReading:
    """How a model reads one prompt, in words a person can check (the inspector's prompt view).

    A backend may define ``read_prompt(prompt) -> PromptReading``; ``read_prompt(backend, prompt)`` falls
    back to passing every word on when it does not (a model that says nothing about its vocabulary).
    """

    used: tuple[str, ...]  # what the model conditions on: lexicon words, or the text the tokenizer kept
    ignored: tuple[str, ...] = ()  # words it has no meaning for (the toy's words outside its lexicon)
    truncated: str = ""  # the tail past the text encoder's token limit, which the model never sees
    reader: str = ""  # who read it, e.g. "the toy's lexicon" or "CLIP tokenizer, 75 tokens + start/end"
    others: tuple[PromptReading, ...] = ()  # further text encoders' readings of the same prompt (SD3's T5)


def read_prompt(backend: object, prompt: str) -> PromptReading:
    """The backend's own reading of `prompt` (its optional ``read_prompt``), else every word as given."""
    own = getattr(backend, "read_prompt", None)
    if callable(own):
        return own(prompt)
    return PromptReading(used=tuple(prompt.split()),
                         reader=f"{getattr(backend, 'name', type(backend).__name__)} (its vocabulary is not known here)")


def clip_reading(tokenizer: object, prompt: str) -> PromptReading:
    """What a CLIP tokenizer keeps of `prompt`: the text of its first model_max_length - 2 tokens (start and
    end take two), and the tail it cuts off, which never reaches the text encoder."""
    ids = tokenizer(prompt, add_special_tokens=False, verbose=False)["input_ids"]  # verbose: no too-long warning
    return _cut_at(ids, int(tokenizer.model_max_length) - 2, tokenizer.decode, "CLIP")


def t5_reading(tokenizer: object, prompt: str, max_length: int) -> PromptReading:
    """What a T5 tokenizer keeps of `prompt` when its sequence is `max_length` tokens long: the text of the
    first max_length - 1 tokens (the end token takes one), and the tail it cuts off."""
    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    return _cut_at(ids, max_length - 1, lambda part: tokenizer.decode(part, skip_special_tokens=True), "T5")


def _cut_at(ids: list[int], limit: int, decode, name: str) -> PromptReading:  # noqa: ANN001
    """The reading of token `ids` by a tokenizer that keeps the first `limit`: their text, and the cut tail's."""
    text = lambda part: decode(part).strip() if part else ""  # noqa: E731
    return PromptReading(used=tuple(text(ids[:limit]).split()), truncated=text(ids[limit:]),
                         reader=f"{name} tokenizer: {len(ids)} tokens of the {limit} it reads")


def vp_coefficients_from_sigma(karras_sigmas: Tensor) -> tuple[Tensor, Tensor]:
    """Euler/Karras sigma (x = x0 + σε) -> variance-preserving (alpha, sigma) of the same noise level."""
    scale = torch.rsqrt(karras_sigmas.double() ** 2 + 1)
    return scale.float(), (karras_sigmas.double() * scale).float()


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """'auto' picks CUDA, then Apple MPS, then CPU. A named device must exist here: asking for CUDA on a
    machine without it fails now (validation.as_device says what to pass instead), not later inside the
    first model call."""
    from ..validation import as_device

    text = as_device(device, "device")
    if text != "auto":
        return torch.device(text)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def pick_dtype(device: torch.device, dtype: torch.dtype | str | None = None) -> torch.dtype:
    """Half precision on accelerators, float32 on the CPU (where fp16 kernels are slow or missing)."""
    if dtype is None:
        return torch.float16 if device.type in ("cuda", "mps") else torch.float32
    if isinstance(dtype, str):
        try:
            return {"float16": torch.float16, "fp16": torch.float16, "bfloat16": torch.bfloat16,
                    "bf16": torch.bfloat16, "float32": torch.float32, "fp32": torch.float32}[dtype]
        except KeyError:
            raise ValueError(f"unknown dtype {dtype!r}: use 'float16', 'bfloat16' or 'float32'") from None
    if dtype not in (torch.float16, torch.bfloat16, torch.float32):
        raise ValueError(f"unsupported dtype {dtype!r}: use torch.float16, torch.bfloat16 or torch.float32")
    return dtype
