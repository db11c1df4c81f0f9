"""Reading messages: inbox listings, one parsed message, its raw MIME and its attachments."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote
from uuid import UUID

from botocore.exceptions import ClientError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from mailstack.api import queries
from mailstack.api.context import api_context
from mailstack.api.pagination import Cursor, InvalidPageError, parse_cursor, parse_limit

STREAM_CHUNK_BYTES = 64 * 1024
_MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "NoSuchBucket", "404", "NotFound"})


def _uuid_param(request: Request, name: str, what: str) -> UUID:
    try:
        return UUID(request.path_params[name])
    except ValueError as exc:
        raise HTTPException(404, f"{what} not found") from exc


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "message_id": row["message_id_header"],
        "subject": row["subject"],
        "from": {"header": row["from_header"], "address": row["from_address"]},
        "date": _iso(row["sent_at"]),
        "received_at": _iso(row["received_at"]),
        "size": row["size_bytes"],
        "attachment_count": row["attachment_count"],
    }


def _attachment(message_id: UUID, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "filename": row["filename"],
        "content_type": row["content_type"],
        "content_id": row["content_id"],
        "inline": row["is_inline"],
        "size": row["size_bytes"],
        "sha256": row["sha256"],
        "url": f"/v1/messages/{message_id}/attachments/{row['id']}",
    }


async def list_inbox_messages(request: Request) -> JSONResponse:
    address = request.path_params["address"].strip().lower()
    if "\x00" in address:  # PostgreSQL text cannot hold NUL, so no inbox has one (and the query would fail)
        raise HTTPException(404, "inbox not found")
    try:
        limit = parse_limit(request.query_params.get("limit"))
        after = parse_cursor(request.query_params.get("cursor"))
    except InvalidPageError as exc:
        raise HTTPException(400, str(exc)) from exc
    async with api_context(request).pool.connection() as conn:
        inbox = await queries.inbox_id(conn, address)
        if inbox is None:
            raise HTTPException(404, f"inbox {address} not found")
        rows = await queries.inbox_messages(conn, inbox, limit + 1, after)
    page = rows[:limit]
    next_cursor = Cursor(page[-1]["received_at"], page[-1]["id"]).encode() if len(rows) > limit else None
    return JSONResponse({"inbox": address, "messages": [_summary(row) for row in page], "next_cursor": next_cursor})


async def get_message(request: Request) -> JSONResponse:
    message_id = _uuid_param(request, "message_id", "message")
    async with api_context(request).pool.connection() as conn:
        row = await queries.message(conn, message_id)
        if row is None:
            raise HTTPException(404, "message not found")
        recipients = await queries.recipients(conn, message_id)
        attachments = await queries.attachments(conn, message_id)
    return JSONResponse(
        {
            "id": str(row["id"]),
            "message_id": row["message_id_header"],
            "subject": row["subject"],
            "from": {"header": row["from_header"], "address": row["from_address"]},
            "date": _iso(row["sent_at"]),
            "received_at": _iso(row["received_at"]),
            "ingested_at": _iso(row["ingested_at"]),
            "size": row["size_bytes"],
            "envelope": {"from": row["envelope_from"], "to": row["envelope_to"]},
            "recipients": [{"kind": r["kind"], "name": r["display_name"], "address": r["address"]} for r in recipients],
            "headers": row["headers"],
            "text_body": row["text_body"],
            "html_body": row["html_body"],
            "attachments": [_attachment(message_id, a) for a in attachments],
            "defects": row["defects"],
            "raw": {"bucket": row["raw_bucket"], "key": row["raw_key"], "url": f"/v1/messages/{message_id}/raw"},
        }
    )


def _chunks(body: Any) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(STREAM_CHUNK_BYTES)
    finally:
        body.close()


async def _stream_object(
    request: Request, bucket: str, key: str, media_type: str, headers: dict[str, str]
) -> StreamingResponse:
    s3 = api_context(request).s3
    try:
        response = await run_in_threadpool(s3.get_object, Bucket=bucket, Key=key)
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) in _MISSING_OBJECT_CODES:
            raise HTTPException(404, "stored object not found") from exc
        raise
    headers = {**headers, "Content-Length": str(response["ContentLength"]), "X-Content-Type-Options": "nosniff"}
    return StreamingResponse(_chunks(response["Body"]), media_type=media_type, headers=headers)


async def get_raw_message(request: Request) -> Response:
    message_id = _uuid_param(request, "message_id", "message")
    async with api_context(request).pool.connection() as conn:
        row = await queries.message(conn, message_id)
    if row is None:
        raise HTTPException(404, "message not found")
    return await _stream_object(
        request,
        row["raw_bucket"],
        row["raw_key"],
        "message/rfc822",
        {"Content-Disposition": f'inline; filename="{message_id}.eml"'},
    )


def _content_disposition(filename: str | None, fallback: str) -> str:
    """A download header naming the file only: no directories, so a client cannot be steered outside
    its download folder by a name like `../../../etc/passwd` (the original name stays in the JSON)."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].lstrip(".").strip() or fallback
    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


async def get_attachment(request: Request) -> Response:
    message_id = _uuid_param(request, "message_id", "attachment")
    attachment_id = _uuid_param(request, "attachment_id", "attachment")
    async with api_context(request).pool.connection() as conn:
        row = await queries.attachment(conn, message_id, attachment_id)
    if row is None:
        raise HTTPException(404, "attachment not found")
    return await _stream_object(
        request,
        row["s3_bucket"],
        row["s3_key"],
        row["content_type"],
        {"Content-Disposition": _content_disposition(row["filename"], f"attachment-{attachment_id}")},
    )
