"""Writing one ingested mail to PostgreSQL inside the caller's transaction."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from psycopg import Connection
from psycopg.types.json import Jsonb

from mailstack.mail import ParsedMail


@dataclass(frozen=True)
class StoredAttachment:
    id: UUID
    position: int
    filename: str | None
    content_type: str
    content_id: str | None
    inline: bool
    size: int
    sha256: str
    bucket: str
    key: str


@dataclass(frozen=True)
class RecipientRow:
    kind: str
    position: int
    address: str
    display_name: str


@dataclass(frozen=True)
class NewMessage:
    id: UUID
    raw_bucket: str
    raw_key: str
    received_at: datetime
    mail: ParsedMail
    envelope_from: str | None
    envelope_to: tuple[str, ...]
    attachments: tuple[StoredAttachment, ...]

    def recipients(self) -> list[RecipientRow]:
        rows: list[RecipientRow] = []
        for kind, addresses in (("to", self.mail.to), ("cc", self.mail.cc), ("bcc", self.mail.bcc)):
            rows.extend(
                RecipientRow(kind, position, address.address, address.display_name)
                for position, address in enumerate(addresses)
            )
        rows.extend(
            RecipientRow("envelope", position, address, "") for position, address in enumerate(self.envelope_to)
        )
        return rows

    def inbox_addresses(self) -> list[str]:
        """The addresses the mail was delivered to: the envelope when known, else the To/Cc/Bcc headers."""
        candidates = self.envelope_to or tuple(
            address.address for address in (*self.mail.to, *self.mail.cc, *self.mail.bcc)
        )
        return envelope_inbox_addresses(candidates)


def _is_mailbox(address: str) -> bool:
    """Whether an inbox may be made for `address`: local@domain without spaces, control characters or U+FFFD
    (what clean_text put in place of a NUL). Other envelope addresses are stored, but list nothing."""
    local, at, domain = address.rpartition("@")
    if not (at and local and domain):
        return False
    return not any(char.isspace() or char == "\ufffd" or unicodedata.category(char) == "Cc" for char in address)


def envelope_inbox_addresses(envelope_to: tuple[str, ...]) -> list[str]:
    return sorted({address.lower() for address in envelope_to if _is_mailbox(address)})


def message_exists(conn: Connection, raw_bucket: str, raw_key: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM messages WHERE raw_bucket = %s AND raw_key = %s", (raw_bucket, raw_key)
    ).fetchone()
    return row is not None


def _inbox_ids(conn: Connection, addresses: list[str]) -> dict[str, int]:
    """Create (if new) the domain and inbox of every address, in three statements whatever the count.

    Rows are inserted in sorted order, so concurrent workers lock them in the same order and cannot
    deadlock; each statement sees rows other transactions committed meanwhile (READ COMMITTED).
    """
    if not addresses:
        return {}
    domains = [address.rpartition("@")[2] for address in addresses]
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO domains (name) SELECT DISTINCT name FROM unnest(%s::text[]) AS d(name) ORDER BY name "
            "ON CONFLICT (name) DO NOTHING",
            (domains,),
        )
        cur.execute(
            "INSERT INTO inboxes (domain_id, address) "
            "SELECT d.id, a.address FROM unnest(%s::text[], %s::text[]) AS a(address, domain) "
            "JOIN domains d ON d.name = a.domain ORDER BY a.address "
            "ON CONFLICT (address) DO NOTHING",
            (addresses, domains),
        )
        rows = cur.execute("SELECT address, id FROM inboxes WHERE address = ANY(%s)", (addresses,)).fetchall()
    return {str(address): int(inbox_id) for address, inbox_id in rows}


def insert_message(conn: Connection, message: NewMessage) -> bool:
    """Insert the message and everything that belongs to it; False when the S3 object was already
    ingested (nothing is written then).

    ON CONFLICT names no constraint: `id` is derived from (raw_bucket, raw_key), so two racing inserts of
    one object conflict on both unique indexes, and whichever Postgres checks first must not raise."""
    mail = message.mail
    row = conn.execute(
        """
        INSERT INTO messages (
            id, message_id_header, envelope_from, envelope_to, subject, from_header, from_address,
            sent_at, headers, text_body, html_body, size_bytes, raw_bucket, raw_key, defects, received_at
        ) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT DO NOTHING
        RETURNING id
        """,
        (
            message.id,
            mail.message_id,
            message.envelope_from,
            list(message.envelope_to),
            mail.subject,
            mail.from_header,
            mail.from_address,
            mail.sent_at,
            Jsonb([list(item) for item in mail.headers]),
            mail.text_body,
            mail.html_body,
            mail.size,
            message.raw_bucket,
            message.raw_key,
            Jsonb(list(mail.defects)),
            message.received_at,
        ),
    ).fetchone()
    if row is None:
        return False
    inbox_ids = _inbox_ids(conn, message.inbox_addresses())
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO recipients (message_id, kind, position, display_name, address, inbox_id) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            [
                (message.id, r.kind, r.position, r.display_name or None, r.address, inbox_ids.get(r.address.lower()))
                for r in message.recipients()
            ],
        )
        cur.executemany(
            "INSERT INTO attachments (id, message_id, position, filename, content_type, content_id, is_inline, "
            "size_bytes, s3_bucket, s3_key, sha256) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    a.id,
                    message.id,
                    a.position,
                    a.filename,
                    a.content_type,
                    a.content_id,
                    a.inline,
                    a.size,
                    a.bucket,
                    a.key,
                    a.sha256,
                )
                for a in message.attachments
            ],
        )
    return True


def replace_envelope(
    conn: Connection, raw_bucket: str, raw_key: str, envelope_from: str | None, envelope_to: tuple[str, ...]
) -> bool:
    """Make the SMTP envelope SES notified the one of an already ingested message, inside the caller's
    transaction: its envelope columns and `envelope` recipient rows, and the inboxes that list it (exactly
    the envelope recipients'). False when nothing changed (no such message, or already this envelope).

    The message row is locked first (FOR UPDATE), as insert_message locks it by inserting it, so a
    concurrent insert or replacement of the same message waits for this one and sees its result.
    """
    row = conn.execute(
        "SELECT id, envelope_from, envelope_to FROM messages WHERE raw_bucket = %s AND raw_key = %s FOR UPDATE",
        (raw_bucket, raw_key),
    ).fetchone()
    if row is None:
        return False
    message_id, current_from, current_to = row
    if current_from == envelope_from and tuple(current_to) == tuple(envelope_to):
        return False
    conn.execute(
        "UPDATE messages SET envelope_from = %s, envelope_to = %s WHERE id = %s",
        (envelope_from, list(envelope_to), message_id),
    )
    addresses = envelope_inbox_addresses(envelope_to)
    _inbox_ids(conn, addresses)
    with conn.cursor() as cur:
        cur.execute("DELETE FROM recipients WHERE message_id = %s AND kind = 'envelope'", (message_id,))
        cur.executemany(
            "INSERT INTO recipients (message_id, kind, position, display_name, address) "
            "VALUES (%s, 'envelope', %s, NULL, %s)",
            [(message_id, position, address) for position, address in enumerate(envelope_to)],
        )
        cur.execute(
            "UPDATE recipients r SET inbox_id = "
            "(SELECT i.id FROM inboxes i WHERE i.address = lower(r.address) AND i.address = ANY(%s)) "
            "WHERE r.message_id = %s",
            (addresses, message_id),
        )
    return True
