"""Command line: ``python -m bot serve|train|health``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from dataclasses import replace

from bot import logging_setup
from bot.settings import Settings

log = logging.getLogger("bot")


def _serve(settings: Settings, train: bool) -> int:
    from aiohttp import web

    from bot.app import create_app
    from bot.training import ensure_model

    if train and settings.model_path is None:
        ensure_model(settings.model_dir)
    shown_host = "localhost" if settings.host in ("127.0.0.1", "0.0.0.0") else settings.host
    url = f"http://{shown_host}:{settings.port}"
    print(f"Engine on {url}  (web chat at {url}/, health at {url}/healthz; Ctrl-C stops)", flush=True)
    # Importing Rasa imports Sanic, which installs uvloop's loop policy process-wide; the engine runs
    # on the standard loop it is tested on (Rasa's own `rasa run` resets the policy the same way).
    asyncio.set_event_loop_policy(None)
    # run_app turns SIGINT/SIGTERM into a clean shutdown that runs every cleanup context.
    web.run_app(create_app(settings), host=settings.host, port=settings.port, print=None)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command named in ``argv``."""
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the engine (trains first if the model is stale)")
    serve.add_argument("--port", type=int, help="override PORT")
    serve.add_argument("--no-train", action="store_true", help="fail instead of training")
    train = sub.add_parser("train", help="train the Rasa model if its inputs changed")
    train.add_argument("--force", action="store_true", help="train even if a model exists")
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    if getattr(args, "port", None):
        settings = replace(settings, port=args.port)
    logging_setup.configure(settings.log_format, settings.log_level)

    if args.command == "serve":
        return _serve(settings, train=not args.no_train)
    if args.command == "train":
        from bot.training import ensure_model

        print(ensure_model(settings.model_dir, force=args.force))
        return 0
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
