"""The SD3 backend: flow matching in the shared parameterisation, 16-channel shifted latents, T5 optional."""

import numpy as np
import pytest
import torch

import semanticdraw_widgets as sdw
from helpers import rect_mask
from semanticdraw_widgets.backends.sd3 import StableDiffusion3Backend
from semanticdraw_widgets.engine.plan import SamplerOptions, make_plan


@pytest.fixture(scope="module")
def sd3(tiny_sd3_folder):
    return sdw.load_backend(tiny_sd3_folder, device="cpu")


@pytest.mark.parametrize("sampler", ["euler", "flash"])
def test_flow_schedule_uses_the_shifted_sigmas_as_noise_levels(tiny_sd3_folder, sampler):
    from diffusers import FlowMatchEulerDiscreteScheduler

    backend = sdw.load_backend(tiny_sd3_folder, sampler=sampler)
    schedule = backend.make_schedule(4)
    reference = FlowMatchEulerDiscreteScheduler(shift=3.0)
    reference.set_timesteps(4)
    assert torch.allclose(schedule.sigmas, reference.sigmas[:4]) and schedule.sigmas[0] == 1.0
    assert torch.allclose(schedule.alphas + schedule.sigmas, torch.ones(4)), "x = (1 - σ) x0 + σ ε"
    assert torch.equal(schedule.noise_levels, schedule.sigmas), "masks quantize against σ, not σ/√(σ²+1)"
    assert torch.allclose(schedule.timesteps, reference.timesteps)
    moved, fresh = (schedule.pred_noise, schedule.fresh_noise) if sampler == "euler" else \
        (schedule.fresh_noise, schedule.pred_noise)
    assert torch.allclose(moved[1:], schedule.sigmas[1:]) and torch.all(fresh == 0)


def test_x0_is_x_minus_sigma_times_velocity(sd3):
    assert isinstance(sd3, StableDiffusion3Backend) and sd3.latent_channels == 16
    schedule = sd3.make_schedule(4)
    cond = sd3.encode_prompts(["a red apple"])
    x = torch.randn(1, 16, 8, 8, generator=torch.Generator().manual_seed(0))
    step = torch.tensor([1])
    with torch.no_grad():
        v = sd3.transformer(hidden_states=x, timestep=schedule.timesteps[step], encoder_hidden_states=cond["prompt_embeds"],
                            pooled_projections=cond["pooled_prompt_embeds"]).sample
    assert torch.allclose(sd3.predict_x0(x, step, schedule, cond), x - schedule.sigmas[1] * v, atol=1e-5)


def test_latents_carry_the_vaes_shift_and_scale(sd3):
    image = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        raw = sd3.vae.encode(image * 2 - 1).latent_dist.mean
    expected = (raw - sd3.vae.config.shift_factor) * sd3.vae.config.scaling_factor
    assert torch.allclose(sd3.encode_images(image), expected, atol=1e-5)
    assert sd3.vae.config.shift_factor != 0


def test_the_background_is_noised_once_to_the_current_level(sd3):
    """Uncovered pixels: x_i = (1 - σ_i) z_bg + σ_i n exactly, never a background noised twice."""
    photo = np.random.default_rng(1).uniform(0, 1, (64, 64, 3)).astype(np.float32)
    scene = sdw.Scene(width=64, height=64, seed=2, background=sdw.Background(prompt="a photo", image=photo),
                      regions=[sdw.Region(prompt="a red apple", mask=rect_mask(64, 64, 0, 0, 24, 24))])
    _, trace = sdw.generate(sd3, scene, steps=4, trace=True, bootstrap_steps=0)
    z = sd3.encode_images(torch.from_numpy(photo).permute(2, 0, 1)[None])[0]
    noise = trace.steps[0].x_t  # σ_0 = 1: the start is pure noise
    sigmas = sd3.make_schedule(4).sigmas
    far = (slice(None), slice(20, None), slice(20, None))  # latent pixels away from the region
    for i, step in enumerate(trace.steps):
        expected = (1 - sigmas[i]) * z + sigmas[i] * noise
        assert torch.allclose(step.x_t[far], expected[far], atol=1e-4), f"step {i}"
        assert torch.allclose(step.x0[far], z[far], atol=1e-5)


def test_mask_strength_joins_a_region_when_the_flow_noise_falls_below_it(sd3):
    scene = sdw.Scene(width=64, height=64, seed=0, background=sdw.Background(prompt="sky"),
                      regions=[sdw.Region(prompt="sun", mask=rect_mask(64, 64, 0, 0, 32, 32), mask_strength=0.5)])
    schedule = sd3.make_schedule(4)
    plan = make_plan(sd3, scene, schedule, SamplerOptions(mask_mode="discrete"))
    inside = plan.weights[:, 1, 0, 4, 4]
    assert torch.equal(inside, (0.5 > schedule.sigmas).float())


def test_t5_is_off_by_default_and_loads_on_request(sd3, tiny_sd3_folder):
    assert sd3.text_encoder_3 is None
    off = sd3.encode_prompts(["a red apple"])["prompt_embeds"]
    assert off.shape[1] == 77 + 256 and torch.all(off[:, 77:] == 0)
    with_t5 = sdw.load_backend(tiny_sd3_folder, t5=True)
    assert with_t5.text_encoder_3 is not None
    on = with_t5.encode_prompts(["a red apple"])["prompt_embeds"]
    assert on.shape == off.shape and torch.any(on[:, 77:] != 0)
    assert torch.allclose(on[:, :77], off[:, :77])


def test_flash_sampler_generates_deterministically(tiny_sd3_folder):
    flash = sdw.load_backend(tiny_sd3_folder, sampler="flash")
    scene = sdw.Scene(width=64, height=64, seed=3, background=sdw.Background(prompt="sky"))
    a, b = sdw.generate(flash, scene, steps=4), sdw.generate(flash, scene, steps=4)
    assert np.array_equal(np.asarray(a), np.asarray(b))


def test_the_prompt_view_reads_the_prompt_with_t5_too_when_t5_is_loaded(sd3, tiny_sd3_folder):
    """CLIP keeps 75 tokens, T5 255: a prompt CLIP cuts still reaches the model whole through T5, and the
    inspector's prompt line says so (without T5 it says that zeros take T5's place)."""
    from semanticdraw_widgets.trace_view import reading_line

    long = "a" * 70 + " red apple"  # byte-level CLIP: 78 tokens, cut inside "apple"; character-level T5: 81
    off = sd3.read_prompt(long)
    assert off.others == () and "T5 is not loaded" in reading_line(off)
    with_t5 = sdw.load_backend(tiny_sd3_folder, t5=True)
    reading = with_t5.read_prompt(long)
    assert reading.used[-1] == "ap" and reading.truncated == "ple"
    (t5,) = reading.others
    assert t5.used == ("a" * 70, "red", "apple") and t5.truncated == "" and "81 tokens of the 255" in t5.reader
    line = reading_line(reading)
    assert "CLIP tokenizer" in line and "Also read by a second text encoder" in line and "T5 tokenizer" in line
    cut = with_t5.read_prompt("b" * 300).others[0]
    assert cut.used == ("b" * 254,) and cut.truncated == "b" * 46, "301 pieces (a word start, 300 b), 255 read"
