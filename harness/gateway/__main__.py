"""`python -m harness.gateway --port P --backend URL [--route service=URL ...] [--log FILE] [--seed N]`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from harness.gateway.app import Gateway
from harness.gateway.calllog import CallLog
from harness.gateway.faults import FaultBook
from harness.gateway.routing import RouteTable, parse_routes


def build(args: argparse.Namespace) -> Gateway:
    routes = RouteTable(args.backend, dict(parse_routes(args.route)))
    return Gateway(routes, CallLog(args.log, keep=args.keep), FaultBook(seed=args.seed), timeout=args.timeout)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m harness.gateway", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--backend", required=True, help="the endpoint every service goes to unless routed elsewhere")
    p.add_argument("--route", action="append", default=[], metavar="SERVICE=URL",
                   help="send one service (its signing name, or cloudwatch/elbv2) to another backend")
    p.add_argument("--log", type=Path, default=None, help="the JSON-lines call log")
    p.add_argument("--seed", type=int, default=0, help="the seed of the fault rules' random draws")
    p.add_argument("--keep", type=int, default=10_000, help="calls kept in memory for GET /_gateway/calls")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for a backend")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        gateway = build(args)
    except ValueError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(gateway, host=args.host, port=args.port, http="h11", lifespan="on", log_level="warning",
                access_log=False, server_header=False, date_header=False, timeout_keep_alive=75)
    return 0


if __name__ == "__main__":
    sys.exit(main())
