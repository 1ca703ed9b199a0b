"""The command line renders a bundled example offline and reports bad input without a traceback."""

import subprocess
import sys

from PIL import Image

from semanticdraw_widgets.cli import main


def test_render_a_bundled_example(tmp_path, capsys):
    out = tmp_path / "demo.png"
    assert main(["render", "landscape", "-o", str(out), "--steps", "2"]) == 0
    assert Image.open(out).size == (512, 512)
    assert "wrote" in capsys.readouterr().out


def test_render_a_scene_file_with_a_seed_override(tmp_path):
    scene_file = tmp_path / "scene.json"
    scene_file.write_text('{"width": 64, "height": 64, "background": {"prompt": "white"},'
                          ' "regions": [{"prompt": "red", "mask": {"rect": [0, 0, 32, 32]}}]}')
    out = tmp_path / "nested" / "out.png"
    assert main(["render", str(scene_file), "-o", str(out), "--seed", "7"]) == 0
    assert Image.open(out).size == (64, 64)


def test_bad_input_exits_2_with_a_message(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"width": 500, "regions": []}')
    result = subprocess.run([sys.executable, "-m", "semanticdraw_widgets.cli", "render", str(bad)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "width" in result.stderr and "Traceback" not in result.stderr


def test_unknown_example_lists_the_bundled_ones(capsys):
    try:
        main(["render", "nowhere", "-o", "x.png"])
    except SystemExit as stop:
        assert stop.code == 2
    assert "landscape" in capsys.readouterr().err


def test_a_usage_error_is_one_line_that_points_at_help(capsys):
    for argv in (["render", "landscape", "--steps", "abc"], ["render"], ["paint"], []):
        try:
            main(argv)
        except SystemExit as stop:
            assert stop.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert "error:" in err and "--help" in err
