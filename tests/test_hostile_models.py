"""Model folders and LoRAs whose numbers would make every picture black, or whose JSON is a stack bomb."""

import json
import shutil

import pytest
import torch

import semanticdraw_widgets as sdw


@pytest.fixture
def folder_copy(tiny_sd_folder, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(tiny_sd_folder, copy)
    return copy


def _edit_json(path, **changes):
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def test_a_model_index_nested_100000_deep_is_a_load_error_not_a_recursion_error(folder_copy):
    (folder_copy / "model_index.json").write_text('{"a":' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(sdw.ModelLoadError, match=r"model_index.json' is nested too deeply to be a model index; "
                                                 r"re-save the model"):
        sdw.load_backend(str(folder_copy))


@pytest.mark.parametrize("value", [float("nan"), 0.0, -0.18215, 1e400])
def test_a_vae_scaling_factor_that_is_not_a_finite_positive_number_is_refused(folder_copy, value):
    config = folder_copy / "vae" / "config.json"
    text = json.dumps({**json.loads(config.read_text()), "scaling_factor": value})  # NaN/Infinity as JSON allows
    config.write_text(text)
    with pytest.raises(sdw.ModelLoadError, match=r"VAE's scaling_factor is .*not a finite positive number"):
        sdw.load_backend(str(folder_copy), sampler="lcm")


@pytest.mark.parametrize("changes", [{"beta_end": 1.5}, {"beta_start": float("nan")}, {"beta_start": 0.0}])
def test_scheduler_betas_outside_zero_one_are_refused(folder_copy, changes):
    _edit_json(folder_copy / "scheduler" / "scheduler_config.json", **changes)
    with pytest.raises(sdw.ModelLoadError, match=r"scheduler's betas must lie between 0 and 1"):
        sdw.load_backend(str(folder_copy), sampler="lcm")


def test_the_unchanged_tiny_model_passes_the_checks(folder_copy):
    assert sdw.load_backend(str(folder_copy), sampler="lcm") is not None


def test_a_lora_with_nan_weights_is_refused_after_fusing(tmp_path, tiny_sd_folder):
    peft = pytest.importorskip("peft")
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    from peft.utils import get_peft_model_state_dict

    unet = UNet2DConditionModel.from_pretrained(tiny_sd_folder, subfolder="unet")
    unet.add_adapter(peft.LoraConfig(r=4, lora_alpha=4, init_lora_weights=False, target_modules=["to_q"]))
    layers = get_peft_model_state_dict(unet)
    first = next(iter(layers))
    layers[first] = torch.full_like(layers[first], float("nan"))
    StableDiffusionPipeline.save_lora_weights(tmp_path, unet_lora_layers=layers)
    lora_file = next(tmp_path.glob("*.safetensors"))
    with pytest.raises(sdw.ModelLoadError, match=r"after fusing, the weight .* holds NaN or infinite values"):
        sdw.load_backend(str(tiny_sd_folder), sampler="lcm", lora=str(lora_file))


def test_a_model_index_that_is_a_device_is_refused_without_reading_it(folder_copy):
    (folder_copy / "model_index.json").unlink()
    (folder_copy / "model_index.json").symlink_to("/dev/zero")
    with pytest.raises(sdw.ModelLoadError, match=r"model_index.json: not a regular file"):
        sdw.load_backend(str(folder_copy))


def test_an_oversized_model_index_is_refused_before_it_is_parsed(folder_copy):
    with open(folder_copy / "model_index.json", "r+b") as index:
        index.truncate(2 * 2**20)  # sparse: 2 MiB of zeros, more than any model index
    with pytest.raises(sdw.ModelLoadError, match=r"model_index.json: more than 1,048,576 bytes"):
        sdw.load_backend(str(folder_copy))


def test_a_component_config_that_is_gigabytes_long_is_refused_naming_it(folder_copy):
    with open(folder_copy / "unet" / "config.json", "r+b") as config:
        config.truncate(3 * 2**30)  # sparse: costs no disk, but a loader would read 3 GiB
    with pytest.raises(sdw.ModelLoadError, match=r"unet/config.json' is 3,072 MiB, more than a model's "
                                                 r"configuration or tokenizer file can be \(64 MiB\)"):
        sdw.load_backend(str(folder_copy))


def test_a_tokenizer_file_that_is_a_fifo_is_refused_without_blocking(folder_copy):
    import os

    vocab = sorted((folder_copy / "tokenizer").glob("*.json"))[0]
    vocab.unlink()
    os.mkfifo(vocab)
    with pytest.raises(sdw.ModelLoadError, match=rf"{vocab.name}' is not a regular file"):
        sdw.load_backend(str(folder_copy))
