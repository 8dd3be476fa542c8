"""The `letdown` command line: serve the skill, and the tools around it."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from collections.abc import Sequence
from typing import Any

from gunicorn.app.base import BaseApplication

from skill.app import create_app
from skill.audio_build.cli import add_parser as add_audio_parser
from skill.config import Config, ConfigError
from skill.storage import open_store
from skill.tools.chat import add_chat_parser
from skill.tools.model_check import add_model_parser
from skill.tools.packaging import add_package_parser
from skill.tools.say import add_say_parser


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr)


def run_serve(args: argparse.Namespace) -> int:
    config = Config.from_env()

    class LetdownServer(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{args.host}:{args.port}")
            self.cfg.set("workers", args.workers)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", args.threads)
            self.cfg.set("timeout", 30)
            self.cfg.set("graceful_timeout", 10)

        def load(self) -> Any:  # Flask types its WSGI environ as dict, gunicorn's stub as MutableMapping
            return create_app(config)

    LetdownServer().run()
    return 0


def add_serve_parser(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser("serve", help="run the skill service under gunicorn")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    serve.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    serve.add_argument("--threads", type=int, default=4, help="threads per worker (default 4)")
    serve.set_defaults(run=run_serve)


def run_storage_purge(args: argparse.Namespace) -> int:
    store = open_store(Config.from_env().database_url)
    try:
        deleted = store.purge_inactive(dt.timedelta(days=args.older_than_days))
    finally:
        store.close()
    print(f"deleted {deleted} stored attributes of users inactive for {args.older_than_days} days or more")
    return 0


def add_storage_parser(subparsers: argparse._SubParsersAction) -> None:
    storage = subparsers.add_parser("storage", help="maintain the stored playback state and preferences")
    actions = storage.add_subparsers(dest="storage_command", required=True)
    purge = actions.add_parser("purge", help="delete everything stored for users inactive for a while")
    purge.add_argument(
        "--older-than-days",
        type=int,
        default=365,
        metavar="DAYS",
        help="inactive for at least this many days (default 365)",
    )
    purge.set_defaults(run=run_storage_purge)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="letdown", description="Let-Down Helper, an Alexa skill.")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for add_parser in (
        add_serve_parser,
        add_say_parser,
        add_chat_parser,
        add_model_parser,
        add_package_parser,
        add_storage_parser,
        add_audio_parser,
    ):
        add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level)
    try:
        return args.run(args)
    except ConfigError as error:
        print(f"letdown: configuration error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
