"""Service, operation and caller of a request, from the request alone."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from harness.gateway.classify import classify, s3_operation

AUTH = ("AWS4-HMAC-SHA256 Credential=AKIDCALLER/20260101/eu-west-1/{service}/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=abc")


def call(method="POST", path="/", query="", headers=None, form=None, service="sqs"):
    hdrs = {"authorization": AUTH.format(service=service), **(headers or {})}
    return classify(method, path, parse_qs(query, keep_blank_values=True), hdrs, form, "127.0.0.1:5555")


def test_json_protocol_operation_from_the_target():
    c = call(headers={"x-amz-target": "AmazonSQS.SendMessage", "content-type": "application/x-amz-json-1.0"})
    assert (c.service, c.operation, c.protocol, c.region) == ("sqs", "SendMessage", "json", "eu-west-1")
    assert (c.caller.access_key, c.caller.address, c.caller.id) == ("AKIDCALLER", "127.0.0.1:5555", "AKIDCALLER")


def test_query_protocol_operation_from_the_form_body_or_the_query_string():
    form = b"Action=Publish&Version=2010-03-31&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3At"
    assert call(form=form, service="sns").operation == "Publish"
    assert call(form=form, service="sns").protocol == "query"
    assert call(method="GET", query="Action=DescribeAlarms&Version=2010-08-01", service="monitoring").operation \
        == "DescribeAlarms"
    assert call(form=b"Action=DescribeInstances&Version=2016-11-15", service="ec2").protocol == "ec2"


def test_cbor_protocol_operation_from_the_path():
    c = call(path="/service/GraniteServiceVersion20100801/operation/PutMetricData",
             headers={"smithy-protocol": "rpc-v2-cbor"}, service="monitoring")
    assert (c.service, c.operation, c.protocol) == ("monitoring", "PutMetricData", "cbor")


def test_an_explicit_caller_header_names_the_caller():
    c = call(headers={"x-harness-caller": "worker-1"})
    assert c.caller.id == "worker-1"
    assert c.caller.access_key == "AKIDCALLER"


def test_presigned_urls_are_classified_from_their_credential():
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="AKIDPRESIGN", aws_secret_access_key="x",
                      endpoint_url="http://127.0.0.1:1")
    url = urlsplit(s3.generate_presigned_url("get_object", Params={"Bucket": "bkt", "Key": "k/1"}))
    c = classify("GET", url.path, parse_qs(url.query), {}, None, None)
    assert (c.service, c.operation, c.caller.access_key) == ("s3", "GetObject", "AKIDPRESIGN")


def test_the_unsigned_links_in_sns_messages_are_sns():
    query = parse_qs("Action=ConfirmSubscription&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3At&Token=abc")
    c = classify("GET", "/", query, {}, None, None)
    assert (c.service, c.operation, c.caller.access_key) == ("sns", "ConfirmSubscription", None)


def test_an_unsigned_request_is_unknown():
    c = classify("GET", "/", {}, {}, None, None)
    assert c.service == "unknown"
    assert c.caller.id is None


@pytest.mark.parametrize(
    ("method", "path", "query", "operation"),
    [
        ("GET", "/", "", "ListBuckets"),
        ("PUT", "/bkt", "", "CreateBucket"),
        ("HEAD", "/bkt", "", "HeadBucket"),
        ("DELETE", "/bkt", "", "DeleteBucket"),
        ("GET", "/bkt", "list-type=2&prefix=a", "ListObjectsV2"),
        ("GET", "/bkt", "prefix=a", "ListObjects"),
        ("GET", "/bkt", "versions", "ListObjectVersions"),
        ("PUT", "/bkt", "notification", "PutBucketNotificationConfiguration"),
        ("GET", "/bkt", "policy", "GetBucketPolicy"),
        ("POST", "/bkt", "delete", "DeleteObjects"),
        ("PUT", "/bkt/a/b.eml", "", "PutObject"),
        ("GET", "/bkt/a/b.eml", "", "GetObject"),
        ("HEAD", "/bkt/a/b.eml", "", "HeadObject"),
        ("DELETE", "/bkt/a/b.eml", "", "DeleteObject"),
        ("POST", "/bkt/big", "uploads", "CreateMultipartUpload"),
        ("PUT", "/bkt/big", "partNumber=1&uploadId=u", "UploadPart"),
        ("POST", "/bkt/big", "uploadId=u", "CompleteMultipartUpload"),
        ("DELETE", "/bkt/big", "uploadId=u", "AbortMultipartUpload"),
        ("GET", "/bkt/k", "tagging", "GetObjectTagging"),
    ],
)
def test_s3_operations_from_method_and_path(method, path, query, operation):
    assert s3_operation(method, path, parse_qs(query, keep_blank_values=True)) == operation
