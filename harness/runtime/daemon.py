"""`python -m harness.runtime --run-dir D`: assemble the data plane's components on one runtime context,
start them in order, publish what runs, stop them in reverse on SIGTERM."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from harness.aws.cloudwatch import CloudWatchEmulation
from harness.aws.ecs import EcsOptions, EcsRunner, ImageResolver
from harness.aws.elbv2.dataplane import AlbDataPlane
from harness.aws.rds.binding import RdsBinding
from harness.aws.route53.resolver import DnsSnapshotPublisher
from harness.aws.ses.inbound import SesInbound
from harness.aws.sns.confirm import SubscriptionConfirmer
from harness.aws.sns.trust import sns_trust_overrides
from harness.core.context import RuntimeContext
from harness.core.lifecycle import Components, Readiness
from harness.core.rundir import RUNTIME_FILE, snapshot_paths
from harness.core.truth import write_snapshot

log = logging.getLogger("harness.runtime")


@dataclass
class RuntimeOptions:
    run_dir: Path
    project_dir: Path
    time_scale: float = 1.0
    smtp_port: int | None = None
    run_before_services: Sequence[str] = ()
    publish_interval: float = 0.5
    healthy_timeout: float = 180.0


class Runtime:
    def __init__(self, options: RuntimeOptions) -> None:
        self.options = options
        state = json.loads((options.run_dir / "stack.json").read_text())
        self.context = context = RuntimeContext.for_emulator(
            state["aws_endpoint_url"], state["region"], options.run_dir, time_scale=options.time_scale
        )
        self.rds = [RdsBinding(**binding) for binding in state["rds"]]
        self.alb = AlbDataPlane(context)
        self.ses = SesInbound(context, port=options.smtp_port)
        self.ecs = EcsRunner(context, EcsOptions(
            image_map=ImageResolver(fallback_roots=[options.project_dir / "services"]),
            rds_bindings=self.rds,
            run_before_services=options.run_before_services,
            die_with_parent=True,
            environment_overrides=sns_trust_overrides(context.endpoint_url),
            target_health=self.alb.target_state,
        ))
        self.dns = DnsSnapshotPublisher(
            context.clients.client("route53"),
            context.clients.client("elbv2"),
            self.alb,
            snapshot_paths(options.run_dir)["HARNESS_DNS_SNAPSHOT"],
        )
        self.cloudwatch = CloudWatchEmulation(context, self.alb, self.ecs)
        # Started in this order, each ready before the next; stopped in reverse.
        self.components = Components(
            [
                self.alb,
                self.dns,
                self.ses,
                self.ecs,  # runs the run-before-services tasks (migrations) first
                # Serving means: every target group in use has a healthy target.
                Readiness("serving", lambda timeout: self.alb.wait_healthy(timeout=timeout)),
                SubscriptionConfirmer(context.clients.client("sns"), lambda: self.dns.publish(force=True)),
                self.cloudwatch,  # metrics publishers and the alarm evaluator
            ],
            ready_timeouts={"serving": options.healthy_timeout, "ecs": 60.0},
        )
        self._stop = threading.Event()

    def describe(self, ready: bool) -> dict[str, Any]:
        return {
            "ready": ready,
            "alb": self.alb.describe(),
            "smtp": {"host": self.ses.host, "port": self.ses.port},
            "ecs": self.ecs.snapshot(),
            "cloudwatch": self.cloudwatch.snapshot(),
        }

    def publish(self, ready: bool = True) -> None:
        self.dns.publish()
        paths = snapshot_paths(self.options.run_dir)
        write_snapshot(paths["HARNESS_ALB_SNAPSHOT"], self.alb.snapshot())
        write_snapshot(paths["HARNESS_ECS_SNAPSHOT"], self.ecs.snapshot())
        write_snapshot(self.options.run_dir / RUNTIME_FILE, self.describe(ready))

    def run(self) -> None:
        self.components.start(on_ready=self._publish_progress)
        self.publish(ready=True)
        while not self._stop.wait(self.options.publish_interval):
            try:
                self.publish()
            except Exception:
                log.exception("publishing the runtime state failed")

    def _publish_progress(self, component: object) -> None:
        if component is self.ses:  # `harness status` shows the ALB and the MX while the services start
            self.publish(ready=False)

    def stop(self) -> None:
        self._stop.set()
        self.components.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.runtime")
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--project-dir", type=Path, required=True)
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--smtp-port", type=int, default=None)
    parser.add_argument("--run-before-services", nargs="*", default=[])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    runtime = Runtime(RuntimeOptions(args.run_dir, args.project_dir, args.time_scale, args.smtp_port,
                                     args.run_before_services))

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        runtime._stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    started = time.monotonic()
    try:
        runtime.run()
    except Exception as exc:
        log.exception("the runtime failed")
        write_snapshot(args.run_dir / RUNTIME_FILE, {"ready": False, "failed": True, "error": str(exc)})
        return 1
    finally:
        runtime.stop()
        log.info("stopped after %.1fs", time.monotonic() - started)
    return 0
