"""One validation story: the checkers, steps per sampler, and a table of bad inputs for every entry point.

Each table row is one careless or hostile input; the test asserts the exception type and that the
message names the field (and never an internal TypeError/AttributeError/RecursionError).
"""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import semanticdraw_widgets as sdw
from semanticdraw_widgets.backends.schedules import make_scheduler, max_steps, scheduler_steps_range, steps_range
from semanticdraw_widgets.cli import main
from semanticdraw_widgets.scene import Background, Region, Scene, SceneError
from semanticdraw_widgets.validation import (ValidationError, as_bool, as_choice, as_device, as_float, as_int,
                                             as_text, check_json_depth, describe)

SIZE = 64


def mask(fill=True):
    return np.full((SIZE, SIZE), fill, dtype=bool)


def good_scene(**changes):
    base = dict(width=SIZE, height=SIZE, seed=1, background=Background(prompt="sky"),
                regions=[Region(prompt="red", mask=mask())])
    base.update(changes)
    return Scene(**base)


# ------------------------------------------------------------------------------------ checkers --

def test_numbers_accept_python_and_numpy_alike():
    assert as_int(np.int64(4), "steps", min=1) == 4 and type(as_int(np.int64(4), "steps")) is int
    assert as_int(np.uint8(7), "n") == 7
    assert as_float(np.float32(0.5), "cover_alpha", min=0, max=1) == 0.5
    assert as_float(3, "guidance_scale") == 3.0 and type(as_float(np.int16(3), "g")) is float
    assert as_bool(np.bool_(True), "visible") is True
    assert as_choice("lcm", "sampler", ["lcm", "tcd"]) == "lcm"
    assert as_text("a red apple", "prompt", max_length=20) == "a red apple"


@pytest.mark.parametrize("call, field, detail", [
    (lambda: as_int(True, "steps"), "steps", "True (bool)"),
    (lambda: as_int("7", "steps"), "steps", "not text (e.g. 7)"),
    (lambda: as_int(4.0, "steps"), "steps", "pass int(4.0)"),
    (lambda: as_int(None, "steps"), "steps", "None (NoneType)"),
    (lambda: as_int(0, "steps", min=1, max=50), "steps", "between 1 and 50, got 0"),
    (lambda: as_float("0.3", "cover_alpha"), "cover_alpha", "not text"),
    (lambda: as_float(float("nan"), "guidance_scale"), "guidance_scale", "got nan"),
    (lambda: as_float(float("inf"), "guidance_scale"), "guidance_scale", "got inf"),
    (lambda: as_float(10**400, "x"), "x", "finite number"),
    (lambda: as_float(np.bool_(True), "x"), "x", "True"),
    (lambda: as_float(1.5, "cover_alpha", min=0, max=1), "cover_alpha", "between 0 and 1, got 1.5"),
    (lambda: as_bool("no", "visible"), "visible", "true or false, got 'no'"),
    (lambda: as_bool(0, "visible"), "visible", "true or false"),
    (lambda: as_text(5, "prompt"), "prompt", "5 (int)"),
    (lambda: as_text("x" * 30, "prompt", max_length=20), "prompt", "more than the 20 allowed"),
    (lambda: as_text("  ", "prompt", allow_empty=False), "prompt", "empty"),
    (lambda: as_choice(1, "mask_mode", ["1", "2"]), "mask_mode", "one of '1', '2'"),
    (lambda: as_device("nonsense", "--device"), "--device", "unknown device 'nonsense'"),
    (lambda: as_device("tpu", "--device"), "--device", "unknown device"),
    (lambda: as_device(3, "device"), "device", "3 (int)"),
    (lambda: check_json_depth([[[[[]]]]], "scene", max_depth=3), "scene", "nested more than 3 levels"),
])
def test_checkers_refuse_with_the_field_and_the_value(call, field, detail):
    with pytest.raises(ValidationError) as info:
        call()
    assert isinstance(info.value, ValueError)
    assert info.value.field == field and str(info.value).startswith(field)
    assert detail in str(info.value)


def test_cuda_device_without_cuda_says_so():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValidationError, match="'cuda' requested but .*use 'cpu'"):
        as_device("cuda", "--device")
    assert as_device("CPU ", "device") == "cpu" and as_device("auto") == "auto"


def test_describe_stays_short_for_huge_and_deep_values():
    deep = []
    for _ in range(5000):
        deep = [deep]
    assert len(describe(deep)) < 100
    assert len(describe("x" * 10**6)) < 100
    assert len(describe(list(range(10**5)))) < 100


def test_scene_error_is_a_validation_error():
    assert issubclass(SceneError, ValidationError) and issubclass(SceneError, ValueError)


# ----------------------------------------------------------------------------- steps per sampler --

def test_lcm_and_tcd_stop_at_their_original_inference_steps():
    noise = {"num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear"}
    for sampler in ("lcm", "tcd"):
        scheduler = make_scheduler(sampler, noise)
        assert scheduler_steps_range(scheduler) == (1, 50)
        # the real limit comes from the config, not a constant
        scheduler = scheduler.__class__.from_config(scheduler.config, original_inference_steps=20)
        assert scheduler_steps_range(scheduler) == (1, 20)
    for sampler in ("euler", "ddim"):
        assert scheduler_steps_range(make_scheduler(sampler, noise)) == (1, 1000)
    assert steps_range("tcd") == (1, 50, "tcd") and max_steps("ddim") == 1000


def test_the_toy_backend_has_its_samplers_range(toy):
    assert steps_range(toy) == (1, 50, "lcm") and max_steps(toy) == 50
    assert max_steps(sdw.load_backend("toy", sampler="euler")) == 1000
    assert len(toy.make_schedule(np.int64(4))) == 4
    message = r"steps must be an integer between 1 and 50 \(the lcm sampler's range\), got 51"
    with pytest.raises(ValueError, match=message):
        toy.make_schedule(51)


def test_every_allowed_step_count_makes_a_schedule(toy):
    for steps in (1, 2, 49, 50):
        assert len(toy.make_schedule(steps)) == steps


def test_the_stream_refuses_steps_past_the_sampler_range(toy):
    with pytest.raises(ValueError, match="steps must be an integer between 1 and 50"):
        sdw.Stream(toy, good_scene(), steps=51)


# ------------------------------------------------------------------- bad inputs: Region / Scene --

def png_url(image: Image.Image) -> str:
    import base64
    import io

    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


API_CASES = [
    # (id, call, exception, field named in the message)
    ("prompt int", lambda: Region(prompt=5, mask=mask()), SceneError, "prompt"),
    ("prompt None", lambda: Region(prompt=None, mask=mask()), SceneError, "prompt"),
    ("prompt huge", lambda: Region(prompt="x" * 20_000, mask=mask()), SceneError, "prompt"),
    ("prompt_strength text", lambda: Region(prompt="a", mask=mask(), prompt_strength="abc"), SceneError,
     "prompt_strength"),
    ("prompt_strength huge int", lambda: Region(prompt="a", mask=mask(), prompt_strength=10**400), SceneError,
     "prompt_strength"),
    ("mask_blur None", lambda: Region(prompt="a", mask=mask(), mask_blur=None), SceneError, "mask_blur"),
    ("mask_strength nan", lambda: Region(prompt="a", mask=mask(), mask_strength=float("nan")), SceneError,
     "mask_strength"),
    ("mask text path missing", lambda: Region(prompt="a", mask="no-such-mask.png"), SceneError, "mask"),
    ("mask bytes not an image", lambda: Region(prompt="a", mask=b"hello"), SceneError, "mask"),
    ("mask object", lambda: Region(prompt="a", mask=object()), SceneError, "mask"),
    ("mask 3-D", lambda: Region(prompt="a", mask=np.zeros((2, 4, 4))), SceneError, "mask"),
    ("mask mode I out of 16 bits", lambda: Region(prompt="a", mask=Image.fromarray(np.full((8, 8), 70000, np.int32))),
     SceneError, "mask"),
    ("mask mode F above 1", lambda: Region(prompt="a", mask=Image.fromarray(np.full((8, 8), 2.0, np.float32))),
     SceneError, "mask"),
    ("mask mode LAB", lambda: Region(prompt="a", mask=Image.new("LAB", (8, 8))), SceneError, "mask"),
    ("background prompt list", lambda: Background(prompt=["sky"]), SceneError, "background.prompt"),
    ("background image text", lambda: Background(prompt="s", image="nowhere.png"), SceneError, "image"),
    ("background image F above 1", lambda: Background(image=Image.fromarray(np.full((8, 8), 3.0, np.float32))),
     SceneError, "background.image"),
    ("width float", lambda: good_scene(width=64.0), SceneError, "width"),
    ("width text", lambda: good_scene(width="64"), SceneError, "width"),
    ("seed bool", lambda: good_scene(seed=True), SceneError, "seed"),
    ("seed float", lambda: good_scene(seed=1.5), SceneError, "seed"),
    ("regions dict", lambda: good_scene(regions={"a": 1}), SceneError, "regions"),
    ("mask too large for canvas", lambda: good_scene(regions=[Region(prompt="a", mask=np.ones((4200, 4200), bool))]),
     SceneError, "regions[0].mask"),
    ("with_region index text", lambda: good_scene().with_region("0", prompt="b"), SceneError, "regions[0]"),
    ("with_region bad value", lambda: good_scene().with_region(0, mask_blur="x"), SceneError, "regions[0].mask_blur"),
    ("with_ unknown field", lambda: good_scene().with_(sede=2), SceneError, "sede"),
]


@pytest.mark.parametrize("call, error, field", [c[1:] for c in API_CASES], ids=[c[0] for c in API_CASES])
def test_bad_python_api_input_is_refused_naming_the_field(call, error, field):
    with pytest.raises(error) as info:
        call()
    assert field in str(info.value)


# --------------------------------------------------------------------------- bad inputs: files --

def scene_dict(**changes):
    data = {"width": SIZE, "height": SIZE, "background": {"prompt": "sky"},
            "regions": [{"prompt": "red", "mask": {"rect": [0, 0, 32, 32]}}]}
    data.update(changes)
    return data


def region_with(**changes):
    region = {"prompt": "red", "mask": {"rect": [0, 0, 32, 32]}}
    region.update(changes)
    return scene_dict(regions=[region])


def nested(depth):
    value = "x"
    for _ in range(depth):
        value = [value]
    return value


FILE_CASES = [
    ("rect outside the canvas", region_with(mask={"rect": [100, 100, 200, 200]}), "regions[0].mask.rect"),
    ("rect left of the canvas", region_with(mask={"rect": [-50, 0, -10, 10]}), "regions[0].mask.rect"),
    ("rect between pixel centres", region_with(mask={"rect": [1.6, 1.6, 1.9, 1.9]}), "regions[0].mask.rect"),
    ("ellipse outside", region_with(mask={"ellipse": [500, 500, 10, 10]}), "regions[0].mask.ellipse"),
    ("polygon outside", region_with(mask={"polygon": [[100, 100], [120, 100], [110, 130]]}),
     "regions[0].mask.polygon"),
    ("polygon huge coordinates", region_with(mask={"polygon": [[0, 0], [1e300, 0], [0, 1e300]]}),
     "regions[0].mask.polygon[1]"),
    ("rect huge int", region_with(mask={"rect": [0, 0, 10**400, 10]}), "regions[0].mask.rect"),
    ("prompt number", region_with(prompt=5), "regions[0].prompt"),
    ("prompt_strength text", region_with(prompt_strength="abc"), "regions[0].prompt_strength"),
    ("mask_blur null", region_with(mask_blur=None), "regions[0].mask_blur"),
    ("prompt deeply nested", region_with(prompt=nested(500)), "scene"),
    ("seed text", scene_dict(seed="7"), "seed"),
    ("width bool", scene_dict(width=True), "width"),
    ("mask PNG too large", region_with(mask=png_url(Image.new("L", (4200, 4200)))), "regions[0].mask"),
    ("background PNG not PNG", scene_dict(background={"prompt": "s", "image": "data:image/png;base64,AAAA"}),
     "background.image"),
]


@pytest.mark.parametrize("data, field", [c[1:] for c in FILE_CASES], ids=[c[0] for c in FILE_CASES])
def test_bad_scene_file_content_is_refused_naming_the_field(data, field):
    with pytest.raises(SceneError) as info:
        Scene.from_dict(data)
    assert field in str(info.value)
    with pytest.raises(SceneError) as info:
        Scene.from_json(json.dumps(data))
    assert field in str(info.value)


def test_deeply_nested_json_text_is_a_scene_error_not_recursion():
    with pytest.raises(SceneError, match="nested too deeply"):
        Scene.from_json("[" * 100_000 + "]" * 100_000)
    with pytest.raises(SceneError, match="nested more than 64 levels"):
        Scene.from_json(json.dumps(scene_dict(background={"prompt": nested(200)})))


def test_a_rect_partly_outside_the_canvas_is_clipped_not_refused():
    scene = Scene.from_dict(region_with(mask={"rect": [-20, -20, 10, 10]}))
    assert scene.regions[0].mask.sum() == 100


def test_scene_load_names_the_file(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 50_000)
    with pytest.raises(SceneError, match="deep.json: invalid JSON"):
        Scene.load(path)


# ------------------------------------------------------------------------ bad inputs: generate --

GENERATE_CASES = [
    ("backend None", dict(backend=None), "backend"),
    ("backend text", dict(backend="toy"), "backend"),
    ("steps 51 for LCM", dict(steps=51), "steps"),
    ("steps 1000 for LCM", dict(steps=1000), "steps"),
    ("steps zero", dict(steps=0), "steps"),
    ("steps text", dict(steps="4"), "steps"),
    ("steps float", dict(steps=4.5), "steps"),
    ("steps bool", dict(steps=True), "steps"),
    ("guidance text", dict(guidance_scale="7"), "guidance_scale"),
    ("guidance nan", dict(guidance_scale=float("nan")), "guidance_scale"),
    ("guidance negative", dict(guidance_scale=-1.0), "guidance_scale"),
    ("cover_alpha text", dict(cover_alpha="0.3"), "cover_alpha"),
    ("cover_alpha above 1", dict(cover_alpha=1.5), "cover_alpha"),
    ("bootstrap_steps negative", dict(bootstrap_steps=-1), "bootstrap_steps"),
    ("bootstrap_steps float", dict(bootstrap_steps=1.0), "bootstrap_steps"),
    ("mask_mode unknown", dict(mask_mode="soft"), "mask_mode"),
    ("mask_mode None", dict(mask_mode=None), "mask_mode"),
    ("method unknown", dict(method="dreams"), "method"),
    ("trace text", dict(trace="yes"), "trace"),
]


@pytest.mark.parametrize("changes, field", [c[1:] for c in GENERATE_CASES], ids=[c[0] for c in GENERATE_CASES])
def test_bad_generate_arguments_are_value_errors_naming_the_field(toy, changes, field):
    kwargs = {"backend": toy, "scene": good_scene(), "steps": 2, **changes}
    with pytest.raises(ValueError) as info:
        sdw.generate(**kwargs)
    assert str(info.value).startswith(field)


def test_generate_accepts_numpy_numbers(toy):
    image = sdw.generate(toy, good_scene(), steps=np.int64(2), guidance_scale=np.float32(2.0),
                         bootstrap_steps=np.int32(1), cover_alpha=np.float64(0.3))
    assert image.size == (SIZE, SIZE)
    assert np.array_equal(np.asarray(image), np.asarray(sdw.generate(toy, good_scene(), steps=2, guidance_scale=2.0,
                                                                     cover_alpha=0.3)))


def test_generate_still_needs_a_scene(toy):
    with pytest.raises(TypeError, match="needs a semanticdraw_widgets.Scene"):
        sdw.generate(toy, {"width": 64})


# ----------------------------------------------------------------------------- bad inputs: CLI --

def write_scene(tmp_path, data) -> str:
    path = tmp_path / "scene.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


CLI_CASES = [
    # (id, argv builder (tmp_path -> argv), text the one-line message must contain)
    ("bad width", lambda t: ["render", write_scene(t, scene_dict(width=500)), "-o", str(t / "o.png")], "width"),
    ("deep JSON", lambda t: ["render", write_scene(t, "[" * 100_000), "-o", str(t / "o.png")], "nested too deeply"),
    ("rect outside", lambda t: ["render", write_scene(t, region_with(mask={"rect": [90, 90, 99, 99]})),
                                "-o", str(t / "o.png")], "regions[0].mask.rect"),
    ("missing scene", lambda t: ["render", str(t / "none.json"), "-o", str(t / "o.png")], "no scene file"),
    ("scene is a folder", lambda t: ["render", str(t), "-o", str(t / "o.png")], "no scene file"),
    ("output is a folder", lambda t: ["render", "landscape", "-o", str(t)], "is a folder"),
    ("output /dev/full", lambda t: ["render", "landscape", "-o", "/dev/full"], "not a regular file"),
    ("output unknown extension", lambda t: ["render", "landscape", "-o", str(t / "o.xyz")], "unknown image extension"),
    ("output without extension", lambda t: ["render", "landscape", "-o", str(t / "out")], "no file extension"),
    ("output under a file", lambda t: ["render", "landscape", "-o", write_scene(t, "{}") + "/o.png"], "cannot write"),
    ("device nonsense", lambda t: ["render", "landscape", "-o", str(t / "o.png"), "--device", "nonsense"],
     "--device: unknown device"),
    ("steps past LCM", lambda t: ["render", write_scene(t, scene_dict()), "-o", str(t / "o.png"), "--steps", "51"],
     "steps must be an integer between 1 and 50"),
    ("steps zero", lambda t: ["render", write_scene(t, scene_dict()), "-o", str(t / "o.png"), "--steps", "0"],
     "steps"),
    ("guidance nan", lambda t: ["render", write_scene(t, scene_dict()), "-o", str(t / "o.png"), "--guidance", "nan"],
     "guidance_scale"),
    ("seed negative", lambda t: ["render", write_scene(t, scene_dict()), "-o", str(t / "o.png"), "--seed", "-1"],
     "seed"),
    ("unknown model folder", lambda t: ["render", write_scene(t, scene_dict()), "-o", str(t / "o.png"),
                                        "--model", str(t / "missing" / "model.safetensors")], "does not exist"),
]


@pytest.mark.parametrize("argv, text", [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_cli_errors_are_one_line_and_exit_code_2(tmp_path, capsys, argv, text):
    with pytest.raises(SystemExit) as stop:
        main(argv(tmp_path))
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("semanticdraw: error: ")
    assert text in err
    assert not (tmp_path / "o.png").exists()


def test_cli_output_and_device_are_checked_before_the_model_loads(tmp_path, capsys, monkeypatch):
    import semanticdraw_widgets

    def no_loading(*args, **kwargs):
        raise AssertionError("the model must not load before -o and --device are checked")

    monkeypatch.setattr(semanticdraw_widgets, "load_backend", no_loading)
    for argv in (["render", "landscape", "-o", str(tmp_path)],
                 ["render", "landscape", "-o", str(tmp_path / "o.png"), "--device", "nonsense"]):
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 2


def test_cli_cuda_without_cuda_is_refused_before_loading(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(SystemExit) as stop:
        main(["render", "landscape", "-o", str(tmp_path / "o.png"), "--device", "cuda"])
    assert stop.value.code == 2
    assert "--device: 'cuda' requested but" in capsys.readouterr().err


def test_cli_in_a_subprocess_prints_no_traceback(tmp_path):
    bad = write_scene(tmp_path, "[" * 100_000)
    result = subprocess.run([sys.executable, "-m", "semanticdraw_widgets.cli", "render", bad, "-o",
                             str(tmp_path / "o.png"), "--device", "cpu"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "nested too deeply" in result.stderr
