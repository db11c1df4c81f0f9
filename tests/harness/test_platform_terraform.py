"""The platform's real Terraform, applied from scratch to the emulated AWS, reads back as designed.

Identities come from the Terraform outputs; every property is read back from the emulated AWS APIs
and compared with the design (seed 001 queue table, DESIGN.md data flow), not with the outputs.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from harness.core.clients import AwsClients
from harness.core.config import HarnessSettings
from harness.core.progress import QuietReporter
from harness.stack import Stack, StackState

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
DAY = 86400


@pytest.fixture(scope="module")
def booted() -> Iterator[tuple[Stack, StackState]]:
    run_dir = Path(tempfile.mkdtemp(prefix="mailstack-tf-test-"))
    settings = HarnessSettings(project_dir=ROOT, run_dir=run_dir, terraform_dir=ROOT / "terraform", runtime=False)
    stack = Stack(settings, QuietReporter(), detached=False)
    state = stack.up()
    try:
        yield stack, state
    finally:
        stack.down()


@pytest.fixture(scope="module")
def aws(booted: tuple[Stack, StackState]) -> AwsClients:
    return AwsClients(booted[1].aws_endpoint_url, booted[1].region)


@pytest.fixture(scope="module")
def outputs(booted: tuple[Stack, StackState]) -> dict[str, Any]:
    return booted[1].outputs


def test_a_second_plan_reports_no_changes(booted: tuple[Stack, StackState]) -> None:
    stack, state = booted
    runner = stack.terraform(state.aws_endpoint_url)
    runner.prepare()
    changes = runner.plan_changes()
    drift = [line.strip() for line in (changes or "").splitlines() if line.strip().startswith(("#", "~", "-", "+"))]
    assert changes is None, "perpetual diff after apply:\n" + "\n".join(drift[:60])


@pytest.mark.parametrize(
    ("key", "visibility", "max_receives", "wait", "fifo"),
    [
        ("inbound", 60, 5, 0, False),
        ("outbound", 300, 3, 20, False),
        ("telemetry", 60, 10, 0, False),
        ("webhooks", 60, 7, 20, True),
    ],
)
def test_queues_and_their_redrive_policies(
    aws: AwsClients, outputs: dict[str, Any], key: str, visibility: int, max_receives: int, wait: int, fifo: bool
) -> None:
    sqs = aws.client("sqs")
    attrs = sqs.get_queue_attributes(QueueUrl=outputs["queue_urls"][key], AttributeNames=["All"])["Attributes"]
    assert int(attrs["VisibilityTimeout"]) == visibility
    assert int(attrs["MessageRetentionPeriod"]) == 14 * DAY
    redrive = json.loads(attrs["RedrivePolicy"])
    assert int(redrive["maxReceiveCount"]) == max_receives
    assert redrive["deadLetterTargetArn"] == outputs["dlq_arns"][key]
    assert (attrs.get("FifoQueue") == "true") is fifo
    if key in ("outbound", "webhooks"):
        assert int(attrs["ReceiveMessageWaitTimeSeconds"]) == wait
    dlq_url = outputs["dlq_urls"][key]
    dlq = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["All"])["Attributes"]
    allow = json.loads(dlq["RedriveAllowPolicy"])
    assert allow["redrivePermission"] in ("byQueue", "allowAll")
    if allow["redrivePermission"] == "byQueue":
        assert outputs["queue_arns"][key] in allow["sourceQueueArns"]
    assert (dlq.get("FifoQueue") == "true") is fifo


def test_raw_mail_bucket_notifies_the_inbound_queue(aws: AwsClients, outputs: dict[str, Any]) -> None:
    s3 = aws.client("s3")
    bucket = outputs["raw_mail_bucket"]
    config = s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    inbound_arn = outputs["queue_arns"]["inbound"]
    [notification] = [c for c in config if c["QueueArn"] == inbound_arn]
    assert any(e.startswith("s3:ObjectCreated") for e in notification["Events"])
    rules = notification["Filter"]["Key"]["FilterRules"]
    assert ("prefix", "inbound/") in [(r["Name"].lower(), r["Value"]) for r in rules]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    policy = json.loads(aws.client("sqs").get_queue_attributes(
        QueueUrl=outputs["queue_urls"]["inbound"], AttributeNames=["Policy"])["Attributes"]["Policy"])
    assert any("s3.amazonaws.com" in json.dumps(statement.get("Principal")) for statement in policy["Statement"])


def test_active_receipt_rule_stores_in_s3_and_notifies_the_topic_without_content(
    aws: AwsClients, outputs: dict[str, Any]
) -> None:
    active = aws.client("ses").describe_active_receipt_rule_set()
    assert active["Metadata"]["Name"] == outputs["receipt_rule_set_name"]
    [rule] = [r for r in active["Rules"] if r["Name"] == outputs["receipt_rule_name"]]
    assert rule.get("Enabled", False)
    assert outputs["mail_domain"] in rule["Recipients"]
    # No SNS action: it carries the mail's content and SES bounces mail over 150 KB for it. The S3 action's
    # topic gets a notification (bucket, key, envelope) without content, whatever the size.
    [action] = rule["Actions"]
    s3_action = action["S3Action"]
    assert s3_action["BucketName"] == outputs["raw_mail_bucket"]
    assert s3_action["ObjectKeyPrefix"] == "inbound/"
    assert s3_action["TopicArn"] == outputs["inbound_topic_arn"]


def test_inbound_topic_is_subscribed_by_the_api_webhook(aws: AwsClients, outputs: dict[str, Any]) -> None:
    subs = aws.client("sns").list_subscriptions_by_topic(TopicArn=outputs["inbound_topic_arn"])["Subscriptions"]
    assert [s["Endpoint"] for s in subs if s["Protocol"] == "https"] == [outputs["api_webhook_url"]]
    assert outputs["api_webhook_url"].endswith("/v1/webhooks/aws/sns")


def test_inbound_queue_gets_the_s3_actions_notifications(aws: AwsClients, outputs: dict[str, Any]) -> None:
    sns = aws.client("sns")
    subs = sns.list_subscriptions_by_topic(TopicArn=outputs["inbound_topic_arn"])["Subscriptions"]
    [queue_sub] = [s for s in subs if s["Endpoint"] == outputs["queue_arns"]["inbound"]]
    assert queue_sub["Protocol"] == "sqs"
    attributes = sns.get_subscription_attributes(SubscriptionArn=queue_sub["SubscriptionArn"])["Attributes"]
    assert attributes["RawMessageDelivery"] == "true"
    assert attributes["FilterPolicyScope"] == "MessageBody"
    assert json.loads(attributes["FilterPolicy"]) == {
        "notificationType": ["Received"],
        "receipt": {"action": {"type": ["S3"]}},
    }
    policy = json.loads(aws.client("sqs").get_queue_attributes(
        QueueUrl=outputs["queue_urls"]["inbound"], AttributeNames=["Policy"])["Attributes"]["Policy"])
    [from_topic] = [s for s in policy["Statement"] if "sns.amazonaws.com" in json.dumps(s.get("Principal"))]
    assert from_topic["Condition"]["ArnEquals"]["aws:SourceArn"] == outputs["inbound_topic_arn"]


def test_alb_listeners_and_target_group_health_check(aws: AwsClients, outputs: dict[str, Any]) -> None:
    elbv2 = aws.client("elbv2")
    listeners = {
        lst["Port"]: lst for lst in elbv2.describe_listeners(LoadBalancerArn=outputs["alb_arn"])["Listeners"]
    }
    assert set(listeners) == {80, 443}
    redirect = listeners[80]["DefaultActions"][0]
    assert redirect["Type"] == "redirect"
    assert redirect["RedirectConfig"]["StatusCode"] == "HTTP_301"
    assert redirect["RedirectConfig"]["Port"] == "443" and redirect["RedirectConfig"]["Protocol"] == "HTTPS"
    https = listeners[443]
    assert https["Protocol"] == "HTTPS" and https["Certificates"][0]["CertificateArn"] == outputs["certificate_arn"]
    forward = https["DefaultActions"][0]
    assert forward["Type"] == "forward" and forward["TargetGroupArn"] == outputs["target_group_arn"]
    [tg] = elbv2.describe_target_groups(TargetGroupArns=[outputs["target_group_arn"]])["TargetGroups"]
    assert (tg["Port"], tg["Protocol"], tg["TargetType"]) == (8080, "HTTP", "ip")
    assert tg["HealthCheckPath"] == "/health" and tg["Matcher"]["HttpCode"] == "200"


def test_every_alarm_publishes_to_ops_alerts(aws: AwsClients, outputs: dict[str, Any]) -> None:
    alarms = aws.client("cloudwatch").describe_alarms()["MetricAlarms"]
    by_name = {alarm["AlarmName"]: alarm for alarm in alarms}
    names = [name for group in outputs["alarm_names"].values() for name in (
        group.values() if isinstance(group, dict) else [group])]
    assert names and set(names) <= set(by_name)
    for name in names:
        assert by_name[name]["AlarmActions"] == [outputs["ops_alerts_topic_arn"]], name
        assert by_name[name]["OKActions"] == [outputs["ops_alerts_topic_arn"]], name
    metrics = {(by_name[n]["Namespace"], by_name[n]["MetricName"]) for n in names}
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible") in metrics
    assert ("AWS/SQS", "ApproximateAgeOfOldestMessage") in metrics
    assert ("ECS/ContainerInsights", "RunningTaskCount") in metrics
    assert any(ns == "AWS/ApplicationELB" and "5XX" in metric for ns, metric in metrics)
    dlq_alarms = [n for n in names if by_name[n]["MetricName"] == "ApproximateNumberOfMessagesVisible"
                  and by_name[n]["Namespace"] == "AWS/SQS"]
    assert len(dlq_alarms) >= 4  # one per DLQ


def test_ecs_services_and_task_definitions(aws: AwsClients, outputs: dict[str, Any]) -> None:
    ecs = aws.client("ecs")
    cluster = outputs["ecs_cluster_name"]
    names = outputs["ecs_service_names"]
    services = {s["serviceName"]: s for s in ecs.describe_services(
        cluster=cluster, services=list(names.values()))["services"]}
    api, worker = services[names["api"]], services[names["worker"]]
    assert api["loadBalancers"][0]["targetGroupArn"] == outputs["target_group_arn"]
    assert api["loadBalancers"][0]["containerPort"] == 8080
    assert worker["loadBalancers"] == []
    for service in (api, worker):
        assert service["launchType"] == "FARGATE" or service.get("capacityProviderStrategy")
        assert service["networkConfiguration"]["awsvpcConfiguration"]["subnets"]

    def container(arn: str) -> dict[str, Any]:
        return ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]["containerDefinitions"][0]

    api_c = container(api["taskDefinition"])
    assert api_c["portMappings"][0]["containerPort"] == 8080
    assert api_c["command"] == ["api"] and "healthcheck" in " ".join(api_c["healthCheck"]["command"])
    assert container(worker["taskDefinition"])["command"] == ["worker"]
    assert container(outputs["migrate_task_definition_arn"])["command"] == ["migrate"]
    secrets = {s["name"]: s["valueFrom"] for s in api_c["secrets"]}
    assert {"DB_HOST", "DB_PASSWORD", "API_TOKEN"} <= set(secrets)
    assert api_c["logConfiguration"]["logDriver"] == "awslogs"


def test_rds_instance_is_bound_to_the_real_postgres(aws: AwsClients, booted: tuple[Stack, StackState],
                                                     outputs: dict[str, Any]) -> None:
    [binding] = booted[1].rds
    assert binding.identifier == outputs["db_instance_identifier"]
    assert binding.emulated_host == outputs["db_address"]
    secret = json.loads(aws.client("secretsmanager").get_secret_value(
        SecretId=outputs["db_master_user_secret_arn"])["SecretString"])
    with psycopg.connect(host=binding.host, port=binding.port, dbname=outputs["db_name"],
                         user=secret["username"], password=secret["password"], connect_timeout=5) as conn:
        assert conn.execute("select current_user, current_database()").fetchone() == (
            secret["username"], outputs["db_name"])


def test_destroy_completes(booted: tuple[Stack, StackState]) -> None:
    stack, state = booted
    runner = stack.terraform(state.aws_endpoint_url)
    runner.prepare()
    runner.destroy()
    assert runner.outputs() == {}
