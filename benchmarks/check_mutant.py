"""Apply one mutmut mutant to a scratch copy of the package and run the given tests against it.

    python benchmarks/check_mutant.py NAME [pytest arguments ...]
    python benchmarks/check_mutant.py semanticdraw_widgets.engine.masks.x_blur_masks__mutmut_11 tests/test_rules_engine.py

Prints ``killed`` (the tests fail with the mutant in place) or ``SURVIVES`` and exits 0 / 1. It is how the
survivors of a run were checked against the tests written for them (benchmarks/results/mutation.md: "killed by
new tests") without rerunning mutmut, whose rerun of a survivor takes every test that calls its function.
Needs the ``mutants/`` folder of a run (``mutmut show NAME`` gives the mutant's diff).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def mutant_diff(name: str) -> list[str]:
    shown = subprocess.run([sys.executable, "-m", "mutmut", "show", name], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout
    return shown.splitlines()


def apply_mutant(name: str, diff: list[str], root: Path) -> None:
    """Replace the mutated lines inside the mutated function of ``root``'s copy of the module.

    ``mutmut show`` prints the function dedented to column 0, so its lines are re-indented like the ``def``.
    """
    head, _, _ = name.rpartition("__mutmut_")
    module, _, mangled = head.rpartition(".")
    function = mangled.split("ǁ")[-1] if "ǁ" in mangled else mangled.removeprefix("x_")
    path = root / (module.replace(".", os.sep) + ".py")
    source = path.read_text().splitlines()
    start = next(i for i, line in enumerate(source) if re.match(rf"\s*(async )?def {re.escape(function)}\(", line))
    pad = source[start][: len(source[start]) - len(source[start].lstrip())]
    removed = [pad + line[1:] for line in diff if line.startswith("-") and not line.startswith("---")]
    added = [pad + line[1:] for line in diff if line.startswith("+") and not line.startswith("+++")]
    for i in range(start, len(source)):
        if source[i:i + len(removed)] == removed:
            source[i:i + len(removed)] = added
            path.write_text("\n".join(source) + "\n")
            return
    raise SystemExit(f"could not find the lines {name} changes in {path}")


def main() -> int:
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    name, tests = sys.argv[1], sys.argv[2:] or ["tests"]
    with tempfile.TemporaryDirectory() as scratch:
        scratch_root = Path(scratch)
        for part in ("semanticdraw_widgets", "tests"):
            shutil.copytree(ROOT / part, scratch_root / part, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy2(ROOT / "pyproject.toml", scratch_root)
        env = dict(os.environ, PYTHONPATH=scratch, HF_HUB_OFFLINE="1")
        command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests]
        # a test that fails without the mutant would "kill" every mutant: the tests must pass first
        if subprocess.run(command, cwd=scratch, env=env, capture_output=True).returncode != 0:
            raise SystemExit(f"the tests fail without the mutant: fix them first ({' '.join(tests)})")
        apply_mutant(name, mutant_diff(name), scratch_root)
        result = subprocess.run(command, cwd=scratch, env=env, capture_output=True)
    survived = result.returncode == 0
    print(f"{'SURVIVES' if survived else 'killed'} {name}")
    return 1 if survived else 0


if __name__ == "__main__":
    raise SystemExit(main())
