"""`python -m harness.runtime --run-dir D`: assemble the data plane's components on one runtime context,
start them in order, publish what runs, stop them in reverse on SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from harness.aws.cloudwatch.emulation import CloudWatchEmulation
from harness.aws.ecs.images import ImageResolver
from harness.aws.ecs.options import EcsOptions
from harness.aws.ecs.runner import EcsRunner
from harness.aws.elbv2.dataplane import AlbDataPlane
from harness.aws.route53.resolver import DnsTruthPublisher
from harness.aws.ses.inbound import SesInbound
from harness.aws.sns.confirm import SubscriptionConfirmer
from harness.aws.sns.trust import sns_trust_overrides
from harness.core.context import RuntimeContext
from harness.core.errors import HarnessError
from harness.core.lifecycle import Components, Readiness
from harness.core.rundir import RunDir, RuntimeInfo, StackState, UnusableState
from harness.core.truth import AlbTruth, EcsTruth, write_truth

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


def _stack_state(paths: RunDir) -> StackState:
    """The state `harness up` saved before it started this daemon."""
    try:
        state = paths.load_state()
    except UnusableState as exc:
        raise HarnessError(f"state file unreadable: {paths.state_file}: {exc.found}",
                           "the stack starts the data plane: `harness up`") from None
    if state is None:
        raise HarnessError(f"no state file at {paths.state_file}", "the stack starts the data plane: `harness up`")
    return state


class Runtime:
    def __init__(self, options: RuntimeOptions) -> None:
        self.options = options
        self.paths = paths = RunDir(options.run_dir)
        state = _stack_state(paths)
        self.context = context = RuntimeContext.for_emulator(
            state.aws_endpoint_url, state.region, options.run_dir, time_scale=options.time_scale
        )
        self.rds = state.rds
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
        self.dns = DnsTruthPublisher(
            context.clients.client("route53"), context.clients.client("elbv2"), self.alb, paths.dns_truth
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

    def describe(self, ready: bool) -> RuntimeInfo:
        return RuntimeInfo.of({
            "ready": ready,
            "alb": self.alb.describe(),
            "smtp": {"host": self.ses.host, "port": self.ses.port},
            "ecs": self.ecs.snapshot(),
            "cloudwatch": self.cloudwatch.snapshot(),
        })

    def publish(self, ready: bool = True) -> None:
        self.dns.publish()
        write_truth(self.paths.alb_truth, AlbTruth.of(self.alb.snapshot()))
        write_truth(self.paths.ecs_truth, EcsTruth.of(self.ecs.snapshot()))
        self.paths.write_runtime(self.describe(ready))

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


def _wait_for_go(paths: RunDir, timeout: float = 900.0) -> bool:
    """True once the stack wrote the go file; False when told to stop or after `timeout` (an owner that died)."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    deadline = time.monotonic() + timeout
    while not paths.runtime_go.exists():
        if stop.wait(0.02) or time.monotonic() > deadline:
            log.info("never told to go: exiting")
            return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.runtime")
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--project-dir", type=Path, required=True)
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--smtp-port", type=int, default=None)
    parser.add_argument("--run-before-services", nargs="*", default=[])
    parser.add_argument("--wait-for-go", action="store_true",
                        help="started early (imports done while the stack boots): wait for the run dir's go file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.wait_for_go and not _wait_for_go(RunDir(args.run_dir)):
        return 1
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
        RunDir(args.run_dir).write_runtime(RuntimeInfo(ready=False, failed=True, error=str(exc)))
        return 1
    finally:
        runtime.stop()
        log.info("stopped after %.1fs", time.monotonic() - started)
    return 0
