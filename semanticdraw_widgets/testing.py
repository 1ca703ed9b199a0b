"""Tiny random Stable Diffusion pipelines built from configs, for tests and CPU benchmarks.

No hub access: the CLIP tokenizer gets a byte-level vocabulary written on the spot, so a pipeline
can be saved with ``save_pretrained`` and loaded back through ``load_backend(folder)`` offline.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import torch


def byte_symbols() -> list[str]:
    """GPT-2/CLIP's printable stand-in character for each of the 256 bytes."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    extra = iter(range(256, 512))
    return [chr(b) if b in printable else chr(next(extra)) for b in range(256)]


def write_byte_level_clip_tokenizer(folder: Path) -> Path:
    """A CLIP tokenizer with one token per byte (no merges): tiny but a real tokenizer."""
    folder.mkdir(parents=True, exist_ok=True)
    symbols = list(byte_symbols())
    vocab = {token: i for i, token in enumerate(symbols + [s + "</w>" for s in symbols]
                                                + ["<|startoftext|>", "<|endoftext|>"])}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return folder


def make_tiny_sd_pipeline(folder: str | Path, *, prediction_type: str = "epsilon", seed: int = 0,
                          width: int = 32, sample_size: int = 32) -> Path:
    """Build a random SD1.x-shaped pipeline (UNet, KL VAE with 2x downsampling, CLIP) and save it."""
    from diffusers import AutoencoderKL, UNet2DConditionModel

    folder = Path(folder)
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(width, 2 * width), layers_per_block=1, sample_size=sample_size, in_channels=4,
        out_channels=4, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=32, attention_head_dim=2,
        norm_num_groups=8)
    vae = AutoencoderKL(block_out_channels=(width, 2 * width), in_channels=3, out_channels=3,
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                        latent_channels=4, norm_num_groups=8, sample_size=2 * sample_size)
    text_config = dict(hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2)
    return _assemble(folder, unet, vae, text_config, prediction_type=prediction_type)


def make_sd15_sized_pipeline(folder: str | Path, seed: int = 0, *, dtype: torch.dtype = torch.float16) -> Path:
    """Build a pipeline with the real Stable Diffusion 1.5 architecture and random weights, and save it.

    For benchmarks: the UNet (860M parameters), KL VAE (84M) and 12-layer CLIP text encoder have SD1.5's
    shapes, so a step costs what a real SD1.5 step costs, but nothing is downloaded. The tokenizer is the
    byte-level one of ``make_tiny_sd_pipeline``, so only the text encoder's token embedding is smaller
    (514 rows instead of 49408; the same compute). Weights are written as ``dtype`` safetensors: float16
    (the default, ~2 GB on disk) loads fine as float32 too; float32 takes ~4 GB.
    """
    from diffusers import AutoencoderKL, UNet2DConditionModel

    folder = Path(folder)
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=64, in_channels=4, out_channels=4, block_out_channels=(320, 640, 1280, 1280),
        layers_per_block=2, down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3, cross_attention_dim=768,
        attention_head_dim=8, norm_num_groups=32)
    vae = AutoencoderKL(block_out_channels=(128, 256, 512, 512), in_channels=3, out_channels=3,
                        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                        layers_per_block=2, latent_channels=4, norm_num_groups=32, sample_size=512,
                        scaling_factor=0.18215)
    text_config = dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
                       projection_dim=768, hidden_act="quick_gelu")
    return _assemble(folder, unet, vae, text_config, dtype=dtype, steps_offset=1)


def _assemble(folder: Path, unet, vae, text_config: dict, *, dtype: torch.dtype | None = None,
              **scheduler_options) -> Path:
    """Add a byte-level tokenizer, a CLIP text encoder and SD1.x's DDIM scheduler; save the pipeline."""
    from diffusers import DDIMScheduler, StableDiffusionPipeline
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    with tempfile.TemporaryDirectory() as scratch:
        tokenizer_dir = write_byte_level_clip_tokenizer(Path(scratch))
        tokenizer = CLIPTokenizer(str(tokenizer_dir / "vocab.json"), str(tokenizer_dir / "merges.txt"),
                                  model_max_length=77)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, vocab_size=len(tokenizer), max_position_embeddings=77, **text_config))
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, set_alpha_to_one=False, **scheduler_options)
    if dtype is not None:
        for module in (unet, vae, text_encoder):
            torch.nn.Module.to(module, dtype)  # plain cast: diffusers' to() warns about fp32 modules these lack
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder
