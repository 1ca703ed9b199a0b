"""The fast path's capture cache, on the CPU: the 'eager' mode runs the same static-buffer code as the
CUDA-graph mode (copy inputs into per-signature buffers, run, clone outputs) minus the capture itself."""

import warnings

import numpy as np
import pytest
import torch

import semanticdraw_widgets as sdw
from semanticdraw_widgets.backends.acceleration import (AcceleratedModule, CapturedCall, accelerate_backend,
                                                         accelerate_module, captures_of)


@pytest.fixture(scope="module")
def unet():
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    return UNet2DConditionModel(
        block_out_channels=(16, 32), layers_per_block=1, sample_size=16, in_channels=4, out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32, attention_head_dim=2, norm_num_groups=8).eval()


def unet_inputs(batch: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, 4, 16, 16, generator=g), torch.randint(0, 1000, (batch,), generator=g).float(),
            torch.randn(batch, 7, 32, generator=g))


@torch.inference_mode()
def test_eager_capture_matches_the_module_exactly_and_new_embeddings_never_recapture(unet):
    wrapped = accelerate_module(unet, mode="eager")
    assert isinstance(wrapped, AcceleratedModule) and wrapped.config is unet.config
    for seed in range(3):  # new latents, timesteps AND prompt embeddings each call: the same signature
        x, t, embeds = unet_inputs(3, seed)
        fast = wrapped(x, t, encoder_hidden_states=embeds).sample
        assert torch.equal(fast, unet(x, t, encoder_hidden_states=embeds).sample)
    assert wrapped.captures == 1 and wrapped.calls["forward"].replays == 3
    # the replay really reads the new embeddings: a different prompt gives a different output
    x, t, embeds = unet_inputs(3, 0)
    assert not torch.equal(wrapped(x, t, encoder_hidden_states=embeds).sample,
                           wrapped(x, t, encoder_hidden_states=embeds + 1).sample)
    assert wrapped.captures == 1


@torch.inference_mode()
def test_a_new_shape_captures_once_and_old_shapes_are_reused(unet):
    wrapped = accelerate_module(unet, mode="eager")
    for batch in (2, 4, 2, 4, 2):
        x, t, embeds = unet_inputs(batch, batch)
        assert torch.equal(wrapped(x, t, encoder_hidden_states=embeds).sample,
                           unet(x, t, encoder_hidden_states=embeds).sample)
    assert wrapped.captures == 2 and len(wrapped.calls["forward"].signatures) == 2


@torch.inference_mode()
def test_outputs_are_copies_a_later_call_does_not_overwrite():
    call = CapturedCall(lambda x, scale: x * scale, mode="eager")
    first = call(torch.ones(3), torch.tensor(2.0))
    second = call(torch.ones(3), torch.tensor(5.0))
    assert first.tolist() == [2.0] * 3 and second.tolist() == [5.0] * 3 and call.captures == 1


@torch.inference_mode()
def test_non_tensor_arguments_are_constants_of_the_capture():
    call = CapturedCall(lambda x, scale: x * scale, mode="eager")
    assert call(torch.ones(2), 2.0).tolist() == [2.0, 2.0]
    assert call(torch.ones(2), 3.0).tolist() == [3.0, 3.0]  # a new value is a new capture, never a stale one
    assert call.captures == 2


@torch.inference_mode()
def test_least_recently_used_signature_is_evicted():
    call = CapturedCall(lambda x: x + 1, mode="eager", max_entries=1)
    call(torch.zeros(1)), call(torch.zeros(2)), call(torch.zeros(1))
    assert call.captures == 3 and len(call.signatures) == 1


@torch.inference_mode()
def test_channels_last_static_buffers_give_the_same_numbers(unet):
    wrapped = accelerate_module(unet, mode="eager", channels_last=True)
    x, t, embeds = unet_inputs(2, 7)
    assert wrapped.calls["forward"].channels_last
    torch.testing.assert_close(wrapped(x, t, encoder_hidden_states=embeds).sample,
                               unet(x, t, encoder_hidden_states=embeds).sample, rtol=1e-4, atol=1e-5)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU default")
def test_auto_leaves_a_cpu_module_alone_and_graphs_need_cuda(unet):
    assert accelerate_module(unet) is unet
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert accelerate_module(unet, mode="graphs") is unet
    assert any("needs a CUDA device" in str(w.message) for w in caught)
    with pytest.raises(RuntimeError, match="needs CUDA"):
        CapturedCall(unet.forward, mode="graphs")
    with pytest.raises(ValueError, match="mode"):
        accelerate_module(unet, mode="fast")


def test_accelerated_backend_generates_the_same_image_and_stream_edits_never_recapture(tiny_sd_folder, small_scene):
    eager = sdw.load_backend(str(tiny_sd_folder), sampler="lcm")
    fast = accelerate_backend(sdw.load_backend(str(tiny_sd_folder), sampler="lcm"), mode="eager")
    assert isinstance(fast.unet, AcceleratedModule) and isinstance(fast.vae, AcceleratedModule)
    assert np.array_equal(np.asarray(sdw.generate(fast, small_scene, steps=4)),
                          np.asarray(sdw.generate(eager, small_scene, steps=4)))
    one_shot = captures_of(fast)
    assert one_shot == {"unet": 1, "vae": 1}  # 4 steps at one batch size, one decode

    streams = [sdw.Stream(backend, small_scene, steps=2) for backend in (fast, eager)]
    edits = [small_scene.with_region(0, prompt="a blue plum"), small_scene.with_(seed=11),
             small_scene.with_region(1, mask=np.flipud(small_scene.regions[1].mask).copy())]
    filled = None
    for scene in [None, *edits]:
        for stream in streams:
            if scene is not None:
                stream.update(scene)
        for _ in range(2):
            frames = [stream.tick() for stream in streams]
            assert torch.equal(frames[0].latent, frames[1].latent)
        if filled is None:  # the ring filled: batches of 1 and 2 slots x 3 layers (the first is generate's)
            filled = captures_of(fast)["unet"]
    assert filled == 2 and captures_of(fast)["unet"] == filled  # prompts, seed, masks: inputs, never constants


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU default")
def test_load_backend_compile_is_a_no_op_off_cuda(tiny_sd_folder):
    backend = sdw.load_backend(str(tiny_sd_folder), sampler="lcm", compile=True)
    assert isinstance(backend.unet, torch.nn.Module) and captures_of(backend) == {}


@pytest.mark.slow
def test_compile_mode_matches_eager_and_new_values_never_recompile():
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    layer = torch.nn.Linear(8, 8).eval()
    fn = lambda x, embeds: torch.relu(layer(x) + embeds)  # noqa: E731
    call = CapturedCall(fn, mode="compile")
    with torch.inference_mode():
        for seed in range(3):
            g = torch.Generator().manual_seed(seed)
            x, embeds = torch.randn(4, 8, generator=g), torch.randn(4, 8, generator=g)
            torch.testing.assert_close(call(x, embeds), fn(x, embeds))
    assert call.captures == 1 and counters["stats"]["unique_graphs"] == 1


def test_a_failed_capture_runs_that_signature_eagerly_from_then_on():
    call = CapturedCall(lambda x: x * 2, mode="compile")  # compiles lazily: nothing runs until _capture

    def refuse(leaves, spec):
        raise RuntimeError("operation not permitted when stream is capturing")

    call._capture = refuse
    with pytest.warns(UserWarning, match="could not capture"):
        assert call(torch.ones(2)).tolist() == [2.0, 2.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert call(torch.full((2,), 3.0)).tolist() == [6.0, 6.0]  # no second attempt, no second warning
    assert (call.captures, call.failed_captures, call.fallbacks) == (0, 1, 2)
