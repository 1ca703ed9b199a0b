"""The shipped notebooks run top to bottom in a real kernel (Python side only; the browser tests draw)."""

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
# files a notebook writes into its output folder OUT (from its first cell), checked after it ran; nothing may
# land in its working folder (a notebook run from notebooks/ would leave files in the repository)
WRITES = {
    "01_quickstart.ipynb": ["semanticdraw.png"],
    "02_regional_denoising_step_by_step.ipynb": ["denoise.gif"],
    "03_colab_demo.ipynb": ["colab_demo.png"],
    "04_inpainting.ipynb": ["semanticdraw.png"],
    "05_why_semanticdraw.ipynb": ["semanticdraw.png"],
    "06_programmatic_scenes.ipynb": ["my_scene.json", "renders.png"],
}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out, cwd = tmp_path / "out", tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.setenv("SEMANTICDRAW_NOTEBOOK_OUT", str(out))
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert not [cell for cell in code if cell.get("outputs") or cell.get("execution_count")], \
        "commit notebooks with their outputs cleared"
    # A canvas the notebook showed is still live after Run All (a stopped one shows a blank picture)
    probe = None
    if any("SemanticDrawCanvas(" in cell.source for cell in code):
        probe = nbformat.v4.new_code_cell('print("canvas running:", canvas.running)')
        notebook.cells.append(probe)
    nbclient.NotebookClient(notebook, timeout=180, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd)}}).execute()
    if probe is not None:
        assert [o.get("text") for o in probe.outputs] == ["canvas running: True\n"], probe.outputs
    outputs = [o for cell in code for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    # a warning prints pink in Jupyter and reads as an error to a student: a shipped example must not raise one
    assert not [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert any("image/png" in o.get("data", {}) or "image/gif" in o.get("data", {}) for o in outputs), \
        "the notebook shows a picture"
    for name in WRITES.get(path.name, []):
        assert (out / name).stat().st_size > 0, f"{path.name} should write {name} into OUT"
    assert not list(cwd.iterdir()), f"{path.name} wrote into its own folder: {sorted(p.name for p in cwd.iterdir())}"
