"""The oracle for real checkpoints: one full-canvas prompt, no bootstrapping, a deterministic sampler.

In that setting SemanticDraw's regional sampler must reduce to the family's own diffusers pipeline:
the same latents from the same initial latents, prompt and steps, up to float32 round-off. The tiny
random models are saved and loaded back through load_backend(folder), so loading, text encoding
(both CLIPs and the pooled embedding for SDXL/SD3, T5 zeros for SD3), size conditioning, the schedule,
the x̂0/re-noise algebra and classifier-free guidance are all checked against diffusers itself.
"""

import pytest
import torch

import semanticdraw_widgets as sdw

# family -> (fixture with the saved folder, diffusers pipeline class, deterministic sampler, scheduler
# settings that make the pipeline's own scheduler walk the engine's grid). DDIM: trailing spacing, no
# x̂0 clipping, and a final step to alpha = 1 (the engine returns the last x̂0, i.e. the clean latent).
# Measured on the tiny models: the largest difference is <= 1e-6 of the latent scale (float32 round-off).
FAMILIES = {
    "sd": ("tiny_sd_folder", "StableDiffusionPipeline", "ddim",
           dict(timestep_spacing="trailing", clip_sample=False, set_alpha_to_one=True)),
    "sdxl": ("tiny_sdxl_folder", "StableDiffusionXLPipeline", "euler", dict(timestep_spacing="trailing")),
    "sd3": ("tiny_sd3_folder", "StableDiffusion3Pipeline", "euler", {}),
}
CASES = [  # (steps, guidance, negative prompt); DDIM's grid ends at alpha = 1 only when steps divide 1000
    (4, 1.0, ""),
    (5, 4.5, "blurry, dark"),
    (2, 3.0, ""),  # no negative prompt: SDXL's unconditional embedding is all zeros (force_zeros_for_empty_prompt)
]


def engine_latents(backend, prompt, negative, steps, guidance, seed):
    """The final clean latent of generate() (the trace's last x̂0) and the starting latent it used."""
    scene = sdw.Scene(width=64, height=64, seed=seed,
                      background=sdw.Background(prompt=prompt, negative_prompt=negative))
    _, trace = sdw.generate(backend, scene, steps=steps, trace=True, guidance_scale=guidance, bootstrap_steps=0)
    return trace.steps[0].x_t[None], trace.steps[-1].x0[None]


def pipeline_start(scheduler, start, steps):
    """The `latents=` argument that puts a pipeline in the engine's starting state `start` (VP or flow x).

    Pipelines multiply given latents by init_noise_sigma; Euler then feeds the model x / √(σ²+1) (its VP
    latent), DDIM and flow matching feed x itself.
    """
    from diffusers import EulerDiscreteScheduler

    scheduler.set_timesteps(steps)
    if isinstance(scheduler, EulerDiscreteScheduler):
        return start * (scheduler.sigmas[0] ** 2 + 1).sqrt() / scheduler.init_noise_sigma
    return start / getattr(scheduler, "init_noise_sigma", 1.0)  # flow matching: the latents as given


def pipeline_latents(pipe_class, folder, backend, family, start, prompt, negative, steps, guidance):
    import diffusers

    kwargs = {"safety_checker": None} if family == "sd" else {}
    if family == "sd3":
        kwargs.update(text_encoder_3=None, tokenizer_3=None)  # T5 off, as in the backend's default
    pipe = getattr(diffusers, pipe_class).from_pretrained(folder, **kwargs)
    pipe.scheduler = type(backend.scheduler).from_config(pipe.scheduler.config, **FAMILIES[family][3])
    pipe.set_progress_bar_config(disable=True)
    call = dict(prompt=prompt, num_inference_steps=steps, guidance_scale=guidance,
                latents=pipeline_start(pipe.scheduler, start, steps),
                output_type="latent", height=64, width=64)
    if guidance > 1 and negative:  # the engine's "" is the pipelines' "no negative prompt" (None)
        call["negative_prompt"] = negative
    with torch.no_grad():
        return pipe(**call).images.float()  # scaled (and for SD3 shifted) latents: the engine's space


@pytest.mark.parametrize("steps, guidance, negative", CASES)
@pytest.mark.parametrize("family", FAMILIES)
def test_single_prompt_matches_the_familys_own_pipeline(request, family, steps, guidance, negative):
    fixture, pipe_class, sampler, _ = FAMILIES[family]
    folder = request.getfixturevalue(fixture)
    backend = sdw.load_backend(folder, device="cpu", dtype="float32", sampler=sampler)
    assert backend.name == family
    prompt = "a lighthouse on a cliff"
    start, ours = engine_latents(backend, prompt, negative, steps, guidance, seed=7)
    theirs = pipeline_latents(pipe_class, folder, backend, family, start, prompt, negative, steps, guidance)
    assert theirs.shape == ours.shape == (1, backend.latent_channels, 64 // backend.scale_factor,
                                          64 // backend.scale_factor)
    scale = theirs.abs().max().item()
    assert torch.allclose(ours, theirs, atol=5e-6 * max(1.0, scale), rtol=0), \
        f"max difference {(ours - theirs).abs().max().item():.3g} (latent scale {scale:.3g})"


def test_the_oracle_can_fail(tiny_sdxl_folder):
    """A different prompt for the pipeline must not match: the comparison is not vacuous."""
    backend = sdw.load_backend(tiny_sdxl_folder, device="cpu", dtype="float32", sampler="euler")
    start, ours = engine_latents(backend, "a lighthouse on a cliff", "", 3, 1.0, seed=7)
    theirs = pipeline_latents("StableDiffusionXLPipeline", tiny_sdxl_folder, backend, "sdxl", start,
                              "a red bicycle", "", 3, 1.0)
    assert (ours - theirs).abs().max() > 1e-2
