-- Initial schema: domains and inboxes, messages with their recipients and attachments,
-- and the SNS notifications the webhook records.

CREATE TABLE domains (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE inboxes (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    domain_id BIGINT NOT NULL REFERENCES domains (id),
    address TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE messages (
    id UUID PRIMARY KEY,
    message_id_header TEXT,
    envelope_from TEXT,
    envelope_to TEXT[] NOT NULL DEFAULT '{}',
    subject TEXT,
    from_header TEXT,
    from_address TEXT,
    sent_at TIMESTAMPTZ,
    headers JSONB NOT NULL,
    text_body TEXT,
    html_body TEXT,
    size_bytes BIGINT NOT NULL,
    raw_bucket TEXT NOT NULL,
    raw_key TEXT NOT NULL,
    defects JSONB NOT NULL DEFAULT '[]',
    received_at TIMESTAMPTZ NOT NULL,
    ingested_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT messages_raw_object_unique UNIQUE (raw_bucket, raw_key)
);

CREATE INDEX messages_message_id_header_idx ON messages (message_id_header);
CREATE INDEX messages_received_idx ON messages (received_at DESC, id DESC);

CREATE TABLE recipients (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id UUID NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('to', 'cc', 'bcc', 'envelope')),
    position INTEGER NOT NULL,
    display_name TEXT,
    address TEXT NOT NULL,
    inbox_id BIGINT REFERENCES inboxes (id)
);

CREATE INDEX recipients_message_idx ON recipients (message_id);
CREATE INDEX recipients_inbox_idx ON recipients (inbox_id, message_id);

CREATE TABLE attachments (
    id UUID PRIMARY KEY,
    message_id UUID NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    filename TEXT,
    content_type TEXT NOT NULL,
    content_id TEXT,
    is_inline BOOLEAN NOT NULL,
    size_bytes BIGINT NOT NULL,
    s3_bucket TEXT NOT NULL,
    s3_key TEXT NOT NULL,
    sha256 TEXT NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    CONSTRAINT attachments_position_unique UNIQUE (message_id, position)
);

CREATE TABLE sns_notifications (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sns_message_id TEXT NOT NULL UNIQUE,
    topic_arn TEXT NOT NULL,
    notification_type TEXT,
    ses_message_id TEXT,
    payload JSONB NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
