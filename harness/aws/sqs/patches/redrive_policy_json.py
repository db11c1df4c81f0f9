"""SQS returns RedrivePolicy as compact JSON.

AWS: GetQueueAttributes returns ``RedrivePolicy`` as compact JSON in the order it was set, with
``maxReceiveCount`` a number: ``{"deadLetterTargetArn":"arn:...","maxReceiveCount":5}``.
That is byte-for-byte what the AWS provider sends (it normalises with Go's encoding/json), so
``aws_sqs_queue``/``aws_sqs_queue_redrive_policy`` read back exactly what they wrote.
Stock moto: re-serialises it with Python's default separators (``{"deadLetterTargetArn": "arn:...",
"maxReceiveCount": 5}``), which differs from what was set and shows up as a perpetual diff.
"""

from __future__ import annotations

import json
from typing import Any

from harness.aws.fidelity import FidelityPatch


def _apply() -> None:
    from moto.sqs.models import Queue

    original = Queue.attributes.fget
    assert original is not None

    def attributes(self: Queue) -> dict[str, Any]:
        result: dict[str, Any] = original(self)
        if "RedrivePolicy" in result and self.redrive_policy:  # type: ignore[attr-defined]
            result["RedrivePolicy"] = json.dumps(self.redrive_policy, separators=(",", ":"))  # type: ignore[attr-defined]
        return result

    Queue.attributes = property(attributes)  # type: ignore[method-assign,assignment]


PATCH = FidelityPatch(
    name="sqs-redrive-policy-json",
    summary="GetQueueAttributes returns RedrivePolicy as compact JSON, as set; stock moto adds spaces "
    "after ':' and ',' so the value read differs from the value written (perpetual diff).",
    apply=_apply,
)
