"""Tests for the toy backend's prompt lexicon and procedural pattern fields."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from semanticdraw_widgets.backends import toy_lexicon as tl

REPO_ROOT = Path(__file__).resolve().parents[1]
MODULE_PATH = REPO_ROOT / "semanticdraw_widgets" / "backends" / "toy_lexicon.py"
P = len(tl.PATTERNS)


def _pattern(e: torch.Tensor) -> str:
    return tl.PATTERNS[int(e[tl.PATTERN_WEIGHTS].argmax())]


# --------------------------------------------------------------------------- lexicon


def test_lexicon_has_at_least_100_content_words() -> None:
    content = set(tl.COLOUR_WORDS) | set(tl.TEXTURE_WORDS) | set(tl.OBJECT_WORDS)
    assert len(content) >= 100
    assert len(tl.COLOUR_WORDS) >= 40
    assert len(tl.OBJECT_WORDS) >= 50


def test_colour_and_object_words_do_not_collide() -> None:
    # A colour word doubling as an object would let "orange tiger" pick the fruit's pattern.
    assert not set(tl.COLOUR_WORDS) & set(tl.OBJECT_WORDS)
    assert not set(tl.COLOUR_WORDS) & set(tl.TEXTURE_WORDS)


def test_lexicon_values_are_valid() -> None:
    for rgb in tl.COLOUR_WORDS.values():
        assert len(rgb) == 3 and all(0.0 <= c <= 1.0 for c in rgb)
    assert set(tl.TEXTURE_WORDS.values()) == set(tl.PATTERNS)
    for look in tl.OBJECT_WORDS.values():
        assert look.pattern in tl.PATTERNS
        assert 2.0 <= look.period <= 256.0


@pytest.mark.parametrize(
    ("word", "expected"),
    [("bricks", "brick"), ("clouds", "cloud"), ("leaves", "leaf"), ("skies", "sky"),
     ("grass", "grass"), ("grasses", "grass"), ("waves", "wave"), ("glass", "glass")],
)
def test_plural_handling(word: str, expected: str) -> None:
    assert tl.normalise_word(word) == expected


def test_tokenize_strips_punctuation_and_case() -> None:
    assert tl.tokenize("Red, BRICKS!") == ["red", "brick"]


# --------------------------------------------------------------------------- embed_prompt


def test_embedding_shape_dtype_and_layout() -> None:
    assert tl.EMBEDDING_DIM == 3 + 3 + P + 1
    e = tl.embed_prompt("red bricks")
    assert e.shape == (tl.EMBEDDING_DIM,)
    assert e.dtype == torch.float32
    assert torch.all((e[:6] >= 0) & (e[:6] <= 1))


@pytest.mark.parametrize(
    "prompt", ["red bricks", "blue sky with white clouds", "xyzzy", "stripes", "", "dark forest"]
)
def test_pattern_weights_sum_to_one(prompt: str) -> None:
    w = tl.embed_prompt(prompt)[tl.PATTERN_WEIGHTS]
    assert torch.isclose(w.sum(), torch.tensor(1.0))
    assert torch.all(w >= 0)


def test_embedding_is_deterministic_and_fresh() -> None:
    a = tl.embed_prompt("a tiger in the jungle")
    a[0] = 123.0  # mutating a returned tensor must not poison the cache
    assert torch.equal(tl.embed_prompt("a tiger in the jungle"), tl.embed_prompt("a tiger in the jungle"))
    assert tl.embed_prompt("a tiger in the jungle")[0] != 123.0


def test_red_bricks() -> None:
    e = tl.embed_prompt("red bricks")
    r, g, b = e[tl.PRIMARY].tolist()
    assert _pattern(e) == "bricks"
    assert r > g + 0.3 and r > b + 0.3
    # secondary comes from the brick object's mortar, which is greyish
    sr, sg, sb = e[tl.SECONDARY].tolist()
    assert max(sr, sg, sb) - min(sr, sg, sb) < 0.15


def test_blue_sky_with_white_clouds() -> None:
    e = tl.embed_prompt("blue sky with white clouds")
    r, g, b = e[tl.PRIMARY].tolist()
    assert b > r + 0.3 and b > g + 0.3
    assert torch.all(e[tl.SECONDARY] > 0.85)
    assert _pattern(e) == "clouds"


def test_green_grass() -> None:
    e = tl.embed_prompt("green grass")
    r, g, b = e[tl.PRIMARY].tolist()
    assert _pattern(e) == "grass" and g > r and g > b


@pytest.mark.parametrize(
    ("prompt", "pattern"),
    [("zebra", "stripes"), ("tiger", "stripes"), ("leopard", "dots"), ("dalmatian", "dots"),
     ("chessboard", "checker"), ("ocean", "waves"), ("sandy beach", "noise"), ("wooden log", "stripes"),
     ("a brick wall", "bricks"), ("polka dots", "dots"), ("checkered tiles", "checker"), ("sun", "flat")],
)
def test_object_and_texture_patterns(prompt: str, pattern: str) -> None:
    assert _pattern(tl.embed_prompt(prompt)) == pattern


def test_explicit_texture_beats_object_default() -> None:
    assert _pattern(tl.embed_prompt("striped wall")) == "stripes"


def test_single_colour_is_flat_with_low_contrast_shade() -> None:
    e = tl.embed_prompt("purple")
    assert _pattern(e) == "flat"
    diff = (e[tl.PRIMARY] - e[tl.SECONDARY]).abs()
    assert 0.0 < diff.max() < 0.25


def test_lightness_modifiers() -> None:
    blue = tl.embed_prompt("blue")[tl.PRIMARY].sum()
    assert tl.embed_prompt("light blue")[tl.PRIMARY].sum() > blue
    assert tl.embed_prompt("dark blue")[tl.PRIMARY].sum() < blue
    assert tl.embed_prompt("dark forest")[tl.PRIMARY].sum() < tl.embed_prompt("forest")[tl.PRIMARY].sum()


def test_size_words_scale_the_period() -> None:
    base = tl.embed_prompt("stripes")[tl.LOG2_SCALE]
    assert tl.embed_prompt("big stripes")[tl.LOG2_SCALE] == pytest.approx(base + 1)
    assert tl.embed_prompt("fine stripes")[tl.LOG2_SCALE] == pytest.approx(base - 1)


def test_empty_prompt_is_neutral_grey_flat() -> None:
    for text in ("", "   "):
        e = tl.embed_prompt(text)
        assert torch.allclose(e[:6], torch.full((6,), 0.5))
        assert _pattern(e) == "flat"
        assert e[tl.PATTERN_WEIGHTS].max() == 1.0


def test_unknown_words_are_stable_and_not_neutral() -> None:
    e = tl.embed_prompt("xyzzy plugh")
    assert torch.equal(e, tl.embed_prompt("xyzzy plugh"))
    assert not torch.allclose(e[:6], torch.full((6,), 0.5), atol=0.05)
    assert _pattern(e) != "flat"
    assert not torch.equal(e, tl.embed_prompt("frobnicate"))


def test_unknown_words_stable_across_processes() -> None:
    """A fresh interpreter with a different PYTHONHASHSEED must read prompts identically.

    Prompt parsing and hashing are pure Python, so the child stubs out torch to skip its
    ~2 s import; any use of the salted built-in hash() would still show up here.
    """
    code = (
        "import importlib, json, sys, types\n"
        "stub = types.ModuleType('torch'); stub.Tensor = object; sys.modules['torch'] = stub\n"
        "package = types.ModuleType('toy_subproc'); package.__path__ = [sys.argv[1]]\n"
        "sys.modules['toy_subproc'] = package\n"  # the lexicon's modules without the package's torch imports
        "mod = importlib.import_module('toy_subproc.toy_appearance')\n"
        "print(json.dumps([mod.describe(p) for p in sys.argv[2:]]))\n"
    )
    prompts = ["xyzzy plugh", "quux", "stripes", "red bricks", ""]
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    result = subprocess.run(
        [sys.executable, "-c", code, str(MODULE_PATH.parent), *prompts],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    theirs = json.loads(result.stdout)
    ours = json.loads(json.dumps([tl.describe(p) for p in prompts]))
    assert theirs == ours


def test_unknown_words_match_pinned_values() -> None:
    """Pinned bytes: the hashed look must not drift between versions or machines."""
    expected = [0.728571, 0.385102, 0.634654, 0.400714, 0.249891, 0.249588] + [0.0] * 6 + [1.0, 0.0, 0.0, 3.0]
    assert tl.PATTERNS[6] == "clouds"
    assert tl.embed_prompt("xyzzy plugh").tolist() == pytest.approx(expected, abs=1e-6)


def test_non_string_prompt_raises() -> None:
    with pytest.raises(TypeError, match="str"):
        tl.embed_prompt(None)  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=40))
def test_any_text_gives_a_valid_embedding(text: str) -> None:
    e = tl.embed_prompt(text)
    assert e.shape == (tl.EMBEDDING_DIM,) and torch.isfinite(e).all()
    assert torch.all((e[:6] >= 0) & (e[:6] <= 1))
    assert e[tl.PATTERN_WEIGHTS].sum() == pytest.approx(1.0)
    assert 1.0 <= float(e[tl.LOG2_SCALE]) <= 8.0


# --------------------------------------------------------------------------- describe


def test_describe() -> None:
    d = tl.describe("Red bricks!")
    assert set(d) == {"primary", "secondary", "pattern", "scale", "words"}
    assert d["pattern"] == "bricks"
    assert d["words"] == ["red", "brick"]
    assert isinstance(d["primary"], tuple) and len(d["primary"]) == 3
    assert d["scale"] == pytest.approx(2 ** float(tl.embed_prompt("red bricks")[tl.LOG2_SCALE]))
    json.dumps(d)  # plain data, usable in docs


def test_describe_empty() -> None:
    d = tl.describe("")
    assert d["primary"] == d["secondary"] == (0.5, 0.5, 0.5)
    assert d["pattern"] == "flat" and d["words"] == []


# --------------------------------------------------------------------------- pattern_fields


@pytest.fixture(scope="module")
def fields() -> torch.Tensor:
    scale = torch.tensor([8.0, 16.0, 24.0, 32.0])
    phase = torch.tensor([[0.0, 0.0], [0.3, 0.6], [0.5, 0.1], [0.9, 0.9]])
    return tl.pattern_fields(128, 128, scale, phase)


def test_pattern_fields_shape_and_range(fields: torch.Tensor) -> None:
    assert fields.shape == (4, P, 128, 128)
    assert fields.dtype == torch.float32
    assert fields.min() >= 0.0 and fields.max() <= 1.0


def test_flat_is_ones_and_other_patterns_have_contrast(fields: torch.Tensor) -> None:
    assert torch.all(fields[:, tl.PATTERNS.index("flat")] == 1.0)
    for index, name in enumerate(tl.PATTERNS):
        if name == "flat":
            continue
        for n in range(fields.shape[0]):
            assert fields[n, index].std() > 0.1, f"{name} is too flat at sample {n}"


def test_phase_shifts_every_non_flat_pattern() -> None:
    scale = torch.tensor([16.0, 16.0])
    phase = torch.tensor([[0.0, 0.0], [0.25, 0.25]])
    f = tl.pattern_fields(64, 64, scale, phase)
    for index, name in enumerate(tl.PATTERNS):
        if name != "flat":
            assert (f[0, index] - f[1, index]).abs().mean() > 0.05, name


def test_scale_changes_the_pattern() -> None:
    f = tl.pattern_fields(64, 64, torch.tensor([8.0, 32.0]), torch.zeros(2, 2))
    for index, name in enumerate(tl.PATTERNS):
        if name != "flat":
            assert not torch.allclose(f[0, index], f[1, index]), name


def test_pattern_fields_deterministic() -> None:
    args = (40, 56, torch.tensor([12.0]), torch.tensor([[0.2, 0.7]]))
    assert torch.equal(tl.pattern_fields(*args), tl.pattern_fields(*args))


@settings(max_examples=25, deadline=None)
@given(
    height=st.integers(8, 48),
    width=st.integers(8, 48),
    scale=st.floats(2.0, 256.0),
    dy=st.floats(0.0, 0.999),
    dx=st.floats(0.0, 0.999),
)
def test_pattern_fields_any_size_and_scale(height: int, width: int, scale: float, dy: float, dx: float) -> None:
    f = tl.pattern_fields(height, width, torch.tensor([scale]), torch.tensor([[dy, dx]]))
    assert f.shape == (1, P, height, width)
    assert torch.isfinite(f).all() and f.min() >= 0.0 and f.max() <= 1.0


def test_pattern_fields_device_argument() -> None:
    f = tl.pattern_fields(16, 16, torch.tensor([8.0]), torch.zeros(1, 2), device="cpu")
    assert f.device.type == "cpu"


def test_mean_image_blend_of_two_embeddings_stays_in_range() -> None:
    a, b = tl.embed_prompt("red bricks"), tl.embed_prompt("blue sky with white clouds")
    e = 0.5 * (a + b)
    f = tl.pattern_fields(32, 32, (2 ** e[tl.LOG2_SCALE]).reshape(1), torch.zeros(1, 2))[0]
    m = (e[tl.PATTERN_WEIGHTS, None, None] * f).sum(0)
    img = e[tl.SECONDARY, None, None] + (e[tl.PRIMARY, None, None] - e[tl.SECONDARY, None, None]) * m
    assert img.min() >= 0.0 and img.max() <= 1.0


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(height=4, width=32, scale=[8.0], phase=[[0.0, 0.0]]), ValueError, ">= 8"),
        (dict(height=32, width=32, scale=[[8.0]], phase=[[0.0, 0.0]]), ValueError, r"\(N,\)"),
        (dict(height=32, width=32, scale=[8.0], phase=[0.0, 0.0]), ValueError, r"\(N, 2\)"),
        (dict(height=32, width=32, scale=[0.0], phase=[[0.0, 0.0]]), ValueError, "> 0"),
        (dict(height=32, width=32, scale=[float("nan")], phase=[[0.0, 0.0]]), ValueError, "finite"),
        (dict(height=32, width=32, scale=[True], phase=[[0.0, 0.0]]), TypeError, "real-valued"),
    ],
)
def test_pattern_fields_rejects_bad_input(kwargs: dict, exc: type, match: str) -> None:
    h, w = kwargs.pop("height"), kwargs.pop("width")
    with pytest.raises(exc, match=match):
        tl.pattern_fields(h, w, torch.tensor(kwargs["scale"]), torch.tensor(kwargs["phase"]))
