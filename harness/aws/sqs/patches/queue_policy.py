"""SendMessage(Batch) and S3 / SNS deliveries to a queue are allowed or denied by its queue policy.

AWS: a queue policy (resource-based) is evaluated with the caller's identity policies. An explicit Deny
in it refuses anyone. A principal of the queue's own account is allowed by its IAM permissions alone; a
principal of another account, and a service delivering on a resource's behalf (S3 event notifications,
SNS subscriptions: principal ``s3.amazonaws.com`` / ``sns.amazonaws.com`` with ``aws:SourceArn`` and
``aws:SourceAccount`` in the request context), needs an Allow of the queue policy. A refused SendMessage
answers HTTP 403 ``AccessDenied`` ("User: ... is not authorized to perform: sqs:sendmessage on resource:
... because no resource-based policy allows the sqs:sendmessage action"); a refused S3 or SNS delivery is
dropped (it is asynchronous: the object upload or the Publish still succeeds).
Stock moto: never reads a queue policy. Any bucket or topic delivers to any queue; a caller of another
account gets ``AWS.SimpleQueueService.NonExistentQueue`` (moto looks the queue up in the caller's account),
and the platform's "only the raw-mail bucket and the inbound topic" policy proves nothing.
Patch: evaluates the policy (Principal/NotPrincipal, Action/NotAction, Resource/NotResource, the String*,
Arn*, Bool and Null condition operators with ``IfExists``; a condition on a key the request lacks is false,
and true for the negated operators, as on AWS) where SendMessage, SendMessageBatch (authorised as
``sqs:SendMessage``), S3's ``_send_sqs_message`` and SNS's ``Subscription.publish`` reach a queue; a
cross-account send the policy allows reaches the queue's own account.
Not modelled: identity policies (moto does not enforce IAM unless asked, so same-account callers count as
permitted), and a queue without a policy keeps moto's openness for S3/SNS deliveries (AWS: refused), so
tests that subscribe a queue without writing a policy keep working.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from harness.aws.fidelity import FidelityPatch

log = logging.getLogger(__name__)

ACTION = "sqs:SendMessage"
_NEGATED = frozenset(
    {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike"}
)


@dataclass(frozen=True)
class Caller:
    """Who sends: an AWS principal (`account`, the ARNs that name it) or a service (`service`)."""

    account: str = ""
    arns: frozenset[str] = frozenset()
    service: str | None = None
    context: dict[str, str] = field(default_factory=dict)  # condition keys, lower-case

    @property
    def name(self) -> str:
        return self.service or next(iter(sorted(self.arns)), f"arn:aws:iam::{self.account}:root")


def _values(element: Any) -> list[str]:
    return [str(element)] if isinstance(element, str | int | bool) else [str(v) for v in element or ()]


def _wildcard(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL) is not None


def _principal_matches(element: Any, caller: Caller) -> bool:
    if element == "*":
        return True
    if not isinstance(element, dict):
        return False
    for kind, values in element.items():
        for value in _values(values):
            if kind == "AWS" and value == "*":
                return True
            if kind == "AWS" and caller.service is None and (
                value in (caller.account, f"arn:aws:iam::{caller.account}:root") or value in caller.arns
            ):
                return True
            if kind == "Service" and value == caller.service:
                return True
    return False


def _compare(operator: str, actual: str, expected: list[str]) -> bool:
    if operator in ("StringEquals", "StringNotEquals"):
        found = actual in expected
    elif operator in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        found = actual.lower() in (e.lower() for e in expected)
    elif operator in ("StringLike", "StringNotLike", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"):
        found = any(_wildcard(e, actual) for e in expected)
    elif operator == "Bool":
        found = actual.lower() in (e.lower() for e in expected)
    else:
        raise ValueError(f"condition operator {operator!r} is not modelled")
    return not found if operator in _NEGATED else found


def _conditions_hold(conditions: dict[str, dict[str, Any]], context: dict[str, str]) -> bool:
    for raw_operator, tests in conditions.items():
        operator = raw_operator.split(":", 1)[-1]  # ForAnyValue:/ForAllValues: on single-valued keys
        if_exists = operator.endswith("IfExists")
        operator = operator.removesuffix("IfExists")
        for key, expected in tests.items():
            actual = context.get(key.lower())
            if operator == "Null":
                if (actual is None) != (_values(expected)[0].lower() == "true"):
                    return False
            elif actual is None:
                if not (if_exists or operator in _NEGATED):
                    return False
            elif not _compare(operator, actual, _values(expected)):
                return False
    return True


def _any_match(element: Any, value: str, *, ignore_case: bool = False) -> bool:
    return any(_wildcard(pattern, value, ignore_case=ignore_case) for pattern in _values(element))


def _applies(statement: dict[str, Any], resource: str, caller: Caller) -> bool:
    if "Principal" in statement and not _principal_matches(statement["Principal"], caller):
        return False
    if "NotPrincipal" in statement and _principal_matches(statement["NotPrincipal"], caller):
        return False
    if "Action" in statement and not _any_match(statement["Action"], ACTION, ignore_case=True):
        return False
    if "NotAction" in statement and _any_match(statement["NotAction"], ACTION, ignore_case=True):
        return False
    if "Resource" in statement and not _any_match(statement["Resource"], resource):
        return False
    if "NotResource" in statement and _any_match(statement["NotResource"], resource):
        return False
    try:
        return _conditions_hold(statement.get("Condition") or {}, caller.context)
    except ValueError as exc:
        log.warning("queue policy statement %r ignored: %s", statement.get("Sid"), exc)
        return False


def denial(policy: dict[str, Any] | None, queue_arn: str, queue_account: str, caller: Caller) -> str | None:
    """Why `caller` may not SendMessage to the queue (AWS's wording), or None when it may."""
    statements = (policy or {}).get("Statement") or []
    statements = [statements] if isinstance(statements, dict) else statements
    applying = [s for s in statements if isinstance(s, dict) and _applies(s, queue_arn, caller)]
    refused = f"User: {caller.name} is not authorized to perform: sqs:sendmessage on resource: {queue_arn}"
    if any(s.get("Effect") == "Deny" for s in applying):
        return f"{refused} with an explicit deny in a resource-based policy"
    if caller.service is None and caller.account == queue_account:
        return None  # the owner account's principals: their IAM permissions suffice (not modelled)
    if any(s.get("Effect") == "Allow" for s in applying):
        return None
    return f"{refused} because no resource-based policy allows the sqs:sendmessage action"


def service_caller(service: str, source_arn: str, source_account: str) -> Caller:
    return Caller(service=service, context={"aws:sourcearn": source_arn, "aws:sourceaccount": source_account})


# ---------------------------------------------------------------------------------------------- moto side
def _queue(account: str, region: str, name: str) -> Any:
    from moto.sqs.models import sqs_backends

    if account not in sqs_backends or region not in sqs_backends[account]:
        return None
    return sqs_backends[account][region].queues.get(name)


def _policy(queue: Any) -> dict[str, Any] | None:
    policy = getattr(queue, "_policy_json", None)
    return policy if isinstance(policy, dict) and policy.get("Statement") else None


def _sdk_caller(response: Any) -> Caller:
    from moto.sts.models import sts_backends

    account = response.current_account
    _, arn, _ = sts_backends[account][response.partition].get_caller_identity(
        response.get_access_key(), response.region
    )
    arns = {arn}
    assumed = re.fullmatch(r"arn:([^:]+):sts::(\d+):assumed-role/([^/]+)/.+", arn)
    if assumed:
        arns.add(f"arn:{assumed[1]}:iam::{assumed[2]}:role/{assumed[3]}")
    return Caller(account=account, arns=frozenset(arns), context={"aws:principalaccount": account,
                                                                   "aws:principalarn": arn})


def _addressed(response: Any) -> tuple[str, str]:
    """(owner account, queue name) of the QueueUrl (or bare name) in the request."""
    url = str(response._get_param("QueueUrl") or "")
    parts = urlparse(url).path.strip("/").split("/") if "://" in url else []
    if len(parts) == 2 and parts[0].isdigit():
        return parts[0], parts[1]
    return response.current_account, response._get_queue_name()


def _access_denied(response: Any, reason: str) -> tuple[str, dict[str, Any]]:
    """moto's own serialisation of an AccessDenied error for the request's protocol, with AWS's 403."""
    from moto.core.exceptions import ServiceException
    from moto.core.responses import ActionResult

    class AccessDenied(ServiceException):  # defined here: moto maps exceptions of moto.* modules to services
        code = "AccessDenied"

    _, headers, body = response.serialized(ActionResult(AccessDenied(reason)))
    return body, {**headers, "status": 403}


def _guard_send(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def send(self: Any) -> Any:
        owner, name = _addressed(self)
        queue = _queue(owner, self.region, name)
        if queue is None or (owner == self.current_account and _policy(queue) is None):
            return original(self)  # no such queue (moto answers), or nothing can refuse the owner account
        reason = denial(_policy(queue), queue.queue_arn, owner, _sdk_caller(self))
        if reason is not None:
            return _access_denied(self, reason)
        if owner == self.current_account:
            return original(self)
        caller_account, self.current_account = self.current_account, owner  # the queue's backend
        try:
            return original(self)
        finally:
            self.current_account = caller_account

    send._harness_sqs_queue_policy = True  # type: ignore[attr-defined]
    return send


def _guard_s3_delivery(original: Callable[..., None]) -> Callable[..., None]:
    def send(account_id: str, event_body: Any, queue_name: str, region_name: str) -> None:
        queue = _queue(account_id, region_name, queue_name)
        bucket = _event_bucket(event_body)
        if queue is not None and bucket is not None:
            caller = service_caller("s3.amazonaws.com", f"arn:aws:s3:::{bucket}", account_id)
            reason = denial(_policy(queue), queue.queue_arn, account_id, caller) if _policy(queue) else None
            if reason is not None:
                log.warning("S3 event of bucket %s not delivered to %s: %s", bucket, queue.queue_arn, reason)
                return
        original(account_id, event_body, queue_name, region_name)

    return send


def _event_bucket(event_body: Any) -> str | None:
    if not isinstance(event_body, dict):
        return None
    if "Bucket" in event_body:  # the s3:TestEvent
        return str(event_body["Bucket"])
    records: Iterable[Any] = event_body.get("Records") or ()
    for record in records:
        return str(record["s3"]["bucket"]["name"])
    return None


def _guard_sns_delivery(original: Callable[..., Any]) -> Callable[..., Any]:
    def publish(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self.protocol == "sqs":
            _, _, _, region, account, name = (self.endpoint.split(":", 5) + [""] * 6)[:6]
            queue = _queue(account, region, name)
            if queue is not None and _policy(queue):
                caller = service_caller("sns.amazonaws.com", self.topic.arn, self.topic.account_id)
                reason = denial(_policy(queue), queue.queue_arn, account, caller)
                if reason is not None:
                    log.warning("SNS message of %s not delivered to %s: %s", self.topic.arn, self.endpoint, reason)
                    return None
        return original(self, *args, **kwargs)

    return publish


def _apply() -> None:
    from moto.s3 import notifications
    from moto.sns.models import Subscription
    from moto.sqs.responses import SQSResponse

    if getattr(SQSResponse.send_message, "_harness_sqs_queue_policy", False):
        return
    # AccessDenied is a common AWS error the SQS service model lacks; moto would warn at every refusal.
    warnings.filterwarnings("ignore", message=r"Exception\(AccessDenied\) with code AccessDenied", category=UserWarning)
    SQSResponse.send_message = _guard_send(SQSResponse.send_message)  # type: ignore[method-assign]
    SQSResponse.send_message_batch = _guard_send(SQSResponse.send_message_batch)  # type: ignore[method-assign]
    notifications._send_sqs_message = _guard_s3_delivery(notifications._send_sqs_message)
    Subscription.publish = _guard_sns_delivery(Subscription.publish)  # type: ignore[method-assign]


PATCH = FidelityPatch(
    name="sqs-queue-policy",
    summary="SendMessage(Batch) and S3/SNS deliveries obey the queue policy (403 AccessDenied, or the "
    "delivery is dropped); stock moto ignores queue policies, so any bucket or topic can fill any queue.",
    apply=_apply,
)
