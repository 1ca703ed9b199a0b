"""Random Stable Diffusion pipelines (SD1.x, SDXL, SD3) built from configs, for tests and benchmarks.

No hub access: the CLIP tokenizer gets a byte-level vocabulary written on the spot (and T5 a
character-level one), so a pipeline can be saved with ``save_pretrained`` and loaded back through
``load_backend(folder)`` offline. ``make_tiny_*`` pipelines are a few channels wide for fast tests;
``make_*_sized_pipeline`` have the real architectures with random weights, for benchmarks.
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


def byte_level_clip_tokenizer():
    """A CLIPTokenizer over ``write_byte_level_clip_tokenizer``'s vocabulary, 77 tokens long."""
    from transformers import CLIPTokenizer

    with tempfile.TemporaryDirectory() as scratch:
        tokenizer_dir = write_byte_level_clip_tokenizer(Path(scratch))
        return CLIPTokenizer(str(tokenizer_dir / "vocab.json"), str(tokenizer_dir / "merges.txt"),
                             model_max_length=77)


def clip_text_encoder(tokenizer, *, projection: bool = False, **text_config):
    """A random CLIP text encoder for `tokenizer`; with `projection`, the pooled-projection variant
    (CLIPTextModelWithProjection) that SDXL's second encoder and both of SD3's CLIP encoders are."""
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    config = CLIPTextConfig(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                            pad_token_id=tokenizer.pad_token_id, vocab_size=len(tokenizer),
                            max_position_embeddings=77, **text_config)
    return (CLIPTextModelWithProjection if projection else CLIPTextModel)(config)


def character_level_t5_tokenizer():
    """A T5 tokenizer with one piece per printable ASCII character (no sentencepiece model file needed)."""
    from transformers import T5TokenizerFast

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -1.0)]
    pieces += [(chr(c), -1.0) for c in range(33, 127)]
    return T5TokenizerFast(vocab=pieces, extra_ids=0)


def _save(pipe, folder: Path, modules: list, dtype: torch.dtype | None) -> Path:
    if dtype is not None:
        for module in modules:
            torch.nn.Module.to(module, dtype)  # plain cast: diffusers' to() warns about fp32 modules these lack
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def _assemble(folder: Path, unet, vae, text_config: dict, *, dtype: torch.dtype | None = None,
              **scheduler_options) -> Path:
    """Add a byte-level tokenizer, a CLIP text encoder and SD1.x's DDIM scheduler; save the pipeline."""
    from diffusers import DDIMScheduler, StableDiffusionPipeline

    tokenizer = byte_level_clip_tokenizer()
    text_encoder = clip_text_encoder(tokenizer, **text_config)
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, set_alpha_to_one=False, **scheduler_options)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    return _save(pipe, folder, [unet, vae, text_encoder], dtype)


def _sdxl(folder: Path, unet, vae, text_config: dict, text_config_2: dict, dtype: torch.dtype | None) -> Path:
    """Two CLIP encoders (the second with a pooled projection) and a trailing Euler scheduler."""
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline

    tokenizer = byte_level_clip_tokenizer()
    text_encoder = clip_text_encoder(tokenizer, **text_config)
    text_encoder_2 = clip_text_encoder(tokenizer, projection=True, **text_config_2)
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       steps_offset=1, timestep_spacing="trailing")
    pipe = StableDiffusionXLPipeline(vae=vae, text_encoder=text_encoder, text_encoder_2=text_encoder_2,
                                     tokenizer=tokenizer, tokenizer_2=tokenizer, unet=unet, scheduler=scheduler)
    return _save(pipe, folder, [unet, vae, text_encoder, text_encoder_2], dtype)


def make_tiny_sdxl_pipeline(folder: str | Path, *, seed: int = 0, width: int = 32) -> Path:
    """A random SDXL-shaped pipeline: text-time UNet (pooled + 6 size ids), two CLIPs, 4-channel KL VAE."""
    from diffusers import AutoencoderKL, UNet2DConditionModel

    folder = Path(folder)
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(width, 2 * width), layers_per_block=1, sample_size=32, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), use_linear_projection=True, addition_embed_type="text_time",
        addition_time_embed_dim=8, projection_class_embeddings_input_dim=6 * 8 + 32, cross_attention_dim=64,
        norm_num_groups=8)
    vae = AutoencoderKL(block_out_channels=(width, 2 * width), in_channels=3, out_channels=3,
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                        latent_channels=4, norm_num_groups=8, sample_size=64, scaling_factor=0.13025)
    text = dict(hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2)
    return _sdxl(folder, unet, vae, text, {**text, "projection_dim": 32}, None)


def make_sdxl_sized_pipeline(folder: str | Path, seed: int = 0, *, dtype: torch.dtype = torch.float16) -> Path:
    """SDXL base's real architecture (2.6B UNet, CLIP-L + OpenCLIP-G, KL VAE) with random weights, for
    benchmarks at 1024x1024. The byte-level tokenizer only shrinks the token-embedding tables."""
    from diffusers import AutoencoderKL, UNet2DConditionModel

    folder = Path(folder)
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=128, in_channels=4, out_channels=4, block_out_channels=(320, 640, 1280), layers_per_block=2,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(5, 10, 20), use_linear_projection=True, transformer_layers_per_block=(1, 2, 10),
        addition_embed_type="text_time", addition_time_embed_dim=256, projection_class_embeddings_input_dim=2816,
        cross_attention_dim=2048, norm_num_groups=32)
    vae = AutoencoderKL(block_out_channels=(128, 256, 512, 512), in_channels=3, out_channels=3,
                        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                        layers_per_block=2, latent_channels=4, norm_num_groups=32, sample_size=1024,
                        scaling_factor=0.13025, force_upcast=True)
    clip_l = dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
                  projection_dim=768, hidden_act="quick_gelu")
    clip_g = dict(hidden_size=1280, intermediate_size=5120, num_attention_heads=20, num_hidden_layers=32,
                  projection_dim=1280, hidden_act="gelu")
    return _sdxl(folder, unet, vae, clip_l, clip_g, dtype)


def _sd3(folder: Path, transformer, vae, clip_1: dict, clip_2: dict, t5: dict | None, shift: float,
         dtype: torch.dtype | None) -> Path:
    """Two projected CLIPs, an optional T5 encoder and a shifted flow-matching Euler scheduler."""
    from diffusers import FlowMatchEulerDiscreteScheduler, StableDiffusion3Pipeline
    from transformers import T5Config, T5EncoderModel

    tokenizer = byte_level_clip_tokenizer()
    text_encoder = clip_text_encoder(tokenizer, projection=True, **clip_1)
    text_encoder_2 = clip_text_encoder(tokenizer, projection=True, **clip_2)
    text_encoder_3 = tokenizer_3 = None
    if t5 is not None:
        tokenizer_3 = character_level_t5_tokenizer()
        text_encoder_3 = T5EncoderModel(T5Config(vocab_size=len(tokenizer_3), pad_token_id=0, eos_token_id=1,
                                                 decoder_start_token_id=0, **t5))
    pipe = StableDiffusion3Pipeline(
        transformer=transformer, scheduler=FlowMatchEulerDiscreteScheduler(shift=shift), vae=vae,
        text_encoder=text_encoder, tokenizer=tokenizer, text_encoder_2=text_encoder_2, tokenizer_2=tokenizer,
        text_encoder_3=text_encoder_3, tokenizer_3=tokenizer_3)
    modules = [transformer, vae, text_encoder, text_encoder_2] + ([text_encoder_3] if t5 is not None else [])
    return _save(pipe, folder, modules, dtype)


def make_tiny_sd3_pipeline(folder: str | Path, *, seed: int = 0, with_t5: bool = True) -> Path:
    """A random SD3-shaped pipeline: MMDiT transformer, 16-channel shifted/scaled KL VAE, two CLIPs, T5."""
    from diffusers import AutoencoderKL, SD3Transformer2DModel

    folder = Path(folder)
    torch.manual_seed(seed)
    transformer = SD3Transformer2DModel(
        sample_size=32, patch_size=2, in_channels=16, out_channels=16, num_layers=2, attention_head_dim=8,
        num_attention_heads=4, joint_attention_dim=64, caption_projection_dim=32, pooled_projection_dim=64,
        pos_embed_max_size=64)
    vae = AutoencoderKL(block_out_channels=(16, 32), in_channels=3, out_channels=3,
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                        latent_channels=16, norm_num_groups=8, sample_size=64, use_quant_conv=False,
                        use_post_quant_conv=False, scaling_factor=1.5305, shift_factor=0.0609)
    text = dict(hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2, projection_dim=32)
    t5 = dict(d_model=64, d_kv=8, d_ff=37, num_layers=2, num_heads=4) if with_t5 else None
    return _sd3(folder, transformer, vae, text, text, t5, 3.0, None)


def make_sd3_sized_pipeline(folder: str | Path, seed: int = 0, *, dtype: torch.dtype = torch.float16) -> Path:
    """SD3-medium's real architecture (2B MMDiT, 24 blocks, CLIP-L + CLIP-G, 16-channel VAE) with random
    weights and no T5 (off by default in the backend), for benchmarks at 1024x1024."""
    from diffusers import AutoencoderKL, SD3Transformer2DModel

    folder = Path(folder)
    torch.manual_seed(seed)
    transformer = SD3Transformer2DModel(
        sample_size=128, patch_size=2, in_channels=16, out_channels=16, num_layers=24, attention_head_dim=64,
        num_attention_heads=24, joint_attention_dim=4096, caption_projection_dim=1536, pooled_projection_dim=2048,
        pos_embed_max_size=192)
    vae = AutoencoderKL(block_out_channels=(128, 256, 512, 512), in_channels=3, out_channels=3,
                        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                        layers_per_block=2, latent_channels=16, norm_num_groups=32, sample_size=1024,
                        use_quant_conv=False, use_post_quant_conv=False, scaling_factor=1.5305,
                        shift_factor=0.0609)
    clip_l = dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
                  projection_dim=768, hidden_act="quick_gelu")
    clip_g = dict(hidden_size=1280, intermediate_size=5120, num_attention_heads=20, num_hidden_layers=32,
                  projection_dim=1280, hidden_act="gelu")
    return _sd3(folder, transformer, vae, clip_l, clip_g, None, 3.0, dtype)
