"""Tests for semanticdraw_widgets.scene: validation, normalisation, immutability, JSON round trip."""

from __future__ import annotations

import base64
import copy
import dataclasses
import io
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from semanticdraw_widgets.scene import Background, Region, Scene, SceneError

EXAMPLE = Path(__file__).resolve().parents[1] / "semanticdraw_widgets" / "examples" / "landscape.json"
S = 64  # small canvas keeps the tests fast


def square_mask(size: int = S) -> np.ndarray:
    m = np.zeros((size, size), dtype=bool)
    m[size // 4 : size // 2, size // 4 : size // 2] = True
    return m


def region(prompt: str = "a red apple", mask=None, **kw) -> Region:
    return Region(prompt=prompt, mask=square_mask() if mask is None else mask, **kw)


def scene(*regions: Region, **kw) -> Scene:
    kw.setdefault("width", S)
    kw.setdefault("height", S)
    return Scene(regions=list(regions) or [region()], **kw)


def png_url(img: Image.Image) -> str:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def scene_dict(**overrides) -> dict:
    d = {
        "format": "semanticdraw-scene",
        "version": 1,
        "width": S,
        "height": S,
        "seed": 0,
        "background": {"prompt": "sky", "negative_prompt": "", "image": None},
        "regions": [{"prompt": "grass", "mask": {"rect": [0, 32, 64, 64]}}],
    }
    d.update(overrides)
    return d


# --------------------------------------------------------------------------- #
# Region: accepted masks
# --------------------------------------------------------------------------- #


def assert_normalised(mask: np.ndarray, shape=(S, S)) -> None:
    assert mask.dtype == np.float32
    assert mask.shape == shape
    assert not mask.flags.writeable
    assert mask.min() >= 0.0 and mask.max() <= 1.0


def test_bool_mask_becomes_zero_one_float():
    r = region(mask=square_mask())
    assert_normalised(r.mask)
    assert set(np.unique(r.mask)) == {0.0, 1.0}
    assert r.mask.sum() == square_mask().sum()


def test_uint8_mask_is_scaled_by_255():
    m = np.array([[0, 128, 255]], dtype=np.uint8)
    r = region(mask=m)
    np.testing.assert_allclose(r.mask, [[0.0, 128 / 255, 1.0]], rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_float_mask_in_unit_range_is_kept(dtype):
    m = np.linspace(0, 1, 12, dtype=dtype).reshape(3, 4)
    r = region(mask=m)
    assert_normalised(r.mask, (3, 4))
    np.testing.assert_allclose(r.mask, m.astype(np.float32))


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint16])
def test_integer_zero_one_mask_is_accepted(dtype):
    r = region(mask=np.eye(4, dtype=dtype))
    np.testing.assert_array_equal(r.mask, np.eye(4, dtype=np.float32))


def test_nested_list_mask_is_accepted():
    r = region(mask=[[0, 1], [1, 0]])
    np.testing.assert_array_equal(r.mask, [[0, 1], [1, 0]])
    r = region(mask=[[0.25, 0.5], [0.75, 1.0]])
    np.testing.assert_allclose(r.mask, [[0.25, 0.5], [0.75, 1.0]])


def test_pil_mode_1_and_l_masks():
    img = Image.new("L", (8, 4), 0)
    img.putpixel((1, 1), 255)
    img.putpixel((2, 1), 51)
    r = region(mask=img)
    assert r.mask.shape == (4, 8)
    assert r.mask[1, 1] == 1.0 and r.mask[1, 2] == pytest.approx(0.2)
    r1 = region(mask=img.convert("1"))
    assert r1.mask[1, 1] == 1.0 and r1.mask.sum() == 1.0


def test_pil_rgba_uses_alpha_channel():
    img = Image.new("RGBA", (4, 4), (255, 255, 255, 0))  # white but fully transparent
    img.putpixel((0, 0), (0, 0, 0, 255))  # black but opaque
    r = region(mask=img)
    assert r.mask[0, 0] == 1.0 and r.mask.sum() == 1.0
    la = Image.new("LA", (4, 4), (255, 0))
    assert region(mask=la).mask.sum() == 0.0


def test_pil_rgb_uses_luminance_white_inside():
    img = Image.new("RGB", (4, 4), (0, 0, 0))
    img.putpixel((3, 2), (255, 255, 255))
    r = region(mask=img)
    assert r.mask[2, 3] == 1.0 and r.mask.sum() == 1.0
    assert region(mask=img.convert("P")).mask[2, 3] == 1.0


def test_mask_input_is_copied_not_aliased():
    m = square_mask().astype(np.float32)
    r = region(mask=m)
    m[:] = 1.0
    assert r.mask.sum() == square_mask().sum()


# --------------------------------------------------------------------------- #
# Region: rejected input
# --------------------------------------------------------------------------- #


def test_mask_wrong_ndim_names_shape():
    with pytest.raises(SceneError, match=r"mask must be a 2-D \(H, W\) array, got shape \(3, 64, 64\)"):
        region(mask=np.zeros((3, 64, 64), dtype=np.float32))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_mask_nan_or_inf_rejected(bad):
    m = np.zeros((4, 4), dtype=np.float32)
    m[1, 1] = bad
    with pytest.raises(SceneError, match="mask contains NaN or infinite values"):
        region(mask=m)


def test_float_mask_out_of_range_rejected():
    with pytest.raises(SceneError, match=r"within \[0, 1\], got range \[0, 255\].*divide by 255"):
        region(mask=np.array([[0.0, 255.0]]))
    with pytest.raises(SceneError, match=r"within \[0, 1\]"):
        region(mask=np.array([[-0.5, 0.5]]))


def test_integer_mask_outside_zero_one_rejected_with_uint8_hint():
    with pytest.raises(SceneError, match="must be 0 or 1.*uint8"):
        region(mask=[[0, 255]])


@pytest.mark.parametrize(
    "mask",
    [
        np.array([["a", "b"]]),
        np.array([[1 + 1j, 0]]),
        np.array([[object(), None]], dtype=object),
    ],
)
def test_non_numeric_mask_dtype_rejected(mask):
    with pytest.raises(SceneError, match="non-numeric dtype"):
        region(mask=mask)


def test_empty_and_missing_and_ragged_masks_rejected():
    with pytest.raises(SceneError, match="mask is empty"):
        region(mask=np.zeros((0, 4)))
    with pytest.raises(SceneError, match="mask is required"):
        Region(prompt="x", mask=None)
    with pytest.raises(SceneError, match="equal-length rows"):
        region(mask=[[0, 1], [1]])


@pytest.mark.parametrize("prompt", ["", "   ", "\n\t"])
def test_empty_prompt_rejected(prompt):
    with pytest.raises(SceneError, match="Region prompt is empty: give the region a text such as 'a red apple'"):
        region(prompt=prompt)


def test_non_string_prompts_rejected():
    with pytest.raises(SceneError, match="prompt must be a string"):
        region(prompt=5)
    with pytest.raises(SceneError, match="negative_prompt must be a string"):
        region(negative_prompt=None)


@pytest.mark.parametrize(
    "name, value, rng",
    [
        ("prompt_strength", 1.5, "between 0 and 1"),
        ("prompt_strength", True, "between 0 and 1"),
        ("mask_strength", -0.1, "between 0 and 1"),
        ("mask_strength", float("nan"), "between 0 and 1"),
        ("mask_blur", 300, "between 0 and 256"),
        ("mask_blur", "3", "between 0 and 256"),
    ],
)
def test_strengths_out_of_range_rejected(name, value, rng):
    with pytest.raises(SceneError, match=rf"{name} must be a finite number {rng}"):
        region(**{name: value})


def test_strengths_accept_ints_and_numpy_numbers():
    r = region(prompt_strength=1, mask_strength=np.float32(0.5), mask_blur=np.int64(4))
    assert (r.prompt_strength, r.mask_strength, r.mask_blur) == (1.0, 0.5, 4.0)
    assert all(type(v) is float for v in (r.prompt_strength, r.mask_strength, r.mask_blur))


# --------------------------------------------------------------------------- #
# Region: immutability, equality, helpers
# --------------------------------------------------------------------------- #


def test_region_is_frozen_and_mask_read_only():
    r = region()
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.prompt = "other"
    with pytest.raises(ValueError):
        r.mask[0, 0] = 1.0


def test_region_equality_and_hash_by_value():
    a = region(mask=square_mask())
    b = region(mask=square_mask().astype(np.uint8) * 255)  # same values, other dtype
    c = region(mask=~square_mask())
    assert a == b and hash(a) == hash(b)
    assert a.mask_digest == b.mask_digest
    assert a != c and a.mask_digest != c.mask_digest
    assert a != a.with_(prompt="a green apple")
    assert a != a.with_(mask_blur=1.0)
    assert len({a, b, c}) == 2
    assert a != "a red apple"


def test_mask_digest_is_short_stable_hex():
    d = region().mask_digest
    assert d == region().mask_digest
    int(d, 16)
    assert 8 <= len(d) <= 40
    # -0.0 and 0.0 are the same mask
    assert region(mask=np.full((4, 4), -0.0)).mask_digest == region(mask=np.zeros((4, 4))).mask_digest


def test_region_with_validates_and_names_unknown_fields():
    r = region()
    assert r.with_(prompt="a pear").prompt == "a pear"
    with pytest.raises(SceneError, match="Region prompt is empty"):
        r.with_(prompt="")
    with pytest.raises(SceneError, match="no field 'promt'.*did you mean 'prompt'"):
        r.with_(promt="x")


def test_pickle_and_copy_keep_masks_read_only():
    s = scene(region())
    for clone in (pickle.loads(pickle.dumps(s)), copy.deepcopy(s), copy.copy(s.regions[0])):
        assert clone == s or clone == s.regions[0]
    assert not pickle.loads(pickle.dumps(s)).regions[0].mask.flags.writeable


def test_region_repr_is_compact():
    text = repr(region())
    assert "a red apple" in text and "64x64" in text and len(text) < 300


# --------------------------------------------------------------------------- #
# Background
# --------------------------------------------------------------------------- #


def test_background_image_inputs_normalised():
    u8 = np.zeros((S, S, 4), dtype=np.uint8)
    u8[..., 0] = 255
    u8[..., 3] = 7  # alpha dropped
    bg = Background(prompt="sky", image=u8)
    assert bg.image.shape == (S, S, 3) and bg.image.dtype == np.float32
    assert not bg.image.flags.writeable
    np.testing.assert_array_equal(bg.image[0, 0], [1.0, 0.0, 0.0])
    pil = Background(image=Image.fromarray(u8[..., :3]).convert("L"))
    assert pil.image.shape == (S, S, 3)
    flt = Background(image=np.full((2, 2, 3), 0.5))
    assert flt.image_digest is not None and Background().image_digest is None


def test_background_nan_rejected():
    img = np.zeros((S, S, 3))
    img[0, 0, 0] = np.nan
    with pytest.raises(SceneError, match="background.image contains NaN or infinite values: "):
        Background(image=img)


@pytest.mark.parametrize(
    "image, pattern",
    [
        (np.zeros((S, S)), r"must be an \(H, W, 3\).*got shape \(64, 64\)"),
        (np.zeros((S, S, 2)), r"got shape \(64, 64, 2\)"),
        (np.full((S, S, 3), 2.0), r"within \[0, 1\]"),
        (np.zeros((S, S, 3), dtype=np.int32), "uint8 values 0-255"),
    ],
)
def test_background_bad_images_rejected(image, pattern):
    with pytest.raises(SceneError, match=pattern):
        Background(image=image)


def test_background_equality_and_frozen():
    img = np.zeros((4, 4, 3), dtype=np.uint8)
    assert Background("sky", img) == Background("sky", img.astype(np.float32))
    assert hash(Background("sky", img)) == hash(Background("sky", img.astype(np.float32)))
    assert Background("sky") != Background("sky", img)
    with pytest.raises(dataclasses.FrozenInstanceError):
        Background("sky").prompt = "x"
    with pytest.raises(SceneError, match="background.prompt must be a string"):
        Background(prompt=3)


# --------------------------------------------------------------------------- #
# Scene
# --------------------------------------------------------------------------- #


def test_scene_defaults_and_tuple_regions():
    s = Scene(background=Background(prompt="sky"))
    assert (s.width, s.height, s.seed, s.regions) == (512, 512, 0, ())
    s2 = scene(region(), region("a pear"))
    assert isinstance(s2.regions, tuple) and len(s2.regions) == 2


@pytest.mark.parametrize(
    "value, pattern",
    [
        (500, r"width must be a multiple of 8 between 64 and 4096, got 500; try 496 or 504"),
        (10, "got 10; try 64$"),
        (5000, "got 5000; try 4096$"),
        ("512px", r"width must be an integer \(a multiple of 8 between 64 and 4096\), got '512px'"),
        (512.0, r"width must be an integer .*, got 512.0 \(float\); pass int\(512.0\)"),
        (True, r"width must be an integer .*, got True"),
    ],
)
def test_bad_width_rejected_with_suggestion(value, pattern):
    with pytest.raises(SceneError, match=pattern):
        scene(width=value)


def test_bad_height_rejected():
    with pytest.raises(SceneError, match="height must be a multiple of 8"):
        scene(height=65)


def test_seed_validation():
    assert scene(seed=np.int64(7)).seed == 7
    assert scene(seed=2**63 - 1).seed == 2**63 - 1
    with pytest.raises(SceneError, match=r"seed must be an integer between 0 and 2\*\*63 - 1, got True"):
        scene(seed=True)
    with pytest.raises(SceneError, match=r"seed must be an integer between 0 and 2\*\*63 - 1, got -1"):
        scene(seed=-1)
    with pytest.raises(SceneError, match="got 9223372036854775808"):
        scene(seed=2**63)


def test_regions_must_be_region_objects():
    with pytest.raises(SceneError, match=r"regions\[1\]: expected a Region, got dict"):
        Scene(width=S, height=S, regions=[region(), {"prompt": "x"}])
    with pytest.raises(SceneError, match="got a single Region; wrap it in a list"):
        Scene(width=S, height=S, regions=region())
    with pytest.raises(SceneError, match="background: expected a Background"):
        Scene(width=S, height=S, background="sky", regions=[region()])


def test_mask_with_matching_aspect_is_resized_bilinear():
    small = np.zeros((32, 64), dtype=bool)
    small[:, :32] = True
    s = Scene(width=128, height=64, regions=[region(mask=small)])
    m = s.regions[0].mask
    assert_normalised(m, (64, 128))
    assert m[:, :60].min() == 1.0 and m[:, 68:].max() == 0.0
    assert 0.0 < m[0, 64] < 1.0 or 0.0 < m[0, 63] < 1.0  # bilinear edge
    # already-fitting regions are kept as the same object
    fit = region()
    assert scene(fit).regions[0] is fit


def test_aspect_ratio_within_one_percent_is_resized():
    s = Scene(width=S, height=S, regions=[region(mask=np.ones((100, 101)))])
    assert s.regions[0].mask.shape == (S, S)


def test_mask_with_other_aspect_rejected():
    with pytest.raises(
        SceneError,
        match=r"regions\[0\]\.mask: shape \(100, 50\) does not match the 512x512 canvas and has a "
        r"different aspect ratio; pass a \(512, 512\) mask",
    ):
        Scene(regions=[region(mask=np.ones((100, 50)))])


def test_background_image_resized_or_rejected():
    bg = Background(image=np.full((32, 32, 3), 0.25))
    s = Scene(width=S, height=S, background=bg)
    assert s.background.image.shape == (S, S, 3)
    np.testing.assert_allclose(s.background.image, 0.25, atol=1e-5)
    with pytest.raises(SceneError, match=r"background\.image: shape \(32, 16, 3\) does not match"):
        Scene(width=S, height=S, background=Background(image=np.zeros((32, 16, 3))))


def test_scene_with_nothing_to_draw_rejected():
    msg = "scene has nothing to draw: add at least one Region or give the background a prompt"
    with pytest.raises(SceneError, match=msg):
        Scene()
    with pytest.raises(SceneError, match=msg):
        Scene(background=Background(prompt="   ", negative_prompt="ugly"))
    assert Scene(width=S, height=S, background=Background(image=np.zeros((S, S, 3)))).regions == ()


def test_scene_frozen_equality_hash_and_helpers():
    s = scene(region(), seed=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.seed = 4
    t = scene(region(), seed=3)
    assert s == t and hash(s) == hash(t)
    assert s != s.with_(seed=4) and s.with_(seed=4).seed == 4
    changed = s.with_region(0, prompt="a pear", mask_blur=2)
    assert changed.regions[0].prompt == "a pear" and changed.regions[0].mask_blur == 2.0
    assert s.regions[0].prompt == "a red apple"
    assert s.with_region(-1, prompt="x").regions[0].prompt == "x"
    with pytest.raises(SceneError, match=r"regions\[0\]\.mask_strength: mask_strength must be a finite number"):
        s.with_region(0, mask_strength=3)
    with pytest.raises(SceneError, match=r"regions\[5\]: no such region; this scene has 1 region"):
        s.with_region(5, prompt="x")
    with pytest.raises(SceneError, match="width must be a multiple of 8"):
        s.with_(width=100)


# --------------------------------------------------------------------------- #
# JSON round trip
# --------------------------------------------------------------------------- #


def test_to_dict_format():
    d = scene(region()).to_dict()
    assert d["format"] == "semanticdraw-scene" and d["version"] == 1
    assert d["background"] == {"prompt": "", "negative_prompt": "", "image": None}
    r = d["regions"][0]
    assert set(r) == {"prompt", "negative_prompt", "prompt_strength", "mask_strength", "mask_blur", "mask"}
    assert r["mask"].startswith("data:image/png;base64,")
    png = Image.open(io.BytesIO(base64.b64decode(r["mask"].split(",", 1)[1])))
    assert png.format == "PNG" and png.mode == "L" and png.size == (S, S)
    json.dumps(d)  # JSON-serialisable


def test_json_round_trip_binary_mask_exact():
    s = scene(region(negative_prompt="rotten", prompt_strength=0.5, mask_strength=0.25, mask_blur=3),
              seed=42, background=Background(prompt="table", negative_prompt="blurry"))
    back = Scene.from_json(s.to_json())
    assert back == s and hash(back) == hash(s)
    np.testing.assert_array_equal(back.regions[0].mask, s.regions[0].mask)


def test_json_round_trip_float_mask_and_image_within_1_over_255(tmp_path):
    rng = np.random.default_rng(0)
    mask = rng.random((S, S))
    img = rng.random((S, S, 3))
    s = scene(region(mask=mask), background=Background(prompt="sky", image=img))
    path = tmp_path / "scene.json"
    s.save(path)
    back = Scene.load(path)
    assert np.abs(back.regions[0].mask - s.regions[0].mask).max() <= 1 / 255
    assert np.abs(back.background.image - s.background.image).max() <= 1 / 255
    # second trip is exact: values are already on the 8-bit grid
    assert Scene.from_json(back.to_json()) == back


@settings(max_examples=25, deadline=None)
@given(
    cells=hnp.arrays(np.float32, (8, 8), elements=st.floats(0, 1, width=32)),
    binary=st.booleans(),
    prompt=st.text(min_size=1, max_size=20).filter(lambda t: t.strip()),
    seed=st.integers(0, 2**63 - 1),
)
def test_round_trip_property(cells, binary, prompt, seed):
    mask = np.kron(cells > 0.5 if binary else cells, np.ones((8, 8), dtype=np.float32))
    s = Scene(width=S, height=S, seed=seed, regions=[Region(prompt=prompt, mask=mask)])
    back = Scene.from_dict(json.loads(s.to_json()))
    assert back.seed == seed and back.regions[0].prompt == prompt
    if binary:
        assert back == s
    else:
        assert np.abs(back.regions[0].mask - s.regions[0].mask).max() <= 1 / 255


def test_hand_written_shapes_rasterised():
    d = scene_dict(
        width=128,
        height=64,
        regions=[
            {"prompt": "wall", "mask": {"rect": [10, 20, 30, 40]}},
            {"prompt": "sun", "mask": {"ellipse": [100, 20, 10, 5]}, "mask_blur": 2},
            {"prompt": "roof", "mask": {"polygon": [[0, 0], [40, 0], [20, 15]]}},
        ],
    )
    s = Scene.from_dict(d)
    wall, sun, roof = (r.mask for r in s.regions)
    assert wall.shape == (64, 128)
    assert wall.sum() == 20 * 20 and wall[20:40, 10:30].min() == 1.0
    assert sun[20, 100] == 1.0 and sun[20, 85] == 0.0 and sun[20, 108] == 1.0 and sun[30, 100] == 0.0
    assert abs(sun.sum() - np.pi * 10 * 5) < 12
    assert roof[2, 20] == 1.0 and roof[14, 2] == 0.0
    assert s.regions[1].mask_blur == 2.0 and s.regions[0].prompt_strength == 1.0


def test_png_mask_of_other_size_is_resized_on_load():
    img = Image.new("L", (32, 32), 255)
    s = Scene.from_dict(scene_dict(regions=[{"prompt": "x", "mask": png_url(img)}]))
    assert s.regions[0].mask.shape == (S, S) and s.regions[0].mask.min() == 1.0


def test_minimal_hand_written_file_uses_defaults():
    s = Scene.from_json('{"background": {"prompt": "sky"}}')
    assert (s.width, s.height, s.seed, s.regions) == (512, 512, 0, ())


def bad_png_url() -> str:
    return "data:image/png;base64," + base64.b64encode(b"not a png").decode()


@pytest.mark.parametrize(
    "overrides, pattern",
    [
        ({"width": "512px"}, r"width must be an integer .*, got '512px'"),
        ({"width": 500}, "width must be a multiple of 8"),
        ({"seed": -3}, "seed must be an integer"),
        ({"regions": {"prompt": "x"}}, "regions: expected a list"),
        ({"regions": ["grass"]}, r"regions\[0\]: expected an object"),
        ({"regions": [{"prompt": "x"}]}, r"regions\[0\]\.mask: missing"),
        ({"regions": [{"mask": {"rect": [0, 0, 8, 8]}}]}, r"regions\[0\]\.prompt: missing"),
        ({"regions": [{"prompt": "", "mask": {"rect": [0, 0, 8, 8]}}]},
         r"regions\[0\]\.prompt: Region prompt is empty"),
        ({"regions": [{"prompt": "x", "mask": {"rect": [0, 0, 8, 8]}, "mask_blur": -1}]},
         r"regions\[0\]\.mask_blur: mask_blur must be a finite number between 0 and 256"),
        ({"regions": [{"promt": "x", "mask": {"rect": [0, 0, 8, 8]}}]},
         r"regions\[0\]: unknown key 'promt' \(did you mean 'prompt'\?\)"),
        ({"regions": [{"prompt": "x", "mask": "mask.png"}]}, r"regions\[0\]\.mask: not a PNG data URL or shape"),
        ({"regions": [{"prompt": "x", "mask": 3}]}, r"regions\[0\]\.mask: not a PNG data URL or shape"),
        ({"regions": [{"prompt": "x", "mask": {"circle": [1, 2, 3]}}]},
         r"regions\[0\]\.mask: not a PNG data URL or shape"),
        ({"regions": [{"prompt": "x", "mask": {"rect": [0, 0, 8]}}]}, r"regions\[0\]\.mask\.rect: expected 4 numbers"),
        ({"regions": [{"prompt": "x", "mask": {"rect": [8, 0, 0, 8]}}]}, r"regions\[0\]\.mask\.rect: need x0 < x1"),
        ({"regions": [{"prompt": "x", "mask": {"ellipse": [1, 2, 0, 3]}}]}, r"regions\[0\]\.mask\.ellipse: radii"),
        ({"regions": [{"prompt": "x", "mask": {"polygon": [[0, 0], [1, 1]]}}]},
         r"regions\[0\]\.mask\.polygon: expected a list of at least 3"),
        ({"regions": [{"prompt": "x", "mask": {"polygon": [[0, 0], [1, "a"], [2, 2]]}}]},
         r"regions\[0\]\.mask\.polygon\[1\]: expected 2 numbers"),
        ({"regions": [{"prompt": "x", "mask": bad_png_url()}]}, r"regions\[0\]\.mask: could not decode the PNG"),
        ({"regions": [{"prompt": "x", "mask": png_url(Image.new("L", (10, 40)))}]},
         r"regions\[0\]\.mask: shape \(40, 10\) does not match"),
        ({"background": "sky"}, "background: expected an object"),
        ({"background": {"promt": "sky"}}, r"background: unknown key 'promt'"),
        ({"background": {"image": 5}}, r"background\.image: expected null or a PNG data URL"),
        ({"background": {"image": "data:image/png;base64,@@@"}}, r"background\.image: could not decode"),
        ({"background": {"prompt": 7}}, r"background\.prompt must be a string"),
        ({"format": "other-tool"}, r"format: expected 'semanticdraw-scene', got 'other-tool'"),
        ({"version": 2}, r"version: this file uses scene format version 2.*upgrade"),
        ({"version": "1"}, r"version: expected a positive integer"),
        ({"widht": 64}, r"unknown key 'widht' \(did you mean 'width'\?\)"),
        ({"regions": [], "background": {}}, "scene has nothing to draw"),
    ],
)
def test_malformed_dict_names_the_field(overrides, pattern):
    with pytest.raises(SceneError, match=pattern):
        Scene.from_dict(scene_dict(**overrides))


def test_malformed_json_text():
    with pytest.raises(SceneError, match=r"invalid JSON at line 1 column 12"):
        Scene.from_json('{"width": 6')
    with pytest.raises(SceneError, match="scene: expected an object"):
        Scene.from_json("[1, 2]")
    with pytest.raises(SceneError, match="JSON text"):
        Scene.from_json(None)


def test_load_prefixes_errors_with_the_file_name(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(scene_dict(width="wide")), encoding="utf-8")
    with pytest.raises(SceneError, match=r"broken\.json: width must be an integer"):
        Scene.load(path)


def test_example_landscape_loads():
    s = Scene.load(EXAMPLE)
    assert (s.width, s.height, s.seed) == (512, 512, 0)
    assert s.background.prompt == "blue sky with white clouds"
    prompts = [r.prompt for r in s.regions]
    assert prompts == ["green grass", "blue water with waves", "red bricks", "dark brown wood", "bright yellow light"]
    grass, water, wall, roof, sun = s.regions
    assert grass.mask[500, 10] == 1.0 and grass.mask[100, 10] == 0.0
    assert water.mask[440, 390] == 1.0 and water.mask[440, 100] == 0.0
    assert wall.mask[300, 150] == 1.0 and wall.mask[300, 300] == 0.0
    assert roof.mask[230, 170] == 1.0 and roof.mask[150, 170] == 0.0
    assert sun.mask[95, 410] == 1.0 and sun.mask[100, 200] == 0.0
    assert sun.mask_blur == 12.0
    assert Scene.from_json(s.to_json()) == s


def test_a_mask_larger_than_any_canvas_is_refused_before_its_pixels_are_converted():
    with pytest.raises(SceneError, match="larger than any canvas allows"):
        Region(prompt="x", mask=np.zeros((20000, 20000), bool))
