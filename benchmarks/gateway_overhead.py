"""The AWS gateway's cost per call: SQS SendMessage straight to moto vs through the gateway.

Usage: .venv/bin/python benchmarks/gateway_overhead.py [--calls 500] [--rounds 3] [--body-size 1024]

Starts a moto server and a gateway in front of it (both real processes, as the stack would run them),
warms both paths up, then alternates rounds of N sequential SendMessage calls from one boto3 client per
path (so both see the same moto load) and prints mean, p50 and p99 per call for each and the difference,
and the gateway's own CPU time per call (a figure a busy machine inflates less than wall-clock latency).
Also times S3 PutObject + GetObject of a 1 MiB body both ways (the streaming path).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import psutil
from botocore.config import Config

from harness.emulator.moto_process import MotoServerProcess
from harness.gateway.process import GatewayProcess


def client(service: str, endpoint: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="AKIDBENCH",
                        aws_secret_access_key="secret", config=Config(retries={"total_max_attempts": 1}))


def timed(calls: int, call: Any) -> list[float]:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (f"mean {statistics.mean(times) * 1000:7.2f} ms  p50 {statistics.median(times) * 1000:7.2f} ms  "
            f"p99 {p99 * 1000:7.2f} ms  ({len(times)} calls)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--body-size", type=int, default=1024)
    args = parser.parse_args()
    body = "x" * args.body_size
    with tempfile.TemporaryDirectory(prefix="gateway-bench-") as tmp:
        run_dir = Path(tmp)
        with MotoServerProcess(run_dir, die_with_parent=True) as moto, \
                GatewayProcess(run_dir, moto.endpoint, die_with_parent=True) as gateway:
            paths = {"direct": moto.endpoint, "gateway": gateway.endpoint}
            sqs = {name: client("sqs", endpoint) for name, endpoint in paths.items()}
            queue = sqs["direct"].create_queue(QueueName="bench")["QueueUrl"].rsplit("/", 2)
            urls = {name: f"{endpoint}/{queue[-2]}/{queue[-1]}" for name, endpoint in paths.items()}
            times: dict[str, list[float]] = {name: [] for name in paths}
            for name in paths:  # warm up: connections, moto's lazy imports
                timed(50, lambda n=name: sqs[n].send_message(QueueUrl=urls[n], MessageBody=body))
            gateway_cpu = [0.0, 0.0]  # user, system
            assert gateway.process.pid is not None
            proc = psutil.Process(gateway.process.pid)
            for _ in range(args.rounds):
                for name in paths:
                    before = proc.cpu_times()
                    times[name] += timed(args.calls, lambda n=name: sqs[n].send_message(QueueUrl=urls[n],
                                                                                        MessageBody=body))
                    if name == "gateway":
                        after = proc.cpu_times()
                        gateway_cpu[0] += after.user - before.user
                        gateway_cpu[1] += after.system - before.system
            print(f"SQS SendMessage, {args.body_size}-byte body, {args.rounds} x {args.calls} sequential calls")
            for name in paths:
                print(f"  {name:8} {summary(times[name])}")
            overhead = statistics.mean(times["gateway"]) - statistics.mean(times["direct"])
            median = statistics.median(times["gateway"]) - statistics.median(times["direct"])
            print(f"  overhead mean {overhead * 1000:+.2f} ms/call, median {median * 1000:+.2f} ms/call; "
                  f"gateway CPU {sum(gateway_cpu) / len(times['gateway']) * 1000:.2f} ms/call "
                  f"(user {gateway_cpu[0] / len(times['gateway']) * 1000:.2f}, "
                  f"system {gateway_cpu[1] / len(times['gateway']) * 1000:.2f})")

            s3 = {name: client("s3", endpoint) for name, endpoint in paths.items()}
            s3["direct"].create_bucket(Bucket="bench")
            blob = os.urandom(1 << 20)
            s3_times: dict[str, list[float]] = {name: [] for name in paths}
            for _ in range(args.rounds):
                for name in paths:
                    s3_times[name] += timed(20, lambda n=name: (
                        s3[n].put_object(Bucket="bench", Key=f"k-{n}", Body=blob),
                        s3[n].get_object(Bucket="bench", Key=f"k-{n}")["Body"].read()))
            print("S3 PutObject + GetObject of 1 MiB")
            for name in paths:
                print(f"  {name:8} {summary(s3_times[name])}")


if __name__ == "__main__":
    main()
