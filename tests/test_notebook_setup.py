"""The first cell of every notebook: the same text everywhere, harmless off Colab, and on Colab (faked here)
it turns on the widget manager, refuses to go on with stale widget modules, and says what a GPU will download."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

from semanticdraw_widgets import notebook as nbsetup
from semanticdraw_widgets.notebook import GPU_MODEL, GPU_MODEL_DOWNLOAD_GB, OUTPUT_ENV, setup_notebook

nbformat = pytest.importorskip("nbformat")
ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def first_code_cell(path: Path) -> str:
    return next(cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code")


def test_every_notebook_starts_with_the_same_setup_cell():
    assert len(NOTEBOOKS) == 7
    cells = {path.name: first_code_cell(path) for path in NOTEBOOKS}
    assert len(set(cells.values())) == 1, "the first code cell differs: " + ", ".join(cells)
    cell = next(iter(cells.values()))
    assert "%pip install" in cell and "setup_notebook()" in cell and "MODEL, OUT" in cell


def colab_badge(notebook: str) -> str:
    """The badge for a notebook, for the repository named once in pyproject.toml's [project.urls]."""
    tomllib = pytest.importorskip("tomllib")
    url = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
    repo = url.removeprefix("https://github.com/").strip("/")
    assert repo.count("/") == 1 and url.startswith("https://github.com/"), url
    return ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"(https://colab.research.google.com/github/{repo}/blob/main/notebooks/{notebook})")


COLAB_LINK = re.compile(r"https://colab\.research\.google\.com/github/[^)\s]+")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_every_notebook_opens_itself_in_colab_from_its_first_cell(path):
    first = nbformat.read(path, as_version=4).cells[0]
    assert first.cell_type == "markdown"
    assert colab_badge(path.name) in first.source, f"{path.name}: put this line in its first cell:\n" + \
        colab_badge(path.name)
    links = {link for cell in nbformat.read(path, as_version=4).cells for link in COLAB_LINK.findall(cell.source)}
    assert links == {COLAB_LINK.search(colab_badge(path.name)).group(0)}, links  # no link to another notebook


def test_the_readme_has_a_colab_badge_that_opens_a_notebook_that_exists():
    readme = (ROOT / "README.md").read_text()
    links = COLAB_LINK.findall(readme)
    assert links, "no Open in Colab badge in the README"
    for link in links:
        name = link.rsplit("/notebooks/", 1)[-1]
        assert (ROOT / "notebooks" / name).is_file() and colab_badge(name) in readme, link


# Runs the first cell's text in IPython (its %pip line included) in a fresh process, with %pip recorded instead
# of run, as if the package were not installed yet; "colab" also fakes google.colab.
PROBE = """
import importlib.util, json, sys, types
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
pip_lines, enabled = [], []
shell.register_magic_function(pip_lines.append, "line", "pip")
if sys.argv[1] == "colab":
    colab = types.ModuleType("google.colab")
    colab.output = types.SimpleNamespace(enable_custom_widget_manager=lambda: enabled.append(True))
    sys.modules["google"] = types.ModuleType("google")
    sys.modules["google"].colab = colab
    sys.modules["google.colab"] = colab
# in both modes the package looks missing (off Colab the cell must not install it even then)
real_find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, *a: None if name == "semanticdraw_widgets" else real_find_spec(name, *a)
result = shell.run_cell(sys.stdin.read())
ns = shell.user_ns
print(json.dumps({"ok": result.success, "model": ns.get("MODEL"), "out": str(ns.get("OUT")), "pip": pip_lines,
                  "widget_manager": enabled}))
"""


def run_setup_cell(tmp_path: Path, mode: str) -> tuple[dict, list[str], str]:
    env = {**os.environ, OUTPUT_ENV: str(tmp_path / "out"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", PROBE, mode], input=first_code_cell(NOTEBOOKS[0]), cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    *printed, last = done.stdout.strip().splitlines()
    return json.loads(last), printed, done.stderr


def test_setup_cell_is_a_no_op_off_colab(tmp_path):
    result, printed, stderr = run_setup_cell(tmp_path, "local")
    assert result == {"ok": True, "model": "toy", "out": str(tmp_path / "out"), "pip": [], "widget_manager": []}
    assert any("MODEL = 'toy'" in line for line in printed) and not stderr.strip(), stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # nothing written where the notebook runs


def test_setup_cell_on_colab_installs_the_missing_package_and_enables_widgets(tmp_path):
    result, printed, stderr = run_setup_cell(tmp_path, "colab")
    assert result["ok"], stderr
    assert result["pip"] == ["install --quiet semanticdraw_widgets"]  # no wheel uploaded to /content here
    assert result["widget_manager"] == [True] and result["model"] == "toy"


class FakeCuda:
    def __init__(self, available: bool):
        self.available = available

    def is_available(self) -> bool:
        return self.available

    def get_device_name(self, index: int) -> str:
        return "Tesla T4"


@pytest.fixture
def fake_torch(monkeypatch):
    def use(gpu: bool):
        monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(cuda=FakeCuda(gpu)))
    return use


@pytest.fixture
def fake_colab(monkeypatch):
    calls = []
    output = types.SimpleNamespace(enable_custom_widget_manager=lambda: calls.append("enabled"))
    colab = types.ModuleType("google.colab")
    colab.output = output
    google = types.ModuleType("google")
    google.colab = colab
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    return calls


def test_no_gpu_falls_back_to_the_toy_and_says_why(fake_torch, tmp_path, monkeypatch, capsys):
    fake_torch(False)
    monkeypatch.setenv(OUTPUT_ENV, str(tmp_path))
    setup = setup_notebook()
    assert setup.model == "toy" and setup.out == tmp_path
    assert "no GPU" in capsys.readouterr().out


def test_gpu_names_the_download_size_before_any_download(fake_torch, tmp_path, monkeypatch, capsys):
    """The first cell only looks in the (here empty) Hugging Face cache: it says the size and writes nothing."""
    hf_constants = pytest.importorskip("huggingface_hub.constants")
    fake_torch(True)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(cache))  # what the real _cached looks in
    monkeypatch.setenv(OUTPUT_ENV, str(tmp_path / "out"))
    setup = setup_notebook()
    printed = capsys.readouterr().out
    assert setup.model == GPU_MODEL
    assert f"downloads about {GPU_MODEL_DOWNLOAD_GB} GB" in printed and "Tesla T4" in printed
    assert not any(cache.iterdir()), "the set-up cell put something into the Hugging Face cache"


def test_gpu_offline_uses_the_toy_unless_cached(fake_torch, tmp_path, monkeypatch):
    fake_torch(True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv(OUTPUT_ENV, str(tmp_path))
    monkeypatch.setattr(nbsetup, "_cached", lambda repo: False)
    assert setup_notebook(verbose=False).model == "toy"
    monkeypatch.setattr(nbsetup, "_cached", lambda repo: True)
    assert setup_notebook(verbose=False).model == GPU_MODEL


def test_output_folder_defaults_to_a_fresh_temporary_one(fake_torch, monkeypatch):
    fake_torch(False)
    monkeypatch.delenv(OUTPUT_ENV, raising=False)
    first, second = setup_notebook(verbose=False).out, setup_notebook(verbose=False).out
    assert first != second and first.is_dir() and "semanticdraw_" in first.name
    assert Path.cwd() not in first.parents


def test_on_colab_the_widget_manager_is_enabled(fake_colab, fake_torch, tmp_path, monkeypatch):
    fake_torch(False)
    monkeypatch.setenv(OUTPUT_ENV, str(tmp_path))
    setup_notebook(verbose=False)
    assert fake_colab == ["enabled"]


def test_on_colab_an_upgraded_ipywidgets_asks_for_a_restart(fake_colab, fake_torch, tmp_path, monkeypatch):
    """Colab imports ipywidgets at start-up; an install that replaced it on disk (a user's own pin, say) leaves
    the old module in use. (Our own requirements accept Colab's 7.7.1: tests/test_colab_compat.py.)"""
    fake_torch(False)
    monkeypatch.setenv(OUTPUT_ENV, str(tmp_path))
    import ipywidgets
    monkeypatch.setattr(ipywidgets, "__version__", "7.6.0")  # installed here: 7.7.1 or 8.x, never 7.6.0
    with pytest.raises(RuntimeError, match=r"ipywidgets 7\.6\.0 is loaded but .* restart the session"):
        setup_notebook(verbose=False)
    assert fake_colab == []  # nothing half-done: the widget manager waits for the restarted session
