"""Stable Diffusion 1.x / 2.x family (ε- or v-prediction UNet, CLIP text encoder, KL or tiny VAE),
and ``DiffusersBackend``, the adapter every diffusers family (SD, SDXL, SD3) shares.

Few-step samplers: LCM (with its c_skip/c_out boundary scalings), TCD, Euler (trailing) and DDIM
(the 50-step reference). All run in the variance-preserving parameterisation of ``Schedule``:
Euler's x/√(σ²+1) input scaling is exactly the VP latent, so one UNet call path serves them all.

A family subclass only says how it encodes text (``encode_prompts``), how it calls its denoiser
(``model_output``), how a model output becomes x̂0 (``x0_from_output``) and which schedules it has
(``make_schedule``); loading, the VAE and its latent scaling, previews and call counting live here.
"""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

import torch
from torch import Tensor

from .base import Conditioning, PromptReading, Schedule, clip_reading
from .previews import LATENT_RGB, project_latents
from .schedules import SAMPLERS, make_scheduler, make_vp_schedule, x0_from_model_output
from .tiling import Window, blend_windows, cut_windows, plan_windows, window_weights



def placed(module: torch.nn.Module, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    """Move a module only where needed (diffusers warns about re-casting modules loaded in a dtype)."""
    if module.device != device or module.dtype != dtype:
        module = module.to(device, dtype)
    return module.eval()


def clip_embeddings(tokenizer: Any, encoder: Any, prompts: Sequence[str], device: torch.device,
                    *, penultimate: bool) -> tuple[Tensor, Tensor | None]:
    """(hidden states (N, 77, D), pooled projection (N, D') or None) of a CLIP text encoder, as diffusers'
    pipelines compute them: the last layer (SD1.x/2.x) or the penultimate one (SDXL, SD3)."""
    tokens = tokenizer(list(prompts), padding="max_length", max_length=tokenizer.model_max_length,
                       truncation=True, return_tensors="pt")
    output = encoder(tokens.input_ids.to(device), output_hidden_states=penultimate)
    hidden = output.hidden_states[-2] if penultimate else output[0]
    pooled = output[0] if output[0].ndim == 2 else None  # CLIPTextModelWithProjection: text_embeds
    return hidden, pooled


def dual_clip_embeddings(backend: Any, prompts: Sequence[str]) -> tuple[Tensor, Tensor | None, Tensor, Tensor | None]:
    """Both CLIP encoders' penultimate hidden states and pooled projections (SDXL, SD3): (first, pooled_1,
    second, pooled_2), from the backend's tokenizer/text_encoder and tokenizer_2/text_encoder_2."""
    if len(prompts) == 0:
        raise ValueError("encode_prompts needs at least one prompt")
    first, pooled_1 = clip_embeddings(backend.tokenizer, backend.text_encoder, prompts, backend.device, penultimate=True)
    second, pooled_2 = clip_embeddings(backend.tokenizer_2, backend.text_encoder_2, prompts, backend.device,
                                       penultimate=True)
    return first, pooled_1, second, pooled_2


class DiffusersBackend:
    """The Backend protocol over a diffusers pipeline's components; subclasses are model families."""

    name: ClassVar[str] = "diffusers"
    family: ClassVar[str] = "sd"  # key into previews.LATENT_RGB
    samplers: ClassVar[tuple[str, ...]] = SAMPLERS
    denoiser_key: ClassVar[str] = "unet"
    default_guidance = 1.0  # few-step distilled models are trained without CFG
    upcast_vae_in_fp16: ClassVar[bool] = False  # SDXL's VAE overflows in float16 (config.force_upcast)

    def __init__(self, components: dict[str, Any], *, sampler: str, device: torch.device, dtype: torch.dtype,
                 scheduler_config: dict[str, Any], tiny_vae: Any = None, tcd_gamma: float = 0.3,
                 pipeline_config: dict[str, Any] | None = None) -> None:
        if sampler not in self.samplers:
            raise ValueError(f"unknown sampler {sampler!r} for {self.name} models: choose one of "
                             f"{', '.join(self.samplers)}")
        self.device, self.dtype, self.sampler = device, dtype, sampler
        self.denoiser = placed(components[self.denoiser_key], device, dtype)
        vae = tiny_vae if tiny_vae is not None else components["vae"]
        upcast = (tiny_vae is None and self.upcast_vae_in_fp16 and dtype == torch.float16
                  and bool(getattr(vae.config, "force_upcast", False)))
        self.vae_dtype = torch.float32 if upcast else dtype
        self.vae = placed(vae, device, self.vae_dtype)
        self.latent_channels = int(self.denoiser.config.in_channels)
        self.scale_factor = 2 ** (len(components["vae"].config.block_out_channels) - 1)
        self.scheduler_config = dict(scheduler_config)
        self.pipeline_config = dict(pipeline_config or {})  # the pipeline's own settings (model_index.json)
        self.scheduler = self.build_scheduler(sampler, self.scheduler_config)
        self.tcd_gamma = tcd_gamma
        # Latents larger than the model's native size are denoised as overlapping windows (see tiling.py);
        # set window = 0 to feed whole canvases to the model instead.
        self.window = int(getattr(self.denoiser.config, "sample_size", 0) or 0)
        self.window_overlap = 0.25
        self._window_weights: dict[tuple[int, int, int, float], tuple[list[Window], Tensor]] = {}
        self.model_calls = 0
        self.model_rows = 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(sampler={self.sampler!r}, device={str(self.device)!r}, dtype={self.dtype})"

    # --- family hooks -------------------------------------------------------------------------------
    def build_scheduler(self, sampler: str, config: dict[str, Any]) -> Any:
        return make_scheduler(sampler, config)

    def make_schedule(self, steps: int) -> Schedule:
        return make_vp_schedule(self.scheduler, steps, tcd_gamma=self.tcd_gamma).to(self.device)

    def encode_prompts(self, prompts: Sequence[str]) -> Conditioning:
        raise NotImplementedError

    def read_prompt(self, prompt: str) -> PromptReading:
        """The words of `prompt` the (first) CLIP text encoder sees, and the tail its 77-token limit cuts."""
        return clip_reading(self.tokenizer, prompt)

    def model_output(self, x: Tensor, timesteps: Tensor, cond: Conditioning) -> Tensor:
        """The denoiser's raw output for latents x (N, C, h, w) in the model's dtype."""
        raise NotImplementedError

    def x0_from_output(self, output: Tensor, x: Tensor, alpha: Tensor, sigma: Tensor) -> Tensor:
        raise NotImplementedError

    # --- shared ------------------------------------------------------------------------------------
    def windows_for(self, height: int, width: int) -> tuple[list[Window], Tensor]:
        """The windows (and their blending weights (J, h, w)) a (height, width) latent is denoised in."""
        key = (height, width, self.window, self.window_overlap)
        if key not in self._window_weights:
            if self.window <= 0:
                windows = [(0, 0, height, width)]
            else:
                windows = plan_windows(height, width, self.window, self.window_overlap)
            ramp = max(1, int(self.window * self.window_overlap))
            self._window_weights[key] = (windows, window_weights(height, width, windows, ramp).to(self.device))
        return self._window_weights[key]

    @torch.inference_mode()
    def predict_x0(self, x: Tensor, step_index: Tensor, schedule: Schedule, cond: Conditioning) -> Tensor:
        """x̂0 for (N, C, h, w) latents; a canvas larger than the model's native size goes through as
        overlapping windows, all of them in the same single model call."""
        self.model_calls += 1
        windows, weights = self.windows_for(*x.shape[-2:])
        if len(windows) == 1:
            self.model_rows += x.shape[0]
            return self._predict_rows(x, step_index, schedule, cond)
        count = len(windows)
        tiles = cut_windows(x, windows)  # (J * N, C, window, window), window-major
        repeated = {key: value.repeat(count, *([1] * (value.dim() - 1))) for key, value in cond.items()}
        self.model_rows += tiles.shape[0]
        x0 = self._predict_rows(tiles, step_index.repeat(count), schedule, repeated)
        return blend_windows(x0, windows, weights, x.shape)

    def _predict_rows(self, x: Tensor, step_index: Tensor, schedule: Schedule, cond: Conditioning) -> Tensor:
        step_index = step_index.to(self.device)
        alpha = schedule.alphas[step_index].view(-1, 1, 1, 1)
        sigma = schedule.sigmas[step_index].view(-1, 1, 1, 1)
        output = self.model_output(x.to(self.dtype), schedule.timesteps[step_index], cond).float()
        x0 = self.x0_from_output(output, x.float(), alpha, sigma)
        if "c_skip" in schedule.extras:  # LCM boundary condition: x̂0 = c_out · x̂0_model + c_skip · x_t
            c_skip = schedule.extras["c_skip"][step_index].view(-1, 1, 1, 1)
            c_out = schedule.extras["c_out"][step_index].view(-1, 1, 1, 1)
            x0 = c_out * x0 + c_skip * x.float()
        return x0

    def _latent_scaling(self) -> tuple[float, float]:
        config = self.vae.config
        return float(getattr(config, "scaling_factor", 1.0) or 1.0), float(getattr(config, "shift_factor", 0.0) or 0.0)

    @torch.inference_mode()
    def encode_images(self, images: Tensor) -> Tensor:
        scale, shift = self._latent_scaling()
        encoded = self.vae.encode((images * 2 - 1).to(self.device, self.vae_dtype))
        latents = encoded.latent_dist.mean if hasattr(encoded, "latent_dist") else encoded.latents
        return (latents.float() - shift) * scale

    @torch.inference_mode()
    def decode_latents(self, latents: Tensor) -> Tensor:
        scale, shift = self._latent_scaling()
        images = self.vae.decode((latents.float() / scale + shift).to(self.vae_dtype)).sample.float()
        return ((images + 1) / 2).clamp(0, 1)

    def latent_to_rgb(self, latents: Tensor) -> Tensor:
        return project_latents(latents, self.family)


class StableDiffusionBackend(DiffusersBackend):
    """SD1.x/2.x components from a diffusers pipeline; the engine only sees the Backend protocol."""

    name = "sd"
    family = "sd"

    def __init__(self, components: dict[str, Any], **options: Any) -> None:
        super().__init__(components, **options)
        self.unet = self.denoiser
        self.text_encoder = placed(components["text_encoder"], self.device, self.dtype)
        self.tokenizer = components["tokenizer"]
        self.prediction_type = self.scheduler_config.get("prediction_type", "epsilon")

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(sampler={self.sampler!r}, device={str(self.device)!r}, "
                f"dtype={self.dtype}, prediction={self.prediction_type!r})")

    @torch.inference_mode()
    def encode_prompts(self, prompts: Sequence[str]) -> Conditioning:
        if len(prompts) == 0:
            raise ValueError("encode_prompts needs at least one prompt")
        embeds, _ = clip_embeddings(self.tokenizer, self.text_encoder, prompts, self.device, penultimate=False)
        return {"prompt_embeds": embeds.to(self.dtype)}

    def model_output(self, x: Tensor, timesteps: Tensor, cond: Conditioning) -> Tensor:
        return self.unet(x, timesteps, encoder_hidden_states=cond["prompt_embeds"]).sample

    def x0_from_output(self, output: Tensor, x: Tensor, alpha: Tensor, sigma: Tensor) -> Tensor:
        return x0_from_model_output(output, x, alpha, sigma, self.prediction_type)
