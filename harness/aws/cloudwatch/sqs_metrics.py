"""AWS/SQS metrics, per queue (dimension QueueName), as SQS publishes them once a minute.

Gauges come from the SQS API (``ListQueues`` + ``GetQueueAttributes``). The oldest message's age and the
message counters exist only inside SQS: the emulator's ``GET /_harness/sqs`` (fidelity patch
``sqs-cloudwatch-metrics``) gives them, counted where the messages are, without receiving anything —
receiving would change the messages' receive counts and visibility. Counters are cumulative there; this
source publishes the difference since its previous collection (zero the first time). Against an emulator
without that endpoint the age and counters are left out, and ``status`` says so.

The age is a duration on the local cloud's clock: multiplied by ``age_scale`` (the emulation passes its
time scale), so that a Terraform threshold of 300 s means the same share of the alarm's scaled
evaluation periods as on AWS — at time scale 5 a message waiting one real minute is 300 s old.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from harness.aws.cloudwatch.sink import Datum

NAMESPACE = "AWS/SQS"
HARNESS_PATH = "/_harness/sqs"
GAUGES = {
    "ApproximateNumberOfMessages": "ApproximateNumberOfMessagesVisible",
    "ApproximateNumberOfMessagesNotVisible": "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed": "ApproximateNumberOfMessagesDelayed",
}
COUNTERS = ("NumberOfMessagesSent", "NumberOfMessagesReceived", "NumberOfMessagesDeleted", "NumberOfEmptyReceives")


class SqsMetrics:
    name = "sqs"

    def __init__(self, sqs: Any, endpoint_url: str, timeout: float = 10.0, age_scale: float = 1.0) -> None:
        self.sqs = sqs
        self.age_scale = age_scale
        self.harness_url = endpoint_url.rstrip("/") + HARNESS_PATH
        self.timeout = timeout
        self.inside_available: bool | None = None
        self._previous: dict[str, dict[str, int]] = {}

    def queue_urls(self) -> list[str]:
        urls: list[str] = []
        for page in self.sqs.get_paginator("list_queues").paginate():
            urls.extend(page.get("QueueUrls", []))
        return urls

    def inside(self) -> dict[str, dict[str, Any]]:
        """The emulator's view by QueueArn; empty when it has no /_harness/sqs."""
        try:
            with urllib.request.urlopen(self.harness_url, timeout=self.timeout) as response:  # noqa: S310
                data = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code in (400, 403, 404, 405, 501):
                self.inside_available = False
                return {}
            raise
        self.inside_available = True
        return {str(q["QueueArn"]): q for q in data.get("queues", [])}

    def collect(self) -> list[Datum]:
        inside = self.inside()
        datums: list[Datum] = []
        for url in self.queue_urls():
            try:
                attributes = self.sqs.get_queue_attributes(
                    QueueUrl=url, AttributeNames=["QueueArn", *GAUGES]
                )["Attributes"]
            except self.sqs.exceptions.QueueDoesNotExist:
                continue  # deleted between ListQueues and now
            arn = attributes["QueueArn"]
            dimensions = {"QueueName": arn.rsplit(":", 1)[-1]}
            for attribute, metric in GAUGES.items():
                if attribute in attributes:
                    datums.append(Datum(NAMESPACE, metric, dimensions, "Count", float(attributes[attribute])))
            state = inside.get(arn)
            if state is None:
                continue
            datums.append(Datum(NAMESPACE, "ApproximateAgeOfOldestMessage", dimensions, "Seconds",
                                float(state["ApproximateAgeOfOldestMessage"]) * self.age_scale))
            previous = self._previous.get(arn)
            current = {name: int(state.get(name, 0)) for name in COUNTERS}
            self._previous[arn] = current
            for name in COUNTERS:
                before = previous.get(name, current[name]) if previous is not None else current[name]
                delta = current[name] - before if current[name] >= before else current[name]  # queue recreated
                datums.append(Datum(NAMESPACE, name, dimensions, "Count", float(delta)))
        return datums
