"""SQS returns a queue's RedriveAllowPolicy.

AWS: ``RedriveAllowPolicy`` set by CreateQueue or SetQueueAttributes is returned by GetQueueAttributes,
both when asked for by name and for ``All``; setting it to ``""`` removes it.
Stock moto: stores it but never returns it, and rejects the name in GetQueueAttributes
(InvalidAttributeName), so ``aws_sqs_queue_redrive_allow_policy`` waits ~20 minutes for it to appear.
"""

from __future__ import annotations

import json
from typing import Any

from harness.aws.fidelity import FidelityPatch

ATTRIBUTE = "RedriveAllowPolicy"
PERMISSIONS = ("allowAll", "denyAll", "byQueue")


def _normalise(value: Any) -> str | None:
    """The policy as AWS returns it (compact JSON), None when unset; invalid JSON raises."""
    from moto.sqs.exceptions import InvalidAttributeValue

    if value is None or value == "" or value == {}:
        return None
    try:
        policy = json.loads(value) if isinstance(value, str) else dict(value)
    except (TypeError, ValueError):
        raise InvalidAttributeValue(ATTRIBUTE) from None
    if not isinstance(policy, dict) or policy.get("redrivePermission") not in PERMISSIONS:
        raise InvalidAttributeValue(ATTRIBUTE)
    if policy["redrivePermission"] == "byQueue" and not policy.get("sourceQueueArns"):
        raise InvalidAttributeValue(ATTRIBUTE)
    return json.dumps(policy, separators=(",", ":"))


def _apply() -> None:
    from moto.sqs.models import Queue

    def _get(self: Queue) -> str | None:
        return self.__dict__.get("_harness_redrive_allow_policy")

    def _set(self: Queue, value: Any) -> None:
        # moto's Queue._set_attributes setattr()s every attribute it is given under its snake_case name.
        self.__dict__["_harness_redrive_allow_policy"] = _normalise(value)

    Queue.redrive_allow_policy = property(_get, _set)  # type: ignore[attr-defined]
    # GetQueueAttributes accepts the names in BASE_ATTRIBUTES and `attributes` reports them; a None value
    # (policy unset) is left out of the response, as AWS does.
    if ATTRIBUTE not in Queue.BASE_ATTRIBUTES:
        Queue.BASE_ATTRIBUTES = [*Queue.BASE_ATTRIBUTES, ATTRIBUTE]


PATCH = FidelityPatch(
    name="sqs-redrive-allow-policy",
    summary="GetQueueAttributes returns RedriveAllowPolicy once set (by name and for All); stock moto "
    "stores it but never returns it, and rejects the attribute name.",
    apply=_apply,
)
