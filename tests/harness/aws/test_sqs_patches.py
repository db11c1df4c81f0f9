"""SQS fidelity patches: attributes round-trip like AWS, and DLQ redrive (message move tasks) works."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.harness.aws.support import ACCOUNT, REGION, Aws, stock_fails, unique, until


def arn(name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def make_queue(sqs: Any, name: str, **attributes: str) -> str:
    return sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]


def attributes(sqs: Any, url: str, *names: str) -> dict[str, str]:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(names) or ["All"]).get("Attributes", {})


# ------------------------------------------------------------------------------------------------
# sqs-redrive-allow-policy


@stock_fails("GetQueueAttributes never returns RedriveAllowPolicy")
def test_redrive_allow_policy_is_returned(server: Aws) -> None:
    sqs = server.client("sqs")
    source = unique("src")
    make_queue(sqs, source)
    dlq = make_queue(sqs, unique("dlq"))
    policy = json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [arn(source)]}, separators=(",", ":"))

    sqs.set_queue_attributes(QueueUrl=dlq, Attributes={"RedriveAllowPolicy": policy})

    assert attributes(sqs, dlq)["RedriveAllowPolicy"] == policy
    assert attributes(sqs, dlq, "RedriveAllowPolicy") == {"RedriveAllowPolicy": policy}


def test_redrive_allow_policy_set_at_create_and_removed_with_empty_string(aws: Aws) -> None:
    sqs = aws.client("sqs")
    policy = '{"redrivePermission":"allowAll"}'
    dlq = make_queue(sqs, unique("dlq"), RedriveAllowPolicy=policy)
    assert attributes(sqs, dlq, "RedriveAllowPolicy") == {"RedriveAllowPolicy": policy}

    sqs.set_queue_attributes(QueueUrl=dlq, Attributes={"RedriveAllowPolicy": ""})

    assert "RedriveAllowPolicy" not in attributes(sqs, dlq)


def test_redrive_allow_policy_is_validated(aws: Aws) -> None:
    sqs = aws.client("sqs")
    dlq = make_queue(sqs, unique("dlq"))
    with pytest.raises(ClientError) as error:
        sqs.set_queue_attributes(QueueUrl=dlq, Attributes={"RedriveAllowPolicy": '{"redrivePermission":"byQueue"}'})
    assert error.value.response["Error"]["Code"] == "InvalidAttributeValue"


# ------------------------------------------------------------------------------------------------
# sqs-redrive-policy-json


@stock_fails("RedrivePolicy comes back with spaces after ':' and ','")
def test_redrive_policy_round_trips_byte_for_byte(server: Aws) -> None:
    sqs = server.client("sqs")
    dlq_name = unique("dlq")
    make_queue(sqs, dlq_name)
    # What the AWS provider sends: Go's encoding/json output, compact, keys sorted.
    policy = json.dumps({"deadLetterTargetArn": arn(dlq_name), "maxReceiveCount": 5}, separators=(",", ":"))
    url = make_queue(sqs, unique("src"), RedrivePolicy=policy)

    assert attributes(sqs, url, "RedrivePolicy")["RedrivePolicy"] == policy
    assert attributes(sqs, url)["RedrivePolicy"] == policy


# ------------------------------------------------------------------------------------------------
# sqs-set-attributes-keeps-policy


@stock_fails("SetQueueAttributes without Policy wipes the queue policy")
def test_set_queue_attributes_keeps_the_policy(server: Aws) -> None:
    sqs = server.client("sqs")
    name = unique("q")
    url = make_queue(sqs, name)
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "s3.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": arn(name),
                }
            ],
        }
    )
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})

    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "45"})

    got = attributes(sqs, url, "Policy", "VisibilityTimeout")
    assert got["VisibilityTimeout"] == "45"
    assert json.loads(got["Policy"]) == json.loads(policy)


def test_empty_policy_still_removes_it(aws: Aws) -> None:
    sqs = aws.client("sqs")
    name = unique("q")
    url = make_queue(sqs, name)
    statement = {"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": arn(name)}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({"Statement": [statement]})})

    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})

    assert "Policy" not in attributes(sqs, url)


# ------------------------------------------------------------------------------------------------
# sqs-message-move-tasks


def dead_lettered(sqs: Any, count: int, **message: Any) -> tuple[str, str, str]:
    """A source queue and its DLQ (maxReceiveCount 1), with `count` messages redriven into the DLQ."""
    dlq_name, source_name = unique("dlq"), unique("src")
    dlq = make_queue(sqs, dlq_name)
    redrive = json.dumps({"deadLetterTargetArn": arn(dlq_name), "maxReceiveCount": 1})
    source = make_queue(sqs, source_name, RedrivePolicy=redrive)
    for i in range(count):
        sqs.send_message(QueueUrl=source, MessageBody=f"message {i}", **message)
    # The first receive counts; with the visibility timeout 0 the next receive moves them to the DLQ.
    while sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages"):
        pass
    assert depth(sqs, dlq) == count
    return source, dlq, dlq_name


def depth(sqs: Any, url: str) -> int:
    return int(attributes(sqs, url, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"])


def move_tasks(sqs: Any, source_arn: str, max_results: int = 10) -> list[dict[str, Any]]:
    return list(sqs.list_message_move_tasks(SourceArn=source_arn, MaxResults=max_results)["Results"])


@stock_fails("StartMessageMoveTask is not implemented", raises=ClientError)
def test_redrive_back_to_the_source_queue(server: Aws) -> None:
    sqs = server.client("sqs")
    attribute = {"kind": {"DataType": "String", "StringValue": "mail"}}
    source, dlq, dlq_name = dead_lettered(sqs, 3, MessageAttributes=attribute)

    handle = sqs.start_message_move_task(SourceArn=arn(dlq_name))["TaskHandle"]

    assert handle
    assert until(lambda: move_tasks(sqs, arn(dlq_name))[0]["Status"] == "COMPLETED")
    task = move_tasks(sqs, arn(dlq_name))[0]
    assert task["ApproximateNumberOfMessagesMoved"] == 3
    assert task["ApproximateNumberOfMessagesToMove"] == 3
    assert "TaskHandle" not in task
    assert depth(sqs, dlq) == 0
    received = sqs.receive_message(
        QueueUrl=source, MaxNumberOfMessages=10, MessageAttributeNames=["All"], AttributeNames=["All"]
    )["Messages"]
    assert sorted(m["Body"] for m in received) == ["message 0", "message 1", "message 2"]
    assert all(m["MessageAttributes"] == {"kind": {"DataType": "String", "StringValue": "mail"}} for m in received)
    assert all(m["Attributes"]["ApproximateReceiveCount"] == "1" for m in received)


def test_redrive_to_a_destination_queue_at_a_limited_rate(aws: Aws) -> None:
    sqs = aws.client("sqs")
    source, _, dlq_name = dead_lettered(sqs, 3)
    other_name = unique("other")
    other = make_queue(sqs, other_name)

    sqs.start_message_move_task(SourceArn=arn(dlq_name), DestinationArn=arn(other_name), MaxNumberOfMessagesPerSecond=4)

    running = move_tasks(sqs, arn(dlq_name), 1)[0]
    assert running["Status"] == "RUNNING"
    assert running["TaskHandle"]
    assert running["DestinationArn"] == arn(other_name)
    assert running["MaxNumberOfMessagesPerSecond"] == 4
    with pytest.raises(ClientError) as error:
        sqs.start_message_move_task(SourceArn=arn(dlq_name))
    assert error.value.response["Error"]["Code"].endswith("UnsupportedOperation")
    assert until(lambda: move_tasks(sqs, arn(dlq_name))[0]["Status"] == "COMPLETED")
    assert depth(sqs, other) == 3
    assert depth(sqs, source) == 0


def test_cancel_a_running_task(aws: Aws) -> None:
    sqs = aws.client("sqs")
    _, dlq, dlq_name = dead_lettered(sqs, 5)
    handle = sqs.start_message_move_task(SourceArn=arn(dlq_name), MaxNumberOfMessagesPerSecond=1)["TaskHandle"]
    until(lambda: depth(sqs, dlq) < 5)

    moved = sqs.cancel_message_move_task(TaskHandle=handle)["ApproximateNumberOfMessagesMoved"]

    assert 1 <= moved < 5
    assert until(lambda: move_tasks(sqs, arn(dlq_name))[0]["Status"] == "CANCELLED")
    assert depth(sqs, dlq) >= 5 - moved - 1
    with pytest.raises(ClientError) as error:
        sqs.cancel_message_move_task(TaskHandle=handle)
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_tasks_are_listed_newest_first(aws: Aws) -> None:
    sqs = aws.client("sqs")
    _, _, dlq_name = dead_lettered(sqs, 1)
    sqs.start_message_move_task(SourceArn=arn(dlq_name))
    until(lambda: move_tasks(sqs, arn(dlq_name))[0]["Status"] == "COMPLETED")
    sqs.start_message_move_task(SourceArn=arn(dlq_name))
    until(lambda: move_tasks(sqs, arn(dlq_name))[0]["Status"] == "COMPLETED")

    tasks = move_tasks(sqs, arn(dlq_name))

    assert [t["ApproximateNumberOfMessagesMoved"] for t in tasks] == [0, 1]
    assert tasks[0]["StartedTimestamp"] >= tasks[1]["StartedTimestamp"]
    assert len(move_tasks(sqs, arn(dlq_name), 1)) == 1


def test_source_must_be_an_existing_dead_letter_queue(aws: Aws) -> None:
    sqs = aws.client("sqs")
    plain = unique("plain")
    make_queue(sqs, plain)
    with pytest.raises(ClientError) as missing:
        sqs.start_message_move_task(SourceArn=arn(unique("missing")))
    with pytest.raises(ClientError) as not_a_dlq:
        sqs.start_message_move_task(SourceArn=arn(plain))
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert not_a_dlq.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_message_sent_straight_to_the_dlq_fails_a_redrive_to_source(aws: Aws) -> None:
    sqs = aws.client("sqs")
    _, dlq, dlq_name = dead_lettered(sqs, 0)
    sqs.send_message(QueueUrl=dlq, MessageBody="never dead-lettered")

    sqs.start_message_move_task(SourceArn=arn(dlq_name))

    assert until(lambda: move_tasks(sqs, arn(dlq_name))[0]["Status"] == "FAILED")
    assert move_tasks(sqs, arn(dlq_name))[0]["FailureReason"]
    assert depth(sqs, dlq) == 1
