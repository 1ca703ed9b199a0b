"""load_backend: every kind of spec, every family, and one clear error per bad spec."""

import json
import shutil
import time
from pathlib import Path

import pytest
import torch

import semanticdraw_widgets as sdw
from semanticdraw_widgets.backends.loading import download_command
from semanticdraw_widgets.backends.toy import ToyBackend


def test_toy_is_the_offline_default():
    backend = sdw.load_backend()
    assert isinstance(backend, ToyBackend) and isinstance(backend, sdw.Backend)
    assert backend.device.type == "cpu"


@pytest.mark.parametrize("fixture, family", [("tiny_sd_folder", "sd"), ("tiny_sdxl_folder", "sdxl"),
                                             ("tiny_sd3_folder", "sd3")])
def test_each_family_is_detected_from_its_folder(request, fixture, family):
    folder = request.getfixturevalue(fixture)
    backend = sdw.load_backend(folder, device="cpu", dtype="float32")  # a Path works too
    assert isinstance(backend, sdw.Backend) and backend.name == family
    assert sdw.load_backend(str(folder), family=family).name == family  # the explicit override agrees


def test_the_download_command_exists_in_the_installed_huggingface_hub():
    from importlib.metadata import distribution

    scripts = {ep.name for ep in distribution("huggingface_hub").entry_points if ep.group == "console_scripts"}
    assert download_command("a/b") == "hf download a/b" and "hf" in scripts


def _copy(folder: Path, target: Path) -> Path:
    shutil.copytree(folder, target)
    return target


def _write(folder: Path, name: str, content: bytes | str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


SD_INDEX = {"_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"],
            "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
            "vae": ["diffusers", "AutoencoderKL"], "scheduler": ["diffusers", "DDIMScheduler"]}


def _spec(case: str, tmp: Path, sd_folder: Path):
    """Build the bad spec of one table row: returns (spec, load_backend keyword arguments)."""
    if case == "empty":
        return "", {}
    if case == "blank":
        return "   ", {}
    if case == "nonsense":
        return "not a model!", {}
    if case == "missing-file":
        return "./missing/model.safetensors", {}
    if case == "missing-folder":
        return "/definitely/not/here", {}
    if case == "hub-offline":
        return "someone/some-model", {}
    if case == "no-index":
        return str(_write(tmp / "empty", "readme.txt", "hi").parent), {}
    if case == "index-not-json":
        return str(_write(tmp / "broken", "model_index.json", "{ not json").parent), {}
    if case == "index-not-utf8":
        return str(_write(tmp / "binary", "model_index.json", b"\xff\xfe\x00garbage").parent), {}
    if case == "index-not-object":
        return str(_write(tmp / "list", "model_index.json", "[1, 2]").parent), {}
    if case == "index-bad-entry":
        return str(_write(tmp / "entry", "model_index.json", json.dumps({**SD_INDEX, "unet": {"x": 1}})).parent), {}
    if case == "custom-class":
        index = {**SD_INDEX, "_class_name": "MyOwnPipeline"}
        return str(_write(tmp / "custom", "model_index.json", json.dumps(index)).parent), {}
    if case == "custom-component":
        index = {**SD_INDEX, "unet": ["my_unet", "MyUNet"]}
        return str(_write(tmp / "component", "model_index.json", json.dumps(index)).parent), {}
    if case == "custom-code-file":
        folder = _copy(sd_folder, tmp / "with-code")
        _write(folder, "pipeline.py", "raise SystemExit('this must never run')")
        return str(folder), {}
    if case == "unknown-family":
        index = {"_class_name": "PixArtAlphaPipeline", "transformer": ["diffusers", "PixArtTransformer2DModel"],
                 "vae": ["diffusers", "AutoencoderKL"]}
        return str(_write(tmp / "pixart", "model_index.json", json.dumps(index)).parent), {}
    if case == "incomplete-folder":
        folder = _copy(sd_folder, tmp / "incomplete")
        (folder / "scheduler" / "scheduler_config.json").unlink()
        return str(folder), {}
    if case == "pickle-ckpt":
        return str(_write(tmp, "model.ckpt", b"\x80\x04pickled")), {}
    if case == "pickle-bin":
        return str(_write(tmp, "model.bin", b"\x80\x04pickled")), {}
    if case == "pickle-component":
        folder = _copy(sd_folder, tmp / "pickled")
        weights = next((folder / "unet").glob("*.safetensors"))
        weights.rename(weights.with_name("diffusion_pytorch_model.bin"))
        return str(folder), {}
    if case == "broken-safetensors":
        return str(_write(tmp, "model.safetensors", b"not a checkpoint")), {}
    if case == "family-mismatch":
        return str(sd_folder), {"family": "sdxl"}
    if case == "unknown-family-name":
        return str(sd_folder), {"family": "flux"}
    if case == "checkpoint-config-mismatch":
        from safetensors.torch import save_file

        path = tmp / "sdxl.safetensors"
        save_file({"conditioner.embedders.1.model.ln_final.weight": torch.zeros(2)}, str(path))
        return str(path), {"config": str(sd_folder)}
    if case == "sampler-unknown":
        return "toy", {"sampler": "heun"}
    if case == "dtype-unknown":
        return "./somewhere", {"dtype": "int8"}
    if case == "device-unknown":
        return "toy", {"device": "nonsense"}
    if case == "toy-cuda":
        return "toy", {"device": "cuda"}
    if case == "toy-lora":
        return "toy", {"lora": "lcm"}
    if case == "toy-dtype":
        return "toy", {"dtype": "float16"}
    if case == "toy-tiny-vae":
        return "toy", {"tiny_vae": "madebyollin/taesd"}
    if case == "lora-missing":
        return str(sd_folder), {"lora": "no such lora"}
    if case == "lora-pickle":
        return str(sd_folder), {"lora": str(_write(tmp, "lora.bin", b"\x80\x04"))}
    raise AssertionError(case)


M = sdw.ModelLoadError
BAD_SPECS = [  # (case, exception type, the cause the message must name, text it must not contain)
    ("empty", M, "model spec is empty", None),
    ("blank", M, "model spec is empty", None),
    ("nonsense", M, "unknown model spec 'not a model!'", None),
    ("missing-file", M, "does not exist", None),
    ("missing-folder", M, "does not exist", None),
    ("hub-offline", sdw.ModelNotAvailableOffline, "`hf download someone/some-model`", "huggingface-cli"),
    ("no-index", M, "not a diffusers model folder (no model_index.json)", "download"),
    ("index-not-json", M, "is not valid UTF-8 JSON", "download"),
    ("index-not-utf8", M, "is not valid UTF-8 JSON", "download"),
    ("index-not-object", M, "must hold a JSON object", "download"),
    ("index-bad-entry", M, "entry 'unet' must be [library, class]", "download"),
    ("custom-class", M, "contains custom code (_class_name 'MyOwnPipeline'", None),
    ("custom-component", M, "contains custom code (component 'unet' is ['my_unet', 'MyUNet']", None),
    ("custom-code-file", M, "contains custom code (it ships Python code (pipeline.py)", None),
    ("unknown-family", M, "is not a Stable Diffusion 1.x/2.x, SDXL or SD3 pipeline", None),
    ("incomplete-folder", M, "scheduler_config.json", "download"),
    ("pickle-ckpt", M, "is a pickle checkpoint (.ckpt)", None),
    ("pickle-bin", M, "is a pickle checkpoint (.bin)", None),
    ("pickle-component", M, "component 'unet'", "download"),
    ("broken-safetensors", M, "is not a valid safetensors file", None),
    ("family-mismatch", M, "is an SD1.x/2.x model but family='sdxl' was given", None),
    ("unknown-family-name", ValueError, "family must be one of 'sd', 'sdxl', 'sd3', got 'flux' (str); or None", None),
    ("checkpoint-config-mismatch", M, "is an SDXL checkpoint but config=", None),
    ("sampler-unknown", ValueError, "sampler must be one of 'lcm', 'tcd', 'euler', 'ddim', 'flash', got 'heun'", None),
    ("dtype-unknown", ValueError, "unknown dtype 'int8'", None),
    ("device-unknown", ValueError, "unknown device 'nonsense'", None),
    ("toy-lora", ValueError, "the toy model does not take lora", None),
    ("toy-dtype", ValueError, "the toy model does not take dtype", None),
    ("toy-tiny-vae", ValueError, "the toy model does not take tiny_vae", None),
    ("lora-missing", M, "LoRA 'no such lora' is neither a file", None),
    ("lora-pickle", M, "is not a .safetensors file", None),
]
if not torch.cuda.is_available():
    BAD_SPECS.append(("toy-cuda", ValueError, "CUDA is not available", None))


@pytest.mark.parametrize("case, error, cause, absent", BAD_SPECS, ids=[row[0] for row in BAD_SPECS])
def test_bad_model_specs_name_their_cause(tmp_path, tiny_sd_folder, case, error, cause, absent):
    spec, kwargs = _spec(case, tmp_path, tiny_sd_folder)
    started = time.monotonic()
    with pytest.raises(error) as caught:
        sdw.load_backend(spec, **kwargs)
    message = str(caught.value)
    assert cause in message, message
    if absent is not None:
        assert absent not in message, f"{case}: {message}"
    if "pickle" in case:
        assert "allow_pickle=True" in message
    assert time.monotonic() - started < 15, "an offline hub must not cost a retry loop"


def test_pickle_weights_load_only_with_the_explicit_opt_in(tmp_path, tiny_sd_folder):
    spec, _ = _spec("pickle-component", tmp_path, tiny_sd_folder)
    with pytest.raises(sdw.ModelLoadError):
        sdw.load_backend(spec)
    # renamed safetensors bytes are not a pickle: the opt-in reaches diffusers' own (weights-only) loader,
    # which then fails on the content, proving nothing was refused up front
    with pytest.raises(sdw.ModelLoadError) as caught:
        sdw.load_backend(spec, allow_pickle=True)
    assert "only pickle weights" not in str(caught.value)


def test_a_cached_hub_snapshot_loads_and_a_damaged_one_says_how_to_refetch(tmp_path, tiny_sd_folder, monkeypatch):
    from huggingface_hub import constants

    repo = tmp_path / "hub" / "models--someone--tiny-sd"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    snapshot = _copy(tiny_sd_folder, repo / "snapshots" / ("0" * 40))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    assert sdw.load_backend("someone/tiny-sd", device="cpu").name == "sd"
    (snapshot / "model_index.json").write_text("{ truncated")
    with pytest.raises(sdw.ModelLoadError, match="hf download someone/tiny-sd --force-download"):
        sdw.load_backend("someone/tiny-sd")


def test_a_lora_nickname_offline_fails_with_instructions(tiny_sd_folder):
    with pytest.raises(sdw.ModelNotAvailableOffline, match="latent-consistency/lcm-lora-sdv1-5"):
        sdw.load_backend(str(tiny_sd_folder), lora="lcm")


def test_lora_nicknames_are_per_family(tiny_sdxl_folder, tiny_sd3_folder):
    with pytest.raises(sdw.ModelNotAvailableOffline, match="latent-consistency/lcm-lora-sdxl"):
        sdw.load_backend(tiny_sdxl_folder, lora="lcm")
    with pytest.raises(sdw.ModelNotAvailableOffline, match="ByteDance/SDXL-Lightning"):
        sdw.load_backend(tiny_sdxl_folder, lora="lightning")
    with pytest.raises(sdw.ModelLoadError, match="'lightning' is a nickname for SDXL models"):
        sdw.load_backend(tiny_sd3_folder, lora="lightning")


def test_single_file_family_comes_from_tensor_names_without_unpickling(tmp_path):
    from safetensors.torch import save_file

    from semanticdraw_widgets.backends.loading import _family_of_file

    for key, family in [("model.diffusion_model.joint_blocks.0.x", "sd3"),
                        ("conditioner.embedders.1.model.x", "sdxl"), ("cond_stage_model.transformer.x", "sd")]:
        path = tmp_path / f"{family}.safetensors"
        save_file({key: torch.zeros(1)}, str(path))
        assert _family_of_file(path) == family


def test_samplers_are_per_family(tiny_sd3_folder, tiny_sdxl_folder):
    assert sdw.load_backend(tiny_sd3_folder).sampler == "euler"
    assert sdw.load_backend(tiny_sd3_folder, sampler="flash").sampler == "flash"
    with pytest.raises(ValueError, match="does not fit SD3 models"):
        sdw.load_backend(tiny_sd3_folder, sampler="lcm")
    assert sdw.load_backend(tiny_sdxl_folder).sampler == "euler"  # the pipeline's own (trailing Euler)
    with pytest.raises(ValueError, match="does not fit SDXL models"):
        sdw.load_backend(tiny_sdxl_folder, sampler="flash")
