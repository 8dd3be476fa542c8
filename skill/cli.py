"""The `letdown` command line: serve the skill, and the tools around it."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from collections.abc import Sequence

from skill.app import create_serving_app
from skill.audio_build.cli import add_parser as add_audio_parser
from skill.config import Config, ConfigError
from skill.storage import open_store
from skill.tools.chat import add_chat_parser
from skill.tools.model_check import add_model_parser
from skill.tools.packaging import add_package_parser
from skill.tools.say import add_say_parser
from skill.web import log_scrub
from skill.web.server import SERVERS, ServerSettings, serve_gunicorn, serve_waitress


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr)
    log_scrub.install(logging.getLogger().handlers)


def run_serve(args: argparse.Namespace) -> int:
    config = Config.from_env()
    config.check_safe_to_start()  # refuse before binding the port, with the reason, not in a worker
    settings = ServerSettings(
        host=args.host,
        port=args.port,
        threads=args.threads,
        workers=args.workers,
        max_body_bytes=config.max_body_bytes,
    )
    if args.server == "gunicorn":
        serve_gunicorn(lambda: create_serving_app(config), settings)
    else:
        serve_waitress(create_serving_app(config), settings)
    return 0


def add_serve_parser(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser("serve", help="run the skill service (waitress, or gunicorn behind a proxy)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    serve.add_argument(
        "--server",
        choices=SERVERS,
        default="waitress",
        help="waitress (default: safe facing slow clients) or gunicorn (only behind a request-buffering proxy)",
    )
    serve.add_argument("--threads", type=int, default=8, help="request threads (per worker; default 8)")
    serve.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    serve.set_defaults(run=run_serve)


MIN_PURGE_AGE_DAYS = 1


def purge_age_days(raw: str) -> int:
    """At least one day: `--older-than-days 0` would forget everyone who used the skill today."""
    try:
        days = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number of days, not {raw!r}") from None
    if days < MIN_PURGE_AGE_DAYS:
        raise argparse.ArgumentTypeError(
            f"must be at least {MIN_PURGE_AGE_DAYS} day, not {days}: a smaller age would delete current users' data"
        )
    return days


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
        type=purge_age_days,
        default=365,
        metavar="DAYS",
        help="inactive for at least this many days (at least 1; default 365)",
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
