"""`semanticdraw serve`: the command line of the shared engine (cli.py only adds it as a subcommand)."""

from __future__ import annotations

import argparse


def add_serve_command(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser(
        "serve", help="run one model as a shared engine (Ray Serve) that many notebooks draw against",
        description="Start a Ray Serve application hosting one model; students connect with "
                    "sdw.load_backend('http://HOST:PORT', token=...). Needs: pip install 'semanticdraw_widgets[serve]'.")
    serve.add_argument("--model", default="toy", help="any load_backend spec: 'toy', a diffusers folder, a hub id")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1; any other needs --token-file)")
    serve.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    serve.add_argument("--token-file", default=None,
                       help="file holding the token every request but /healthz must carry (at least 16 characters)")
    serve.add_argument("--replicas", type=int, default=1, help="model replicas (one GPU each when there are GPUs)")
    serve.add_argument("--autoscale", default=None, metavar="MIN:MAX",
                       help="let Ray Serve scale the replicas between MIN and MAX with the load (instead of --replicas)")
    serve.add_argument("--address", default=None, help="deploy onto this existing Ray cluster instead of a local one")
    serve.add_argument("--max-request-mb", type=int, default=64, help="largest request accepted (default 64 MB)")


def parse_autoscale(text: str | None) -> dict | None:
    """``"1:4"`` -> Ray Serve's ``autoscaling_config`` (``min_replicas``/``max_replicas``); None stays None."""
    if text is None:
        return None
    low, sep, high = text.partition(":")
    try:
        bounds = (int(low), int(high)) if sep else None
    except ValueError:
        bounds = None
    if bounds is None or not 0 <= bounds[0] <= bounds[1] or bounds[1] < 1:
        raise ValueError(f"--autoscale {text!r}: give MIN:MAX replicas with 0 <= MIN <= MAX and MAX >= 1, e.g. 1:4")
    return {"min_replicas": bounds[0], "max_replicas": bounds[1]}


def run_serve(args: argparse.Namespace) -> int:
    try:
        import ray  # noqa: F401
    except ImportError:
        raise ValueError("semanticdraw serve needs Ray Serve: pip install 'semanticdraw_widgets[serve]'") from None
    from .app import serve_forever

    if args.replicas < 1:
        raise ValueError(f"--replicas {args.replicas}: use 1 or more")
    autoscaling = parse_autoscale(args.autoscale)
    serve_forever(args.model, host=args.host, port=args.port, token_file=args.token_file, replicas=args.replicas,
                  address=args.address, max_request_mb=args.max_request_mb, autoscaling=autoscaling)
    return 0
