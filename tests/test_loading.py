"""load_backend: every kind of spec, and a clear error for each bad one."""

import json
import time

import pytest

import semanticdraw_widgets as sdw
from semanticdraw_widgets.backends.toy import ToyBackend


def test_toy_is_the_offline_default():
    backend = sdw.load_backend()
    assert isinstance(backend, ToyBackend) and isinstance(backend, sdw.Backend)
    assert backend.device.type == "cpu"


def test_folder_specs_load_through_the_real_path(tiny_sd_folder):
    backend = sdw.load_backend(tiny_sd_folder, device="cpu", dtype="float32")  # a Path works too
    assert isinstance(backend, sdw.Backend) and backend.name == "sd"


@pytest.mark.parametrize("spec, message", [
    ("not a model!", "unknown model spec 'not a model!'"),
    ("./missing/model.safetensors", "does not exist"),
    ("/definitely/not/here", "does not exist"),
])
def test_bad_specs_say_what_to_pass(spec, message):
    with pytest.raises(sdw.ModelLoadError, match=message):
        sdw.load_backend(spec)


def test_a_hub_id_offline_fails_fast_with_instructions():
    started = time.monotonic()
    with pytest.raises(sdw.ModelNotAvailableOffline, match="huggingface-cli download someone/some-model"):
        sdw.load_backend("someone/some-model")
    assert time.monotonic() - started < 15, "an offline hub must not cost a retry loop"


def test_a_lora_nickname_offline_fails_with_instructions(tiny_sd_folder):
    with pytest.raises(sdw.ModelNotAvailableOffline, match="latent-consistency/lcm-lora-sdv1-5"):
        sdw.load_backend(str(tiny_sd_folder), lora="lcm")


def test_a_missing_lora_file_is_named(tiny_sd_folder):
    with pytest.raises(sdw.ModelLoadError, match="LoRA 'no such lora'"):
        sdw.load_backend(str(tiny_sd_folder), lora="no such lora")


def test_a_folder_without_model_index(tmp_path):
    with pytest.raises(sdw.ModelLoadError, match="not a diffusers model folder"):
        sdw.load_backend(str(tmp_path))


@pytest.mark.parametrize("components, family", [
    ({"unet": 1, "text_encoder": 1, "text_encoder_2": 1, "tokenizer": 1, "tokenizer_2": 1, "vae": 1}, "SDXL"),
    ({"transformer": 1, "text_encoder": 1, "vae": 1}, "SD3"),
])
def test_families_not_yet_supported_are_named(tmp_path, components, family):
    (tmp_path / "model_index.json").write_text(json.dumps(components))
    with pytest.raises(sdw.ModelLoadError, match=f"is an {family} model"):
        sdw.load_backend(str(tmp_path))


def test_a_broken_single_file_checkpoint(tmp_path):
    broken = tmp_path / "model.safetensors"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(sdw.ModelLoadError, match="pass config="):
        sdw.load_backend(str(broken))


def test_unknown_sampler_and_dtype():
    with pytest.raises(ValueError, match="unknown sampler 'heun'"):
        sdw.load_backend("toy", sampler="heun")
    with pytest.raises(ValueError, match="unknown dtype 'int8'"):
        sdw.load_backend("./somewhere", dtype="int8")
