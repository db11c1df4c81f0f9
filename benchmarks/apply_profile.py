"""Where a cold `terraform apply` spends its time, resource by resource.

    .venv/bin/python benchmarks/apply_profile.py [--terraform-dir terraform] [--no-patches | --patch NAME ...]
                                                 [--top 30] [--keep DIR] [--prewarm]

Boots `python -m harness.emulator.moto_server` on a free port (all fidelity patches unless told otherwise),
runs `terraform init` and `terraform apply` of the root module through `TerraformRunner` with
`TF_LOG=DEBUG`, and prints:

* per resource address, the seconds from `Creating...` to `Creation complete` (timed as the lines arrive,
  so sub-second) and when it started, slowest first, then the apply's total;
* per resource type, from the provider's debug log (one `ApplyResourceChange` per instance): the API calls
  of its slowest instance, the operation it repeated most (a waiter polling), the time the emulator took to
  answer them all, and the longest gap in which the provider sent nothing (a waiter's Delay/PollInterval).
  A waiter that polls more often than its minimum means the emulator answered something other than the
  settled state; idle time with few polls is the provider's own clock.

`--prewarm` first sends one read per AWS service the platform uses, so that moto has built its backends
(IAM with the managed policies takes ~2 s, EC2 ~1 s) before the apply: the difference it makes is what a
warm-up in the server would save.

Everything it started (the moto server, Terraform) is stopped at the end; `--keep DIR` copies the logs
(terraform.log, tf-debug.log, moto.log) into DIR.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from harness.emulator.moto_process import MotoServerProcess  # noqa: E402
from harness.terraform.runner import TerraformRunner  # noqa: E402

REGION = "us-east-1"
_CREATING = re.compile(r"^(?P<addr>\S+): Creating\.\.\.")
_CREATED = re.compile(r"^(?P<addr>\S+): Creation complete after (?P<tf>\S+)")
_ENTRY_START = re.compile(r"^(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z? ")


@dataclass
class DebugLoggingRunner(TerraformRunner):
    """TerraformRunner whose commands write the provider's debug log (TF_LOG=DEBUG) to `debug_log`."""

    debug_log: Path | None = None

    def env(self) -> dict[str, str]:
        env = super().env()
        if self.debug_log is not None:
            env.update(TF_LOG="DEBUG", TF_LOG_PATH=str(self.debug_log))
        return env


@dataclass
class Timeline:
    """`Creating...` / `Creation complete` lines of an apply, timed as they arrive."""

    started: dict[str, float] = field(default_factory=dict)
    finished: dict[str, float] = field(default_factory=dict)
    origin: float = field(default_factory=time.monotonic)

    def feed(self, line: str) -> None:
        now = time.monotonic()
        if match := _CREATING.match(line):
            self.started.setdefault(match["addr"], now)
        elif match := _CREATED.match(line):
            self.finished[match["addr"]] = now

    def rows(self) -> list[tuple[str, float, float]]:
        """(address, seconds from apply start to Creating..., seconds Creating... → complete), slowest first."""
        rows = [
            (addr, start - self.origin, self.finished[addr] - start)
            for addr, start in self.started.items()
            if addr in self.finished
        ]
        return sorted(rows, key=lambda row: row[2], reverse=True)


@dataclass
class Instance:
    """The HTTP exchanges of one ApplyResourceChange (one resource instance) in the provider's debug log."""

    resource_type: str
    sent: list[tuple[float, str]] = field(default_factory=list)  # (time, operation)
    received: list[float] = field(default_factory=list)

    @property
    def span(self) -> float:
        return (self.received[-1] if self.received else self.sent[-1][0]) - self.sent[0][0]

    @property
    def emulator_seconds(self) -> float:
        return sum(max(0.0, got - asked) for (asked, _), got in zip(self.sent, self.received, strict=False))

    @property
    def longest_idle(self) -> float:
        """Longest time between an answer and the next request: the provider sleeping."""
        gaps = [nxt[0] - got for got, nxt in zip(self.received, self.sent[1:], strict=False)]
        return max(gaps, default=0.0)

    @property
    def operations(self) -> Counter[str]:
        return Counter(op for _, op in self.sent)


def _entries(debug_log: Path) -> Iterator[tuple[float, str]]:
    """(unix time, text) of every entry of a TF_LOG file; an entry's continuation lines are joined to it."""
    stamp: float | None = None
    lines: list[str] = []
    with debug_log.open(errors="replace") as handle:
        for line in handle:
            match = _ENTRY_START.match(line)
            if match:
                if stamp is not None:
                    yield stamp, "".join(lines)
                stamp = datetime.fromisoformat(match["ts"] + "+00:00").timestamp()
                lines = [line]
            elif stamp is not None:
                lines.append(line)
    if stamp is not None:
        yield stamp, "".join(lines)


def _field(entry: str, name: str) -> str | None:
    match = re.search(rf"(?:^|\s){re.escape(name)}=(\"(?:[^\"\\]|\\.)*\"|\S+)", entry)
    return match.group(1).strip('"') if match else None


def instances(debug_log: Path) -> list[Instance]:
    """One Instance per ApplyResourceChange request id that sent AWS API calls."""
    found: dict[str, Instance] = {}
    if not debug_log.exists():
        return []
    for stamp, entry in _entries(debug_log):
        sent = "HTTP Request Sent" in entry
        if not sent and "HTTP Response Received" not in entry:
            continue
        if _field(entry, "tf_rpc") != "ApplyResourceChange":
            continue
        request_id, kind = _field(entry, "tf_req_id"), _field(entry, "tf_resource_type")
        if not request_id or not kind:
            continue
        instance = found.setdefault(request_id, Instance(kind))
        if sent:
            instance.sent.append((stamp, _field(entry, "rpc.method") or "?"))
        elif instance.sent:
            instance.received.append(stamp)
    return [instance for instance in found.values() if instance.sent]


# One cheap read per service the platform's Terraform calls: the first request to a service builds its backend.
_WARM_CALLS: dict[str, str] = {
    "iam": "list_roles",
    "sts": "get_caller_identity",
    "ec2": "describe_availability_zones",
    "kms": "list_keys",
    "sqs": "list_queues",
    "s3": "list_buckets",
    "rds": "describe_db_instances",
    "elbv2": "describe_load_balancers",
    "ecs": "list_clusters",
    "route53": "list_hosted_zones",
    "logs": "describe_log_groups",
    "ssm": "describe_parameters",
    "sns": "list_topics",
    "acm": "list_certificates",
    "ses": "list_identities",
    "ecr": "describe_repositories",
    "cloudwatch": "describe_alarms",
    "application-autoscaling": "describe_scalable_targets",
    "secretsmanager": "list_secrets",
}


def prewarm(endpoint: str) -> float:
    """Send one read per service in _WARM_CALLS; return the seconds it took."""
    from harness.core.clients import AwsClients

    clients = AwsClients(endpoint, REGION)
    started = time.monotonic()
    for service, operation in _WARM_CALLS.items():
        kwargs = {"ServiceNamespace": "ecs"} if service == "application-autoscaling" else {}
        getattr(clients.client(service), operation)(**kwargs)
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--terraform-dir", type=Path, default=REPO_ROOT / "terraform")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--no-patches", action="store_true", help="serve stock moto")
    group.add_argument("--patch", action="extend", nargs="+", metavar="NAME", help="only these patches")
    parser.add_argument("--top", type=int, default=30, help="resources to list (default 30; 0 = all)")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="copy the logs into DIR")
    parser.add_argument("--parallelism", type=int, default=40)
    parser.add_argument("--prewarm", action="store_true", help="build moto's backends before the apply")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="mailstack-apply-profile-"))
    debug_log = work / "tf-debug.log"
    moto = MotoServerProcess(work, patches=args.patch, no_patches=args.no_patches, log_path=work / "moto.log")
    timeline = Timeline()
    try:
        moto.start(timeout=60)
        runner = DebugLoggingRunner(
            source=args.terraform_dir.resolve(),
            workdir=work / "terraform" / "work",
            aws_endpoint_url=moto.endpoint,
            region=REGION,
            parallelism=args.parallelism,
            log_path=work / "terraform.log",
        )
        runner.prepare()
        started = time.monotonic()
        runner.init()
        init_seconds = time.monotonic() - started
        runner.debug_log = debug_log
        if args.prewarm:
            print(f"prewarm: {prewarm(moto.endpoint):.1f} s")
        timeline.origin = time.monotonic()
        try:
            runner.apply(timeline.feed)
        finally:
            apply_seconds = time.monotonic() - timeline.origin
            report(args, timeline, instances(debug_log), init_seconds, apply_seconds, moto.endpoint)
    finally:
        moto.stop()
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for name in ("terraform.log", "tf-debug.log", "moto.log"):
                if (work / name).exists():
                    shutil.copy2(work / name, args.keep / name)
        shutil.rmtree(work, ignore_errors=True)
    return 0


def resource_type(address: str) -> str:
    """module.a.aws_x.name["k"] -> aws_x"""
    for part in address.split("."):
        if part.startswith("aws_"):
            return part
    return address


def report(
    args: argparse.Namespace,
    timeline: Timeline,
    found: list[Instance],
    init_seconds: float,
    apply_seconds: float,
    endpoint: str,
) -> None:
    rows = timeline.rows()
    shown = rows if args.top == 0 else rows[: args.top]
    server = "stock moto" if args.no_patches else (f"patches {', '.join(args.patch)}" if args.patch else "all patches")
    print(f"terraform apply of {args.terraform_dir} against moto ({server}) at {endpoint}")
    print(f"\n{'seconds':>8} {'start':>7}  resource (Creating... -> Creation complete)")
    for addr, at, seconds in shown:
        print(f"{seconds:8.1f} {at:7.1f}  {addr}")
    for addr in sorted(set(timeline.started) - set(timeline.finished)):
        print(f"{'unfinished':>8} {timeline.started[addr] - timeline.origin:7.1f}  {addr}")

    by_type: dict[str, list[Instance]] = defaultdict(list)
    for instance in found:
        by_type[instance.resource_type].append(instance)
    slowest_types = list(dict.fromkeys(resource_type(addr) for addr, _, _ in shown))
    print(f"\n{'type':<40} {'n':>2} {'span':>6} {'calls':>5} {'emulator':>8} {'max idle':>8}  most repeated call")
    for kind in slowest_types:
        if kind not in by_type:
            continue
        worst = max(by_type[kind], key=lambda instance: instance.span)
        op, count = worst.operations.most_common(1)[0]
        print(
            f"{kind:<40} {len(by_type[kind]):>2} {worst.span:6.1f} {len(worst.sent):>5} "
            f"{worst.emulator_seconds:8.2f} {worst.longest_idle:8.1f}  {op} x{count}"
        )
    print(f"\nresources created: {len(rows)}")
    print(f"terraform init: {init_seconds:.1f} s")
    print(f"terraform apply total: {apply_seconds:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
