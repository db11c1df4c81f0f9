"""`SesInbound`: the local SES inbound endpoint (the MX for the domains the receipt rules cover).

    inbound = SesInbound(context)          # a RuntimeContext: emulator clients, run directory, CA
    inbound.start(); inbound.wait_ready()
    ... smtp to inbound.host:inbound.port ...
    inbound.traces(); inbound.rejections(); inbound.outbox()
    inbound.stop()

State directory (`<run_dir>/ses`): `traces.jsonl` (one line per accepted mail: rules matched, actions run, S3 keys,
SNS message ids), `rejections.jsonl` (refused connections and recipients), `outbox.jsonl`
(bounce messages the Bounce action sent). The STARTTLS certificate comes from the context's CA.
"""

from __future__ import annotations

import logging
import socket
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any

from harness.aws.ses.mime import Verdicts
from harness.aws.ses.model import ReceiptConfig
from harness.aws.ses.processor import ReceiptClients, ReceiptProcessor
from harness.aws.ses.reader import ReceiptConfigReader
from harness.aws.ses.records import JsonlLog
from harness.aws.ses.smtp import SesController, SesHandler
from harness.aws.ses.tls import server_context
from harness.core.context import RuntimeContext
from harness.core.errors import HarnessError, ReadinessTimeoutError
from harness.core.ports import ensure_port_free, free_port
from harness.core.probes import eventually

log = logging.getLogger(__name__)

#: SES inbound accepts mail up to 40 MB (after encoding, headers included).
DEFAULT_MAX_MESSAGE_BYTES = 40 * 1024 * 1024


class SesInbound:
    """SMTP endpoint that behaves as SES email receiving for the active receipt rule set."""

    name = "ses"

    def __init__(
        self,
        context: RuntimeContext,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        starttls: bool = True,
        verdicts: Verdicts | None = None,
        config_ttl: float = 0.0,
    ) -> None:
        self.context = context
        self.region = context.region
        self.state_dir = context.paths.ses_dir
        self.host = host
        self._requested_port = port
        self.port: int = port or 0
        self.max_message_bytes = max_message_bytes
        self.starttls = starttls
        self.verdicts = verdicts or Verdicts()
        self.config_ttl = config_ttl
        self.hostname = f"inbound-smtp.{self.region}.amazonaws.com"
        self.ca = context.ca  # the stack's CA, so clients can verify STARTTLS
        self._controller: SesController | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._reader: ReceiptConfigReader | None = None
        self._traces = JsonlLog(self.state_dir / "traces.jsonl")
        self._rejections = JsonlLog(self.state_dir / "rejections.jsonl")
        self._outbox = JsonlLog(self.state_dir / "outbox.jsonl")

    # ---- lifecycle ---------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    url = endpoint

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> SesInbound:
        if self._controller is not None:
            return self
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if self._requested_port:
            self.port = ensure_port_free(self._requested_port, self.host, "SES inbound SMTP")
        else:
            self.port = free_port(self.host)
        clients = self.context.clients
        self._reader = ReceiptConfigReader(clients.client("ses"), ttl=self.config_ttl)
        processor = ReceiptProcessor(
            region=self.region,
            clients=ReceiptClients(s3=clients.client("s3"), sns=clients.client("sns"), kms=clients.client("kms"),
                               sts=clients.client("sts")),
            verdicts=self.verdicts,
            outbox=self._outbox,
        )
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ses-inbound")
        handler = SesHandler(
            reader=self._reader,
            processor=processor,
            executor=self._executor,
            traces=self._traces,
            rejections=self._rejections,
        )
        tls_context = server_context(self.ca, self.hostname, self.host) if self.starttls else None
        controller = SesController(
            handler,
            hostname=self.host,
            port=self.port,
            server_hostname=self.hostname,
            ident="Amazon SES inbound (mailstack local cloud)",
            data_size_limit=self.max_message_bytes,
            tls_context=tls_context,
            enable_SMTPUTF8=True,
        )
        try:
            controller.start()
        except Exception as exc:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise HarnessError(
                f"SES inbound SMTP could not start on {self.host}:{self.port} ({exc})",
                "pick another port or leave it unset so the harness chooses a free one",
            ) from exc
        self._controller = controller
        log.info(
            "SES inbound listening on %s (region %s, AWS %s)",
            self.endpoint,
            self.region,
            self.context.endpoint_url,
        )
        return self

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Block until the SMTP port answers with a greeting (220, or a 4xx/5xx refusal)."""

        def greets() -> bool:
            with socket.create_connection((self.host, self.port), timeout=2) as sock:
                return sock.recv(512)[:1] in (b"2", b"4", b"5")

        eventually(
            greets, timeout=timeout, interval=0.05, what="SES inbound SMTP greeting",
            timeout_error=lambda message: ReadinessTimeoutError(
                f"SES inbound SMTP on {self.host}:{self.port} did not greet within {timeout:.0f}s ({message})",
                "check the harness log for an SES inbound start error; is the SMTP thread running?",
            ),
        )

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)

    def __enter__(self) -> SesInbound:
        self.start()
        self.wait_ready()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ---- what happened -------------------------------------------------------------------------
    def config(self) -> ReceiptConfig:
        """The receipt configuration as the emulator reports it right now."""
        if self._reader is None:
            raise HarnessError("SES inbound is not started", "call start() first")
        self._reader.invalidate()
        return self._reader.read()

    def traces(self) -> list[dict[str, Any]]:
        """One record per accepted mail, oldest first (also in `traces.jsonl`)."""
        return self._traces.items()

    def trace(self, message_id: str) -> dict[str, Any] | None:
        for record in self._traces.items():
            if record.get("messageId") == message_id:
                return record
        return None

    def rejections(self) -> list[dict[str, Any]]:
        """Refused connections (receipt filters) and recipients (no matching rule)."""
        return self._rejections.items()

    def outbox(self) -> list[dict[str, Any]]:
        """Bounce messages sent back to senders (Bounce action, TLS policy, SNS size limit)."""
        return self._outbox.items()
