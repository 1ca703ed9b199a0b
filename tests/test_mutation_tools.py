"""The mutation-testing helpers in benchmarks/: the seeded sample, its interval, and applying one mutant."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import check_mutant  # noqa: E402
import run_mutation  # noqa: E402


def test_a_shown_mutant_is_applied_inside_its_own_method_reindented(tmp_path):
    module = tmp_path / "pkg" / "mod.py"
    module.parent.mkdir()
    module.write_text("def other():\n    x = False\n\n\nclass Core:\n    def stop(self):\n        x = False\n"
                      "        return x\n")
    diff = ["# pkg.mod.xǁCoreǁstop__mutmut_1: survived", "--- pkg/mod.py", "+++ pkg/mod.py", "@@ -1,3 +1,3 @@",
            " def stop(self):", "-    x = False", "+    x = None", "     return x"]
    check_mutant.apply_mutant("pkg.mod.xǁCoreǁstop__mutmut_1", diff, tmp_path)
    assert module.read_text().splitlines()[1:7] == ["    x = False", "", "", "class Core:", "    def stop(self):",
                                                     "        x = None"], "the function's line, not the first match"


def test_the_killed_shares_interval_is_wilsons():
    assert run_mutation.wilson(60, 60) == "94.0-100.0"
    assert run_mutation.wilson(45, 50) == "78.6-95.7"
