"""The field table (semanticdraw_widgets.fields) and the bugs that several copies of a rule let through."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import semanticdraw_widgets as sdw
from semanticdraw_widgets.validation import ValidationError

SIZE = 64


# -- the three bugs of issue 15, each refused with a message naming the field ----------------------------

@pytest.mark.parametrize("value", [True, False])
def test_the_browser_cannot_set_a_bool_seed(toy, value):
    canvas = sdw.SemanticDrawCanvas(toy, width=SIZE, height=SIZE, steps=2)
    canvas.send = lambda *args, **kwargs: None
    try:
        canvas.set_state({"seed": value})
        assert canvas.seed == 0 and type(canvas.seed) is int
        assert "seed" in canvas.status["error"] and "integer" in canvas.status["error"]
        assert canvas.scene.seed == 0  # still a usable scene
    finally:
        canvas.stop()


@pytest.mark.parametrize("value", ["no", "yes", 0, 1, None])
def test_allow_pickle_takes_only_true_or_false(value):
    with pytest.raises(ValidationError, match=r"allow_pickle must be true or false") as info:
        sdw.load_backend("toy", allow_pickle=value)
    assert info.value.field == "allow_pickle"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), -0.5, 4.5, 1e9, "1.0", True])
def test_lora_scale_must_be_a_finite_number_in_its_range(value):
    with pytest.raises(ValidationError, match=r"lora_scale must be a finite number between 0 and 4") as info:
        sdw.load_backend("toy", lora_scale=value)
    assert info.value.field == "lora_scale"


# -- the generated files are what the table says ----------------------------------------------------------------

def test_generated_typescript_and_docs_match_the_table():
    from semanticdraw_widgets.fieldgen import generated_files

    for path, text in generated_files().items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.name} is out of date with semanticdraw_widgets/fields.py: run "
            "python -m semanticdraw_widgets.fieldgen --write")


def test_the_docs_table_lists_every_field_and_sampler():
    from semanticdraw_widgets.fieldgen import render_markdown
    from semanticdraw_widgets.fields import FIELDS
    from semanticdraw_widgets.samplers import REGISTRY

    text = render_markdown()
    for name in FIELDS:
        assert f"| `{name}` |" in text
    assert "| `lora_scale` |" in text and "between 0 and 4" in text
    assert sum(f"| `{s.name}` | {', '.join(s.families)}" in text for s in REGISTRY) == len(REGISTRY)


# -- every entry point reads the same limit from the table ---------------------------------------------------------

def _refused(call) -> bool:
    """True when the call raises a refusal that explains itself (ValueError, or the canvas's TraitError)."""
    try:
        call()
    except Exception as error:  # noqa: BLE001 - TraitError is not a ValueError
        return "must" in str(error) or "allowed" in str(error)
    return False


def _entry_points(toy, canvas):
    from semanticdraw_widgets.validation import check_run_options
    from semanticdraw_widgets.widgets.palette import validate_brush
    mask = np.ones((SIZE, SIZE), bool)

    def canvas_sets(name, value):
        setattr(canvas, name, value)

    return {
        "prompt": [lambda v: sdw.Region(prompt=v, mask=mask), lambda v: sdw.Background(prompt=v),
                   lambda v: validate_brush({"prompt": v})],
        "mask_blur": [lambda v: sdw.Region(prompt="x", mask=mask, mask_blur=v),
                      lambda v: validate_brush({"mask_blur": v})],
        "guidance_scale": [lambda v: check_run_options(toy, steps=2, guidance_scale=v),
                           lambda v: canvas_sets("guidance", v)],
        "seed": [lambda v: sdw.Scene(seed=v, background=sdw.Background(prompt="x")), lambda v: canvas_sets("seed", v)],
    }


@pytest.mark.parametrize("name", ["prompt", "mask_blur", "guidance_scale", "seed"])
def test_each_entry_point_takes_the_limit_and_refuses_just_past_it(toy, name):
    from semanticdraw_widgets.fields import FIELDS

    spec = FIELDS[name]
    at, past = (("x" * spec.max_length, "x" * (spec.max_length + 1)) if spec.kind == "text"
                else (type(spec.default or 0)(spec.max), spec.max + (1 if spec.kind == "int" else 0.5)))
    canvas = sdw.SemanticDrawCanvas(toy, width=SIZE, height=SIZE, steps=2)
    canvas.send = lambda *args, **kwargs: None
    try:
        for check in _entry_points(toy, canvas)[name]:
            assert not _refused(lambda: check(at)), f"{name}={str(at)[:20]} refused by one entry point"
            assert _refused(lambda: check(past)), f"{name} past the limit accepted by one entry point"
    finally:
        canvas.stop()


def test_checkers_derive_their_limits_from_the_table(toy, monkeypatch):
    """Narrow a limit in the table alone: the scene, the brush, the run options and the loader all follow."""
    from semanticdraw_widgets import fields
    from semanticdraw_widgets.validation import check_run_options
    from semanticdraw_widgets.widgets.palette import PaletteError, validate_brush

    for name, limit in (("mask_blur", 10.0), ("prompt", 5), ("guidance_scale", 3.0), ("lora_scale", 2.0),
                        ("cover_alpha", 0.5)):
        key = "max_length" if name == "prompt" else "max"
        monkeypatch.setitem(fields.FIELDS, name, dataclasses.replace(fields.FIELDS[name], **{key: limit}))
    mask = np.ones((SIZE, SIZE), bool)
    with pytest.raises(sdw.SceneError, match="mask_blur .* between 0 and 10"):
        sdw.Region(prompt="x", mask=mask, mask_blur=11)
    with pytest.raises(PaletteError, match="brush.mask_blur"):
        validate_brush({"mask_blur": 11})
    with pytest.raises(sdw.SceneError, match="more than the 5 allowed"):
        sdw.Background(prompt="x" * 6)
    with pytest.raises(ValidationError, match="guidance_scale .* between 0 and 3"):
        check_run_options(toy, steps=2, guidance_scale=4)
    with pytest.raises(ValidationError, match="cover_alpha .* between 0 and 0.5"):
        check_run_options(toy, steps=2, cover_alpha=0.75)
    with pytest.raises(ValidationError, match="lora_scale .* between 0 and 2"):
        sdw.load_backend("toy", lora_scale=3.0)


def test_scene_files_and_brushes_share_the_prompt_limit():
    """One value per field: 1,000 characters (it was 10,000 in scenes and 1,000 in the canvas)."""
    from semanticdraw_widgets.fields import MAX_TEXT_LENGTH

    assert MAX_TEXT_LENGTH == 1000
    mask = np.ones((SIZE, SIZE), bool)
    with pytest.raises(sdw.SceneError, match="prompt is 1001 characters long, more than the 1000 allowed"):
        sdw.Region(prompt="x" * 1001, mask=mask)


# -- the TypeScript checks say what the Python ones say -------------------------------------------------------------

def _samples(spec):
    if spec.kind in ("int", "float", "count"):
        values = [spec.min, spec.max, "3", True, None, [1]]
        values += [spec.min - 1, spec.min - 0.5] if spec.min is not None else [-1e300]
        values += [spec.max + 1, spec.max + 0.5] if spec.max is not None and spec.max < 2**53 else [1e300]
        if spec.multiple_of:
            values += [spec.min + spec.multiple_of, spec.min + 1]
        if spec.kind == "float":
            values += [0.25 * ((spec.min or 0) + (spec.max if spec.max is not None else 4))]
        return [v for v in values if not (isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) > 2**53
                                          and spec.kind != "float")]
    if spec.kind == "text":
        return ["", "a red apple", "x" * spec.max_length, "x" * (spec.max_length + 1), 5, None, True]
    if spec.kind == "choice":
        return [*spec.choices, "nope", None, 1]
    if spec.kind == "color":
        return ["#d9503f", "#D9503F", "red", "#12345", "#1234567", None, 5]
    return [True, False, 0, 1, "true", None]


def test_typescript_field_checks_agree_with_python():
    import json
    import shutil
    import subprocess
    from pathlib import Path

    from semanticdraw_widgets.fields import FIELDS
    from semanticdraw_widgets.validation import check_field

    js = Path(__file__).resolve().parents[1] / "js"
    esbuild = js / "node_modules" / ".bin" / "esbuild"
    node = shutil.which("node")
    if node is None or not esbuild.exists():
        pytest.skip("needs node and js/node_modules (npm --prefix js ci)")
    bundle = subprocess.run([str(esbuild), str(js / "src" / "fields.ts"), "--bundle", "--format=cjs",
                             "--platform=node", "--log-level=error"], capture_output=True, text=True, check=True).stdout
    cases = [[name, value] for name, spec in FIELDS.items() if spec.kind != "count" for value in _samples(spec)]
    script = (f"const module = {{ exports: {{}} }}; (function (module, exports) {{ {bundle}\n}})(module, module.exports);"
              f"const cases = {json.dumps(cases)};"
              "process.stdout.write(JSON.stringify(cases.map(([n, v]) => [n, v, module.exports.fieldError(n, v)])));")
    verdicts = json.loads(subprocess.run([node, "-e", script], capture_output=True, text=True, check=True).stdout)
    disagree = []
    for name, value, ts_error in verdicts:  # value as the browser's JSON would carry it
        try:
            check_field(name, value)
            py_error = None
        except ValidationError as error:
            py_error = str(error)
        if (ts_error is None) != (py_error is None):
            disagree.append((name, value, ts_error, py_error))
    assert not disagree, disagree
    assert len(verdicts) > 150


@pytest.mark.parametrize("trait, value", [("guidance", None), ("guidance", True), ("steps", True), ("steps", None),
                                          ("steps", 4.0), ("seed", None), ("guidance", float("nan"))])
def test_the_canvas_settings_refuse_what_the_table_refuses(toy, trait, value):
    canvas = sdw.SemanticDrawCanvas(toy, width=SIZE, height=SIZE, steps=2, seed=3, guidance=1.5)
    canvas.send = lambda *args, **kwargs: None
    try:
        before = getattr(canvas, trait)
        canvas.set_state({trait: value})
        assert getattr(canvas, trait) == before and type(getattr(canvas, trait)) is type(before)
        assert trait in canvas.status["error"]
    finally:
        canvas.stop()


def test_the_canvas_takes_the_samplers_steps_range(toy):
    euler = sdw.load_backend("toy", sampler="euler")
    canvas = sdw.SemanticDrawCanvas(euler, width=SIZE, height=SIZE, steps=60)  # the stream's limit: 1000 for Euler
    canvas.send = lambda *args, **kwargs: None
    lcm = sdw.SemanticDrawCanvas(toy, width=SIZE, height=SIZE, steps=2)
    lcm.send = canvas.send
    try:
        assert canvas.steps == 60
        lcm.set_state({"steps": 51})
        assert lcm.steps == 2 and "between 1 and 50 (the lcm sampler's range)" in lcm.status["error"]
    finally:
        canvas.stop()
        lcm.stop()


def test_a_regions_defaults_are_the_field_tables():
    """Region's dataclass defaults come from the field table, the one home the JS defaults are generated from."""
    from semanticdraw_widgets.fields import FIELDS

    region = sdw.Region(prompt="x", mask=np.ones((8, 8), bool))
    for name in ("negative_prompt", "prompt_strength", "mask_strength", "mask_blur"):
        assert getattr(region, name) == FIELDS[name].default, name


def test_a_scenes_defaults_are_the_field_tables_in_code_and_in_files(monkeypatch):
    """A Scene() and a scene file without width/height/seed both take the field table's defaults."""
    from semanticdraw_widgets import scene_json
    from semanticdraw_widgets.fields import FIELDS

    scene = sdw.Scene(background=sdw.Background(prompt="sky"))
    assert (scene.width, scene.height, scene.seed) == tuple(FIELDS[k].default for k in ("width", "height", "seed"))
    monkeypatch.setitem(FIELDS, "seed", dataclasses.replace(FIELDS["seed"], default=7))
    assert scene_json.parse_scene({"format": scene_json.FORMAT_NAME, "version": scene_json.FORMAT_VERSION,
                                   "background": {"prompt": "sky"}})["seed"] == 7
