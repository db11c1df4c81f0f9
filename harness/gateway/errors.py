"""AWS error responses as each protocol writes them, so an SDK parses (and retries) them as it would AWS's.

- JSON protocols (SQS, ECS, CloudWatch Logs, ...): `{"__type": "...", "message": "..."}` with the
  `x-amzn-ErrorType` header; SQS (a query-compatible JSON service) also sends
  `x-amzn-query-error: <Code>;<Sender|Receiver>`, the code botocore reports for it.
- Query protocols (SNS, CloudWatch, IAM, STS, RDS, ELBv2, SES): `<ErrorResponse><Error><Type>..</Type>
  <Code>..</Code><Message>..</Message></Error><RequestId>..</RequestId></ErrorResponse>`.
- Smithy RPC v2 CBOR (CloudWatch in current SDKs): a CBOR map `{"__type", "message"}`, content type
  `application/cbor` and the `smithy-protocol: rpc-v2-cbor` header (plus `x-amzn-query-error`).
- EC2: `<Response><Errors><Error><Code>..</Code><Message>..</Message></Error></Errors><RequestID>..`.
- S3 (REST-XML): `<Error><Code>..</Code><Message>..</Message><RequestId>..</RequestId></Error>`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from xml.sax.saxutils import escape

FAULT_HEADER = "x-harness-fault"  # names the injected fault on every response the gateway made up
QUERY_COMPATIBLE = {"sqs", "monitoring"}  # former query services whose JSON/CBOR errors carry x-amzn-query-error


@dataclass(frozen=True)
class AwsError:
    code: str
    status: int
    message: str
    sender: bool  # Sender (the caller's fault) or Receiver (the service's)


# The error each fault kind becomes, per service (signing name); "*" is every other service.
# Codes and statuses as AWS documents them (botocore's service models for SQS/SNS; the S3 and common-error
# references): SQS RequestThrottled 400, SNS Throttled 429, CloudWatch Throttling 400, EC2
# RequestLimitExceeded 503, S3 SlowDown 503, InternalError 500, ServiceUnavailable 503.
_THROTTLE = "Rate exceeded"
ERRORS: dict[str, dict[str, AwsError]] = {
    "throttling": {
        "*": AwsError("ThrottlingException", 400, _THROTTLE, True),
        "sqs": AwsError("RequestThrottled", 400, "Request is throttled.", True),
        "sns": AwsError("Throttled", 429, _THROTTLE, True),
        "monitoring": AwsError("Throttling", 400, _THROTTLE, True),
        "sts": AwsError("Throttling", 400, _THROTTLE, True),
        "iam": AwsError("Throttling", 400, _THROTTLE, True),
        "rds": AwsError("Throttling", 400, _THROTTLE, True),
        "elasticloadbalancing": AwsError("Throttling", 400, _THROTTLE, True),
        "ses": AwsError("Throttling", 400, "Maximum sending rate exceeded.", True),
        "ec2": AwsError("RequestLimitExceeded", 503, "Request limit exceeded.", True),
        "s3": AwsError("SlowDown", 503, "Please reduce your request rate.", False),
    },
    "slowdown": {
        "*": AwsError("SlowDown", 503, "Please reduce your request rate.", False),
    },
    "internal_error": {
        "*": AwsError("InternalFailure", 500, "The request processing has failed because of an unknown error,"
                      " exception or failure.", False),
        "s3": AwsError("InternalError", 500, "We encountered an internal error. Please try again.", False),
        "sns": AwsError("InternalError", 500, "Internal Error", False),
        "sqs": AwsError("InternalError", 500, "We encountered an internal error. Please try again.", False),
    },
    "unavailable": {
        "*": AwsError("ServiceUnavailable", 503, "The request has failed due to a temporary failure of the server.",
                      False),
        "s3": AwsError("ServiceUnavailable", 503, "Service is unable to handle request.", False),
    },
}
ERROR_KINDS = tuple(ERRORS)


def error_for(kind: str, service: str, code: str | None = None, status: int | None = None,
              message: str | None = None) -> AwsError:
    """The error a fault of `kind` gives on `service`, with the rule's own code/status/message on top."""
    table = ERRORS[kind]
    base = table.get(service, table["*"])
    return AwsError(code or base.code, status or base.status, message or base.message, base.sender)


def render(
    error: AwsError, protocol: str, service: str, request_id: str | None = None
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """(status, headers, body) of `error` in `protocol` (see `classify.Call.protocol`)."""
    rid = request_id or str(uuid.uuid4())
    side = "Sender" if error.sender else "Receiver"
    headers: list[tuple[bytes, bytes]] = [(b"x-amzn-requestid", rid.encode())]
    if protocol in ("json", "rest-json"):
        body = json.dumps({"__type": error.code, "message": error.message}).encode()
        content_type = b"application/x-amz-json-1.0" if protocol == "json" else b"application/json"
        headers += [(b"content-type", content_type), (b"x-amzn-errortype", error.code.encode())]
        if service in QUERY_COMPATIBLE:
            headers.append((b"x-amzn-query-error", f"{error.code};{side}".encode()))
    elif protocol == "cbor":
        body = cbor_text_map({"__type": error.code, "message": error.message})
        headers += [(b"content-type", b"application/cbor"), (b"smithy-protocol", b"rpc-v2-cbor")]
        if service in QUERY_COMPATIBLE:
            headers.append((b"x-amzn-query-error", f"{error.code};{side}".encode()))
    elif protocol == "s3":
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(error.code)}</Code>'
                f"<Message>{escape(error.message)}</Message><RequestId>{rid}</RequestId></Error>").encode()
        headers += [(b"content-type", b"application/xml"), (b"x-amz-request-id", rid.encode())]
    elif protocol == "ec2":
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{escape(error.code)}</Code>'
                f"<Message>{escape(error.message)}</Message></Error></Errors>"
                f"<RequestID>{rid}</RequestID></Response>").encode()
        headers.append((b"content-type", b"text/xml;charset=UTF-8"))
    else:  # query, rest-xml
        body = (f'<?xml version="1.0"?>\n<ErrorResponse xmlns="http://{service}.amazonaws.com/doc/">'
                f"<Error><Type>{side}</Type><Code>{escape(error.code)}</Code>"
                f"<Message>{escape(error.message)}</Message></Error>"
                f"<RequestId>{rid}</RequestId></ErrorResponse>").encode()
        headers.append((b"content-type", b"text/xml"))
    headers.append((b"content-length", str(len(body)).encode()))
    return error.status, headers, body


def _cbor_head(major: int, length: int) -> bytes:
    if length < 24:
        return bytes([major << 5 | length])
    for extra, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if length < 1 << (8 * size):
            return bytes([major << 5 | extra]) + length.to_bytes(size, "big")
    raise ValueError("too long for CBOR")


def cbor_text_map(items: dict[str, str]) -> bytes:
    """A CBOR map of text strings to text strings (all an error body needs)."""
    out = bytearray(_cbor_head(5, len(items)))
    for key, value in items.items():
        for text in (key, value):
            raw = text.encode()
            out += _cbor_head(3, len(raw)) + raw
    return bytes(out)
