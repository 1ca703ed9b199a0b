"""The field table's and the checkers' rules, one test per rule, on fields.py and validation.py alone.

Written against the mutants that survived the entry-point tests (benchmarks/results/mutation.md): the
wording of each refusal is pinned, so that a changed bound, a dropped hint or a lost field name fails here.
"""

from __future__ import annotations

import numpy as np
import pytest

from semanticdraw_widgets import fields, validation
from semanticdraw_widgets.fields import Field, range_text
from semanticdraw_widgets.validation import (SceneError, ValidationError, as_bool, as_choice, as_float, as_int,
                                             as_text, check_field, check_json_depth, describe)


def refused(call, *args, **kwargs) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        call(*args, **kwargs)
    return caught.value


# -- the range's wording: one home (fields.range_text), used by the table and the checkers ---------------------

@pytest.mark.parametrize("lo, hi, text", [
    (0, 20, "between 0 and 20"), (1, None, ">= 1"), (None, 4.5, "<= 4.5"), (None, None, ""),
    (0.0, 1.0, "between 0 and 1"), (1e-3, None, ">= 0.001"), (np.int64(64), np.float32(4096), "between 64 and 4096"),
])
def test_a_range_is_written_the_same_way_everywhere(lo, hi, text):
    assert range_text(lo, hi) == text
    assert Field("x", "float", 0, "", (), min=lo, max=hi).range_text() == text
    assert validation._range_text(lo, hi) == (f" {text}" if text else "")


def test_a_range_with_an_unwieldy_maximum_writes_it_as_the_table_says():
    assert fields.field("seed").range_text() == "between 0 and 2**63 - 1"
    assert range_text(None, 10, max_text="ten") == "<= ten"
    assert validation._range_text(1, 2, "(odd only)") == " (odd only)"
    assert validation._range_text(1, 2, "") == ""


def test_the_checkers_write_the_range_as_the_table_does():
    assert str(refused(as_int, 0, "n", min=1, max=8)) == "n must be an integer between 1 and 8, got 0"
    assert str(refused(as_int, 9, "n", max=8)) == "n must be an integer <= 8, got 9"
    assert str(refused(as_float, -0.5, "x", min=0.0)) == "x must be a finite number >= 0, got -0.5"
    assert str(refused(as_float, 2.5, "x", min=0, max=1)) == "x must be a finite number between 0 and 1, got 2.5"
    spec = fields.field("mask_blur")
    assert str(refused(check_field, "mask_blur", 300)) == (
        f"mask_blur must be a finite number {spec.range_text()}, got 300")


# -- integers -------------------------------------------------------------------------------------------------

def test_an_integer_takes_its_bounds_and_numpy_integers():
    assert as_int(1, "n", min=1, max=8) == 1 and as_int(8, "n", min=1, max=8) == 8
    value = as_int(np.int16(5), "n")
    assert value == 5 and type(value) is int


@pytest.mark.parametrize("value, hint", [
    ("12", "pass a number, not text (e.g. 12)"),
    (" 7 ", "pass a number, not text (e.g. 7)"),
    ("seven", "pass a number, not text"),
    ("1" * 20, "pass a number, not text"),
    (3.0, "pass int(3.0)"),
    (3.5, "pass a whole number"),
    (float("inf"), "pass a whole number"),
    (True, "pass a whole number"),
    (None, "pass a whole number"),
])
def test_a_non_integer_is_refused_with_a_hint_that_fits_it(value, hint):
    error = refused(as_int, value, "steps", min=1)
    assert str(error) == f"steps must be an integer >= 1, got {describe(value)}; {hint}"
    assert error.field == "steps"


def test_a_checker_raises_the_callers_error_class_with_the_field():
    error = refused(as_int, "x", "regions[0].n", error=SceneError)
    assert type(error) is SceneError and error.field == "regions[0].n"
    for call, value in ((as_float, "x"), (as_bool, 1), (as_text, 1), (as_text, "abc")):
        kwargs = {"max_length": 1} if value == "abc" else {}
        error = refused(call, value, "f", error=SceneError, **kwargs)
        assert type(error) is SceneError and error.field == "f"
    error = refused(as_choice, "c", "f", ["a"], error=SceneError)
    assert type(error) is SceneError and error.field == "f"


# -- floats ---------------------------------------------------------------------------------------------------

def test_a_float_takes_integers_and_numpy_numbers_and_its_bounds():
    assert as_float(1, "x", min=0, max=1) == 1.0 and type(as_float(np.float32(0.5), "x")) is float
    assert as_float(0, "x", min=0, max=1) == 0.0


@pytest.mark.parametrize("value, tail", [("1.5", "got '1.5' (str); pass a number, not text"),
                                         (None, "got None (NoneType); pass a number"),
                                         (True, "got True (bool); pass a number")])
def test_a_non_number_is_refused_with_a_hint(value, tail):
    assert str(refused(as_float, value, "x")) == f"x must be a finite number, {tail}"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), np.float64("nan")])
def test_a_float_must_be_finite_unless_told_otherwise(value):
    error = refused(as_float, value, "x", min=0, max=1)
    assert str(error).startswith("x must be a finite number between 0 and 1, got ") and error.field == "x"
    assert as_float(float("inf"), "x", finite=False) == float("inf")
    assert str(refused(as_float, 2, "x", finite=False, max=1)) == "x must be a number <= 1, got 2"


# -- bools, text, choices, colours ----------------------------------------------------------------------------

def test_a_bool_is_only_true_or_false():
    assert as_bool(np.bool_(True), "b") is True and as_bool(False, "b") is False
    for value in (0, 1, "no", None):
        assert str(refused(as_bool, value, "b")) == f"b must be true or false, got {describe(value)}"


def test_text_is_a_string_of_at_most_its_length():
    assert as_text("abc", "t", max_length=3) == "abc"
    assert str(refused(as_text, 3, "t")) == "t must be a string (text), got 3 (int)"
    assert str(refused(as_text, "abcd", "t", max_length=3)) == (
        "t is 4 characters long, more than the 3 allowed; shorten it")
    assert str(refused(as_text, " ", "t", allow_empty=False)) == "t is empty; give it some text"
    assert as_text("", "t") == ""
    assert str(refused(as_text, "ab\ud800", "t")) == (
        "t holds an unpaired surrogate U+D800 at character 2, which no text file can store; remove it")


def test_a_choice_must_match_in_type_and_value():
    assert as_choice("b", "c", ["a", "b"]) == "b"
    assert as_choice(2, "c", [1, 2]) == 2
    assert str(refused(as_choice, "1", "c", [1, 2])) == "c must be one of 1, 2, got '1' (str)"
    assert str(refused(as_choice, True, "c", [1])) == "c must be one of 1, got True (bool)"


def test_a_nullable_choice_says_none_is_allowed_too():
    assert check_field("sampler", None) is None
    error = refused(check_field, "sampler", "nope")
    assert str(error).endswith("got 'nope' (str); or None") and error.field == "sampler"
    assert refused(check_field, "mask_mode", "nope", path="opts.mask_mode").field == "opts.mask_mode"
    assert not str(refused(check_field, "mask_mode", "nope")).endswith("or None")


@pytest.mark.parametrize("value", ["#a1B2c3", "#000000"])
def test_a_colour_is_hash_and_six_hex_digits(value):
    assert check_field("color", value) == value


@pytest.mark.parametrize("value", ["#a1b2c", "#a1b2c3d", "a1b2c3", "#a1b2cg", "#a1b2c3\n", 0xA1B2C3, None])
def test_anything_else_is_not_a_colour(value):
    error = refused(check_field, "color", value, path="brushes[0].color")
    assert str(error) == f'brushes[0].color must be a hex colour like "#d9503f", got {describe(value)}'
    assert error.field == "brushes[0].color"


# -- the table's entries through check_field -------------------------------------------------------------------

def test_a_nullable_field_takes_none_only_where_allowed():
    assert check_field("guidance_scale", None) is None
    assert refused(check_field, "guidance_scale", None, nullable=False).field == "guidance_scale"
    assert check_field("bootstrap_steps", 0) == 0
    assert refused(check_field, "bootstrap_steps", None).field == "bootstrap_steps"


def test_a_narrowed_range_says_why_and_the_seed_writes_its_maximum():
    error = refused(check_field, "steps", 51, min=1, max=50, why=" (the lcm sampler's range)", path="--steps")
    assert str(error) == "--steps must be an integer between 1 and 50 (the lcm sampler's range), got 51"
    assert error.field == "--steps"
    assert str(refused(check_field, "steps", 1001)) == "steps must be an integer between 1 and 1000, got 1001"
    assert str(refused(check_field, "seed", -1)) == "seed must be an integer between 0 and 2**63 - 1, got -1"
    assert check_field("seed", 2**63 - 1) == 2**63 - 1


@pytest.mark.parametrize("value, hint", [(100, "try 96 or 104"), (96, None), (60, "try 64"), (4100, "try 4096"),
                                         (4096, None), (64, None), (72, None)])
def test_a_side_is_a_multiple_of_8_in_range_and_the_message_says_the_nearest(value, hint):
    if hint is None:
        assert check_field("width", value) == value
        return
    error = refused(check_field, "width", value)
    assert str(error) == f"width must be a multiple of 8 between 64 and 4096, got {value}; {hint}"
    assert error.field == "width"


def test_a_side_that_is_not_an_integer_names_the_multiple_rule():
    assert str(refused(check_field, "height", "512")).startswith(
        "height must be an integer (a multiple of 8 between 64 and 4096), got '512' (str)")


def test_the_table_refuses_an_unknown_name_and_finds_aliases():
    assert fields.field("--steps") is fields.FIELDS["steps"] and fields.field("guidance").name == "guidance_scale"
    with pytest.raises(KeyError, match=r"no field 'nope' in the field table \(semanticdraw_widgets/fields.py\)"):
        fields.field("nope")


def test_json_nested_past_the_limit_is_refused_naming_the_field():
    deep: list = []
    inner = deep
    for _ in range(5):
        inner.append([])
        inner = inner[0]
    check_json_depth(deep, max_depth=6)
    check_json_depth({"a": deep}, max_depth=7)
    error = refused(check_json_depth, deep, "scene.json", max_depth=5)
    assert str(error) == ("scene.json: nested more than 5 levels deep; a scene file is a few levels of objects and "
                          "lists, so this is not a scene (or it is corrupt)") and error.field == "scene.json"
    assert refused(check_json_depth, {"a": {"b": {}}}, max_depth=2).field == "scene"


# -- describing a refused value -------------------------------------------------------------------------------

def _no_repr(self) -> str:
    raise RuntimeError("no repr")


# reprlib guards ordinary objects' reprs itself, but calls an int's repr unguarded: an int subclass (named
# int, as reprlib dispatches on the type's name) whose repr fails reaches describe()'s own guard.
_BrokenRepr = type("int", (int,), {"__repr__": _no_repr})


def test_a_value_is_described_by_a_short_repr_and_its_type_even_when_its_repr_fails():
    assert describe("7") == "'7' (str)"
    assert describe(_BrokenRepr(3)) == "<unprintable> (int)"
    assert validation.short_repr(_BrokenRepr(3)) == "<unprintable>"


@pytest.mark.parametrize("value, text", [("a (b) (c)", "'a (b) (c)'"), (3, "3"), ([1, 2], "[1, 2]"), (None, "None")])
def test_the_short_repr_is_the_describe_text_without_the_type(value, text):
    assert validation.short_repr(value) == text


def test_a_near_miss_is_suggested_and_a_far_one_is_not():
    assert validation.did_you_mean("promt", ["prompt", "negative_prompt", "seed"]) == " (did you mean 'prompt'?)"
    assert validation.did_you_mean("zzzz", ["prompt", "seed"]) == ""
    assert validation.did_you_mean(12, []) == ""


# -- devices (CUDA and MPS faked: the rules must hold on any machine) -------------------------------------------

@pytest.fixture
def torch_without_gpus(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    if getattr(torch.backends, "mps", None) is not None:
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    return torch


def test_a_device_is_normalised_and_names_its_field_by_default(torch_without_gpus):
    torch = torch_without_gpus
    assert validation.as_device(" CPU ") == "cpu" and validation.as_device(torch.device("cpu")) == "cpu"
    assert validation.as_device("Auto") == "auto"
    error = refused(validation.as_device, "nonsense")
    assert str(error) == "device: unknown device 'nonsense'; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"
    assert error.field == "device"
    too_long = refused(validation.as_device, "c" * 65, error=SceneError)
    assert type(too_long) is SceneError and too_long.field == "device"
    assert str(too_long) == "device is 65 characters long, more than the 64 allowed; shorten it"
    assert "unknown device" in str(refused(validation.as_device, "c" * 64))
    assert type(refused(validation.as_device, "nonsense", error=SceneError)) is SceneError


def test_cuda_is_refused_saying_why_when_it_is_missing(torch_without_gpus, monkeypatch):
    torch = torch_without_gpus
    monkeypatch.setattr(torch.version, "cuda", None)
    assert refused(validation.as_device, "cuda", "--device").field == "--device"
    assert str(refused(validation.as_device, "cuda", "--device")) == (
        "--device: 'cuda' requested but CUDA is not available here (this torch build has no CUDA support); use "
        "'cpu' (or 'auto', which picks the best available device)")
    monkeypatch.setattr(torch.version, "cuda", "12.1")
    assert "(no CUDA GPU is visible)" in str(refused(validation.as_device, "cuda:0"))


def test_a_cuda_index_must_exist(torch_without_gpus, monkeypatch):
    torch = torch_without_gpus
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert validation.as_device("cuda") == "cuda" and validation.as_device("CUDA:1") == "cuda:1"
    error = refused(validation.as_device, "cuda:2", "--device")
    assert str(error) == ("--device: 'cuda:2' requested but this machine has 2 CUDA device(s) (cuda:0..cuda:1)")
    assert error.field == "--device"


def test_mps_is_refused_where_it_is_missing_and_other_types_are_not_supported(torch_without_gpus):
    error = refused(validation.as_device, "mps")
    assert str(error) == "device: 'mps' requested but Apple MPS is not available here; use 'cpu' or 'auto'"
    assert error.field == "device"
    error = refused(validation.as_device, "meta")
    assert str(error) == "device: device type 'meta' is not supported; use 'auto', 'cpu', 'cuda' or 'mps'"
    assert error.field == "device"


def test_mps_is_taken_where_it_is_available(torch_without_gpus, monkeypatch):
    torch = torch_without_gpus
    if getattr(torch.backends, "mps", None) is None:
        pytest.skip("this torch has no torch.backends.mps")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert validation.as_device("MPS") == "mps"


# -- the sampling options shared by generate, Stream and Session ------------------------------------------------

class _Backend:
    """Just what check_run_options reads: make_schedule, and the sampler's steps range."""

    def __init__(self, steps_range):
        self._range = steps_range

    def make_schedule(self, steps):
        return None

    def steps_range(self):
        return self._range


def test_the_run_options_default_to_the_tables_defaults():
    assert validation.check_run_options(_Backend((1, 1000, None)), steps=4) == {
        "steps": 4, "guidance_scale": None, "bootstrap_steps": 1, "mask_mode": "continuous", "cover_alpha": 0.0}
    for name in ("bootstrap_steps", "mask_mode", "cover_alpha"):
        assert fields.field(name).default == validation.check_run_options(_Backend((1, 1000, None)), steps=4)[name]


def test_the_steps_message_names_the_sampler_only_when_there_is_one():
    error = refused(validation.check_run_options, _Backend((1, 1000, None)), steps=1001)
    assert str(error) == "steps must be an integer between 1 and 1000, got 1001" and error.field == "steps"
    error = refused(validation.check_run_options, _Backend((1, 50, "lcm")), steps=51)
    assert str(error) == "steps must be an integer between 1 and 50 (the lcm sampler's range), got 51"


def test_something_that_is_not_a_backend_is_refused_naming_the_backend():
    error = refused(validation.check_run_options, "toy", steps=4, error=SceneError)
    assert type(error) is SceneError and error.field == "backend"
    assert str(error) == ("backend must be a Backend such as semanticdraw_widgets.load_backend('toy'), "
                          "got 'toy' (str)")


def test_the_backends_own_steps_range_is_applied_at_both_ends():
    backend = _Backend((2, 8, "fancy"))
    assert validation.check_run_options(backend, steps=2)["steps"] == 2
    for steps in (1, 9):
        assert str(refused(validation.check_run_options, backend, steps=steps)) == (
            f"steps must be an integer between 2 and 8 (the fancy sampler's range), got {steps}")


@pytest.mark.parametrize("option, value", [("steps", 0), ("guidance_scale", 21), ("bootstrap_steps", -1),
                                           ("mask_mode", "soft"), ("cover_alpha", 1.5)])
def test_each_run_option_is_refused_with_the_callers_error_class(option, value):
    options = {"steps": 4, option: value}
    error = refused(validation.check_run_options, _Backend((1, 1000, None)), error=SceneError, **options)
    assert type(error) is SceneError and error.field == option


# -- rules found by the mutation run of 3 December (second pass) ----------------------------------------------

def test_a_number_of_a_million_or_more_is_written_in_full():
    assert range_text(0, 2**24) == "between 0 and 16777216"  # not "1.67772e+07"
    assert range_text(1_000_000.0, None) == ">= 1000000"


def test_a_float_checker_writes_the_callers_own_range_text():
    assert str(refused(as_float, 5.0, "x", min=0, max=1, range_text="(a share)")) == (
        "x must be a finite number (a share), got 5")


def test_a_number_too_large_for_a_float_is_described_in_the_refusal():
    error = refused(as_float, 10**400, "x")
    assert str(error).startswith("x must be a finite number, got ") and describe(10**400) in str(error)
    assert error.field == "x"


def test_an_unpaired_surrogate_is_refused_naming_the_field():
    error = refused(as_text, "ok\ud800", "prompt")
    assert error.field == "prompt" and "U+D800 at character 2" in str(error)


def test_a_count_field_is_an_integer_in_its_range():
    assert check_field("brushes", 3) == 3
    assert str(refused(check_field, "brushes", -1)) == "brushes must be an integer between 0 and 254, got -1"


@pytest.mark.parametrize("bounds", [{"min": 0, "max": 10}, {"max": 10}])
def test_a_narrowed_seed_writes_the_narrowed_range_not_the_tables(bounds):
    assert str(refused(check_field, "seed", 11, **bounds)) == "seed must be an integer between 0 and 10, got 11"


@pytest.mark.parametrize("bounds, value, text", [({"min": 2.0}, 1.5, "between 2 and 20"), ({"max": 5.0}, 6.0, "between 0 and 5")])
def test_a_float_field_takes_a_narrowed_range_at_either_end(bounds, value, text):
    assert str(refused(check_field, "guidance_scale", value, **bounds)) == (
        f"guidance_scale must be a finite number {text}, got {value:g}")


def test_a_field_of_an_unknown_kind_is_a_bug_that_names_the_field(monkeypatch):
    odd = Field("odd", "float", 0.0, "", ())
    object.__setattr__(odd, "kind", "weird")
    monkeypatch.setattr(validation, "table_field", lambda name: odd)
    with pytest.raises(AssertionError, match="field 'odd' has unknown kind 'weird'"):
        check_field("odd", 1)
