"""Files are written whole or not at all: a failed save, export or render leaves the old file, no partial
file, no temporary file and no folder it created (issue 17, item 6)."""

import os

import numpy as np
import pytest
from PIL import Image

import semanticdraw_widgets as sdw
from semanticdraw_widgets.cli import main
from semanticdraw_widgets.files import replacing, write_bytes_atomic, write_text_atomic
from semanticdraw_widgets.images import save_image_atomic

OLD = b"the old file, intact"
SCENE = ('{"width": 64, "height": 64, "background": {"prompt": "white"},'
         ' "regions": [{"prompt": "red", "mask": {"rect": [0, 0, 32, 32]}}]}')


@pytest.fixture
def failing_pillow_save(monkeypatch):
    """Pillow's save writes part of the file, then the disk fills up."""
    real_save = Image.Image.save

    def save(self, fp, format=None, **params):
        if isinstance(fp, (str, os.PathLike)):
            with open(fp, "wb") as fh:
                fh.write(b"\x89PNG half")
        else:
            fp.write(b"\x89PNG half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", save)
    yield
    monkeypatch.setattr(Image.Image, "save", real_save)


def listing(folder):
    return sorted(p.name for p in folder.iterdir())


def test_a_failed_block_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(OLD)
    with pytest.raises(RuntimeError):
        with replacing(target) as temporary:
            assert temporary.parent == tmp_path and temporary.suffix == ".bin"
            temporary.write_bytes(b"half")
            raise RuntimeError("the writer died")
    assert target.read_bytes() == OLD
    assert listing(tmp_path) == ["out.bin"]


def test_folders_made_for_a_failed_write_are_removed_and_kept_for_a_good_one(tmp_path):
    target = tmp_path / "a" / "b" / "out.bin"
    with pytest.raises(RuntimeError):
        with replacing(target):
            assert (tmp_path / "a" / "b").is_dir()
            raise RuntimeError("the writer died")
    assert listing(tmp_path) == []
    write_bytes_atomic(target, b"new")
    assert target.read_bytes() == b"new"


def test_a_folder_that_existed_before_stays(tmp_path):
    (tmp_path / "a").mkdir()
    with pytest.raises(RuntimeError):
        with replacing(tmp_path / "a" / "b" / "out.bin"):
            raise RuntimeError("the writer died")
    assert listing(tmp_path) == ["a"] and listing(tmp_path / "a") == []


def test_the_replaced_file_keeps_its_permissions(tmp_path):
    target = tmp_path / "scene.json"
    target.write_text("{}")
    target.chmod(0o640)
    write_text_atomic(target, '{"new": true}')
    assert target.read_text() == '{"new": true}'
    assert (target.stat().st_mode & 0o777) == 0o640


def test_save_image_atomic_leaves_the_old_picture_when_encoding_fails(tmp_path, failing_pillow_save):
    target = tmp_path / "picture.png"
    target.write_bytes(OLD)
    with pytest.raises(OSError):
        save_image_atomic(Image.new("RGB", (4, 4)), target)
    assert target.read_bytes() == OLD
    assert listing(tmp_path) == ["picture.png"]


def test_save_image_atomic_picks_the_format_from_the_extension(tmp_path):
    save_image_atomic(Image.new("RGB", (4, 4), "red"), tmp_path / "p.jpg")
    assert Image.open(tmp_path / "p.jpg").format == "JPEG"
    with pytest.raises(ValueError, match="unknown image extension"):
        save_image_atomic(Image.new("RGB", (4, 4)), tmp_path / "p.xyz")
    assert listing(tmp_path) == ["p.jpg"]


def test_a_render_that_fails_creates_no_folders(tmp_path, monkeypatch):
    def out_of_memory(*args, **kwargs):
        raise MemoryError("the model ran out of memory")

    monkeypatch.setattr(sdw, "generate", out_of_memory)
    scene_file = tmp_path / "scene.json"
    scene_file.write_text(SCENE)
    out = tmp_path / "new" / "deeper" / "out.png"
    with pytest.raises(SystemExit) as stop:
        main(["render", str(scene_file), "-o", str(out)])
    assert stop.value.code == 2
    assert listing(tmp_path) == ["scene.json"]


def test_an_unwritable_output_is_refused_before_the_render(tmp_path, capsys):
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(SystemExit) as stop:
        main(["render", "landscape", "-o", str(tmp_path / "a-file" / "sub" / "out.png")])
    assert stop.value.code == 2
    assert "cannot write there" in capsys.readouterr().err
    assert listing(tmp_path) == ["a-file"]


def test_a_render_whose_write_fails_leaves_the_old_png_and_no_debris(tmp_path, failing_pillow_save, capsys):
    scene_file = tmp_path / "scene.json"
    scene_file.write_text(SCENE)
    out = tmp_path / "out.png"
    out.write_bytes(OLD)
    with pytest.raises(SystemExit) as stop:
        main(["render", str(scene_file), "-o", str(out)])
    assert stop.value.code == 2
    assert "could not write the image" in capsys.readouterr().err
    assert out.read_bytes() == OLD
    assert listing(tmp_path) == ["out.png", "scene.json"]


def test_a_render_into_new_folders_makes_them(tmp_path):
    scene_file = tmp_path / "scene.json"
    scene_file.write_text(SCENE)
    out = tmp_path / "new" / "deeper" / "out.png"
    assert main(["render", str(scene_file), "-o", str(out)]) == 0
    assert Image.open(out).size == (64, 64)
    assert listing(out.parent) == ["out.png"]


def test_export_png_leaves_the_old_file_when_the_write_fails(tmp_path, monkeypatch, toy):
    from semanticdraw_widgets.widgets.canvas import SemanticDrawCanvas

    canvas = SemanticDrawCanvas(toy, width=64, height=64)
    monkeypatch.setattr(SemanticDrawCanvas, "image", property(lambda self: Image.new("RGB", (64, 64), "blue")))
    target = tmp_path / "export.png"
    target.write_bytes(OLD)

    def broken_save(self, fp, format=None, **params):
        fp.write(b"\x89PNG half") if not isinstance(fp, (str, os.PathLike)) else open(fp, "wb").write(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError):
        canvas.export_png(target)
    assert target.read_bytes() == OLD and listing(tmp_path) == ["export.png"]
    monkeypatch.undo()
    monkeypatch.setattr(SemanticDrawCanvas, "image", property(lambda self: Image.new("RGB", (64, 64), "blue")))
    canvas.export_png(target)
    assert np.asarray(Image.open(target))[0, 0].tolist() == [0, 0, 255]
    canvas.close()


def test_save_animation_leaves_the_old_gif_when_encoding_fails(tmp_path, failing_pillow_save, toy):
    trace = sdw.generate(toy, sdw.Scene.from_json(SCENE), steps=2, trace=True)[1]
    target = tmp_path / "steps.gif"
    target.write_bytes(OLD)
    with pytest.raises(OSError):
        trace.save_animation(target)
    assert target.read_bytes() == OLD and listing(tmp_path) == ["steps.gif"]


def test_save_animation_writes_an_mp4_through_a_temporary_file_with_its_extension(tmp_path, toy):
    pytest.importorskip("imageio_ffmpeg")
    trace = sdw.generate(toy, sdw.Scene.from_json(SCENE), steps=2, trace=True)[1]
    target = tmp_path / "steps.mp4"
    trace.save_animation(target)
    assert target.stat().st_size > 0 and listing(tmp_path) == ["steps.mp4"]
    assert target.read_bytes()[4:8] == b"ftyp"  # an MP4 container, chosen by the temporary name's extension
