"""Each injected error, rendered for its protocol, is read by botocore's own parser as the code AWS sends."""

from __future__ import annotations

import pytest
from botocore.parsers import create_parser
from botocore.session import get_session

from harness.gateway.errors import ERRORS, error_for, render

SESSION = get_session()


def parsed_error(service_model_name: str, operation: str, protocol: str, signing: str, kind: str) -> dict:
    model = SESSION.get_service_model(service_model_name)
    op = model.operation_model(operation)
    status, headers, body = render(error_for(kind, signing), protocol, signing, request_id="rid-1")
    response = {"status_code": status, "headers": {k.decode(): v.decode() for k, v in headers}, "body": body}
    wire = protocol if protocol not in ("s3", "cbor") else {"s3": "rest-xml", "cbor": "smithy-rpc-v2-cbor"}[protocol]
    parsed = create_parser(wire).parse(response, op.output_shape)
    parsed["status"] = status
    return parsed


@pytest.mark.parametrize(
    ("model", "operation", "protocol", "signing", "kind", "code", "status"),
    [
        ("sqs", "SendMessage", "json", "sqs", "throttling", "RequestThrottled", 400),
        ("sqs", "SendMessage", "json", "sqs", "internal_error", "InternalError", 500),
        ("sqs", "ReceiveMessage", "json", "sqs", "unavailable", "ServiceUnavailable", 503),
        ("sns", "Publish", "query", "sns", "throttling", "Throttled", 429),
        ("sns", "Publish", "query", "sns", "internal_error", "InternalError", 500),
        ("cloudwatch", "PutMetricData", "cbor", "monitoring", "throttling", "Throttling", 400),
        ("cloudwatch", "PutMetricAlarm", "query", "monitoring", "throttling", "Throttling", 400),
        ("s3", "PutObject", "s3", "s3", "slowdown", "SlowDown", 503),
        ("s3", "GetObject", "s3", "s3", "throttling", "SlowDown", 503),
        ("s3", "GetObject", "s3", "s3", "internal_error", "InternalError", 500),
        ("s3", "HeadBucket", "s3", "s3", "unavailable", "ServiceUnavailable", 503),
        ("ec2", "DescribeInstances", "ec2", "ec2", "throttling", "RequestLimitExceeded", 503),
        ("sts", "GetCallerIdentity", "query", "sts", "throttling", "Throttling", 400),
        ("ecs", "RunTask", "json", "ecs", "throttling", "ThrottlingException", 400),
        ("elbv2", "DescribeTargetHealth", "query", "elasticloadbalancing", "unavailable", "ServiceUnavailable", 503),
    ],
)
def test_botocore_reads_the_aws_code_and_status(model, operation, protocol, signing, kind, code, status):
    parsed = parsed_error(model, operation, protocol, signing, kind)
    assert parsed["Error"]["Code"] == code
    assert parsed["status"] == status
    assert parsed["Error"]["Message"]


def test_query_errors_name_the_side_that_failed():
    _, _, throttled = render(error_for("throttling", "sns"), "query", "sns")
    _, _, internal = render(error_for("internal_error", "sns"), "query", "sns")
    assert b"<Type>Sender</Type><Code>Throttled</Code>" in throttled
    assert b"<Type>Receiver</Type><Code>InternalError</Code>" in internal


def test_sqs_json_errors_carry_the_query_error_header():
    _, headers, body = render(error_for("throttling", "sqs"), "json", "sqs")
    assert dict(headers)[b"x-amzn-query-error"] == b"RequestThrottled;Sender"
    assert dict(headers)[b"x-amzn-errortype"] == b"RequestThrottled"
    assert body.startswith(b'{"__type": "RequestThrottled"')


def test_a_rule_can_name_its_own_code_and_status():
    error = error_for("throttling", "sqs", code="ThrottlingException", status=400, message="slow down")
    status, headers, body = render(error, "json", "sqs")
    assert status == 400
    assert dict(headers)[b"x-amzn-errortype"] == b"ThrottlingException"
    assert body == b'{"__type": "ThrottlingException", "message": "slow down"}'


def test_every_kind_has_a_default():
    assert all("*" in table for table in ERRORS.values())
