"""Scene and palette files from hostile or careless sources: devices, FIFOs, bombs, unencodable text."""

import base64
import io
import json
import os
import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import semanticdraw_widgets as sdw
from semanticdraw_widgets.scene import SceneError
from semanticdraw_widgets.scene_json import MASK_FILE_EXTRA_CANVASES
from semanticdraw_widgets.widgets.palette import PaletteError


def _png_data_url(side: int) -> str:
    out = io.BytesIO()
    Image.new("L", (side, side), 0).save(out, "PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def _scene_text(mask_url: str, regions: int, side: int = 512) -> str:
    return json.dumps({"width": side, "height": side, "background": {"prompt": "sky"},
                       "regions": [{"prompt": "red", "mask": mask_url} for _ in range(regions)]})


def test_many_huge_blank_masks_in_a_scene_file_are_refused_before_they_add_up():
    # 100 regions whose mask is the same 4096x4096 blank PNG: 16 KB each in the file, 2 GB as masks
    text = _scene_text(_png_data_url(4096), 100)
    assert len(text) < 3_000_000
    tracemalloc.start()
    try:
        with pytest.raises(SceneError, match=r"regions\[\d+\]\.mask: the scene file's masks together decode to more "
                                              r"than 64 canvases.*store masks at the canvas size \(512x512\)"):
            sdw.Scene.from_json(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # one 4096² float32 mask (64 MiB) and its 8-bit image at a time, never the 100 of them
    assert peak < 200 * 2**20


def test_a_few_high_resolution_masks_still_load_and_are_fitted_to_the_canvas():
    regions = 4  # 4 masks at 4x the resolution per side fit the allowance
    assert regions * 16 <= regions + MASK_FILE_EXTRA_CANVASES
    scene = sdw.Scene.from_json(_scene_text(_png_data_url(2048), regions))
    assert [r.mask.shape for r in scene.regions] == [(512, 512)] * regions


def test_the_allowance_counts_every_region_at_canvas_size():
    # 200 regions at canvas size: far more pixels than 64 extra canvases, and all fine
    scene = sdw.Scene.from_json(_scene_text(_png_data_url(64), 200, side=64))
    assert len(scene.regions) == 200


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_scene_load_refuses_a_device_instead_of_reading_it_forever():
    with pytest.raises(SceneError, match=r"/dev/zero: not a regular file"):
        sdw.Scene.load("/dev/zero")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_scene_load_and_import_palette_refuse_a_fifo_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def load() -> None:
        try:
            sdw.Scene.load(fifo)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(timeout=60)  # a generous bound for a loaded machine; a blocking open never returns
    if worker.is_alive():  # unblock the reader so the thread ends, then fail
        with open(fifo, "w"):
            pass
        pytest.fail("Scene.load blocked on a FIFO")
    assert isinstance(outcome[0], SceneError) and "not a regular file" in str(outcome[0])


def test_import_palette_refuses_a_device():
    canvas = sdw.SemanticDrawCanvas(sdw.load_backend("toy"), width=64, height=64)
    before = canvas.export_palette()
    with pytest.raises(PaletteError, match=r"/dev/zero: not a regular file"):
        canvas.import_palette(Path("/dev/zero"))
    assert canvas.export_palette() == before
    canvas.close()


def test_import_palette_refuses_an_oversized_file(tmp_path, monkeypatch):
    from semanticdraw_widgets.widgets import canvas as canvas_module
    monkeypatch.setattr(canvas_module, "MAX_PALETTE_FILE_BYTES", 100)
    path = tmp_path / "big.json"
    path.write_text("{" + " " * 200 + "}")
    canvas = sdw.SemanticDrawCanvas(sdw.load_backend("toy"), width=64, height=64)
    with pytest.raises(PaletteError, match=r"more than 100 bytes is too large for a palette file"):
        canvas.import_palette(path)
    canvas.close()


def test_a_lone_surrogate_is_refused_at_the_door_naming_the_field():
    with pytest.raises(SceneError, match=r"background\.prompt.*unpaired surrogate U\+D800 at character 0"):
        sdw.Scene.from_json('{"width": 64, "height": 64, "background": {"prompt": "\\ud800"}}')
    with pytest.raises(SceneError, match=r"negative_prompt.*unpaired surrogate U\+DC00 at character 3"):
        sdw.Region(prompt="red", negative_prompt="abc\udc00", mask=np.ones((8, 8), bool))


def test_save_never_empties_an_existing_file(tmp_path, monkeypatch):
    path = tmp_path / "existing.json"
    path.write_text("previous content")
    scene = sdw.Scene(width=64, height=64, background=sdw.Background(prompt="sky"))

    def broken_dumps(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(sdw.Scene, "to_json", broken_dumps)
    with pytest.raises(RuntimeError):
        scene.save(path)
    assert path.read_text() == "previous content"
    assert [p.name for p in tmp_path.iterdir()] == ["existing.json"]  # no temporary file left behind
    monkeypatch.undo()
    scene.save(path)
    assert sdw.Scene.load(path) == scene


def test_a_new_file_gets_the_usual_mode_not_the_temporary_files_private_one(tmp_path):
    from semanticdraw_widgets.files import _umask
    path = tmp_path / "new.json"
    sdw.Scene(width=64, height=64, background=sdw.Background(prompt="sky")).save(path)
    assert path.stat().st_mode & 0o777 == 0o666 & ~_umask()


def test_save_keeps_the_mode_of_the_file_it_replaces(tmp_path):
    path = tmp_path / "shared.json"
    path.write_text("{}")
    path.chmod(0o640)
    sdw.Scene(width=64, height=64, background=sdw.Background(prompt="sky")).save(path)
    assert path.stat().st_mode & 0o777 == 0o640


def _peak_bytes_loading(text: str) -> int:
    tracemalloc.start()
    try:
        sdw.Scene.from_json(text)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_masks_are_fitted_to_the_canvas_one_at_a_time():
    # a 2048² float32 mask is 16 MiB; holding three of them at once would add 32 MiB to the peak
    url = _png_data_url(2048)
    one, three = _peak_bytes_loading(_scene_text(url, 1)), _peak_bytes_loading(_scene_text(url, 3))
    assert three - one < 12 * 2**20
