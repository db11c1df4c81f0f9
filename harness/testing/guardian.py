"""A session guardian: stops a test session's stack when the session dies without stopping it.

A test session boots its stack detached (under xdist the worker that boots it may finish before the
others use it), so the stack's processes get no parent-death signal. Instead the session (the xdist
controller, or a lone session) starts this guardian when it may boot the stack. The guardian waits on a
pipe from its owner: "disarm" means the session ended and took care of its stack (stopped or, with
`--harness-keep`, kept it); end of file, or the owner no longer running, means the session died (SIGKILL,
OOM, a crash), and the guardian stops what is left of the session (xdist workers, which could otherwise
still boot or reuse the stack), reaps the run directory and removes its state file, so the next session
boots afresh instead of adopting a dead session's stack. It then exits; it never outlives its job.

The guardian carries the run marker of the directory it guards (the reaper finds it) and the owner's pid,
so reaping that directory while the owner lives (a cold boot reaping leftovers) spares it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.core.process import ManagedProcess
from harness.core.reaper import GUARDIAN_MARKER, processes_of_session, reap, running, terminate

DISARM = b"disarm\n"
LOG_NAME = "guardian.log"


class SessionGuardian:
    """The owner's side: `arm()` starts the guardian of `run_dir` for test session `session` (its id, see
    `harness.core.reaper.begin_session`), `disarm()` lets it exit without reaping."""

    def __init__(self, run_dir: Path, session: str) -> None:
        owner = os.getpid()
        self.run_dir = run_dir
        self.process = ManagedProcess(
            name="session guardian",
            argv=[sys.executable, "-m", "harness.testing.guardian", "--run-dir", str(run_dir),
                  "--owner-pid", str(owner), "--session", session],
            run_dir=run_dir,
            log_path=run_dir / LOG_NAME,
            env={GUARDIAN_MARKER: str(owner)},
            stdin=subprocess.PIPE,  # this process's end closes when it dies, however it dies
        )

    def arm(self) -> None:
        self.process.start()

    def disarm(self, timeout: float = 10.0) -> None:
        popen = self.process.popen
        if popen is None or popen.stdin is None:
            return
        with contextlib.suppress(OSError):  # the guardian is already gone
            popen.stdin.write(DISARM)
            popen.stdin.close()
        try:
            popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.stop()


def owner_disarmed(owner: int, commands: int = 0, poll: float = 0.5) -> bool:
    """Wait until the owner disarms (True) or is gone (False): its end of the `commands` pipe closed, or
    (should a forked child still hold that end) the owner pid no longer runs."""
    received = b""
    while True:
        readable, _, _ = select.select([commands], [], [], poll)
        if readable:
            chunk = os.read(commands, 64)
            received += chunk
            if DISARM in received:
                return True
            if not chunk:
                return False
        elif not running(owner):
            return False


def reap_session(run_dir: Path, session: str) -> int:
    """Stop what is left of `session`, then every process of `run_dir`, and forget its state like
    `harness down`. Returns how many processes were stopped."""
    # The session's orphaned xdist workers first: one still waiting for the stack lock would otherwise
    # find no stack and boot a new one. Then the stack's processes, before taking the lock ourselves.
    leftovers = processes_of_session(session)
    terminate(leftovers)
    stopped = len(leftovers) + reap(run_dir)
    # Imported here: the stack pulls in boto3 and psycopg, which an idle guardian has no use for.
    from harness.core.config import HarnessSettings
    from harness.stack import Stack

    return stopped + Stack(HarnessSettings(run_dir=run_dir)).down()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.testing.guardian")
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--owner-pid", type=int, required=True)
    parser.add_argument("--session", required=True)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is the owner's to handle; it disarms or dies
    print(f"guarding {args.run_dir} for pid {args.owner_pid}", flush=True)
    if owner_disarmed(args.owner_pid):
        print("disarmed: the session ended normally", flush=True)
        return 0
    print(f"pid {args.owner_pid} ended without disarming: reaping {args.run_dir}", flush=True)
    stopped = reap_session(args.run_dir, args.session)
    print(f"stopped {stopped} process(es), removed the state file", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
