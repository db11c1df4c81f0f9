"""Settings from the environment, per the configuration contract."""

from __future__ import annotations

import pytest
from mailstack.config import (
    DEFAULT_SNS_TRUSTED_CERT_URL_PATTERN,
    ConfigError,
    load_api_settings,
    load_port,
    load_worker_settings,
)

DATABASE = {
    "DB_HOST": "db.internal",
    "DB_PORT": "5432",
    "DB_NAME": "mailstack",
    "DB_USER": "app",
    "DB_PASSWORD": "p@ss:w/rd",
}
COMMON = {"MAILSTACK_ENV": "dev", "AWS_REGION": "eu-west-1"}
WORKER = {
    **COMMON,
    **DATABASE,
    "INBOUND_QUEUE_URL": "https://sqs/queue",
    "RAW_MAIL_BUCKET": "raw",
    "ATTACHMENTS_BUCKET": "att",
}
API = {**COMMON, **DATABASE, "RAW_MAIL_BUCKET": "raw", "ATTACHMENTS_BUCKET": "att", "API_TOKEN": "s3cret"}


def test_worker_defaults():
    settings = load_worker_settings(WORKER)
    assert settings.wait_time_seconds == 20
    assert settings.batch_size == 10
    assert settings.ses_notification_grace_seconds == 30
    assert settings.common.log_level == "INFO"
    assert settings.database.port == 5432


def test_worker_overrides():
    settings = load_worker_settings(
        {**WORKER, "WORKER_WAIT_TIME_SECONDS": "1", "WORKER_BATCH_SIZE": "3", "LOG_LEVEL": "debug"}
    )
    assert (settings.wait_time_seconds, settings.batch_size, settings.common.log_level) == (1, 3, "DEBUG")


def test_ses_notification_grace_is_configurable_and_bounded():
    assert (
        load_worker_settings({**WORKER, "WORKER_SES_NOTIFICATION_GRACE_SECONDS": "0"}).ses_notification_grace_seconds
        == 0
    )
    with pytest.raises(ConfigError, match="WORKER_SES_NOTIFICATION_GRACE_SECONDS must be an integer from 0 to 900"):
        load_worker_settings({**WORKER, "WORKER_SES_NOTIFICATION_GRACE_SECONDS": "901"})


def test_missing_variable_is_named_with_its_source():
    environ = dict(WORKER)
    del environ["INBOUND_QUEUE_URL"]
    with pytest.raises(ConfigError) as error:
        load_worker_settings(environ)
    assert "missing environment variable INBOUND_QUEUE_URL" in str(error.value)
    assert "sqs/inbound_queue_url" in str(error.value)


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as error:
        load_api_settings({**COMMON, "PORT": "http", "WORKER_BATCH_SIZE": "99"})
    message = str(error.value)
    for name in ("DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD", "RAW_MAIL_BUCKET", "API_TOKEN"):
        assert f"missing environment variable {name}" in message
    assert "PORT must be an integer from 1 to 65535, got 'http'" in message


def test_invalid_numbers_are_rejected():
    with pytest.raises(ConfigError, match="WORKER_BATCH_SIZE must be an integer from 1 to 10"):
        load_worker_settings({**WORKER, "WORKER_BATCH_SIZE": "11"})


def test_region_falls_back_to_aws_default_region():
    environ = {**WORKER, "AWS_DEFAULT_REGION": "us-west-2"}
    del environ["AWS_REGION"]
    assert load_worker_settings(environ).common.region == "us-west-2"


def test_api_defaults_and_lists():
    settings = load_api_settings({**API, "SNS_TOPIC_ARNS": "arn:a, arn:b,,"})
    assert settings.port == 8080
    assert settings.sns_trusted_cert_url_pattern.pattern == DEFAULT_SNS_TRUSTED_CERT_URL_PATTERN
    assert settings.sns_trusted_subscribe_url_pattern.pattern == DEFAULT_SNS_TRUSTED_CERT_URL_PATTERN
    assert settings.sns_topic_arns == frozenset({"arn:a", "arn:b"})
    assert "s3cret" not in repr(settings)


def test_default_cert_pattern_trusts_only_amazonaws_over_https():
    pattern = load_api_settings(API).sns_trusted_cert_url_pattern
    assert pattern.match("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem")
    assert pattern.match("https://sns.cn-north-1.amazonaws.com.cn/x.pem")
    assert not pattern.match("http://sns.us-east-1.amazonaws.com/x.pem")
    assert not pattern.match("https://sns.us-east-1.amazonaws.com.evil.example/x.pem")
    assert not pattern.match("https://evil.example/sns.us-east-1.amazonaws.com/x.pem")


def test_cert_pattern_override_also_sets_subscribe_pattern():
    settings = load_api_settings({**API, "SNS_TRUSTED_CERT_URL_PATTERN": r"^http://127\.0\.0\.1:\d+/"})
    assert settings.sns_trusted_subscribe_url_pattern.match("http://127.0.0.1:9999/confirm")


def test_invalid_pattern_is_reported():
    with pytest.raises(ConfigError, match="SNS_TRUSTED_CERT_URL_PATTERN is not a valid regular expression"):
        load_api_settings({**API, "SNS_TRUSTED_CERT_URL_PATTERN": "("})


def test_database_conninfo_and_yoyo_uri_quote_the_password():
    database = load_worker_settings(WORKER).database
    assert "password='p@ss:w/rd'" in database.conninfo() or "password=p@ss:w/rd" in database.conninfo()
    assert database.yoyo_uri().startswith("postgresql+psycopg://app:p%40ss%3Aw%2Frd@db.internal:5432/mailstack?")
    assert "p@ss" not in repr(database)


def test_port():
    assert load_port({}) == 8080
    assert load_port({"PORT": "9000"}) == 9000
    with pytest.raises(ConfigError):
        load_port({"PORT": "0"})
