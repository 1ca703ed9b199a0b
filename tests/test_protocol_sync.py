"""The protocol is declared once (protocol.py); its TypeScript side and docs' tables are generated and diffed.

The TypeScript module is bundled with the esbuild in js/node_modules and evaluated by node, so the tests read
the values and run the checks the front end really uses, not a copy of their text.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from semanticdraw_widgets.runtime import core
from semanticdraw_widgets.widgets import protocol, protocol_codegen

JS = Path(__file__).resolve().parents[1] / "js"
ESBUILD = JS / "node_modules" / ".bin" / "esbuild"
NAMES = ("PROTOCOL_VERSION", "MAX_BRUSHES", "MAX_TEXT_LENGTH", "BRUSH_DEFAULTS", "BRUSH_LIMITS", "GUIDANCE_LIMITS",
         "STEPS_CHOICES", "PALETTE_FORMAT", "PALETTE_VERSION", "STATES", "COMMANDS", "NO_PROMPT_WARNING")


def run_typescript(body: str) -> object:
    """Bundle js/src/protocol.ts, run `body` (JS using `exports`, which prints JSON) with node, return its value."""
    node = shutil.which("node")
    if node is None or not ESBUILD.exists():
        pytest.skip("needs node and js/node_modules (npm --prefix js ci)")
    bundle = subprocess.run([str(ESBUILD), str(JS / "src" / "protocol.ts"), "--bundle", "--format=cjs",
                             "--platform=node", "--log-level=error"], capture_output=True, text=True, check=True).stdout
    script = (f"const module = {{ exports: {{}} }}; (function (module, exports) {{ {bundle}\n}})(module, module.exports);"
              f"const exports = module.exports; {body}")
    return json.loads(subprocess.run([node, "-e", script], capture_output=True, text=True, check=True).stdout)


@pytest.fixture(scope="module")
def typescript_constants() -> dict:
    return run_typescript(f"const names = {json.dumps(NAMES)};"
                          "process.stdout.write(JSON.stringify(Object.fromEntries(names.map((n) => [n, exports[n]]))));")


def test_the_generated_typescript_and_docs_are_up_to_date() -> None:
    for path, text in protocol_codegen.outputs().items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.name} differs from what protocol.py generates: "
            f"run python -m semanticdraw_widgets.widgets.protocol_codegen --write")


def test_a_schema_change_shows_in_the_generated_files(monkeypatch) -> None:
    before = protocol_codegen.outputs()
    renamed = tuple(protocol.Message("fram", m.direction, m.fields, m.help) if m.kind == "frame" else m
                    for m in protocol.MESSAGES)
    monkeypatch.setattr(protocol, "MESSAGES", renamed)
    after = protocol_codegen.outputs()
    assert all(after[path] != before[path] for path in before), "both the TypeScript and the docs follow the schema"


def test_the_states_are_the_runtimes_and_every_kernel_message_is_built_through_the_schema() -> None:
    assert protocol.STATES == core.STATES
    package = Path(protocol.__file__).resolve().parents[1]
    source = "\n".join(path.read_text(encoding="utf-8") for path in package.rglob("*.py"))
    for message in protocol.MESSAGES:
        if message.direction == "kernel":
            assert f'build_message("{message.kind}"' in source, f"{message.kind!r} is declared but never sent"
    assert not re.search(r"send\(\s*\{", source), "a message built by hand, not through protocol.build_message"


def test_the_typescript_checks_accept_what_the_kernel_sends_and_nothing_less() -> None:
    sent = [protocol.build_message("frame", epoch=3, seq=1, mime="image/jpeg", width=8, height=8, settled=False,
                                   tick=1, step=4),
            protocol.build_message("welcome", version=protocol.PROTOCOL_VERSION, epoch=0),
            protocol.build_message("error", message="refused")]
    broken = [dict(sent[0], mime="image/gif"), {k: v for k, v in sent[0].items() if k != "settled"},
              dict(sent[1], epoch=-1), dict(sent[2], message=None), {"kind": "ack", "epoch": 1, "seq": 1}]
    client = [{"kind": "ack", "epoch": 1, "seq": 2}, {"kind": "hello", "version": 2},
              {"kind": "hello", "version": 2, "epoch": 1, "seq": 1}, {"kind": "command", "name": "step"}]
    for message in client:
        assert protocol.parse_client_message(message) == message
    bad_client = [{"kind": "hello", "version": 2, "epoch": 1}, {"kind": "command", "name": "explode"},
                  {"kind": "ack", "epoch": 1, "seq": 1.5}]
    for message in bad_client:
        with pytest.raises(protocol.ProtocolError):
            protocol.parse_client_message(message)
    verdicts = run_typescript(
        f"const server = {json.dumps(sent + broken)}; const client = {json.dumps(client + bad_client)};"
        "process.stdout.write(JSON.stringify([server.map(exports.isServerMessage), client.map(exports.isClientMessage),"
        f" exports.isStatus({json.dumps(protocol.build_status(state='idle', fps=1.5, tick=3, error=None, epoch=2, warning='w'))}),"
        " exports.isStatus({state: 'starting', fps: 0, tick: 0, error: null, epoch: 0, warning: null})]));")
    assert verdicts == [[True] * len(sent) + [False] * len(broken), [True] * len(client) + [False] * len(bad_client),
                        True, False]


@pytest.mark.parametrize("name", NAMES)
def test_typescript_and_python_agree(typescript_constants: dict, name: str) -> None:
    python = getattr(protocol, name)
    typescript = typescript_constants[name]
    assert typescript is not None, f"js/src/protocol.ts does not export {name}"
    # JSON has one number type: 1 and 1.0 are equal, and tuples compare as lists
    assert json.loads(json.dumps(python)) == typescript, f"{name}: Python {python!r} != TypeScript {typescript!r}"
