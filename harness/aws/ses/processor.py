"""Run the active rule set on one accepted mail: rules in order, each rule's actions in order.

SES semantics kept here: only enabled rules that match at least one envelope recipient run, with
`receipt.recipients` = the recipients that rule matched; AddHeader changes the mail seen by every
later action (of this rule and of later rules); Stop ends the rule set; a rule with
TlsPolicy=Require does not run for mail received without STARTTLS, which bounces instead; the SNS
action bounces mail over 150 KB. Lambda, WorkMail and Connect actions are not run locally: they
are logged and traced as skipped. A failing action (e.g. a missing bucket) ends processing of
that mail and is recorded in the trace.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from harness.aws.ses import model
from harness.aws.ses.bounce import bounce_message
from harness.aws.ses.ids import new_message_id, new_receipt_blob
from harness.aws.ses.mime import Arrival, Verdicts, render_fields, ses_headers
from harness.aws.ses.model import ReceiptAction, ReceiptConfig, ReceiptRule
from harness.aws.ses.notification import (
    SUBJECT,
    iso_millis,
    mail_object,
    receipt_object,
    received_notification,
    sns_encoding,
)
from harness.aws.ses.records import JsonlLog
from harness.aws.ses.s3crypto import encrypt, encryption_context

log = logging.getLogger(__name__)

#: Largest mail the SNS action publishes (headers included); larger mail bounces.
SNS_CONTENT_LIMIT = 150 * 1024


@dataclass(frozen=True)
class ReceiptClients:
    """The clients the receipt actions use (from the runtime context's factory, or fakes in unit tests)."""

    s3: Any
    sns: Any
    kms: Any
    sts: Any


@dataclass(frozen=True)
class InboundMail:
    """One mail as SMTP accepted it."""

    mail_from: str
    recipients: Sequence[str]
    raw: bytes
    peer_ip: str
    helo: str
    tls: bool
    received_at: datetime


class _Stop(Exception):
    pass


class _Abort(Exception):
    pass


@dataclass
class _Run:
    """Per-mail state while the rules run."""

    mail: InboundMail
    message_id: str
    config: ReceiptConfig
    ses_fields: list[tuple[str, str]]
    scanned: bool
    added: list[tuple[str, str]] = field(default_factory=list)

    def content(self) -> bytes:
        return render_fields(self.ses_fields) + render_fields(self.added) + self.mail.raw


class ReceiptProcessor:
    def __init__(self, *, region: str, clients: ReceiptClients, verdicts: Verdicts, outbox: JsonlLog) -> None:
        self.region = region
        self.clients = clients
        self.verdicts = verdicts
        self.outbox = outbox
        self._account_id: str | None = None
        self._account_lock = threading.Lock()

    # ---- entry point -------------------------------------------------------------------------
    def process(self, config: ReceiptConfig, mail: InboundMail, message_id: str) -> dict[str, Any]:
        """Run every matching rule; return the trace record (the caller stores it)."""
        matching = [r for r in config.enabled_rules() if any(r.matches(x, config.verified) for x in mail.recipients)]
        scanned = any(rule.scan_enabled for rule in matching)
        arrival = Arrival(
            message_id=message_id,
            region=self.region,
            mail_from=mail.mail_from,
            recipient=mail.recipients[0] if mail.recipients else "",
            peer_ip=mail.peer_ip,
            helo=mail.helo,
            received_at=mail.received_at,
        )
        fields = ses_headers(arrival, mail.raw, self.verdicts, scanned=scanned, receipt_blob=new_receipt_blob())
        run = _Run(mail, message_id, config, fields, scanned)
        trace: dict[str, Any] = {
            "messageId": message_id,
            "acceptedAt": iso_millis(mail.received_at),
            "peer": mail.peer_ip,
            "helo": mail.helo,
            "tls": mail.tls,
            "mailFrom": mail.mail_from,
            "recipients": list(mail.recipients),
            "sizeBytes": len(mail.raw),
            "ruleSet": config.rule_set_name,
            "rules": [],
            "stoppedBy": None,
            "errors": [],
            "warnings": list(config.warnings),
        }
        for rule in matching:
            matched = [x for x in mail.recipients if rule.matches(x, config.verified)]
            rule_trace: dict[str, Any] = {"rule": rule.name, "recipients": matched, "actions": []}
            trace["rules"].append(rule_trace)
            if rule.requires_tls and not mail.tls:
                rule_trace["skipped"] = "TlsPolicy=Require and the mail did not arrive over STARTTLS"
                self._bounce(
                    run,
                    rule,
                    matched,
                    "530",
                    "5.7.0",
                    "Must issue a STARTTLS command first",
                    sender=f"MAILER-DAEMON@inbound-smtp.{self.region}.amazonaws.com",
                    reason="TlsPolicy",
                    record=rule_trace,
                )
                continue
            try:
                for action in rule.actions:
                    record: dict[str, Any] = {"type": action.kind}
                    rule_trace["actions"].append(record)
                    try:
                        self._run_action(run, rule, matched, action, record)
                    except _Stop:
                        raise
                    except Exception as exc:
                        record["status"] = "failed"
                        record["error"] = f"{type(exc).__name__}: {exc}"
                        trace["errors"].append(f"rule {rule.name!r} {action.kind} action failed: {exc}")
                        log.error(
                            "SES inbound %s: rule %r action %s failed: %s",
                            message_id,
                            rule.name,
                            action.describe(),
                            exc,
                        )
                        raise _Abort from exc
            except _Stop:
                trace["stoppedBy"] = rule.name
                break
            except _Abort:
                trace["abortedAt"] = rule.name
                break
        trace["completedAt"] = iso_millis(datetime.now(UTC))
        return trace

    # ---- actions -------------------------------------------------------------------------------
    def _run_action(
        self, run: _Run, rule: ReceiptRule, matched: list[str], action: ReceiptAction, record: dict[str, Any]
    ) -> None:
        kind = action.kind
        if kind == model.S3:
            self._s3(run, rule, matched, action, record)
        elif kind == model.SNS:
            self._sns(run, rule, matched, action, record)
        elif kind == model.ADD_HEADER:
            name = str(action.params.get("HeaderName", ""))
            value = str(action.params.get("HeaderValue", ""))
            run.added.append((name, value))
            record.update(status="ok", header=f"{name}: {value}")
        elif kind == model.STOP:
            self._notify(run, rule, matched, action, {"type": "Stop"}, record)
            record["status"] = "ok"
            raise _Stop
        elif kind == model.BOUNCE:
            params = action.params
            self._bounce(
                run,
                rule,
                matched,
                str(params.get("SmtpReplyCode", "550")),
                str(params.get("StatusCode", "5.1.1")),
                str(params.get("Message", "Mailbox does not exist")),
                sender=str(params.get("Sender", f"MAILER-DAEMON@{self._domain(matched)}")),
                reason="BounceAction",
                record=record,
            )
            self._notify(
                run,
                rule,
                matched,
                action,
                {
                    "type": "Bounce",
                    "smtpReplyCode": str(params.get("SmtpReplyCode", "")),
                    "statusCode": str(params.get("StatusCode", "")),
                    "message": str(params.get("Message", "")),
                    "sender": str(params.get("Sender", "")),
                },
                record,
            )
            record["status"] = "ok"
        else:
            what = {
                model.LAMBDA: f"function {action.params.get('FunctionArn')}",
                model.WORKMAIL: f"organization {action.params.get('OrganizationArn')}",
            }.get(kind, action.describe())
            reason = f"{kind} actions are not run by the local SES inbound ({what})"
            log.warning("SES inbound %s: rule %r: %s; skipped", run.message_id, rule.name, reason)
            record.update(status="skipped", reason=reason)

    def _s3(
        self, run: _Run, rule: ReceiptRule, matched: list[str], action: ReceiptAction, record: dict[str, Any]
    ) -> None:
        params = action.params
        bucket = str(params["BucketName"])
        key = f"{params.get('ObjectKeyPrefix') or ''}{run.message_id}"
        body = run.content()
        extra: dict[str, Any] = {}
        kms_key = params.get("KmsKeyArn")
        if kms_key:
            context = encryption_context(run.message_id, rule.name, self.account_id())
            encrypted = encrypt(self.clients.kms, str(kms_key), body, context)
            body, extra["Metadata"] = encrypted.body, encrypted.metadata
            record["kmsKeyArn"] = kms_key
        self.clients.s3.put_object(Bucket=bucket, Key=key, Body=body, **extra)
        record.update(bucket=bucket, key=key)
        action_fields: dict[str, Any] = {"type": "S3", "bucketName": bucket, "objectKey": key}
        if kms_key:
            action_fields["kmsKeyArn"] = kms_key
        self._notify(run, rule, matched, action, action_fields, record)
        record["status"] = "ok"

    def _sns(
        self, run: _Run, rule: ReceiptRule, matched: list[str], action: ReceiptAction, record: dict[str, Any]
    ) -> None:
        topic = str(action.params["TopicArn"])
        encoding = str(action.params.get("Encoding") or "UTF-8")
        content = run.content()
        record.update(topicArn=topic, encoding=sns_encoding(encoding))
        if len(content) > SNS_CONTENT_LIMIT:
            self._bounce(
                run,
                rule,
                matched,
                "552",
                "5.3.4",
                "Message too large for the SNS action (150 KB limit)",
                sender=f"MAILER-DAEMON@{self._domain(matched)}",
                reason="SNS size",
                record=record,
            )
            record["status"] = "bounced"
            return
        notification = received_notification(
            self._mail(run, content),
            self._receipt(run, rule, matched, {"type": "SNS", "topicArn": topic, "encoding": sns_encoding(encoding)}),
            content=content,
            encoding=encoding,
        )
        record["snsMessageId"] = self._publish(topic, notification)
        record["status"] = "ok"

    def _notify(
        self,
        run: _Run,
        rule: ReceiptRule,
        matched: list[str],
        action: ReceiptAction,
        action_fields: dict[str, Any],
        record: dict[str, Any],
    ) -> None:
        """The alert notification (no content) some actions publish when they carry a TopicArn."""
        topic = action.topic_arn
        if not topic:
            return
        fields = {"type": action_fields["type"], "topicArn": topic}
        fields.update({k: v for k, v in action_fields.items() if k != "type"})
        notification = received_notification(self._mail(run, run.content()), self._receipt(run, rule, matched, fields))
        record["topicArn"] = topic
        record["snsMessageId"] = self._publish(topic, notification)

    def _bounce(
        self,
        run: _Run,
        rule: ReceiptRule,
        matched: list[str],
        smtp_code: str,
        status: str,
        text: str,
        *,
        sender: str,
        reason: str,
        record: dict[str, Any],
    ) -> None:
        mail = run.mail
        if not mail.mail_from:
            record["bounce"] = "not sent: the mail has a null reverse-path (MAIL FROM:<>)"
            return
        when = datetime.now(UTC)
        bounce_id = new_message_id()
        raw = bounce_message(
            sender=sender,
            to=mail.mail_from,
            region=self.region,
            message_id=bounce_id,
            recipients=matched,
            smtp_reply_code=smtp_code,
            status_code=status,
            text=text,
            original=run.content(),
            when=when,
        )
        self.outbox.append(
            {
                "bounceId": bounce_id,
                "timestamp": iso_millis(when),
                "originalMessageId": run.message_id,
                "rule": rule.name,
                "reason": reason,
                "from": sender,
                "to": mail.mail_from,
                "recipients": list(matched),
                "smtpReplyCode": smtp_code,
                "statusCode": status,
                "message": text,
                "raw": raw.decode("utf-8", errors="replace"),
            }
        )
        record["bounceId"] = bounce_id

    # ---- helpers -------------------------------------------------------------------------------
    def _mail(self, run: _Run, content: bytes) -> dict[str, Any]:
        return mail_object(
            message_id=run.message_id,
            received_at=run.mail.received_at,
            mail_from=run.mail.mail_from,
            destination=run.mail.recipients,
            raw=content,
        )

    def _receipt(self, run: _Run, rule: ReceiptRule, matched: list[str], action: dict[str, Any]) -> dict[str, Any]:
        return receipt_object(
            received_at=run.mail.received_at,
            recipients=matched,
            verdicts=self.verdicts,
            scanned=rule.scan_enabled,
            action=action,
        )

    def _publish(self, topic: str, notification: dict[str, Any]) -> str:
        response = self.clients.sns.publish(TopicArn=topic, Subject=SUBJECT, Message=json.dumps(notification))
        return str(response["MessageId"])

    @staticmethod
    def _domain(recipients: list[str]) -> str:
        return recipients[0].rpartition("@")[2] if recipients else "localhost"

    def account_id(self) -> str:
        with self._account_lock:
            if self._account_id is None:
                self._account_id = str(self.clients.sts.get_caller_identity()["Account"])
            return self._account_id
