"""The package installs anywhere: the sdist carries the built JavaScript, so a wheel built from it needs no
Node, and that wheel, installed outside the checkout, imports and finds its bundled widget.

Needs `build`, `hatchling` and `hatch-jupyter-builder` in the environment (the test extra) and the bundle built
(`npm --prefix js run build`, or `pip install -e .`). Offline: nothing is downloaded (no build isolation,
`--no-deps`). Run alone with `python -m pytest -q tests/test_packaging.py` (about 15 s).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("build")
pytest.importorskip("hatchling")
pytest.importorskip("hatch_jupyter_builder")

ROOT = Path(__file__).resolve().parents[1]
STATIC = ("semanticdraw_widgets/widgets/static/widget.js", "semanticdraw_widgets/widgets/static/widget.css")


def _no_node_env(tmp: Path) -> dict[str, str]:
    """An environment whose PATH holds this Python and nothing else: no node, no npm."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name in ("python", "python3"):
        link = bin_dir / name
        if not link.exists():
            link.symlink_to(sys.executable)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = str(bin_dir)
    env["PIP_NO_INDEX"] = "1"
    return env


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(map(str, args))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> dict[str, Path]:
    if not all((ROOT / path).is_file() for path in STATIC):
        pytest.skip("the widget bundle is not built: run `npm --prefix js run build` (or pip install -e .)")
    tmp = tmp_path_factory.mktemp("dist")
    env = _no_node_env(tmp)
    # The sdist from the checkout (its bundle already built), then the wheel from the unpacked sdist, as pip
    # does when it installs an sdist: with no node on PATH, an npm step would fail this build.
    _run([sys.executable, "-m", "build", "--sdist", "--no-isolation", "-o", str(tmp), str(ROOT)], ROOT, env)
    (sdist,) = tmp.glob("semanticdraw_widgets-*.tar.gz")
    with tarfile.open(sdist) as archive:
        # (the "data" filter where this Python has it: 3.10.12+, 3.11.4+)
        archive.extractall(tmp / "src", **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    (source,) = (tmp / "src").iterdir()
    log = _run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "-o", str(tmp), str(source)], source, env)
    assert "Skip-if-exists file(s) found" in log, log[-2000:]
    (wheel,) = tmp.glob("semanticdraw_widgets-*.whl")
    return {"sdist": sdist, "wheel": wheel, "tmp": tmp}


def test_sdist_carries_the_built_javascript(dists):
    with tarfile.open(dists["sdist"]) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for path in STATIC:
        assert path in names, f"{path} is missing from the sdist: installing it would need Node"
    assert not [n for n in names if n.startswith("js/node_modules/")]
    assert not [n for n in names if n.startswith("notebooks/") and not n.endswith(".ipynb")], \
        "files a notebook wrote must not ship"


def test_wheel_installs_and_imports_without_node(dists):
    tmp = dists["tmp"]
    env = _no_node_env(tmp)
    target = tmp / "site"
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target", str(target),
          str(dists["wheel"])], tmp, env)
    # The installed copy, not the checkout: run outside the repository with only the target added to the path.
    env["PYTHONPATH"] = str(target)
    out = _run([sys.executable, "-c", (
        "import pathlib, semanticdraw_widgets as s\n"
        "from semanticdraw_widgets.widgets.canvas import SemanticDrawCanvas as C\n"
        "print(pathlib.Path(s.__file__).resolve())\n"
        "esm = pathlib.Path(s.__file__).parent / 'widgets' / 'static' / 'widget.js'\n"
        "assert esm.is_file() and esm.stat().st_size > 10000, esm\n"
        "assert str(C._esm) == esm.read_text() and 'export' in str(C._esm), 'the widget loads the bundle'\n"
        "assert (esm.parent / 'widget.css').is_file()\n"
        "print('ok', esm.stat().st_size)\n")], tmp, env)
    assert str(target.resolve()) in out, out
    assert "ok" in out


def test_twine_check_is_clean(dists):
    pytest.importorskip("twine")
    out = _run([sys.executable, "-m", "twine", "check", "--strict", str(dists["sdist"]), str(dists["wheel"])],
               dists["tmp"], _no_node_env(dists["tmp"]))
    assert out.count("PASSED") == 2, out
