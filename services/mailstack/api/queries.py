"""The SQL the API runs (read side, plus recording SNS notifications)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from mailstack.api.pagination import Cursor

Row = dict[str, Any]


async def inbox_id(conn: AsyncConnection, address: str) -> int | None:
    row = await (await conn.execute("SELECT id FROM inboxes WHERE address = %s", (address,))).fetchone()
    return None if row is None else int(row[0])


async def inbox_messages(conn: AsyncConnection, inbox: int, limit: int, after: Cursor | None) -> list[Row]:
    """Newest first, keyset-paged by (received_at, id)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            """
            SELECT m.id, m.message_id_header, m.subject, m.from_header, m.from_address, m.sent_at,
                   m.received_at, m.size_bytes,
                   (SELECT count(*) FROM attachments a WHERE a.message_id = m.id) AS attachment_count
            FROM messages m
            WHERE m.id IN (SELECT r.message_id FROM recipients r WHERE r.inbox_id = %(inbox)s)
              AND (%(after_time)s::timestamptz IS NULL OR (m.received_at, m.id) < (%(after_time)s, %(after_id)s))
            ORDER BY m.received_at DESC, m.id DESC
            LIMIT %(limit)s
            """,
            {
                "inbox": inbox,
                "after_time": after.received_at if after else None,
                "after_id": after.message_id if after else None,
                "limit": limit,
            },
        )
        return await cur.fetchall()


async def message(conn: AsyncConnection, message_id: UUID) -> Row | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT * FROM messages WHERE id = %s", (message_id,))
        return await cur.fetchone()


async def recipients(conn: AsyncConnection, message_id: UUID) -> list[Row]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT kind, display_name, address FROM recipients WHERE message_id = %s "
            "ORDER BY CASE kind WHEN 'to' THEN 0 WHEN 'cc' THEN 1 WHEN 'bcc' THEN 2 ELSE 3 END, position",
            (message_id,),
        )
        return await cur.fetchall()


async def attachments(conn: AsyncConnection, message_id: UUID) -> list[Row]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT * FROM attachments WHERE message_id = %s ORDER BY position", (message_id,))
        return await cur.fetchall()


async def attachment(conn: AsyncConnection, message_id: UUID, attachment_id: UUID) -> Row | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT * FROM attachments WHERE message_id = %s AND id = %s", (message_id, attachment_id))
        return await cur.fetchone()


async def record_sns_notification(
    conn: AsyncConnection,
    sns_message_id: str,
    topic_arn: str,
    notification_type: str | None,
    ses_message_id: str | None,
    payload: dict[str, Any],
) -> bool:
    """Store a notification once per SNS MessageId; False for a redelivery."""
    cur = await conn.execute(
        "INSERT INTO sns_notifications (sns_message_id, topic_arn, notification_type, ses_message_id, payload) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (sns_message_id) DO NOTHING",
        (sns_message_id, topic_arn, notification_type, ses_message_id, Jsonb(payload)),
    )
    return cur.rowcount == 1
