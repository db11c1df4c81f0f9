"""SetQueueAttributes leaves the attributes it is not given unchanged, the queue policy included.

AWS: SetQueueAttributes changes only the attributes in the request; ``Policy`` is removed only by
setting it to ``""``.
Stock moto: every SetQueueAttributes call without ``Policy`` (e.g. the provider setting
``RedriveAllowPolicy`` or ``VisibilityTimeout``) resets the queue policy to empty, so the S3 → SQS
permission that ``aws_sqs_queue_policy`` wrote disappears depending on apply order.
"""

from __future__ import annotations

from typing import Any

from harness.aws.fidelity import FidelityPatch


def _apply() -> None:
    from moto.sqs.models import Queue

    original = Queue._set_attributes

    def _set_attributes(self: Queue, attributes: dict[str, Any], now: float | None = None) -> None:
        if "Policy" in attributes or "_policy_json" not in self.__dict__:
            original(self, attributes, now)
            return
        kept = self._policy_json
        original(self, attributes, now)
        self._policy_json = kept

    Queue._set_attributes = _set_attributes  # type: ignore[method-assign]


PATCH = FidelityPatch(
    name="sqs-set-attributes-keeps-policy",
    summary="SetQueueAttributes without Policy leaves the queue policy alone; stock moto wipes it on "
    "every SetQueueAttributes call that does not repeat it.",
    apply=_apply,
)
