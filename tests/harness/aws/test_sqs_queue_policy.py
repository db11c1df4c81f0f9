"""sqs-queue-policy: SendMessage and S3/SNS deliveries are allowed or refused by the queue policy, as on AWS."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from harness.aws.sqs.patches.queue_policy import Caller, denial, service_caller
from tests.harness.aws.support import ACCOUNT, REGION, Aws, stock_fails, unique

OTHER_ACCOUNT = "111111111111"


def as_account(client: Any, account: str) -> Any:
    """`client` calling as a principal of `account` (moto's x-moto-account-id header)."""

    def add_header(request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = account

    client.meta.events.register("before-sign", add_header)
    return client


def queue_with_policy(sqs: Any, *statements: dict[str, Any]) -> tuple[str, str]:
    name = unique("q")
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    policy = {"Version": "2012-10-17", "Statement": [{"Resource": arn, **s} for s in statements]}
    url = sqs.create_queue(QueueName=name, Attributes={"Policy": json.dumps(policy)})["QueueUrl"]
    return url, arn


def service_allow(service: str, source_arn: str) -> dict[str, Any]:
    """The platform's statement shape (terraform/modules/mail_ingest: AllowRawMailBucketNotifications)."""
    return {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sqs:SendMessage",
        "Condition": {"ArnEquals": {"aws:SourceArn": source_arn}, "StringEquals": {"aws:SourceAccount": ACCOUNT}},
    }


def bodies(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def assert_access_denied(error: pytest.ExceptionInfo[ClientError], queue_arn: str, why: str) -> None:
    assert error.value.response["Error"]["Code"] == "AccessDenied"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    message = error.value.response["Error"]["Message"]
    assert f"is not authorized to perform: sqs:sendmessage on resource: {queue_arn}" in message
    assert why in message


@stock_fails("a caller of another account gets NonExistentQueue: moto looks the queue up in its own account")
def test_another_account_the_policy_does_not_allow_gets_access_denied(server: Aws) -> None:
    url, arn = queue_with_policy(server.client("sqs"), service_allow("s3.amazonaws.com", "arn:aws:s3:::raw"))
    outsider = as_account(server.client("sqs"), OTHER_ACCOUNT)
    with pytest.raises(ClientError) as error:
        outsider.send_message(QueueUrl=url, MessageBody="forged event")
    assert_access_denied(error, arn, "because no resource-based policy allows the sqs:sendmessage action")
    with pytest.raises(ClientError) as error:
        outsider.send_message_batch(QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "forged event"}])
    assert_access_denied(error, arn, "no resource-based policy allows")


def test_another_account_the_policy_allows_reaches_the_queue(aws: Aws) -> None:
    sqs = aws.client("sqs")
    allow = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"}, "Action": "sqs:Send*"}
    url, _ = queue_with_policy(sqs, allow)
    as_account(aws.client("sqs"), OTHER_ACCOUNT).send_message(QueueUrl=url, MessageBody='{"from": "partner"}')
    assert bodies(sqs, url) == [{"from": "partner"}]


@stock_fails("an explicit Deny in the queue policy is ignored")
def test_an_explicit_deny_refuses_the_owner_account_too(server: Aws) -> None:
    sqs = server.client("sqs")
    url, arn = queue_with_policy(sqs, {"Effect": "Deny", "Principal": "*", "Action": "SQS:*"})
    with pytest.raises(ClientError) as error:
        sqs.send_message(QueueUrl=url, MessageBody="x")
    assert_access_denied(error, arn, "with an explicit deny in a resource-based policy")


def test_the_owner_account_needs_no_allow_in_the_policy(aws: Aws) -> None:
    sqs = aws.client("sqs")  # moto's test credentials: account 123456789012, the queue's
    url, _ = queue_with_policy(sqs, service_allow("sns.amazonaws.com", f"arn:aws:sns:{REGION}:{ACCOUNT}:inbound"))
    sqs.send_message(QueueUrl=url, MessageBody='{"n": 1}')
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": '{"n": 2}'}])
    assert sorted(b["n"] for b in bodies(sqs, url)) == [1, 2]


@stock_fails("a bucket the queue policy does not allow still delivers its S3 events")
def test_s3_events_reach_the_queue_only_from_the_bucket_the_policy_allows(server: Aws) -> None:
    sqs, s3 = server.client("sqs"), server.client("s3")
    allowed, other = unique("raw-mail"), unique("attachments")
    url, arn = queue_with_policy(sqs, service_allow("s3.amazonaws.com", f"arn:aws:s3:::{allowed}"))
    for bucket in (allowed, other):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_notification_configuration(
            Bucket=bucket,
            NotificationConfiguration={"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]},
        )
        s3.put_object(Bucket=bucket, Key="inbound/mail", Body=b"x")
    events = [b for b in bodies(sqs, url) if "Records" in b]
    assert [e["Records"][0]["s3"]["bucket"]["name"] for e in events] == [allowed]


@stock_fails("a topic the queue policy does not allow still delivers to its SQS subscription")
def test_sns_delivers_only_from_the_topic_the_policy_allows(server: Aws) -> None:
    sqs, sns = server.client("sqs"), server.client("sns")
    allowed, other = (sns.create_topic(Name=unique(n))["TopicArn"] for n in ("inbound", "elsewhere"))
    url, arn = queue_with_policy(sqs, service_allow("sns.amazonaws.com", allowed))
    for topic in (allowed, other):
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
        sns.publish(TopicArn=topic, Message=json.dumps({"topic": topic}))  # Publish succeeds either way
    assert [b["topic"] for b in bodies(sqs, url)] == [allowed]


# ------------------------------------------------------------------------------------------------
# the evaluation itself (no server)

QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:inbound"
RAW = "arn:aws:s3:::raw-mail"


@pytest.mark.parametrize(
    ("caller", "refused"),
    [
        (service_caller("s3.amazonaws.com", RAW, ACCOUNT), False),
        (service_caller("s3.amazonaws.com", "arn:aws:s3:::attachments", ACCOUNT), True),
        (service_caller("s3.amazonaws.com", RAW, OTHER_ACCOUNT), True),  # same bucket name, other account
        (service_caller("sns.amazonaws.com", RAW, ACCOUNT), True),  # right source, wrong service
        (Caller(account=OTHER_ACCOUNT, arns=frozenset({f"arn:aws:iam::{OTHER_ACCOUNT}:user/x"})), True),
        (Caller(account=ACCOUNT, arns=frozenset({f"arn:aws:iam::{ACCOUNT}:user/worker"})), False),
    ],
)
def test_the_platform_policy(caller: Caller, refused: bool) -> None:
    policy = {"Statement": [{"Resource": QUEUE, **service_allow("s3.amazonaws.com", RAW)}]}
    assert (denial(policy, QUEUE, ACCOUNT, caller) is not None) is refused


@pytest.mark.parametrize(
    ("condition", "refused"),
    [
        ({"StringNotEquals": {"aws:SourceAccount": OTHER_ACCOUNT}}, True),  # deny applies: the key differs
        ({"StringNotEquals": {"aws:SourceAccount": ACCOUNT}}, False),
        ({"Bool": {"aws:SecureTransport": "false"}}, False),  # absent key: the Deny does not apply
        ({"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-1"}}, True),  # absent, IfExists: true
        ({"Null": {"aws:SourceArn": "false"}}, True),
        ({"ArnNotLike": {"aws:SourceArn": "arn:aws:s3:::raw-*"}}, False),
    ],
)
def test_deny_conditions(condition: dict[str, Any], refused: bool) -> None:
    deny = {"Effect": "Deny", "Principal": "*", "Action": "sqs:SendMessage", "Resource": QUEUE, "Condition": condition}
    allow = {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:*", "Resource": QUEUE}
    caller = service_caller("s3.amazonaws.com", RAW, ACCOUNT)
    assert (denial({"Statement": [allow, deny]}, QUEUE, ACCOUNT, caller) is not None) is refused
