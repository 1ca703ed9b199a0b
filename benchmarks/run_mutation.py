"""Mutation testing of the rule-bearing modules: run mutmut, then summarise killed/survived per module.

    python benchmarks/run_mutation.py                       # every module in [tool.mutmut] only_mutate
    python benchmarks/run_mutation.py engine.masks images   # only these modules' mutants
    python benchmarks/run_mutation.py --pending images      # only the mutants not checked yet
    python benchmarks/run_mutation.py --recheck images      # only the survivors (after new tests)
    python benchmarks/run_mutation.py --report-only         # summarise the last run (mutants/*.meta)
    python benchmarks/run_mutation.py --sample 80 engine.plan   # 80 of its mutants drawn at random (--seed)

mutmut (pinned in the test extras) copies the package to mutants/ (gitignored), mutates the files listed
in pyproject.toml's [tool.mutmut] only_mutate, runs the listed fast test files once instrumented to learn
which tests call which function, then runs each mutant against only those tests, its own module's test
files first and fastest first (``test_order``). Results are kept in mutants/, but mutmut retests every
mutant a module pattern names: ``--pending`` names only the unchecked ones, ``--recheck`` only the
survivors. Show one mutant with ``mutmut show NAME``.
The summary (markdown, per module) goes to stdout; benchmarks/results/mutation.md is written by hand
from it, with notes on every survivor.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "semanticdraw_widgets"
# mutmut's exit-code meanings (mutmut.stats.status_by_exit_code), folded into the report's columns
KILLED = {1: "killed", 3: "killed", 36: "timeout", -24: "timeout", 24: "timeout", 152: "timeout", 255: "timeout",
          -11: "killed", -9: "killed", 37: "killed"}
OTHER = {0: "survived", 5: "no tests", 33: "no tests", 34: "skipped", None: "not checked"}


def pending_mutants(modules: list[str], survivors: bool) -> list[str]:
    """The modules' mutants the last runs left unchecked (or, with ``survivors``, those that survived).

    mutmut reruns every mutant a pattern names, so after a first run the explicit names are what keeps a
    rerun to the work left (new tests count: a survivor named here is tested again with them).
    """
    wanted = {0, 5, 33} if survivors else {None}
    names = []
    for meta in sorted((ROOT / "mutants" / PACKAGE).rglob("*.py.meta")):
        for key, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            if code in wanted and any(key.startswith(f"{PACKAGE}.{module}.") for module in modules):
                names.append(key)
    return names


def sampled_mutants(modules: list[str], size: int, seed: int) -> list[str]:
    """``size`` mutants of each module drawn uniformly at random (seeded), among those not checked yet.

    For the modules whose every mutant would take hours here (each survivor reruns 100+ toy generates): the
    killed share of a uniform sample estimates the module's score; the report gives its 95% interval.
    """
    names = []
    for module in modules:
        path = ROOT / "mutants" / PACKAGE / (module.replace(".", os.sep) + ".py.meta")
        codes = json.loads(path.read_text())["exit_code_by_key"]
        everything = sorted(codes)  # the draw depends only on the seed and the module's mutants
        drawn = random.Random(f"{seed}:{module}").sample(everything, min(size, len(everything)))
        names += [name for name in drawn if codes[name] is None]
    return names


def run_mutmut(modules: list[str], children: int, names: list[str] | None = None) -> int:
    names = names or [f"{PACKAGE}.{module}.*" for module in modules]
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    env.pop("PYTHONPATH", None)  # mutmut puts mutants/ first itself; the real package must not shadow it
    return subprocess.call([sys.executable, __file__, "--exec-mutmut", "run", "--max-children", str(children),
                            *names], cwd=ROOT, env=env)


# The test files that test a module directly, tried first for its mutants (the default is every test file whose
# name holds the module's own name: engine.masks -> tests/test_masks.py, tests/test_rules_masks.py ...).
FOCUSED_TESTS = {
    "fields": ("test_fields", "test_validation_rules"),
    "validation": ("test_validation",),
    "widgets.protocol": ("test_protocol",),
    "runtime.core": ("test_session_core", "test_rules_runtime"),
    "runtime.flow": ("test_session_core", "test_rules_runtime"),
    "runtime.session": ("test_session", "test_rules_runtime"),
    "images": ("test_images", "test_rules_images"),
    "engine.masks": ("test_masks", "test_rules_engine"),
    "engine.regional": ("test_regional", "test_rules_engine"),
    "engine.plan": ("test_rules_engine", "test_generate_toy", "test_pruning"),
    "engine.pruning": ("test_pruning",),
    "engine.stream": ("test_stream",),
    "engine.conditioning": ("test_rules_engine",),
    "engine.sampler": ("test_rules_engine", "test_samplers", "test_generate_toy"),
    "engine.generate": ("test_generate_toy", "test_rules_engine", "test_nonfinite_output"),
    "engine.trace": ("test_rules_trace", "test_trace"),
}


def is_focused(mutant_name: str, test: str) -> bool:
    """Whether ``test`` is in one of the test files of the mutated module (see FOCUSED_TESTS)."""
    module = mutant_name.split(".x_")[0].split(".xǁ")[0].removeprefix(f"{PACKAGE}.")
    focused = FOCUSED_TESTS.get(module, (f"test_{module.rsplit('.', 1)[-1]}",))
    return test.split("::", 1)[0].rsplit("/", 1)[-1].startswith(focused)


def test_order(mutant_name: str, tests: list[str], durations: dict[str, float]) -> list[str]:
    """The mutant's tests, those of its module's own test files first, each group fastest first."""
    return sorted(tests, key=lambda test: (not is_focused(mutant_name, test), durations.get(test, 0.0), test))


def exec_mutmut(argv: list[str]) -> None:
    """``mutmut argv...`` with each mutant's own module's tests first, fastest first (see ``test_order``).

    mutmut hands pytest a mutant's tests in set order and stops at the first failure (``-x``), so a mutant
    that only the quick unit tests kill used to wait behind hundreds of toy generates and subprocess tests
    (a checker such as ``check_field`` is called by 330 tests). The same tests run either way and a
    survivor still runs all of them; only the order changes, which the suite allows (it passes in any
    order). Measured on the shared 2-core machine: see benchmarks/results/mutation.md.
    """
    from mutmut.__main__ import cli
    from mutmut.runners.harness import PytestRunner
    from mutmut.state import state
    from mutmut.workers.isolation import ForkServerRunner

    submit = ForkServerRunner.submit

    def fastest_first(self, mutant_name, tests, cpu_time_limit, estimated_time):  # noqa: ANN001, ANN202
        ordered = test_order(mutant_name, tests, state().duration_by_test)
        return submit(self, mutant_name, ordered, cpu_time_limit, estimated_time)

    ForkServerRunner.submit = fastest_first

    run_tests = PytestRunner.run_tests

    def focused_first(self, *, mutant_name, tests):  # noqa: ANN001, ANN202
        # pytest collects every test it is given before running the first, and on this shared machine that
        # collection (330 tests for a checker) cost more than the test that kills the mutant. So the module's
        # own test files run alone first; only a mutant they all pass runs the rest of its tests.
        tests = list(tests)
        focused = [test for test in tests if is_focused(mutant_name or "", test)]
        if not focused or len(focused) == len(tests):
            return run_tests(self, mutant_name=mutant_name, tests=tests)
        exit_code = run_tests(self, mutant_name=mutant_name, tests=focused)
        if exit_code != 0:
            return exit_code
        return run_tests(self, mutant_name=mutant_name, tests=[test for test in tests if test not in focused])

    PytestRunner.run_tests = focused_first
    cli(args=argv, prog_name="mutmut")


def wilson(killed: int, checked: int, z: float = 1.96) -> str:
    """The 95% Wilson interval of a killed share measured on a uniform sample (``--sample``)."""
    p = killed / checked
    centre = (p + z * z / (2 * checked)) / (1 + z * z / checked)
    half = z * ((p * (1 - p) + z * z / (4 * checked)) / checked) ** 0.5 / (1 + z * z / checked)
    return f"{100 * (centre - half):.1f}-{100 * (centre + half):.1f}"


def summarise(modules: list[str]) -> str:
    rows = []
    totals: Counter = Counter()
    for meta in sorted((ROOT / "mutants" / PACKAGE).rglob("*.py.meta")):
        module = str(meta.relative_to(ROOT / "mutants" / PACKAGE))[: -len(".py.meta")].replace(os.sep, ".")
        if modules and not any(module == m or module.startswith(m + ".") for m in modules):
            continue
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        counts = Counter(KILLED.get(code) or OTHER.get(code, "suspicious") for code in codes.values())
        if not codes or counts["not checked"] == len(codes):
            continue
        totals.update(counts)
        rows.append((module, counts))
    lines = ["| module | mutants | killed | timeout | survived | no tests | not checked | killed % | 95% interval |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for module, c in rows + [("**all**", totals)]:
        checked = c["killed"] + c["timeout"] + c["survived"] + c["no tests"]
        score = f"{100 * (c['killed'] + c['timeout']) / checked:.1f}" if checked else "-"
        interval = wilson(c["killed"] + c["timeout"], checked) if checked and c["not checked"] else "(all checked)"
        lines.append(f"| {module} | {sum(c.values())} | {c['killed']} | {c['timeout']} | {c['survived']} | "
                     f"{c['no tests']} | {c['not checked']} | {score} | {interval} |")
    survivors = [key for meta in sorted((ROOT / "mutants" / PACKAGE).rglob("*.py.meta"))
                 for key, code in json.loads(meta.read_text())["exit_code_by_key"].items()
                 if code in (0, 5, 33) and (not modules or any(f".{m}." in f".{key}" for m in modules))]
    return "\n".join(lines + ["", "Survivors and untested (see `mutmut show NAME`):", ""]
                     + [f"- `{key}`" for key in survivors])


def main() -> int:
    if sys.argv[1:2] == ["--exec-mutmut"]:
        exec_mutmut(sys.argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="*", help="modules under semanticdraw_widgets, e.g. engine.masks images")
    parser.add_argument("--children", type=int, default=2, help="mutants tested at once (default 2: a 2-core box)")
    parser.add_argument("--report-only", action="store_true", help="only summarise the last run")
    parser.add_argument("--pending", action="store_true", help="only the mutants the last runs left unchecked")
    parser.add_argument("--recheck", action="store_true", help="only the last runs' survivors (after new tests)")
    parser.add_argument("--sample", type=int, metavar="N", help="only N mutants per module, drawn at random")
    parser.add_argument("--seed", type=int, default=20261203, help="the draw's seed (default: 20261203)")
    args = parser.parse_args()
    modules = args.modules or ["engine", "runtime", "validation", "fields", "widgets.protocol", "images"]
    if not args.report_only:
        if args.sample:
            names = sampled_mutants(args.modules, args.sample, args.seed)
        else:
            names = pending_mutants(modules, survivors=args.recheck) if args.pending or args.recheck else None
        if (args.pending or args.recheck or args.sample) and not names:
            print("nothing pending")
        else:
            run_mutmut(modules, args.children, names)
    print(summarise(args.modules))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
