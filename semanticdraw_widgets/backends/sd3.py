"""Stable Diffusion 3: an MMDiT transformer trained with flow matching on 16-channel latents.

Flow matching fits the engine's shared parameterisation x = alpha x0 + sigma eps with
alpha = 1 - σ and sigma = σ (σ in [0, 1], the scheduler's shifted sigmas), and the model predicts the
velocity v = eps - x0, so

    x̂0 = x - σ v,            ε̂ = x + (1 - σ) v,
    next: x' = (1 - σ') x̂0 + σ' ε̂  (= x + (σ' - σ) v, diffusers' FlowMatchEuler step)    "euler"
      or  x' = (1 - σ') x̂0 + σ' z  (fresh noise, the few-step flash/LCM-style rule)         "flash"

Masks are quantized against σ itself, the fraction of noise in x (the original code used SDXL's
σ/√(σ²+1) here); the background fills x̂0 and is noised exactly once, by the re-noise above (the
original mixed an already-noised background and noised it again).

Text: CLIP-L and CLIP-G penultimate states concatenated (N, 77, 2048), zero-padded to the joint
attention width and followed by the T5 sequence, or by zeros when T5 is not loaded (the default: T5-XXL
costs ~10 GB and SD3 was trained to work without it); pooled = both CLIP projections (N, 2048).
The VAE's latents are shifted and scaled, ``(z - shift_factor) * scaling_factor``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Sequence

import torch
from torch import Tensor

from ..samplers import sampler_for, samplers_for, scheduler_steps_range
from ..validation import check_field
from .base import Conditioning, PromptReading, Schedule, clip_reading, t5_reading
from .sd import DiffusersBackend, dual_clip_embeddings, placed

FLOW_SAMPLERS = samplers_for("sd3")  # from the sampler registry (samplers.py)
T5_SEQUENCE_LENGTH = 256  # diffusers' default max_sequence_length for SD3


def make_flow_schedule(scheduler: Any, steps: int, sampler: str) -> Schedule:
    """Schedule for `steps` steps of a diffusers FlowMatchEulerDiscreteScheduler (its shift included)."""
    if sampler not in FLOW_SAMPLERS:
        raise ValueError(f"unknown flow-matching sampler {sampler!r}: choose one of {', '.join(FLOW_SAMPLERS)}")
    info = sampler_for(sampler, "sd3")
    lo, hi = scheduler_steps_range(scheduler)
    steps = check_field("steps", steps, min=lo, max=hi, why=f" (the {sampler} sampler's range)")
    scheduler.set_timesteps(steps)
    sigmas = scheduler.sigmas[:steps].float().cpu()  # (S,) shifted, decreasing; sigmas[S] = 0
    pred_noise, fresh_noise = torch.zeros_like(sigmas), torch.zeros_like(sigmas)
    if info.renoise == "carry":
        pred_noise[1:] = sigmas[1:]
    else:  # "fresh"
        fresh_noise[1:] = sigmas[1:]
    return Schedule(timesteps=scheduler.timesteps.float().cpu(), alphas=1 - sigmas, sigmas=sigmas,
                    noise_levels=sigmas.clone(), pred_noise=pred_noise, fresh_noise=fresh_noise)


class StableDiffusion3Backend(DiffusersBackend):
    """SD3 / SD3.5 (SD3Transformer2DModel, flow matching) behind the Backend protocol."""

    name = "sd3"
    family = "sd3"
    samplers = FLOW_SAMPLERS
    denoiser_key = "transformer"

    def __init__(self, components: dict[str, Any], **options: Any) -> None:
        options.pop("tcd_gamma", None)
        super().__init__(components, **options)
        self.transformer = self.denoiser
        self.text_encoder = placed(components["text_encoder"], self.device, self.dtype)
        self.text_encoder_2 = placed(components["text_encoder_2"], self.device, self.dtype)
        self.tokenizer, self.tokenizer_2 = components["tokenizer"], components["tokenizer_2"]
        t5 = components.get("text_encoder_3")
        self.text_encoder_3 = placed(t5, self.device, self.dtype) if t5 is not None else None
        self.tokenizer_3 = components.get("tokenizer_3")
        self.joint_dim = int(self.transformer.config.joint_attention_dim)

    def build_scheduler(self, sampler: str, config: dict[str, Any]) -> Any:
        from diffusers import FlowMatchEulerDiscreteScheduler

        keep = ("num_train_timesteps", "shift", "use_dynamic_shifting", "base_shift", "max_shift",
                "base_image_seq_len", "max_image_seq_len", "shift_terminal")
        config = {k: v for k, v in config.items() if k in keep}
        if config.get("use_dynamic_shifting"):  # SD3.5 configs keep it off; resolution-dependent mu is not wired
            config["use_dynamic_shifting"] = False
        return FlowMatchEulerDiscreteScheduler.from_config(config)

    def make_schedule(self, steps: int) -> Schedule:
        return make_flow_schedule(self.scheduler, steps, self.sampler).to(self.device)

    @torch.inference_mode()
    def encode_prompts(self, prompts: Sequence[str]) -> Conditioning:
        first, pooled_1, second, pooled_2 = dual_clip_embeddings(self, prompts)
        clip = torch.cat([first, second], dim=-1)  # (N, 77, D1 + D2)
        t5 = self._t5_embeddings(prompts, clip.dtype)  # (N, 256, joint)
        clip = torch.nn.functional.pad(clip, (0, t5.shape[-1] - clip.shape[-1]))
        return {"prompt_embeds": torch.cat([clip, t5], dim=-2).to(self.dtype),
                "pooled_prompt_embeds": torch.cat([pooled_1, pooled_2], dim=-1).to(self.dtype)}

    def _t5_embeddings(self, prompts: Sequence[str], dtype: torch.dtype) -> Tensor:
        if self.text_encoder_3 is None:
            return torch.zeros(len(prompts), T5_SEQUENCE_LENGTH, self.joint_dim, device=self.device, dtype=dtype)
        tokens = self.tokenizer_3(list(prompts), padding="max_length", max_length=T5_SEQUENCE_LENGTH,
                                  truncation=True, add_special_tokens=True, return_tensors="pt")
        return self.text_encoder_3(tokens.input_ids.to(self.device))[0].to(dtype)

    def read_prompt(self, prompt: str) -> PromptReading:
        """CLIP's reading of `prompt` (both CLIPs share a tokenizer's limit), with T5's when T5 is loaded: T5
        reads up to 255 tokens, so a long prompt CLIP cuts can still reach the model through T5."""
        clip = clip_reading(self.tokenizer, prompt)
        if self.text_encoder_3 is None:
            return replace(clip, reader=f"{clip.reader}; T5 is not loaded, zeros take its place")
        return replace(clip, others=(t5_reading(self.tokenizer_3, prompt, T5_SEQUENCE_LENGTH),))

    def model_output(self, x: Tensor, timesteps: Tensor, cond: Conditioning) -> Tensor:
        return self.transformer(hidden_states=x, timestep=timesteps, encoder_hidden_states=cond["prompt_embeds"],
                                pooled_projections=cond["pooled_prompt_embeds"]).sample

    def x0_from_output(self, output: Tensor, x: Tensor, alpha: Tensor, sigma: Tensor) -> Tensor:
        return x - sigma * output  # velocity v = eps - x0
