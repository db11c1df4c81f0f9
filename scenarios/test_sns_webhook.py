"""The inbound topic's https subscription reaches the API through the ALB, confirmed and signed like AWS."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.scenario


@pytest.mark.depends_on()  # confirmed at boot; no scenario changes subscriptions
def test_webhook_subscription_is_confirmed(aws) -> None:
    sns = aws.client("sns")
    webhooks = [
        subscription
        for topic in sns.list_topics()["Topics"]
        for subscription in sns.list_subscriptions_by_topic(TopicArn=topic["TopicArn"])["Subscriptions"]
        if subscription["Endpoint"].endswith("/v1/webhooks/aws/sns")
    ]
    assert webhooks, "the Terraform declares no webhook subscription"
    assert all(s["SubscriptionArn"] != "PendingConfirmation" for s in webhooks)


@pytest.mark.depends_on("api-service", "database", "inbound-queue", "worker-service")
def test_received_notification_reaches_the_api_with_a_verified_signature(mail, db, eventually) -> None:
    sent = mail.send(sender="alice@example.org", to=[mail.address("notify")], subject="over sns", body="hi")
    row = eventually(
        lambda: db.execute(
            "select notification_type, payload from sns_notifications where ses_message_id = %s",
            (sent.message_id,),
        ).fetchone(),
        timeout=60,
        what="the SES Received notification stored by the API's webhook",
    )
    notification_type, payload = row
    assert notification_type == "Received"
    assert payload["mail"]["messageId"] == sent.message_id
