"""What SQS publishes to CloudWatch but no SQS API tells: message counters and the oldest message's age.

AWS: every active queue publishes, once a minute, to namespace ``AWS/SQS`` (dimension ``QueueName``) the
gauges ``ApproximateNumberOfMessages{Visible,NotVisible,Delayed}`` and ``ApproximateAgeOfOldestMessage``
(seconds; for a dead-letter queue the time since the message was moved there, not since it was first sent;
a message received three times or more stops counting, the metric then points at the next oldest), and
the counters ``NumberOfMessagesSent`` (SendMessage/SendMessageBatch and deliveries from SNS, S3, ...; not
redrive moves), ``NumberOfMessagesReceived``, ``NumberOfMessagesDeleted`` (every successful delete with a
valid receipt handle, repeats included) and ``NumberOfEmptyReceives``.
GetQueueAttributes gives the three ``ApproximateNumberOfMessages*`` gauges, but the age and the counters
exist only inside SQS, and peeking at messages over the API would change their receive counts.
Stock moto: none of this is observable.

This patch counts sends, receives, empty receives and deletes per queue inside moto, remembers when each
message entered its current queue, and serves, for the harness's CloudWatch publisher only:

``GET /_harness/sqs`` → ``{"time": <epoch s>, "queues": [{"QueueArn", "QueueName", "Account", "Region",
"ApproximateAgeOfOldestMessage", "NumberOfMessagesSent", "NumberOfMessagesReceived",
"NumberOfMessagesDeleted", "NumberOfEmptyReceives"}]}`` — counters cumulative since the queue was created
(the publisher sends the differences), age in whole seconds (0 for an empty queue).

No SQS API answer changes; the path is not an AWS API (S3 bucket names cannot start with ``_``).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from harness.aws.fidelity import FidelityPatch

if TYPE_CHECKING:
    from moto.sqs.models import Message, Queue, SQSBackend

NAME = "sqs-cloudwatch-metrics"
PATH = "/_harness/sqs"
COUNTERS = ("NumberOfMessagesSent", "NumberOfMessagesReceived", "NumberOfMessagesDeleted", "NumberOfEmptyReceives")
POISON_RECEIVES = 3
# Attributes the patch keeps on moto's objects (cleared with them by a moto reset).
ENQUEUED_AT = "_harness_enqueued_at"
QUEUE_COUNTERS = "_harness_cloudwatch_counters"
_lock = threading.Lock()


def _count(queue: Queue, metric: str, amount: int = 1) -> None:
    with _lock:
        counters: Counter[str] = queue.__dict__.setdefault(QUEUE_COUNTERS, Counter())
        counters[metric] += amount


def oldest_age(messages: Iterable[Message], now: float) -> int:
    """Seconds since the oldest message entered the queue, skipping messages received three times or
    more unless only those are left; 0 when there are none."""
    entered = [
        (float(getattr(m, ENQUEUED_AT, None) or (m.sent_timestamp or now * 1000) / 1000), m.approximate_receive_count)
        for m in messages
    ]
    if not entered:
        return 0
    fresh = [at for at, receives in entered if receives < POISON_RECEIVES]
    oldest = min(fresh or [at for at, _ in entered])
    return max(0, int(now - oldest))


def queue_metrics(queue: Queue, now: float) -> dict[str, Any]:
    with queue._messages_lock:
        messages = list(queue._messages)
    with _lock:
        counters = Counter(queue.__dict__.get(QUEUE_COUNTERS, Counter()))
    _, _, _, region, account, name = queue.queue_arn.split(":", 5)
    return {
        "QueueArn": queue.queue_arn,
        "QueueName": name,
        "Account": account,
        "Region": region,
        "ApproximateAgeOfOldestMessage": oldest_age(messages, now),
        **{metric: counters[metric] for metric in COUNTERS},
    }


def snapshot() -> dict[str, Any]:
    from moto.sqs.models import sqs_backends

    now = time.time()
    queues: list[dict[str, Any]] = []
    for account in list(dict.keys(sqs_backends)):
        regional = dict.get(sqs_backends, account)
        for backend in list(dict.values(regional)) if regional is not None else []:
            for queue in list(backend.queues.values()):
                queues.append(queue_metrics(queue, now))
    return {"time": now, "queues": queues}


def _wrap_dispatcher(original: Callable[..., Any]) -> Callable[..., Any]:
    def __call__(self: Any, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") in (PATH, PATH + "/") and environ.get("REQUEST_METHOD") == "GET":
            body = json.dumps(snapshot()).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        return original(self, environ, start_response)

    __call__._harness_sqs_cloudwatch_metrics = True  # type: ignore[attr-defined]
    return __call__


def _apply() -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    from moto.sqs.models import Queue, SQSBackend

    if getattr(DomainDispatcherApplication.__call__, "_harness_sqs_cloudwatch_metrics", False):
        return

    original_add = Queue.add_message

    def add_message(self: Queue, message: Message) -> None:
        setattr(message, ENQUEUED_AT, time.time())
        original_add(self, message)

    original_send = SQSBackend.send_message

    def send_message(self: SQSBackend, queue_name: str, *args: Any, **kwargs: Any) -> Message:
        message = original_send(self, queue_name, *args, **kwargs)
        _count(self.get_queue(queue_name), "NumberOfMessagesSent")
        return message

    original_receive = SQSBackend.receive_message

    def receive_message(self: SQSBackend, queue_name: str, *args: Any, **kwargs: Any) -> list[Message]:
        messages = original_receive(self, queue_name, *args, **kwargs)
        queue = self.get_queue(queue_name)
        if messages:
            _count(queue, "NumberOfMessagesReceived", len(messages))
        else:
            _count(queue, "NumberOfEmptyReceives")
        return messages

    original_delete = SQSBackend.delete_message

    def delete_message(self: SQSBackend, queue_name: str, receipt_handle: str) -> None:
        original_delete(self, queue_name, receipt_handle)
        _count(self.get_queue(queue_name), "NumberOfMessagesDeleted")

    Queue.add_message = add_message  # type: ignore[method-assign]
    SQSBackend.send_message = send_message  # type: ignore[method-assign]
    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]
    SQSBackend.delete_message = delete_message  # type: ignore[method-assign]
    DomainDispatcherApplication.__call__ = _wrap_dispatcher(DomainDispatcherApplication.__call__)


PATCH = FidelityPatch(
    name=NAME,
    summary="AWS publishes SQS message counters (sent/received/deleted/empty receives) and "
    "ApproximateAgeOfOldestMessage to CloudWatch, which no SQS API exposes; stock moto keeps neither. "
    "Counted inside moto and served at GET /_harness/sqs for the harness's metric publisher.",
    apply=_apply,
)
