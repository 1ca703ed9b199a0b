"""Command line: ``semanticdraw render scene.json -o out.png [--model toy] [--steps N]``.

SCENE is a scene/palette JSON file or the name of a bundled example (``semanticdraw examples``).

Every refusal is one line on stderr (``semanticdraw: error: <field>: <what to do>``) and exit code 2,
never a traceback: bad scene files, bad numbers, model-loading failures, an output path that cannot
be written. The output path and the device are checked before the model loads, so a typo costs
nothing. An unexpected error (a bug) is one line and exit code 1; set SEMANTICDRAW_TRACEBACK=1 to see
its traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import NoReturn, Sequence

from .fields import field
from .files import missing_folders
from .validation import ValidationError, check_field


def bundled_examples() -> dict[str, Path]:
    folder = resources.files("semanticdraw_widgets") / "examples"
    return {Path(str(entry)).stem: Path(str(entry)) for entry in folder.iterdir() if str(entry).endswith(".json")}


def resolve_scene_path(text: str) -> Path:
    """A path that exists, else a bundled example of that name."""
    path = Path(text).expanduser()
    if path.is_file():
        return path
    examples = bundled_examples()
    if text in examples:
        return examples[text]
    raise FileNotFoundError(f"no scene file {text!r} and no bundled example of that name "
                            f"(examples: {', '.join(sorted(examples))})")


def _flag(group: argparse._ActionsContainer, flag: str, name: str, **overrides: object) -> None:
    """An option whose type, choices, default and help come from the field table (fields.py)."""
    spec = field(name)
    kwargs: dict[str, object] = {"default": spec.default, "help": spec.help}
    if spec.kind in ("int", "float"):
        kwargs["type"] = int if spec.kind == "int" else float
        kwargs["help"] = f"{spec.help} ({spec.range_text()}{'; ' + spec.note if spec.note else ''})"
    if spec.kind == "choice":
        kwargs["choices"] = spec.choices
    kwargs.update(overrides)
    group.add_argument(flag, **kwargs)


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (argparse prints the whole usage block first: 2-8 lines)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(prog="semanticdraw", description="SemanticDraw regional generation")
    commands = parser.add_subparsers(dest="command", required=True)
    render = commands.add_parser("render", help="render a scene file to an image")
    render.add_argument("scene", help="scene JSON file, or a bundled example name such as 'landscape'")
    render.add_argument("-o", "--output", default="out.png", help="output image path (default: out.png)")
    _flag(render, "--model", "model")
    _flag(render, "--steps", "steps")
    _flag(render, "--seed", "seed", default=None, help="override the scene's seed (between 0 and 2**63 - 1)")
    _flag(render, "--guidance", "guidance_scale")
    _flag(render, "--sampler", "sampler")
    _flag(render, "--lora", "lora")
    _flag(render, "--method", "method")
    _flag(render, "--device", "device")
    commands.add_parser("examples", help="list the bundled example scenes")
    from .serve.command import add_serve_command

    add_serve_command(commands)
    return parser


def check_flags(args: argparse.Namespace) -> None:
    """The numbers argparse converted, checked against the field table before anything loads."""
    for flag, name in (("--steps", "steps"), ("--seed", "seed"), ("--guidance", "guidance_scale")):
        value = getattr(args, flag[2:])
        if value is not None:
            check_field(name, value, path=flag if flag[2:] == name else f"{flag} ({name})", error=CliError)


class CliError(ValidationError):
    """A refusal of the command line's own (output path, device); shown as one line, exit code 2."""


def check_output(text: str) -> Path:
    """The -o path, checked before anything renders: a file name with a known image extension in a
    folder we can write to (created when missing). Returns the path."""
    from PIL import Image

    output = Path(text).expanduser()
    if output.is_dir() or text.endswith(("/", os.sep)):
        raise CliError(f"-o {text}: is a folder; give a file name inside it, e.g. {output / 'out.png'}")
    if output.exists() and not output.is_file():
        raise CliError(f"-o {text}: is not a regular file (a device or pipe?); give an image file path such as out.png")
    extensions = Image.registered_extensions()
    known = sorted(ext for ext, fmt in extensions.items() if fmt in ("PNG", "JPEG", "WEBP", "BMP", "TIFF"))
    if output.suffix.lower() not in known:
        what = f"unknown image extension {output.suffix!r}" if output.suffix else "no file extension"
        raise CliError(f"-o {text}: {what}; end the name with one of {', '.join(known)} (e.g. out.png)")
    # Nothing is created before the render succeeds (a failed render must leave no new folders): probe
    # the nearest folder that exists; the missing ones are made when the picture is written.
    folder, _ = missing_folders(output.parent)
    try:
        if not folder.is_dir():
            raise NotADirectoryError(f"{folder} is not a folder")
        # A real write probe: permissions, read-only file systems and full disks all show up here.
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".semanticdraw-probe-", suffix=".tmp") as probe:
            probe.write(b"x")
            probe.flush()
        if output.exists() and not os.access(output, os.W_OK):
            raise PermissionError(f"permission denied: {output}")
    except OSError as error:
        detail = error.strerror or str(error)
        raise CliError(f"-o {text}: cannot write there ({detail}); choose another folder") from None
    return output


def run_render(args: argparse.Namespace) -> int:
    from . import Scene, generate, load_backend
    from .images import save_image_atomic
    from .validation import as_device

    check_flags(args)
    output = check_output(args.output)
    device = as_device(args.device, "--device", error=CliError)
    scene = Scene.load(resolve_scene_path(args.scene))
    if args.seed is not None:
        scene = scene.with_(seed=args.seed)
    backend = load_backend(args.model, device=device, sampler=args.sampler, lora=args.lora)
    started = time.perf_counter()
    image = generate(backend, scene, steps=args.steps, guidance_scale=args.guidance, method=args.method)
    elapsed = time.perf_counter() - started
    try:
        save_image_atomic(image, output)
    except OSError as error:
        raise CliError(f"-o {args.output}: could not write the image ({error.strerror or error})") from None
    sys.stdout.write(f"wrote {output} ({image.width}x{image.height}, {args.steps} steps, "
                     f"{len(scene.regions)} regions, model {args.model}) in {elapsed:.2f} s\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "examples":
        for name, path in sorted(bundled_examples().items()):
            sys.stdout.write(f"{name}\t{path}\n")
        return 0
    try:
        from . import ModelLoadError

        if args.command == "serve":
            from .serve.command import run_serve

            return run_serve(args)
        return run_render(args)
    except KeyboardInterrupt:
        parser.exit(130, "semanticdraw: interrupted\n")
    except (ValueError, ModelLoadError, OSError, MemoryError) as error:  # SceneError is a ValueError
        parser.exit(2, f"semanticdraw: error: {one_line(error)}\n")
    except Exception as error:  # noqa: BLE001 - a bug: still one line, unless asked for the traceback
        if os.environ.get("SEMANTICDRAW_TRACEBACK"):
            raise
        parser.exit(1, f"semanticdraw: internal error: {type(error).__name__}: {one_line(error)} "
                       "(please report it; SEMANTICDRAW_TRACEBACK=1 shows the traceback)\n")
    return 1


def one_line(error: BaseException) -> str:
    """The message on one line (model errors can carry diffusers' multi-line text)."""
    if isinstance(error, MemoryError):
        return "out of memory; try a smaller canvas, fewer steps or --device cpu"
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 2000 else text[:2000] + " ..."


if __name__ == "__main__":
    raise SystemExit(main())
