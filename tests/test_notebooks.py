"""The shipped notebooks run top to bottom in a real kernel (Python side only; the browser tests draw)."""

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
# files a notebook writes into its working folder, checked after it ran (notebooks not listed write none)
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
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert not [cell for cell in code if cell.get("outputs") or cell.get("execution_count")], \
        "commit notebooks with their outputs cleared"
    nbclient.NotebookClient(notebook, timeout=180, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in code for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) or "image/gif" in o.get("data", {}) for o in outputs), \
        "the notebook shows a picture"
    for name in WRITES.get(path.name, []):
        assert (tmp_path / name).stat().st_size > 0, f"{path.name} should write {name}"
