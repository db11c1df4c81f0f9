"""The ingest worker: SQS messages naming S3 objects in, rows in PostgreSQL out."""
