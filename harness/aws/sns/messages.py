"""SNS HTTP/S messages as AWS sends them: the JSON bodies of SubscriptionConfirmation,
UnsubscribeConfirmation and Notification, signed, and the ``x-amz-sns-*`` headers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from harness.aws.sns.delivery import timestamp
from harness.aws.sns.signing import SIGNATURE_VERSIONS, SigningIdentity

USER_AGENT = "Amazon Simple Notification Service Agent"


def arn_param(value: str) -> str:
    return quote(value, safe=":")


def json_body(message: Mapping[str, Any]) -> bytes:
    # AWS's bodies are pretty-printed JSON with " : " separators and unescaped non-ASCII text.
    return json.dumps(message, indent=2, separators=(",", " : "), ensure_ascii=False).encode("utf-8")


def headers(message_type: str, message_id: str, topic_arn: str, content_type: str) -> dict[str, str]:
    return {
        "x-amz-sns-message-type": message_type,
        "x-amz-sns-message-id": message_id,
        "x-amz-sns-topic-arn": topic_arn,
        "Content-Type": content_type,
        "User-Agent": USER_AGENT,
    }


def signature_version(topic: Any) -> str:
    """The topic's SignatureVersion ("1" = SHA1withRSA, "2" = SHA256withRSA), "1" when unset or unknown."""
    version = str(getattr(topic, "signature_version", "1") or "1")
    return version if version in SIGNATURE_VERSIONS else "1"


def sign(message: dict[str, Any], identity: SigningIdentity, version: str, cert_url: str) -> dict[str, Any]:
    message["SignatureVersion"] = version
    message["Signature"] = identity.sign(message, version)
    message["SigningCertURL"] = cert_url
    return message


def confirmation(message_type: str, message_id: str, topic_arn: str, subscription_arn: str, token: str,
                 base: str) -> dict[str, Any]:
    """SubscriptionConfirmation (a new subscription) or UnsubscribeConfirmation (after Unsubscribe), unsigned."""
    if message_type == "SubscriptionConfirmation":
        text = (
            f"You have chosen to subscribe to the topic {topic_arn}.\n"
            "To confirm the subscription, visit the SubscribeURL included in this message."
        )
    else:
        text = (
            f"You have chosen to deactivate subscription {subscription_arn}.\n"
            "To cancel this operation and restore the subscription, visit the SubscribeURL included in this message."
        )
    return {
        "Type": message_type,
        "MessageId": message_id,
        "Token": token,
        "TopicArn": topic_arn,
        "Message": text,
        "SubscribeURL": f"{base}/?Action=ConfirmSubscription&TopicArn={arn_param(topic_arn)}&Token={token}",
        "Timestamp": timestamp(),
    }


def notification(message_id: str, topic_arn: str, subject: str | None, message: str) -> dict[str, Any]:
    """A Notification's fields before the signature (the UnsubscribeURL and attributes come after it)."""
    body: dict[str, Any] = {"Type": "Notification", "MessageId": message_id, "TopicArn": topic_arn}
    if subject:
        body["Subject"] = subject
    body["Message"] = message
    body["Timestamp"] = timestamp()
    return body
