"""Stable Diffusion 1.x / 2.x family (ε- or v-prediction UNet, CLIP text encoder, KL or tiny VAE).

Few-step samplers: LCM (with its c_skip/c_out boundary scalings), TCD, Euler (trailing) and DDIM
(the 50-step reference). All run in the variance-preserving parameterisation of ``Schedule``:
Euler's x/√(σ²+1) input scaling is exactly the VP latent, so one UNet call path serves them all.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor

from .base import Conditioning, Schedule
from .schedules import SAMPLERS, make_scheduler, make_vp_schedule, x0_from_model_output

# Linear least-squares fit of RGB from SD1.x latents, the widely used preview approximation.
SD15_LATENT_RGB = torch.tensor([
    [0.298, 0.207, 0.208],
    [0.187, 0.286, 0.173],
    [-0.158, 0.189, 0.264],
    [-0.184, -0.271, -0.473],
])


def _placed(module: torch.nn.Module, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    """Move a module only where needed (diffusers warns about re-casting modules loaded in a dtype)."""
    if module.device != device or module.dtype != dtype:
        module = module.to(device, dtype)
    return module.eval()


class StableDiffusionBackend:
    """SD1.x/2.x components from a diffusers pipeline; the engine only sees the Backend protocol."""

    name = "sd"
    default_guidance = 1.0  # few-step distilled models are trained without CFG

    def __init__(self, components: dict[str, Any], *, sampler: str, device: torch.device, dtype: torch.dtype,
                 scheduler_config: dict[str, Any], tiny_vae: Any = None, tcd_gamma: float = 0.3) -> None:
        if sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {sampler!r}: choose one of {', '.join(SAMPLERS)}")
        self.device, self.dtype, self.sampler = device, dtype, sampler
        self.unet = _placed(components["unet"], device, dtype)
        self.text_encoder = _placed(components["text_encoder"], device, dtype)
        self.tokenizer = components["tokenizer"]
        self.vae = _placed(tiny_vae if tiny_vae is not None else components["vae"], device, dtype)
        self.latent_channels = int(self.unet.config.in_channels)
        self.scale_factor = 2 ** (len(components["vae"].config.block_out_channels) - 1)
        self.prediction_type = scheduler_config.get("prediction_type", "epsilon")
        self.scheduler = make_scheduler(sampler, scheduler_config)
        self.tcd_gamma = tcd_gamma
        self.model_calls = 0
        self.model_rows = 0

    def __repr__(self) -> str:
        return (f"StableDiffusionBackend(sampler={self.sampler!r}, device={str(self.device)!r}, "
                f"dtype={self.dtype}, prediction={self.prediction_type!r})")

    def make_schedule(self, steps: int) -> Schedule:
        return make_vp_schedule(self.scheduler, steps, tcd_gamma=self.tcd_gamma).to(self.device)

    @torch.inference_mode()
    def encode_prompts(self, prompts: Sequence[str]) -> Conditioning:
        if len(prompts) == 0:
            raise ValueError("encode_prompts needs at least one prompt")
        tokens = self.tokenizer(list(prompts), padding="max_length", max_length=self.tokenizer.model_max_length,
                                truncation=True, return_tensors="pt")
        embeds = self.text_encoder(tokens.input_ids.to(self.device))[0]
        return {"prompt_embeds": embeds.to(self.dtype)}

    @torch.inference_mode()
    def predict_x0(self, x: Tensor, step_index: Tensor, schedule: Schedule, cond: Conditioning) -> Tensor:
        self.model_calls += 1
        self.model_rows += x.shape[0]
        step_index = step_index.to(self.device)
        alpha = schedule.alphas[step_index].view(-1, 1, 1, 1)
        sigma = schedule.sigmas[step_index].view(-1, 1, 1, 1)
        output = self.unet(x.to(self.dtype), schedule.timesteps[step_index],
                           encoder_hidden_states=cond["prompt_embeds"]).sample.float()
        x0 = x0_from_model_output(output, x.float(), alpha, sigma, self.prediction_type)
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
        encoded = self.vae.encode((images * 2 - 1).to(self.device, self.dtype))
        latents = encoded.latent_dist.mean if hasattr(encoded, "latent_dist") else encoded.latents
        return ((latents.float() - shift) * scale)

    @torch.inference_mode()
    def decode_latents(self, latents: Tensor) -> Tensor:
        scale, shift = self._latent_scaling()
        images = self.vae.decode((latents / scale + shift).to(self.dtype)).sample.float()
        return ((images + 1) / 2).clamp(0, 1)

    def latent_to_rgb(self, latents: Tensor) -> Tensor:
        latents = latents.float()
        if latents.shape[1] == SD15_LATENT_RGB.shape[0]:
            rgb = torch.einsum("nchw,cr->nrhw", latents, SD15_LATENT_RGB.to(latents.device))
        else:  # an unfamiliar latent space: show its first three channels
            rgb = latents[:, :3] / 2
        return ((rgb + 1) / 2).clamp(0, 1)
