"""Command line: ``semanticdraw render scene.json -o out.png [--model toy] [--steps N]``.

SCENE is a scene/palette JSON file or the name of a bundled example (``semanticdraw examples``).
"""

from __future__ import annotations

import argparse
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Sequence


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="semanticdraw", description="SemanticDraw regional generation")
    commands = parser.add_subparsers(dest="command", required=True)
    render = commands.add_parser("render", help="render a scene file to an image")
    render.add_argument("scene", help="scene JSON file, or a bundled example name such as 'landscape'")
    render.add_argument("-o", "--output", default="out.png", help="output image path (default: out.png)")
    render.add_argument("--model", default="toy", help="'toy', a diffusers folder, a .safetensors file or a hub id")
    render.add_argument("--steps", type=int, default=4, help="sampling steps (default 4)")
    render.add_argument("--seed", type=int, default=None, help="override the scene's seed")
    render.add_argument("--guidance", type=float, default=None,
                        help="classifier-free guidance scale; > 1 makes negative prompts steer")
    render.add_argument("--sampler", choices=("lcm", "tcd", "euler", "ddim"), default=None)
    render.add_argument("--lora", default=None, help="few-step LoRA to fuse: lcm, tcd, hyper-sd, a hub id or a file")
    render.add_argument("--method", choices=("semanticdraw", "multidiffusion"), default="semanticdraw")
    render.add_argument("--device", default="auto")
    commands.add_parser("examples", help="list the bundled example scenes")
    return parser


def run_render(args: argparse.Namespace) -> int:
    from . import Scene, generate, load_backend

    scene = Scene.load(resolve_scene_path(args.scene))
    if args.seed is not None:
        scene = scene.with_(seed=args.seed)
    backend = load_backend(args.model, device=args.device, sampler=args.sampler, lora=args.lora)
    started = time.perf_counter()
    image = generate(backend, scene, steps=args.steps, guidance_scale=args.guidance, method=args.method)
    elapsed = time.perf_counter() - started
    output = Path(args.output)
    if output.parent != Path(""):
        output.parent.mkdir(parents=True, exist_ok=True)
    image.save(output)
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
    from . import ModelLoadError, SceneError

    try:
        return run_render(args)
    except (SceneError, ModelLoadError, FileNotFoundError, ValueError, OSError) as error:
        parser.exit(2, f"semanticdraw: error: {error}\n")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
