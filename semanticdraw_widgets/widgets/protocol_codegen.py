"""Generate the TypeScript side and the docs' tables of the wire protocol from ``protocol``'s schema.

``python -m semanticdraw_widgets.widgets.protocol_codegen --write`` rewrites ``js/src/protocol.generated.ts`` and the
generated part of ``docs/protocol.md``; ``--check`` (and ``tests/test_protocol_sync.py``) fails on a difference.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Sequence

from . import protocol as p

ROOT = Path(__file__).resolve().parents[2]
TYPESCRIPT = ROOT / "js" / "src" / "protocol.generated.ts"
DOCS = ROOT / "docs" / "protocol.md"
BEGIN, END = "<!-- generated:begin (python -m semanticdraw_widgets.widgets.protocol_codegen --write) -->", \
    "<!-- generated:end -->"
HEADER = ("// GENERATED from semanticdraw_widgets/widgets/protocol.py by\n"
          "// `python -m semanticdraw_widgets.widgets.protocol_codegen --write`: do not edit; change the schema there.\n")


def _ts_type(field: p.Field) -> str:
    if isinstance(field.type, tuple):
        base = " | ".join(json.dumps(value) for value in field.type)
    else:
        base = {"uint": "number", "number": "number", "str": "string", "bool": "boolean"}[field.type]
    return f"{base} | null" if field.nullable else base


def _ts_check(expression: str, field: p.Field) -> str:
    if isinstance(field.type, tuple):
        check = f"{json.dumps(list(field.type))}.includes({expression} as string)"
    else:
        check = {"uint": "isUint", "number": "isNumber", "str": "isString", "bool": "isBoolean"}[field.type]
        check = f"{check}({expression})"
    if field.nullable:
        check = f"({expression} === null || {check})"
    if field.optional:
        check = f"({expression} === undefined || {check})"
    return check


def _interface(name: str, fields: Sequence[p.Field], kind: str | None = None, help: str = "") -> list[str]:
    lines = [f"/** {help} */"] if help else []
    lines.append(f"export interface {name} {{")
    if kind is not None:
        lines.append(f"  kind: {json.dumps(kind)};")
    for field in fields:
        lines.append(f"  {field.name}{'?' if field.optional else ''}: {_ts_type(field)}; // {field.help}")
    lines.append("}")
    return lines


def _type_name(message: p.Message) -> str:
    return message.kind.capitalize() + "Message"


def _validator(name: str, type_name: str, messages: Sequence[p.Message]) -> list[str]:
    lines = [f"export function {name}(value: unknown): value is {type_name} {{",
             '  if (typeof value !== "object" || value === null) return false;',
             "  const m = value as Record<string, unknown>;",
             "  switch (m.kind) {"]
    for message in messages:
        checks = [_ts_check(f"m.{field.name}", field) for field in message.fields]
        if message.together:
            names = [f"m.{name} === undefined" for name in message.together]
            checks.append(f"new Set([{', '.join(names)}]).size === 1")
        lines.append(f"    case {json.dumps(message.kind)}:")
        lines.append(f"      return {' && '.join(checks) or 'true'};")
    lines += ["    default:", "      return false;", "  }", "}"]
    return lines


def render_typescript() -> str:
    server = [m for m in p.MESSAGES if m.direction == "kernel"]
    client = [m for m in p.MESSAGES if m.direction == "browser"]
    lines = [HEADER, 'import type { BackgroundState, Brush } from "./protocol";', "",
             f"export const PROTOCOL_VERSION = {p.PROTOCOL_VERSION};",
             f"export const STATES = {json.dumps(list(p.STATES))} as const;",
             "export type StreamState = (typeof STATES)[number];",
             f"export const COMMANDS = {json.dumps(list(p.COMMANDS))} as const;",
             "/** Traits the browser may change; the kernel refuses a browser write to any other. */",
             f"export const BROWSER_WRITABLE = {json.dumps(sorted(p.BROWSER_WRITABLE))} as const;",
             f"export const NO_PROMPT_WARNING = {json.dumps(p.NO_PROMPT_WARNING)};",
             "/** The one wording of the warning for a painted brush that has no prompt. */",
             "export const noPromptWarning = (name: string): string => NO_PROMPT_WARNING.replace(\"{name}\", name);",
             ""]
    lines += _interface("Status", p.STATUS_FIELDS, help="The kernel's status trait: read-only for the browser.")
    lines += ["", "/** Traits synced with the Python widget. */", "export interface Model {"]
    lines += [f"  {t.name}: {t.ts}; // {t.writer}: {t.help}" for t in p.TRAITS]
    lines += ["}", "", "// -- kernel -> browser"]
    for message in server:
        lines += _interface(_type_name(message), message.fields, message.kind, message.help)
    lines.append(f"export type ServerMessage = {' | '.join(_type_name(m) for m in server)};")
    lines += ["", "// -- browser -> kernel"]
    for message in client:
        lines += _interface(_type_name(message), message.fields, message.kind, message.help)
    lines.append(f"export type ClientMessage = {' | '.join(_type_name(m) for m in client)};")
    lines += ["",
              "const isUint = (v: unknown): v is number => typeof v === \"number\" && Number.isInteger(v) && v >= 0 "
              "&& v < 2 ** 53;",
              "const isNumber = (v: unknown): v is number => typeof v === \"number\" && Number.isFinite(v);",
              "const isString = (v: unknown): v is string => typeof v === \"string\";",
              "const isBoolean = (v: unknown): v is boolean => typeof v === \"boolean\";", ""]
    lines += _validator("isServerMessage", "ServerMessage", server) + [""]
    lines += _validator("isClientMessage", "ClientMessage", client) + [""]
    status_checks = " && ".join(_ts_check(f"s.{field.name}", field) for field in p.STATUS_FIELDS)
    lines += ["export function isStatus(value: unknown): value is Status {",
              '  if (typeof value !== "object" || value === null) return false;',
              "  const s = value as Record<string, unknown>;",
              f"  return {status_checks};", "}", ""]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _fields_text(fields: Sequence[p.Field]) -> str:
    parts = []
    for field in fields:
        parts.append(f"`{field.name}{'?' if field.optional else ''}`: {_cell(_ts_type(field))}")
    return "{kind, " + ", ".join(parts) + "}" if parts else "{kind}"


def render_docs_tables() -> str:
    lines = [BEGIN, "", f"Protocol version: **{p.PROTOCOL_VERSION}**. Status states: "
             + ", ".join(f"`{s}`" for s in p.STATES) + ".", "", "### Traits", "",
             "| trait | type | written by | meaning |", "|---|---|---|---|"]
    for trait in p.TRAITS:
        writer = {"kernel": "kernel only", "both": "kernel and browser", "browser": "browser"}[trait.writer]
        lines.append(f"| `{trait.name}` | {_cell(trait.ts)} | {writer} | {_cell(trait.help)} |")
    lines += ["", "A browser write to a trait that is not written by the browser is refused (the status line says "
              "so and the view is corrected).", "", "### The `status` trait", "",
              "| field | type | meaning |", "|---|---|---|"]
    for field in p.STATUS_FIELDS:
        lines.append(f"| `{field.name}` | {_cell(_ts_type(field))} | {_cell(field.help)} |")
    lines += ["", "### Messages", "", "| direction | kind | fields | buffers | meaning |", "|---|---|---|---|---|"]
    for message in p.MESSAGES:
        direction = "kernel → browser" if message.direction == "kernel" else "browser → kernel"
        fields = ", ".join(f"`{f.name}{'?' if f.optional else ''}`: {_cell(_ts_type(f))} ({_cell(f.help)})"
                           for f in message.fields)
        lines.append(f"| {direction} | `{message.kind}` | {fields} | {message.buffers or '—'} | "
                     f"{_cell(message.help)} |")
    lines += ["", END]
    return "\n".join(lines)


def render_docs(current: str) -> str:
    """`current` with its generated part replaced (appended when it has none)."""
    if BEGIN in current and END in current:
        head, rest = current.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        return head + render_docs_tables() + tail
    return current.rstrip("\n") + "\n\n" + render_docs_tables() + "\n"


def outputs() -> dict[Path, str]:
    """Every generated file and the text it must hold."""
    return {TYPESCRIPT: render_typescript(), DOCS: render_docs(DOCS.read_text(encoding="utf-8"))}


def main(argv: Sequence[str]) -> int:
    if list(argv) not in (["--write"], ["--check"]):
        print("usage: python -m semanticdraw_widgets.widgets.protocol_codegen --write | --check")
        return 2
    stale = [path for path, text in outputs().items()
             if not path.exists() or path.read_text(encoding="utf-8") != text]
    if argv[0] == "--write":
        for path, text in outputs().items():
            path.write_text(text, encoding="utf-8")
        return 0
    for path in stale:
        print(f"{path} is out of date: run python -m semanticdraw_widgets.widgets.protocol_codegen --write")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
