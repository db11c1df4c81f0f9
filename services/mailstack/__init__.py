"""mailstack: the email-ingest platform (HTTP API, SQS worker, database migrations)."""

__version__ = "0.1.0"
