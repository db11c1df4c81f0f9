"""A queue worker service (the mailstack worker) as a scenario drives it: run it with other settings and put it
back, and make sure its long polls have started again after a queue setting changed, without leaving behind
a long poll nobody reads.

    worker = QueueWorker(ecs, service_name, queue_url)
    with worker.running_with({"WORKER_SES_NOTIFICATION_GRACE_SECONDS": "2"}):
        ...                                        # the service runs a revision with that environment
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"VisibilityTimeout": "2"})
    worker.cycle_polls()                           # every task's next receive sees the new setting

Why: a task long-polls SQS (ReceiveMessage, WaitTimeSeconds up to 20 s). A receive that started before a
queue setting changed keeps the setting it started with (moto applies the visibility timeout in force when
the receive starts), and a receive whose task was killed stays open in SQS until its wait ends: a message
arriving meanwhile is received by nobody and stays in flight for a whole visibility timeout. So:

- `stop()` asks the tasks to stop (desired count 0: SIGTERM) and then sends S3 test events ("nudges"): a
  stopping worker that receives one makes it visible again and exits, its receive over; a worker the runner
  had to kill (exit code other than 0) may leave its receive open, and `stop()` then waits until that
  receive's longest possible wait is over;
- `cycle_polls()` sends nudges until every running task has logged one (each task's receive then returned,
  and its next one starts under the new settings), or until no receive started before the call can still
  be waiting.

Nudges are what S3 sends when a notification is configured: the worker deletes them (log outcome
`test_event`); one it released while stopping is deleted by the next task.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness.core.probes import EventuallyFailed
from harness.core.probes import eventually as default_eventually
from harness.testing.ecs import EcsControl
from harness.testing.reporting import read_json_lines

#: The longest SQS long poll (ReceiveMessage WaitTimeSeconds): how long a receive can stay open.
SQS_MAX_WAIT_SECONDS = 20.0
NUDGE_INTERVAL = 0.5


def s3_test_event() -> str:
    """The body of the `s3:TestEvent` S3 sends to a queue when a notification configuration is saved."""
    return json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent",
                       "Time": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                       "Bucket": "harness-nudge", "RequestId": uuid.uuid4().hex[:16].upper(),
                       "HostId": uuid.uuid4().hex})


def _exit_code(task: dict[str, Any]) -> int | None:
    code = task.get("harness", {}).get("exitCode")
    if code is None:
        code = next((c.get("exitCode") for c in task.get("containers", []) if c.get("exitCode") is not None), None)
    return None if code is None else int(code)


def _logged_message_ids(task: dict[str, Any]) -> set[str]:
    log_dir = task.get("harness", {}).get("logDir")
    if not log_dir:
        return set()
    return {str(entry["sqs_message_id"]) for path in Path(log_dir).glob("*.log") for entry in read_json_lines(path)
            if entry.get("sqs_message_id")}


class QueueWorker:
    def __init__(self, ecs: EcsControl, service_name: str, queue_url: str,
                 eventually: Callable[..., Any] = default_eventually) -> None:
        self.ecs, self.service_name, self.queue_url, self.eventually = ecs, service_name, queue_url, eventually
        self.sqs = ecs.stack.aws.client("sqs")

    def nudge(self) -> str:
        return str(self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=s3_test_event())["MessageId"])

    # ------------------------------------------------------------------ stopping and starting
    def stop(self, timeout: float = 60.0) -> list[dict[str, Any]]:
        """Stop every task of the service (desired count 0, restored by the EcsControl's `restore()`) with no
        receive of theirs left open; returns the stopped tasks."""
        service = self.ecs.service(self.service_name)
        arns = [t["taskArn"] for t in self.ecs.running_tasks(self.service_name)]
        self.ecs.deploy(self.service_name, service["taskDefinition"], desired=0, timeout=timeout)
        deadline = time.monotonic() + timeout
        while not all(self.ecs.stopped_task(self.service_name, arn) for arn in arns):
            assert time.monotonic() < deadline, f"tasks {arns} of {self.service_name} not stopped in {timeout:.0f}s"
            self.nudge()
            time.sleep(NUDGE_INTERVAL)
        stopped = self.ecs.wait_stopped(self.service_name, arns, timeout=timeout)
        killed = [t for t in stopped if _exit_code(t) != 0]
        if killed:  # its last receive may still be open: wait until it cannot be any more
            open_until = max(float(t.get("stoppingAt") or time.time()) for t in killed) + SQS_MAX_WAIT_SECONDS
            time.sleep(max(0.0, open_until - time.time()))
        return stopped

    def start(self, task_definition: str, desired: int, timeout: float = 120.0) -> list[dict[str, Any]]:
        """Run `desired` tasks of `task_definition`; returns them once they run."""
        return self.ecs.deploy(self.service_name, task_definition, desired=desired, timeout=timeout)

    @contextmanager
    def running_with(self, environment: dict[str, str], container: str | None = None) -> Iterator[list[dict[str, Any]]]:
        """The service's tasks replaced by tasks of a revision with `environment` set, for the block; then the
        original revision again. Stop first, then start: the old and the new settings never run side by side."""
        service = self.ecs.service(self.service_name)
        original, desired = service["taskDefinition"], int(service["desiredCount"])
        revision = self.ecs.register_revision(self.service_name, environment, container)
        self.stop()
        try:
            yield self.start(revision, desired)
        finally:
            self.stop()
            self.start(original, desired)

    # ------------------------------------------------------------------ after a queue setting changed
    def cycle_polls(self) -> None:
        """Return once every running task has started a receive since the call (or no receive from before it
        can still be open)."""
        all_open_until = time.monotonic() + SQS_MAX_WAIT_SECONDS
        tasks = {t["taskArn"]: t for t in self.ecs.running_tasks(self.service_name)}
        pending = set(tasks)
        while pending and time.monotonic() < all_open_until:
            nudge = self.nudge()
            try:
                handled_by = self.eventually(
                    lambda nudge=nudge: [arn for arn, t in tasks.items() if nudge in _logged_message_ids(t)],
                    timeout=max(0.1, all_open_until - time.monotonic()), interval=0.05,
                    what=f"a task of {self.service_name} handling the nudge {nudge}")
            except EventuallyFailed:
                return  # no receive started before the call can still be open
            pending.difference_update(handled_by)
