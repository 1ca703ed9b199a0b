"""The field table (semanticdraw_widgets.fields) and the bugs that several copies of a rule let through."""

from __future__ import annotations

import math

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
