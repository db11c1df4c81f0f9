"""SQS dead-letter-queue redrive: StartMessageMoveTask, ListMessageMoveTasks, CancelMessageMoveTask.

AWS: ``StartMessageMoveTask(SourceArn=<DLQ>, DestinationArn=?, MaxNumberOfMessagesPerSecond=?)`` starts
an asynchronous task that moves the messages in the DLQ (as many as it held at the start) to
``DestinationArn`` or, without one, back to the queue each message was redriven from. Moved messages
keep their body and message attributes and arrive as new messages (new MessageId, receive count 0).
``ListMessageMoveTasks`` shows the most recent tasks of a source, newest first (RUNNING with a
TaskHandle, then COMPLETED/CANCELLED/FAILED, ApproximateNumberOfMessagesMoved/ToMove);
``CancelMessageMoveTask`` stops a running task. One running task per source queue at a time.
Stock moto: none of the three operations exists (HTTP 500), and it forgets which queue moved a
message to its DLQ.

This patch remembers, on each message moved to a DLQ by the redrive policy, the queue it came from,
and runs each task in a daemon thread.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.aws.fidelity import FidelityPatch

if TYPE_CHECKING:
    from moto.core.responses import ActionResult
    from moto.sqs.models import Message, Queue, SQSBackend
    from moto.sqs.responses import SQSResponse

MAX_RATE = 500
MAX_LIST_RESULTS = 10
# Message attributes the patch keeps on moto's Message objects.
CURRENT_QUEUE = "_harness_queue_arn"
REDRIVEN_FROM = "_harness_dead_letter_source_arn"


@dataclass
class MoveTask:
    source_arn: str
    destination_arn: str | None
    rate: int | None
    to_move: int
    task_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    status: str = "RUNNING"
    moved: int = 0
    failure_reason: str | None = None
    started_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    cancel: threading.Event = field(default_factory=threading.Event)

    @property
    def handle(self) -> str:
        raw = json.dumps({"taskId": self.task_id, "sourceArn": self.source_arn}, separators=(",", ":"))
        return base64.b64encode(raw.encode()).decode()

    def entry(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "Status": self.status,
            "SourceArn": self.source_arn,
            "ApproximateNumberOfMessagesMoved": self.moved,
            "ApproximateNumberOfMessagesToMove": self.to_move,
            "StartedTimestamp": self.started_ms,
        }
        if self.status == "RUNNING":
            result["TaskHandle"] = self.handle
        if self.destination_arn:
            result["DestinationArn"] = self.destination_arn
        if self.rate is not None:
            result["MaxNumberOfMessagesPerSecond"] = self.rate
        if self.failure_reason:
            result["FailureReason"] = self.failure_reason
        return result


def _error(code: str, message: str) -> Exception:
    from moto.sqs.exceptions import SQSException

    return SQSException(code, message)


def _tasks(backend: SQSBackend) -> list[MoveTask]:
    """The backend's tasks, oldest first; kept on the backend so a moto reset clears them."""
    tasks: list[MoveTask] = backend.__dict__.setdefault("_harness_move_tasks", [])
    return tasks


def _queue_by_arn(arn: str, parameter: str) -> Queue:
    from moto.sqs.models import sqs_backends

    parts = arn.split(":")
    if len(parts) != 6 or parts[2] != "sqs":
        raise _error("InvalidParameterValue", f"Value {arn} for parameter {parameter} is invalid.")
    _, _, _, region, account, name = parts
    queue = sqs_backends[account][region].queues.get(name)
    if queue is None:
        raise _error(
            "ResourceNotFoundException", f"The resource that you specified for the {parameter} parameter doesn't exist."
        )
    return queue


def _movable(queue: Queue) -> list[Message]:
    with queue._messages_lock:
        return list(queue.messages)


def _run(task: MoveTask, source: Queue) -> None:
    from moto.moto_api._internal import mock_random
    from moto.sqs.models import Message

    interval = 1.0 / task.rate if task.rate else 0.0
    while task.moved < task.to_move and not task.cancel.is_set():
        candidates = _movable(source)
        if not candidates:
            break
        message = candidates[0]
        destination_arn = task.destination_arn or getattr(message, REDRIVEN_FROM, None)
        if destination_arn is None:
            task.status = "FAILED"
            task.failure_reason = (
                "The message was not moved to the dead-letter queue by a redrive policy, so "
                "it has no source queue to return to: set DestinationArn."
            )
            return
        try:
            destination = _queue_by_arn(destination_arn, "DestinationArn")
        except Exception as exc:  # the original source queue was deleted meanwhile
            task.status = "FAILED"
            task.failure_reason = str(exc)
            return
        moved = Message(str(mock_random.uuid4()), message.body, dict(message.system_attributes or {}))
        moved.message_attributes = message.message_attributes
        moved.group_id = message.group_id
        if message.group_id is not None:
            # FIFO: AWS replaces the deduplication ID with the original message's ID.
            moved.deduplication_id = message.id
        moved.mark_sent()
        with source._messages_lock:
            if message not in source._messages:
                continue  # deleted by a consumer meanwhile
            source._messages.remove(message)
            source.pending_messages.discard(message)
        destination.add_message(moved)
        task.moved += 1
        if interval:
            task.cancel.wait(interval)
    task.status = "CANCELLED" if task.cancel.is_set() else "COMPLETED"


def start_message_move_task(self: SQSResponse) -> ActionResult:
    from moto.core.responses import ActionResult

    source_arn = self._get_param("SourceArn")
    destination_arn = self._get_param("DestinationArn") or None
    rate = self._get_param("MaxNumberOfMessagesPerSecond")
    source = _queue_by_arn(source_arn, "SourceArn")
    if destination_arn is not None:
        _queue_by_arn(destination_arn, "DestinationArn")
    if rate is not None and not 1 <= int(rate) <= MAX_RATE:
        raise _error(
            "InvalidParameterValue",
            f"Value {rate} for parameter MaxNumberOfMessagesPerSecond is "
            f"invalid. Reason: must be between 1 and {MAX_RATE}.",
        )
    backend = self.sqs_backend
    if not any(queue.dead_letter_queue is source for queue in backend.queues.values()):
        raise _error("InvalidParameterValue", "Source queue must be configured as a Dead Letter Queue.")
    tasks = _tasks(backend)
    if any(t.source_arn == source_arn and t.status == "RUNNING" for t in tasks):
        raise _error(
            "UnsupportedOperation",
            "There is already a task running. Only one active task is allowed for a source queue arn at a given time.",
        )
    task = MoveTask(source_arn, destination_arn, None if rate is None else int(rate), len(_movable(source)))
    tasks.append(task)
    threading.Thread(target=_run, args=(task, source), name=f"sqs-move-{task.task_id}", daemon=True).start()
    return ActionResult({"TaskHandle": task.handle})


def list_message_move_tasks(self: SQSResponse) -> ActionResult:
    from moto.core.responses import ActionResult

    source_arn = self._get_param("SourceArn")
    _queue_by_arn(source_arn, "SourceArn")
    max_results = int(self._get_param("MaxResults") or 1)
    if not 1 <= max_results <= MAX_LIST_RESULTS:
        raise _error(
            "InvalidParameterValue",
            f"Value {max_results} for parameter MaxResults is invalid. "
            f"Reason: must be between 1 and {MAX_LIST_RESULTS}.",
        )
    mine = [t for t in reversed(_tasks(self.sqs_backend)) if t.source_arn == source_arn]
    return ActionResult({"Results": [t.entry() for t in mine[:max_results]]})


def cancel_message_move_task(self: SQSResponse) -> ActionResult:
    from moto.core.responses import ActionResult

    handle = self._get_param("TaskHandle")
    for task in _tasks(self.sqs_backend):
        if task.handle == handle and task.status == "RUNNING":
            task.status = "CANCELLING"
            task.cancel.set()
            return ActionResult({"ApproximateNumberOfMessagesMoved": task.moved})
    raise _error("ResourceNotFoundException", "Task does not exist or is not running.")


def _apply() -> None:
    from moto.sqs.models import Queue
    from moto.sqs.responses import SQSResponse

    original_add = Queue.add_message

    def add_message(self: Queue, message: Message) -> None:
        # A message is added to a second queue only by the redrive policy moving it to the DLQ.
        previous = getattr(message, CURRENT_QUEUE, None)
        if previous is not None and previous != self.queue_arn:
            setattr(message, REDRIVEN_FROM, previous)
        setattr(message, CURRENT_QUEUE, self.queue_arn)
        original_add(self, message)

    Queue.add_message = add_message  # type: ignore[method-assign]
    SQSResponse.start_message_move_task = start_message_move_task  # type: ignore[attr-defined]
    SQSResponse.list_message_move_tasks = list_message_move_tasks  # type: ignore[attr-defined]
    SQSResponse.cancel_message_move_task = cancel_message_move_task  # type: ignore[attr-defined]


def _restore_state(_saved: object, _saved_endpoint: str | None, _endpoint: str) -> None:
    """After an emulator restore (the tasks come back with the backends, their threads do not): a running
    task carries on from where it was, one being cancelled ends cancelled."""
    from moto.sqs.models import sqs_backends

    for _, _, backend in sqs_backends.iter_backends():
        for task in _tasks(backend):
            if task.status == "CANCELLING":
                task.status = "CANCELLED"
            elif task.status == "RUNNING":
                source = backend.queues.get(task.source_arn.rsplit(":", 1)[-1])
                if source is None:
                    task.status, task.failure_reason = "FAILED", "The source queue no longer exists."
                    continue
                threading.Thread(target=_run, args=(task, source), name=f"sqs-move-{task.task_id}", daemon=True).start()


PATCH = FidelityPatch(
    name="sqs-message-move-tasks",
    summary="StartMessageMoveTask/ListMessageMoveTasks/CancelMessageMoveTask redrive a DLQ "
    "asynchronously (to DestinationArn or each message's source queue); stock moto lacks all three.",
    apply=_apply,
    restore_state=_restore_state,
)
