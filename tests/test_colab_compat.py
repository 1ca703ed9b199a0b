"""Installing the package on Google Colab upgrades nothing Colab has already imported, so no restart is needed.

Colab's runtime imports ipywidgets at start-up; if `pip install semanticdraw_widgets` replaced it on disk, the
old module would stay loaded and no widget would show until the session restarts. These tests check our
requirements against the versions Colab ships (docs/colab.md says where they come from), and that the package
uses no ipywidgets-8-only API (the CI job `colab-stack` also runs the widget tests on ipywidgets 7.7.1).
"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import numpy as np
import pytest
import traitlets
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from semanticdraw_widgets.widgets.traits import ByteView

tomllib = pytest.importorskip("tomllib")  # Python 3.11+
ROOT = Path(__file__).resolve().parents[1]

# googlecolab/backend-info, pip-freeze.txt (CPU) and pip-freeze.gpu.txt at a72407924822 (2026-08-19): the
# packages our requirements and ipycanvas's name. Torch is 2.11.0+cpu / +cu128 there; the local part is
# dropped because a requirement such as torch>=2.1 compares public versions.
COLAB_PYTHON = "3.13.15"
COLAB = {
    "torch": "2.11.0", "diffusers": "0.39.0", "transformers": "5.15.0", "safetensors": "0.8.0",
    "huggingface-hub": "1.27.0", "pillow": "11.3.0", "numpy": "2.1.3", "anywidget": "0.9.21",
    "ipywidgets": "7.7.1", "traitlets": "5.7.1", "peft": "0.20.0",
}
NOT_ON_COLAB = {"ipycanvas"}  # installed by our %pip line; its own requirements are checked below


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def requirements(names: list[str]) -> list[Requirement]:
    return [Requirement(text) for text in names if not Requirement(text).marker]


def assert_colab_satisfies(reqs: list[Requirement], owner: str) -> None:
    for req in reqs:
        name = canonical(req.name)
        if name in NOT_ON_COLAB:
            continue
        assert name in COLAB, f"{owner} needs {req}, which the Colab table here does not list: add Colab's version"
        assert req.specifier.contains(COLAB[name], prereleases=True), (
            f"{owner} needs {req}, but Colab ships {name} {COLAB[name]}: installing on Colab would replace it, and "
            f"a package Colab had already imported (ipywidgets) would need a session restart")


def test_colab_python_is_supported():
    assert SpecifierSet(project()["requires-python"]).contains(COLAB_PYTHON)


def test_colab_versions_satisfy_every_requirement():
    assert_colab_satisfies(requirements(project()["dependencies"]), "semanticdraw_widgets")
    assert_colab_satisfies(requirements(project()["optional-dependencies"]["lora"]), "the lora extra")


@pytest.mark.parametrize("name", sorted(NOT_ON_COLAB))
def test_what_colab_lacks_needs_nothing_colab_has_in_another_version(name):
    """ipycanvas is not on Colab: the version pip would install here must accept Colab's ipywidgets."""
    requires = importlib.metadata.requires(name) or []
    assert_colab_satisfies(requirements(requires), name)


def test_colab_table_matches_a_real_ipywidgets_7_requirement():
    """The check above can fail: ipywidgets 8 alone (what this package required before) is refused."""
    with pytest.raises(AssertionError, match="Colab ships ipywidgets 7.7.1"):
        assert_colab_satisfies([Requirement("ipywidgets>=8")], "example")


# ipywidgets names checked to exist in 7.7.1 (`hasattr(ipywidgets, name)` there); TagsInput, Stack and
# ipywidgets.widgets.trait_types.CByteMemoryView are examples of 8-only names.
IPYWIDGETS_7_NAMES = {"Box", "Button", "Checkbox", "Dropdown", "FloatSlider", "GridBox", "HBox", "HTML", "Image",
                      "IntSlider", "Label", "Layout", "Output", "Play", "Text", "Textarea", "ToggleButton",
                      "ToggleButtons", "VBox", "jsdlink", "jslink"}


def ipywidgets_names_used(source: str) -> set[str]:
    """What a module takes from ipywidgets: `from ipywidgets... import a, b` and `alias.Name` after an import."""
    used = set()
    for module, names in re.findall(r"^\s*from\s+(ipywidgets[\w.]*)\s+import\s+\(?([\w ,]+)", source, re.M):
        used |= {f"{module}:{name.split(' as ')[0].strip()}" for name in names.split(",") if name.strip()}
    for alias in re.findall(r"^\s*import\s+ipywidgets(?:\s+as\s+(\w+))?\s*$", source, re.M):
        used |= {f"ipywidgets:{name}" for name in re.findall(rf"\b{alias or 'ipywidgets'}\.(\w+)", source)}
    return used


def test_the_package_uses_no_ipywidgets_8_only_name():
    allowed = {f"ipywidgets:{name}" for name in IPYWIDGETS_7_NAMES}
    for path in sorted((ROOT / "semanticdraw_widgets").rglob("*.py")):
        unknown = ipywidgets_names_used(path.read_text()) - allowed
        assert not unknown, (f"{path.relative_to(ROOT)} uses {sorted(unknown)} from ipywidgets: check that it "
                             f"exists in ipywidgets 7.7.1 (what Colab ships) and add it to IPYWIDGETS_7_NAMES")


def test_the_name_scan_sees_the_8_only_import_this_package_used_to_have():
    old = "from ipywidgets.widgets.trait_types import CByteMemoryView\nimport ipywidgets as w\nw.TagsInput()\n"
    assert ipywidgets_names_used(old) == {"ipywidgets.widgets.trait_types:CByteMemoryView", "ipywidgets:TagsInput"}


class Holder(traitlets.HasTraits):
    data = ByteView(b"")


@pytest.mark.parametrize("value", [b"\x01\x02\x03", bytearray(b"\x01\x02\x03"), np.array([1, 2, 3], np.uint8),
                                   memoryview(np.array([[1, 2, 3]], np.uint8)),
                                   memoryview(b"\x01\x02\x03")])
def test_byte_view_keeps_any_buffer_as_a_flat_byte_memoryview(value):
    holder = Holder(data=value)
    assert isinstance(holder.data, memoryview) and holder.data.format == "B" and holder.data.ndim == 1
    assert holder.data.tobytes() == b"\x01\x02\x03"


def test_byte_view_casts_wider_items_to_bytes_and_refuses_what_has_no_buffer():
    assert Holder(data=np.array([1], np.uint16)).data.tobytes() == np.array([1], np.uint16).tobytes()
    assert Holder().data.tobytes() == b""
    for bad in ("text", 3, None, memoryview(np.arange(8, dtype=np.uint8))[::2]):
        with pytest.raises(traitlets.TraitError):
            Holder(data=bad)

