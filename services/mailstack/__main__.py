"""The single entrypoint: `mailstack api | worker | migrate | healthcheck`."""

from __future__ import annotations

import argparse
import logging
import sys

from mailstack.config import (
    ConfigError,
    health_probe_host,
    load_api_settings,
    load_bind_host,
    load_database_settings,
    load_log_level,
    load_port,
    load_worker_settings,
)
from mailstack.logs import configure_logging

logger = logging.getLogger("mailstack")


def _api() -> int:
    from mailstack.api.command import run_api

    settings = load_api_settings()
    configure_logging(settings.common.log_level, "api", settings.common.env)
    return run_api(settings)


def _worker() -> int:
    from mailstack.worker.command import run_worker

    settings = load_worker_settings()
    configure_logging(settings.common.log_level, "worker", settings.common.env)
    return run_worker(settings)


def _migrate() -> int:
    from mailstack.migrate import apply_migrations

    configure_logging(load_log_level(), "migrate")
    apply_migrations(load_database_settings())
    return 0


def _healthcheck() -> int:
    from mailstack.healthcheck import check_health

    return check_health(load_port(), health_probe_host(load_bind_host()))


COMMANDS = {
    "api": (_api, "serve the HTTP API on $PORT (default 8080)"),
    "worker": (_worker, "long-poll the inbound queue and ingest mail"),
    "migrate": (_migrate, "apply database migrations and exit"),
    "healthcheck": (_healthcheck, "exit 0 when http://127.0.0.1:$PORT/health answers 200"),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mailstack", description="mailstack platform services")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    for name, (_, description) in COMMANDS.items():
        commands.add_parser(name, help=description, description=description)
    return parser


def run(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command][0]()
    except ConfigError as exc:
        print(f"mailstack {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception:
        logger.exception("mailstack %s failed", args.command)
        return 1


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
