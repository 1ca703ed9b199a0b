"""The SDXL backend: two encoders and the pooled embedding, size ids, trailing Euler, fp16-safe VAE."""

import numpy as np
import pytest
import torch

import semanticdraw_widgets as sdw
from semanticdraw_widgets.backends.sdxl import StableDiffusionXLBackend


@pytest.fixture(scope="module")
def sdxl(tiny_sdxl_folder):
    return sdw.load_backend(tiny_sdxl_folder, device="cpu")


def test_both_encoders_feed_the_sequence_and_the_second_the_pooled_embedding(sdxl):
    assert isinstance(sdxl, StableDiffusionXLBackend) and sdxl.latent_channels == 4
    cond = sdxl.encode_prompts(["a red apple", "a cat"])
    first = sdxl.text_encoder.config.hidden_size
    assert cond["prompt_embeds"].shape == (2, 77, first + sdxl.text_encoder_2.config.hidden_size)
    assert cond["pooled_prompt_embeds"].shape == (2, sdxl.text_encoder_2.config.projection_dim)
    tokens = sdxl.tokenizer(["a cat"], padding="max_length", max_length=77, truncation=True, return_tensors="pt")
    penultimate = sdxl.text_encoder(tokens.input_ids, output_hidden_states=True).hidden_states[-2]
    assert torch.allclose(cond["prompt_embeds"][1, :, :first], penultimate[0], atol=1e-6)


def test_size_ids_follow_the_canvas_or_the_window(sdxl):
    seen = []
    forward = sdxl.unet.forward

    def spy(*args, **kwargs):
        seen.append(kwargs["added_cond_kwargs"]["time_ids"].clone())
        return forward(*args, **kwargs)

    scene = sdw.Scene(width=96, height=64, seed=0, background=sdw.Background(prompt="a field"))
    sdxl.unet.forward = spy
    try:
        sdw.generate(sdxl, scene, steps=1)  # wider than the model: native-size windows, sized as such
        sdxl.window = 0
        sdw.generate(sdxl, scene, steps=1)  # the whole canvas in one piece: its own size
    finally:
        sdxl.unet.forward = forward
        sdxl.window = 32
    assert torch.equal(seen[0][0], torch.tensor([64.0, 64.0, 0.0, 0.0, 64.0, 64.0]))
    assert torch.equal(seen[1][0], torch.tensor([64.0, 96.0, 0.0, 0.0, 64.0, 96.0]))


def test_trailing_euler_for_lightning_style_checkpoints(sdxl):
    schedule = sdxl.make_schedule(4)
    assert sdxl.sampler == "euler"
    assert schedule.timesteps.tolist() == [999.0, 749.0, 499.0, 249.0]
    karras = sdxl.scheduler.sigmas[:4]
    assert torch.allclose(schedule.noise_levels, karras / (karras ** 2 + 1).sqrt(), atol=1e-6)
    assert torch.all(schedule.fresh_noise == 0) and torch.allclose(schedule.pred_noise[1:], schedule.sigmas[1:])


def test_float16_keeps_the_vae_in_float32_when_it_asks_to(tiny_sdxl_folder, tiny_sd_folder):
    half = sdw.load_backend(tiny_sdxl_folder, device="cpu", dtype="float16")
    assert half.unet.dtype == torch.float16 and half.vae.dtype == torch.float32
    assert sdw.load_backend(tiny_sd_folder, device="cpu", dtype="float16").vae.dtype == torch.float16


def test_a_tiny_vae_decodes_for_previews(tmp_path, tiny_sdxl_folder):
    from diffusers import AutoencoderTiny

    AutoencoderTiny(encoder_block_out_channels=(8, 8), decoder_block_out_channels=(8, 8),
                    num_encoder_blocks=(1, 1), num_decoder_blocks=(1, 1), latent_channels=4).save_pretrained(tmp_path)
    backend = sdw.load_backend(tiny_sdxl_folder, tiny_vae=str(tmp_path))
    assert type(backend.vae).__name__ == "AutoencoderTiny"
    scene = sdw.Scene(width=64, height=64, seed=0, background=sdw.Background(prompt="a field"))
    assert sdw.generate(backend, scene, steps=2).size == (64, 64)


def _unet_lora_file(folder, tmp_path, pipeline_class, subfolder="unet"):
    peft = pytest.importorskip("peft")
    import diffusers
    from peft.utils import get_peft_model_state_dict

    model_class = diffusers.UNet2DConditionModel if subfolder == "unet" else diffusers.SD3Transformer2DModel
    model = model_class.from_pretrained(folder, subfolder=subfolder)
    torch.manual_seed(0)
    model.add_adapter(peft.LoraConfig(r=4, lora_alpha=4, init_lora_weights=False,
                                      target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    layers = {f"{subfolder}_lora_layers" if subfolder == "unet" else "transformer_lora_layers":
              get_peft_model_state_dict(model)}
    getattr(diffusers, pipeline_class).save_lora_weights(tmp_path, **layers)
    return next(tmp_path.glob("*.safetensors"))


def test_a_lora_file_is_fused_and_one_for_another_family_is_refused(tmp_path, tiny_sdxl_folder, tiny_sd3_folder):
    lora = _unet_lora_file(tiny_sdxl_folder, tmp_path, "StableDiffusionXLPipeline")
    plain = sdw.load_backend(tiny_sdxl_folder)
    fused = sdw.load_backend(tiny_sdxl_folder, lora=str(lora), lora_scale=1.0)
    assert not any("lora" in name for name, _ in fused.unet.named_modules()), "fused, not an adapter"
    scene = sdw.Scene(width=64, height=64, seed=0, background=sdw.Background(prompt="a field"))
    a = np.asarray(sdw.generate(plain, scene, steps=2), dtype=np.float32)
    b = np.asarray(sdw.generate(fused, scene, steps=2), dtype=np.float32)
    assert np.abs(a - b).mean() > 0.1
    with pytest.raises(sdw.ModelLoadError, match="no weights for this SD3 model"):
        sdw.load_backend(tiny_sd3_folder, lora=str(lora))


def test_a_replacement_vae_that_is_fp16_safe_stays_in_float16(tmp_path, tiny_sdxl_folder):
    from diffusers import AutoencoderKL

    fixed = AutoencoderKL.from_pretrained(tiny_sdxl_folder, subfolder="vae", force_upcast=False)
    fixed.save_pretrained(tmp_path)
    backend = sdw.load_backend(tiny_sdxl_folder, dtype="float16", vae=str(tmp_path))
    assert backend.vae.dtype == torch.float16 and not backend.vae.config.force_upcast
