"""The SMTP front door (aiosmtpd): receipt filters on connect, recipient checks on RCPT, rules on DATA.

Replies, as SES inbound gives them where known:
  connect from an IP a Block filter covers (and no Allow filter) → `554 5.7.1 Access denied`
  MAIL FROM / RCPT TO path that is not RFC 5321 (control characters such as NUL, `a..b@x`, `a@-x`, ...;
  see harness.aws.ses.addresses)                                    → `501 5.1.7 Invalid MAIL FROM address provided`
                                                                  `501 5.1.3 Invalid RCPT TO address provided`
  RCPT TO no enabled rule of the active rule set matches       → `550 5.1.1 Mailbox does not exist`
  DATA over the size limit (also advertised as EHLO SIZE)       → `552` (aiosmtpd's wording)
  accepted mail                                                 → `250 Ok <ses message id>`
The rule actions run before the 250 reply, so a trace exists by the time the client sees it.
The 501 texts are the ones SES documents for its SMTP interface; the enhanced codes are RFC 3463's
(X.1.7 bad sender address syntax, X.1.3 bad destination address syntax). A refused RCPT refuses that
recipient only: the others of the transaction are still accepted and delivered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import UTC, datetime
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session, syntax

from harness.aws.ses.addresses import path_problem
from harness.aws.ses.ids import new_message_id
from harness.aws.ses.model import ReceiptConfig
from harness.aws.ses.processor import InboundMail, ReceiptProcessor
from harness.aws.ses.reader import ReceiptConfigReader
from harness.aws.ses.records import JsonlLog
from harness.core.errors import HarnessError

log = logging.getLogger(__name__)

REJECT_RECIPIENT = "550 5.1.1 Mailbox does not exist"
REJECT_INVALID_SENDER = "501 5.1.7 Invalid MAIL FROM address provided"
REJECT_INVALID_RECIPIENT = "501 5.1.3 Invalid RCPT TO address provided"
REJECT_CONNECTION = "554 5.7.1 Access denied"
NULL_SENDER = "<>"
TEMPORARY_FAILURE = "451 4.3.0 Temporary local problem: receipt rules are unavailable"


def _peer_ip(session: Session) -> str:
    peer = session.peer
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return str(peer or "")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SesHandler:
    """aiosmtpd handler; the blocking AWS work runs on `executor`."""

    def __init__(
        self,
        *,
        reader: ReceiptConfigReader,
        processor: ReceiptProcessor,
        executor: Executor,
        traces: JsonlLog,
        rejections: JsonlLog,
    ) -> None:
        self.reader = reader
        self.processor = processor
        self.executor = executor
        self.traces = traces
        self.rejections = rejections

    async def _blocking(self, func: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, func, *args)

    async def _config(self, session: Session) -> ReceiptConfig | None:
        try:
            config: ReceiptConfig = await self._blocking(self.reader.read)
        except HarnessError as exc:
            log.error("SES inbound: %s", exc)
            return None
        session.ses_config = config  # type: ignore[attr-defined]
        return config

    def _reject(self, stage: str, session: Session, reply: str, **details: Any) -> None:
        self.rejections.append({"at": _now(), "stage": stage, "peer": _peer_ip(session), "reply": reply, **details})

    def refuse_address(self, stage: str, session: Session, envelope: Envelope, path: str, reason: str) -> str:
        """Record a MAIL FROM (`stage` "mail") or RCPT TO ("rcpt") refused for its syntax; returns the reply."""
        if stage == "mail":
            reply = REJECT_INVALID_SENDER
            self._reject(stage, session, reply, mailFrom=path, reason=reason)
        else:
            reply = REJECT_INVALID_RECIPIENT
            self._reject(stage, session, reply, recipient=path, mailFrom=envelope.mail_from, reason=reason)
        log.info("SES inbound: refused %s %r from %s (%s)", stage.upper(), path, _peer_ip(session), reason)
        return reply

    async def on_connect(self, session: Session) -> str | None:
        """A reply that refuses the connection, or None to greet."""
        config = await self._config(session)
        if config is None:
            return TEMPORARY_FAILURE
        verdict = config.check_ip(_peer_ip(session))
        if not verdict.allowed:
            name = verdict.filter.name if verdict.filter else None
            self._reject("connect", session, REJECT_CONNECTION, filter=name)
            log.info("SES inbound: refused %s (receipt filter %r)", _peer_ip(session), name)
            return REJECT_CONNECTION
        return None

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        # Re-read the rules for every transaction, so rule changes apply to a long-lived session.
        if await self._config(session) is None:
            return TEMPORARY_FAILURE
        # aiosmtpd treats an empty mail_from as "no MAIL yet"; keep the null reverse-path visible.
        envelope.mail_from = address or NULL_SENDER
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        config: ReceiptConfig | None = getattr(session, "ses_config", None)
        if config is None:
            config = await self._config(session)
            if config is None:
                return TEMPORARY_FAILURE
        if not config.accepts(address):
            self._reject(
                "rcpt",
                session,
                REJECT_RECIPIENT,
                recipient=address,
                mailFrom=envelope.mail_from,
                ruleSet=config.rule_set_name,
            )
            return REJECT_RECIPIENT
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        config: ReceiptConfig | None = getattr(session, "ses_config", None)
        if config is None:
            return TEMPORARY_FAILURE
        raw = envelope.original_content or b""
        if isinstance(raw, str):  # pragma: no cover - decode_data is off
            raw = raw.encode("utf-8", errors="surrogateescape")
        message_id = new_message_id()
        mail = InboundMail(
            mail_from="" if envelope.mail_from in (None, NULL_SENDER) else envelope.mail_from,
            recipients=list(envelope.rcpt_tos),
            raw=bytes(raw),
            peer_ip=_peer_ip(session),
            helo=session.host_name or "",
            tls=bool(session.ssl),
            received_at=datetime.now(UTC),
        )
        trace = await self._blocking(self.processor.process, config, mail, message_id)
        self.traces.append(trace)
        return f"250 Ok {message_id}"


class _SesSMTP(SMTP):
    """aiosmtpd's SMTP with two additions: the handler may refuse a connection before the greeting, and
    MAIL FROM / RCPT TO paths are checked against RFC 5321 before aiosmtpd's lenient parser sees them."""

    @syntax("MAIL FROM: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_MAIL(self, arg: str | None) -> None:
        if not await self._refused_path("mail", "FROM:", arg):
            await super().smtp_MAIL(arg)

    @syntax("RCPT TO: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_RCPT(self, arg: str | None) -> None:
        if not await self._refused_path("rcpt", "TO:", arg):
            await super().smtp_RCPT(arg)

    async def _refused_path(self, stage: str, keyword: str, arg: str | None) -> bool:
        """Refuse (and record) a command whose path is not RFC 5321. False leaves the command to aiosmtpd,
        also when it is out of sequence (no HELO, RCPT before MAIL) or has no path: aiosmtpd answers those."""
        assert self.session is not None and self.envelope is not None
        if arg is None or not self.session.host_name or (stage == "rcpt" and not self.envelope.mail_from):
            return False
        path = self._strip_command_keyword(keyword, arg)
        if not path:
            return False
        problem = path_problem(path, reverse=stage == "mail")
        if problem is None:
            return False
        await self.push(self.event_handler.refuse_address(stage, self.session, self.envelope, path, problem))
        return True

    async def _handle_client(self) -> None:
        assert self.session is not None
        reply = await self.event_handler.on_connect(self.session)
        if reply is not None:
            await self.push(reply)
            if self.transport is not None:
                self.transport.close()
            return
        await super()._handle_client()


class SesController(Controller):
    def factory(self) -> SMTP:
        return _SesSMTP(self.handler, **self.SMTP_kwargs)
