"""Tiny random SD1.x pipelines, built from configs, saved, and loaded back through load_backend(folder)."""

import numpy as np
import pytest
import torch

import semanticdraw_widgets as sdw
from semanticdraw_widgets.backends.sd import StableDiffusionBackend

SAMPLERS = ("lcm", "tcd", "euler", "ddim")


@pytest.fixture(scope="module")
def backends(tiny_sd_folder):
    return {name: sdw.load_backend(str(tiny_sd_folder), sampler=name) for name in SAMPLERS}


class UNetBatchCounter:
    """Wraps a UNet's forward to record the batch size of every call."""

    def __init__(self, backend):
        self.batches = []
        self._forward = backend.unet.forward
        backend.unet.forward = self

    def __call__(self, sample, *args, **kwargs):
        self.batches.append(sample.shape[0])
        return self._forward(sample, *args, **kwargs)


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_every_sampler_generates_a_deterministic_finite_image(backends, small_scene, sampler):
    backend = backends[sampler]
    assert isinstance(backend, StableDiffusionBackend) and backend.sampler == sampler
    image, trace = sdw.generate(backend, small_scene, steps=4, trace=True)
    assert image.size == (64, 64) and image.mode == "RGB"
    assert all(torch.isfinite(step.x0).all() and torch.isfinite(step.x_t).all() for step in trace.steps)
    again = sdw.generate(backend, small_scene, steps=4)
    other = sdw.generate(backend, small_scene.with_(seed=small_scene.seed + 1), steps=4)
    assert np.array_equal(np.asarray(image), np.asarray(again))
    assert not np.array_equal(np.asarray(image), np.asarray(other))


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_timesteps_come_from_the_step_count(backends, sampler):
    for steps in (1, 2, 4, 5):
        schedule = backends[sampler].make_schedule(steps)
        assert len(schedule) == steps
        assert torch.all(schedule.noise_levels[1:] < schedule.noise_levels[:-1])
        assert schedule.noise_levels[0] > 0.99  # every sample starts from (almost) pure noise
        assert torch.allclose(schedule.alphas ** 2 + schedule.sigmas ** 2, torch.ones(steps), atol=1e-5)
        mixed = schedule.pred_noise[1:] ** 2 + schedule.fresh_noise[1:] ** 2
        assert torch.allclose(mixed, schedule.sigmas[1:] ** 2, atol=1e-5), "re-noising keeps the noise level"


def test_lcm_uses_boundary_scalings(backends):
    schedule = backends["lcm"].make_schedule(4)
    assert set(schedule.extras) == {"c_skip", "c_out"}
    assert torch.all(schedule.fresh_noise[1:] > 0) and torch.all(schedule.pred_noise == 0)
    assert torch.all(backends["euler"].make_schedule(4).fresh_noise == 0)


def test_guidance_at_most_one_runs_no_unconditional_batch(tiny_sd, small_scene):
    counter = UNetBatchCounter(tiny_sd)
    layers = len(small_scene.regions) + 1
    sdw.generate(tiny_sd, small_scene, steps=4, guidance_scale=1.0)
    assert counter.batches == [layers] * 4
    counter.batches.clear()
    sdw.generate(tiny_sd, small_scene, steps=4, guidance_scale=0.0)
    assert counter.batches == [layers] * 4
    counter.batches.clear()
    sdw.generate(tiny_sd, small_scene, steps=4, guidance_scale=4.0)
    assert counter.batches == [2 * layers] * 4, "with guidance the negatives ride in the same call"


def test_region_negative_prompts_steer_with_guidance(tiny_sd, small_scene):
    with_negative = small_scene.with_region(0, negative_prompt="a blue car at night")
    base = np.asarray(sdw.generate(tiny_sd, small_scene, steps=4, guidance_scale=5.0), dtype=np.float32)
    steered = np.asarray(sdw.generate(tiny_sd, with_negative, steps=4, guidance_scale=5.0), dtype=np.float32)
    assert np.abs(base - steered).mean() > 0.5
    # without guidance a negative prompt has nothing to act on, so the picture is identical
    assert np.array_equal(np.asarray(sdw.generate(tiny_sd, small_scene, steps=4)),
                          np.asarray(sdw.generate(tiny_sd, with_negative, steps=4)))


def test_global_negative_prompt_steers(tiny_sd, small_scene):
    steered = small_scene.with_(background=sdw.Background(prompt="a quiet sky", negative_prompt="fog"))
    a = np.asarray(sdw.generate(tiny_sd, small_scene, steps=4, guidance_scale=5.0), dtype=np.float32)
    b = np.asarray(sdw.generate(tiny_sd, steered, steps=4, guidance_scale=5.0), dtype=np.float32)
    assert np.abs(a - b).mean() > 0.5


def test_v_prediction_models_load_and_generate(tmp_path, small_scene):
    from semanticdraw_widgets.testing import make_tiny_sd_pipeline

    folder = make_tiny_sd_pipeline(tmp_path / "v", prediction_type="v_prediction")
    backend = sdw.load_backend(str(folder), sampler="euler")
    assert backend.prediction_type == "v_prediction"
    assert sdw.generate(backend, small_scene, steps=2).size == (64, 64)


def test_the_models_own_scheduler_family_is_kept_when_no_sampler_is_named(tiny_sd_folder):
    assert sdw.load_backend(str(tiny_sd_folder)).sampler == "ddim"  # the tiny pipeline ships a DDIM scheduler


def test_multidiffusion_reference_with_ddim_50_steps(backends, small_scene):
    image = sdw.generate(backends["ddim"], small_scene, steps=50, method="multidiffusion")
    assert image.size == (64, 64)


def test_inpainting_with_the_vae(tiny_sd, small_scene):
    photo = np.random.default_rng(1).uniform(0, 1, (64, 64, 3)).astype(np.float32)
    scene = small_scene.with_(background=sdw.Background(prompt="a photo", image=photo))
    out = np.asarray(sdw.generate(tiny_sd, scene, steps=2), dtype=np.float32) / 255
    far = np.zeros((64, 64), bool)
    far[:4, 50:] = True  # away from both regions (and their area-averaged latent edges)
    assert np.abs(out[far] - photo[far]).max() <= 1 / 255 + 1e-6


def test_fused_lora_changes_the_weights(tmp_path, tiny_sd_folder, small_scene):
    peft = pytest.importorskip("peft")
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    from peft.utils import get_peft_model_state_dict

    unet = UNet2DConditionModel.from_pretrained(tiny_sd_folder, subfolder="unet")
    torch.manual_seed(0)
    unet.add_adapter(peft.LoraConfig(r=4, lora_alpha=4, init_lora_weights=False,
                                     target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    StableDiffusionPipeline.save_lora_weights(tmp_path, unet_lora_layers=get_peft_model_state_dict(unet))
    lora_file = next(tmp_path.glob("*.safetensors"))
    plain = sdw.load_backend(str(tiny_sd_folder), sampler="lcm")
    fused = sdw.load_backend(str(tiny_sd_folder), sampler="lcm", lora=str(lora_file))
    assert not any("lora" in name for name, _ in fused.unet.named_modules()), "LoRA is fused, not an adapter"
    a = np.asarray(sdw.generate(plain, small_scene, steps=2), dtype=np.float32)
    b = np.asarray(sdw.generate(fused, small_scene, steps=2), dtype=np.float32)
    assert np.abs(a - b).mean() > 0.1


def test_tiny_vae_decodes(tmp_path, tiny_sd_folder, small_scene):
    from diffusers import AutoencoderTiny

    AutoencoderTiny(encoder_block_out_channels=(8, 8), decoder_block_out_channels=(8, 8),
                    num_encoder_blocks=(1, 1), num_decoder_blocks=(1, 1), latent_channels=4).save_pretrained(tmp_path)
    backend = sdw.load_backend(str(tiny_sd_folder), sampler="lcm", tiny_vae=str(tmp_path))
    assert type(backend.vae).__name__ == "AutoencoderTiny"
    assert sdw.generate(backend, small_scene, steps=2).size == (64, 64)
