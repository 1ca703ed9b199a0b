"""Stable Diffusion XL: two CLIP text encoders, a pooled text embedding and size conditioning.

What differs from SD1.x, all inside the backend (the engine is unchanged):

- text: the penultimate hidden states of both encoders, concatenated on the feature axis
  (N, 77, 768 + 1280), plus the second encoder's pooled projection (N, 1280). Both live in the
  Conditioning dict, so prompt strength (``lerp_conditioning``) interpolates the pooled embedding too:
  the original code interpolated only the sequence and crashed or smeared with mixed batches.
- an empty prompt is the all-zero embedding when the pipeline says ``force_zeros_for_empty_prompt``
  (SDXL base), as diffusers does for a missing negative prompt;
- ``add_time_ids`` (original size, crop top-left, target size) = (H, W, 0, 0, H, W) for the canvas
  actually being drawn, derived from the latent's shape at every call.
- samplers: Euler with "trailing" spacing (SDXL-Lightning and Hyper-SDXL checkpoints/LoRAs), LCM
  (LCM-LoRA SDXL), TCD and DDIM; the noise level masks are quantized against is Euler's σ/√(σ²+1).
- VAE: the SDXL VAE overflows in float16, so with dtype float16 it runs in float32 when its config
  says ``force_upcast`` (diffusers' rule); the fp16-fix VAE (``vae="madebyollin/sdxl-vae-fp16-fix"``)
  or TAESDXL (``tiny_vae="madebyollin/taesdxl"``) stay in float16.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor

from .base import Conditioning
from .sd import StableDiffusionBackend, dual_clip_embeddings, placed


class StableDiffusionXLBackend(StableDiffusionBackend):
    """SDXL base (or any UNet with ``addition_embed_type='text_time'``) behind the Backend protocol."""

    name = "sdxl"
    family = "sdxl"
    upcast_vae_in_fp16 = True

    def __init__(self, components: dict[str, Any], **options: Any) -> None:
        if components.get("text_encoder_2") is None or components.get("text_encoder") is None:
            raise ValueError("SDXL backend needs both text encoders (a refiner-only pipeline is not supported)")
        super().__init__(components, **options)
        self.text_encoder_2 = placed(components["text_encoder_2"], self.device, self.dtype)
        self.tokenizer_2 = components["tokenizer_2"]

    @torch.inference_mode()
    def encode_prompts(self, prompts: Sequence[str]) -> Conditioning:
        first, _, second, pooled = dual_clip_embeddings(self, prompts)
        embeds = torch.cat([first, second.to(first.dtype)], dim=-1)  # (N, 77, D1 + D2)
        if self.pipeline_config.get("force_zeros_for_empty_prompt", False):
            # SDXL base was trained with an all-zero unconditional embedding: diffusers uses zeros when no
            # negative prompt is given, and an empty prompt is how the engine says "no negative prompt".
            empty = torch.tensor([not p.strip() for p in prompts], device=embeds.device)
            embeds = torch.where(empty[:, None, None], torch.zeros_like(embeds), embeds)
            pooled = torch.where(empty[:, None], torch.zeros_like(pooled), pooled)
        return {"prompt_embeds": embeds.to(self.dtype), "pooled_prompt_embeds": pooled.to(self.dtype)}

    def time_ids(self, x: Tensor) -> Tensor:
        """(N, 6) size conditioning for latents x: the canvas is both the original and the target size."""
        height, width = x.shape[-2] * self.scale_factor, x.shape[-1] * self.scale_factor
        ids = torch.tensor([height, width, 0, 0, height, width], dtype=x.dtype, device=x.device)
        return ids.expand(x.shape[0], -1)

    def model_output(self, x: Tensor, timesteps: Tensor, cond: Conditioning) -> Tensor:
        added = {"text_embeds": cond["pooled_prompt_embeds"], "time_ids": self.time_ids(x)}
        return self.unet(x, timesteps, encoder_hidden_states=cond["prompt_embeds"],
                         added_cond_kwargs=added).sample
