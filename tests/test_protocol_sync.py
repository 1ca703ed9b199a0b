"""The protocol's schema constants are defined once per side: js/src/protocol.ts must equal protocol.py.

The TypeScript module is bundled with the esbuild in js/node_modules and evaluated by node, so the test reads
the values the front end really uses, not a copy of its text.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from semanticdraw_widgets.widgets import protocol

JS = Path(__file__).resolve().parents[1] / "js"
ESBUILD = JS / "node_modules" / ".bin" / "esbuild"
NAMES = ("PROTOCOL_VERSION", "MAX_BRUSHES", "MAX_TEXT_LENGTH", "BRUSH_DEFAULTS", "BRUSH_LIMITS", "GUIDANCE_LIMITS",
         "STEPS_CHOICES", "PALETTE_FORMAT", "PALETTE_VERSION", "STATES")


@pytest.fixture(scope="module")
def typescript_constants() -> dict:
    node = shutil.which("node")
    if node is None or not ESBUILD.exists():
        pytest.skip("needs node and js/node_modules (npm --prefix js ci)")
    bundle = subprocess.run([str(ESBUILD), str(JS / "src" / "protocol.ts"), "--bundle", "--format=cjs",
                             "--platform=node", "--log-level=error"], capture_output=True, text=True, check=True).stdout
    script = (f"const module = {{ exports: {{}} }}; (function (module, exports) {{ {bundle}\n}})(module, module.exports);"
              f"const names = {json.dumps(NAMES)};"
              "process.stdout.write(JSON.stringify(Object.fromEntries(names.map((n) => [n, module.exports[n]]))));")
    out = subprocess.run([node, "-e", script], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


@pytest.mark.parametrize("name", NAMES)
def test_typescript_and_python_agree(typescript_constants: dict, name: str) -> None:
    python = getattr(protocol, name)
    typescript = typescript_constants[name]
    assert typescript is not None, f"js/src/protocol.ts does not export {name}"
    # JSON has one number type: 1 and 1.0 are equal, and tuples compare as lists
    assert json.loads(json.dumps(python)) == typescript, f"{name}: Python {python!r} != TypeScript {typescript!r}"
