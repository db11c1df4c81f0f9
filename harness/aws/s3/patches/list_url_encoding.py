"""S3 listings honour ``encoding-type=url``.

AWS: with ``encoding-type=url`` ListObjectVersions URL-encodes Key, Prefix, Delimiter, KeyMarker,
NextKeyMarker (and CommonPrefixes) and answers ``EncodingType: url``; ListObjects does the same for
Prefix, Delimiter, Marker, NextMarker and CommonPrefixes besides Key. Clients decode them.
Stock moto: ListObjectVersions ignores the parameter (ListObjects encodes only Key). The AWS provider
always asks for it when it empties a bucket (``force_destroy``) and unescapes each key, so a key with
``+`` or ``%`` is unescaped into another key; deleting that one deletes nothing and the destroy loops
until it times out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from harness.aws.fidelity import FidelityPatch

if TYPE_CHECKING:
    from moto.core.common_types import TYPE_RESPONSE
    from moto.core.responses import ActionResult
    from moto.s3.responses import S3Response

# Per listing: the scalar fields, and the (list field, key) pairs, AWS URL-encodes.
VERSIONS = (
    ("Prefix", "Delimiter", "KeyMarker", "NextKeyMarker"),
    (
        ("Versions", "Key"),
        ("DeleteMarkers", "Key"),
        ("CommonPrefixes", "Prefix"),
    ),
)
OBJECTS = ("Prefix", "Delimiter", "Marker", "NextMarker"), (("CommonPrefixes", "Prefix"),)


def _encode(result: dict[str, Any], fields: tuple[tuple[str, ...], tuple[tuple[str, str], ...]]) -> None:
    scalars, lists = fields
    for name in scalars:
        if result.get(name):
            result[name] = quote(result[name])
    for list_name, key in lists:
        for item in result.get(list_name) or []:
            item[key] = quote(item[key])
    result["EncodingType"] = "url"


def _honour_encoding_type(
    listing: Callable[[S3Response], TYPE_RESPONSE],
    fields: tuple[tuple[str, ...], tuple[tuple[str, str], ...]],
) -> Callable[[S3Response], TYPE_RESPONSE]:
    def wrapped(self: S3Response) -> TYPE_RESPONSE:
        if self.querystring.get("encoding-type", [None])[0] != "url":
            return listing(self)
        serialized = self.serialized

        def encode_then_serialize(action_result: ActionResult) -> TYPE_RESPONSE:
            _encode(action_result.result, fields)  # type: ignore[arg-type]
            return serialized(action_result)

        # One S3Response per request (S3Response.*_dispatch), so shadowing the method is request-local.
        self.serialized = encode_then_serialize  # type: ignore[method-assign]
        try:
            return listing(self)
        finally:
            del self.serialized

    return wrapped


def _apply() -> None:
    from moto.s3.responses import S3Response

    S3Response.list_object_versions = _honour_encoding_type(S3Response.list_object_versions, VERSIONS)  # type: ignore[method-assign]
    S3Response.list_objects = _honour_encoding_type(S3Response.list_objects, OBJECTS)  # type: ignore[method-assign]


PATCH = FidelityPatch(
    name="s3-list-url-encoding",
    summary="ListObjectVersions/ListObjects URL-encode keys, prefixes and markers when asked "
    "(encoding-type=url); stock moto ignores it for versions, so force_destroy of a bucket holding a key "
    "with '+' never empties it.",
    apply=_apply,
)
