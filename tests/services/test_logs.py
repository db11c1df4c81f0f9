"""Logs are one JSON object per line, with extra fields at the top level."""

from __future__ import annotations

import json
import logging

from mailstack.logs import JsonFormatter


def test_json_line_with_extra_fields():
    formatter = JsonFormatter({"service": "worker", "env": "test"})
    record = logging.makeLogRecord(
        {
            "name": "mailstack.worker",
            "levelno": logging.INFO,
            "levelname": "INFO",
            "msg": "ingested %s",
            "args": ("x",),
            "sqs_message_id": "m-1",
            "s3_key": "inbound/a b",
        }
    )
    line = formatter.format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "ingested x"
    assert entry["level"] == "INFO"
    assert entry["service"] == "worker" and entry["env"] == "test"
    assert entry["sqs_message_id"] == "m-1"
    assert entry["s3_key"] == "inbound/a b"
    assert entry["time"].endswith("+00:00")


def test_exceptions_stay_on_one_line():
    formatter = JsonFormatter()
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        import sys

        record = logging.makeLogRecord({"msg": "failed", "levelname": "ERROR", "exc_info": sys.exc_info()})
    line = formatter.format(record)
    assert "\n" not in line
    assert "ValueError: boom" in json.loads(line)["exception"]
