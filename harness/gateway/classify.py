"""What a request to the AWS endpoint is: service, operation and caller, read from the request alone.

The service is the signing name in the SigV4 credential scope (`Authorization` header, or `X-Amz-Credential`
for presigned URLs): `sqs`, `sns`, `s3`, `monitoring` (CloudWatch), `elasticloadbalancing`, `ses`, ...
The operation comes from `X-Amz-Target` (JSON protocols), the path's last segment (Smithy RPC v2 CBOR:
`/service/<name>/operation/<Operation>`), the `Action` parameter (query protocols, in the
query string or the form body) or, for S3, the method and the shape of the path and query.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs

_SCOPE = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")
_V2 = re.compile(r"^AWS ([^:\s]+):")
_UNSIGNED_SNS_ACTIONS = {"ConfirmSubscription", "Unsubscribe"}
CALLER_HEADER = "x-harness-caller"  # an explicit caller name (a task may set it); else the access key id
FORM = "application/x-www-form-urlencoded"  # the content type whose body `classify` needs


@dataclass(frozen=True)
class Caller:
    access_key: str | None
    name: str | None
    address: str | None

    @property
    def id(self) -> str | None:
        """The caller a fault rule matches: the explicit name when given, else the access key id."""
        return self.name or self.access_key


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    protocol: str  # json | cbor | query | ec2 | rest-xml | rest-json | s3
    region: str | None
    caller: Caller


def credential(headers: Mapping[str, str], query: Mapping[str, list[str]]) -> tuple[str | None, str | None, str | None]:
    """(access key id, region, signing service) from SigV4 (header or presigned), SigV2 gives only the key."""
    auth = headers.get("authorization", "")
    found = _SCOPE.search(auth)
    if found:
        return found.group(1), found.group(3), found.group(4)
    presigned = query.get("X-Amz-Credential") or query.get("x-amz-credential")
    if presigned:
        parts = presigned[0].split("/")
        if len(parts) == 5:
            return parts[0], parts[2], parts[3]
    v2 = _V2.match(auth) or None
    if v2:
        return v2.group(1), None, None
    key = query.get("AWSAccessKeyId")
    return (key[0] if key else None), None, None


def s3_operation(method: str, path: str, query: Mapping[str, list[str]]) -> str:
    """The S3 REST operation from method + path shape (path-style addressing: /bucket[/key])."""
    parts = path.lstrip("/").split("/", 1)
    bucket = parts[0]
    key = parts[1] if len(parts) > 1 else ""
    q = set(query)
    if not bucket:
        return "ListBuckets" if method == "GET" else f"{method}Service"
    if not key:
        return _s3_bucket_operation(method, q)
    return _s3_object_operation(method, q)


_BUCKET_SUBRESOURCES = {
    "policy": "BucketPolicy", "cors": "BucketCors", "lifecycle": "BucketLifecycleConfiguration",
    "versioning": "BucketVersioning", "notification": "BucketNotificationConfiguration", "tagging": "BucketTagging",
    "acl": "BucketAcl", "encryption": "BucketEncryption", "website": "BucketWebsite", "location": "BucketLocation",
    "publicAccessBlock": "PublicAccessBlock", "ownershipControls": "BucketOwnershipControls",
    "logging": "BucketLogging", "replication": "BucketReplication", "object-lock": "ObjectLockConfiguration",
}


def _s3_bucket_operation(method: str, q: set[str]) -> str:
    if method == "POST" and "delete" in q:
        return "DeleteObjects"
    if "uploads" in q and method == "GET":
        return "ListMultipartUploads"
    if "versions" in q and method == "GET":
        return "ListObjectVersions"
    for sub, name in _BUCKET_SUBRESOURCES.items():
        if sub in q:
            verb = {"GET": "Get", "PUT": "Put", "DELETE": "Delete"}.get(method, method.title())
            return f"{verb}{name}"
    if method == "GET":
        return "ListObjectsV2" if q.intersection({"list-type"}) else "ListObjects"
    return {"HEAD": "HeadBucket", "PUT": "CreateBucket", "DELETE": "DeleteBucket", "POST": "PostObject"}.get(
        method, f"{method}Bucket"
    )


def _s3_object_operation(method: str, q: set[str]) -> str:
    if "uploadId" in q:
        return {"PUT": "UploadPart", "POST": "CompleteMultipartUpload", "DELETE": "AbortMultipartUpload",
                "GET": "ListParts"}.get(method, "MultipartUpload")
    if "uploads" in q and method == "POST":
        return "CreateMultipartUpload"
    for sub, name in (("tagging", "ObjectTagging"), ("acl", "ObjectAcl"), ("retention", "ObjectRetention"),
                      ("legal-hold", "ObjectLegalHold"), ("attributes", "ObjectAttributes")):
        if sub in q:
            verb = {"GET": "Get", "PUT": "Put", "DELETE": "Delete"}.get(method, method.title())
            return f"{verb}{name}"
    return {"GET": "GetObject", "PUT": "PutObject", "HEAD": "HeadObject", "DELETE": "DeleteObject",
            "POST": "RestoreObject" if "restore" in q else "PostObject"}.get(method, f"{method}Object")


def classify(
    method: str,
    path: str,
    query: Mapping[str, list[str]],
    headers: Mapping[str, str],
    form: bytes | None,
    address: str | None,
) -> Call:
    """Classify one request. `headers` has lower-case names; `form` is the body of a form-encoded request
    (query protocols put `Action` there), None for any other body."""
    access_key, region, service = credential(headers, query)
    caller = Caller(access_key=access_key, name=headers.get(CALLER_HEADER), address=address)
    target = headers.get("x-amz-target")
    content_type = headers.get("content-type", "")
    if service is None:
        service = "s3" if _V2.match(headers.get("authorization", "")) or "AWSAccessKeyId" in query else "unknown"
    if target:
        return Call(service, target.rsplit(".", 1)[-1], "json", region, caller)
    if headers.get("smithy-protocol") == "rpc-v2-cbor":
        return Call(service, path.rstrip("/").rsplit("/", 1)[-1], "cbor", region, caller)
    action = query.get("Action")
    if not action and form is not None:
        action = parse_qs(form.decode("utf-8", "replace")).get("Action")
    if action:
        if service == "unknown" and action[0] in _UNSIGNED_SNS_ACTIONS:
            service = "sns"  # the links in SNS messages (SubscribeURL, UnsubscribeURL) are called unsigned
        return Call(service, action[0], "ec2" if service == "ec2" else "query", region, caller)
    if service == "s3":
        return Call(service, s3_operation(method, path, query), "s3", region, caller)
    protocol = "rest-json" if "json" in content_type or method in ("GET", "DELETE", "HEAD") else "rest-xml"
    return Call(service, f"{method} {path}", protocol, region, caller)
