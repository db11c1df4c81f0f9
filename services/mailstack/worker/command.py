"""`mailstack worker`: wire settings to clients and run the loop until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from mailstack.aws import s3_client, sqs_client
from mailstack.config import WorkerSettings
from mailstack.db import sync_pool
from mailstack.worker.ingest import Ingestor
from mailstack.worker.loop import Worker

logger = logging.getLogger(__name__)


def _stop_on_signals(stop: threading.Event) -> None:
    def request_stop(signum: int, _frame: FrameType | None) -> None:
        logger.info("stop requested: finishing the message in hand", extra={"signal": signal.Signals(signum).name})
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)


def run_worker(settings: WorkerSettings) -> int:
    stop = threading.Event()
    _stop_on_signals(stop)
    pool = sync_pool(settings.database)
    try:
        worker = Worker(
            sqs=sqs_client(settings.common.region, settings.wait_time_seconds),
            ingestor=Ingestor(
                s3_client(settings.common.region),
                pool,
                settings.attachments_bucket,
                raw_mail_bucket=settings.raw_mail_bucket,
                ses_notification_grace_seconds=settings.ses_notification_grace_seconds,
            ),
            queue_url=settings.inbound_queue_url,
            wait_time_seconds=settings.wait_time_seconds,
            batch_size=settings.batch_size,
            stop=stop,
        )
        worker.run()
    finally:
        pool.close()
    return 0
