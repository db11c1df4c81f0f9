"""CloudWatch for the local cloud: the metrics AWS services publish, and the alarms that watch them.

    emulation = CloudWatchEmulation(context, alb, ecs).start()   # context.clock at time scale 5
    ...
    emulation.snapshot()   # for `harness status`
    emulation.stop()

One background thread keeps the (scaled) minute. At every edge of a 60-second period's window it
publishes what AWS would have published for the minute that just ended — SQS per queue, the ALB's
counters, Container Insights' task counts — stamped inside that window, and then evaluates every alarm
a window of whose period has just ended. Publishing before evaluating, in one thread, means an alarm
never misses its own minute's datapoint. With ``time_scale = 5`` a 60 s period is a 12 s window.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Sequence
from typing import Any, Protocol

from harness.aws.cloudwatch.alarms import AlarmEvaluator
from harness.aws.cloudwatch.alb_metrics import AlbMetrics, AlbMetricsSource
from harness.aws.cloudwatch.ecs_metrics import EcsMetrics, EcsSnapshotSource
from harness.aws.cloudwatch.notifications import Notifier
from harness.aws.cloudwatch.periods import Periods
from harness.aws.cloudwatch.sink import Datum, MetricSink
from harness.aws.cloudwatch.sqs_metrics import SqsMetrics
from harness.core.context import RuntimeContext

log = logging.getLogger("harness.aws.cloudwatch")

PUBLISH_PERIOD = 60  # AWS services publish these metrics once a minute
STAMP_BEFORE_EDGE = 0.5  # seconds before the window's end a minute's datapoints are stamped


class MetricSource(Protocol):
    name: str

    def collect(self) -> list[Datum]: ...


class CloudWatchEmulation:
    name = "cloudwatch"

    def __init__(
        self,
        context: RuntimeContext,
        alb: AlbMetricsSource | None = None,
        ecs: EcsSnapshotSource | None = None,
        *,
        sources: Sequence[MetricSource] | None = None,
        evaluate_alarms: bool = True,
    ) -> None:
        clients = self.clients = context.clients
        self.clock = Periods(context.clock)  # CloudWatch periods as windows on the context clock
        if sources is None:
            built: list[MetricSource] = [
                SqsMetrics(clients.client("sqs"), clients.endpoint_url, age_scale=self.clock.time_scale)
            ]
            if alb is not None:
                built.append(AlbMetrics(alb))
            if ecs is not None:
                built.append(EcsMetrics(ecs, clients.client("ecs")))
            sources = built
        self.sources = list(sources)
        self.sink = MetricSink(clients.client("cloudwatch"))
        self.evaluator = AlarmEvaluator(
            clients.client("cloudwatch"), self.clock, Notifier(clients), clients.region
        ) if evaluate_alarms else None
        self.published: dict[str, int] = {source.name: 0 for source in self.sources}
        self.errors: dict[str, str] = {}
        self.last_publish: float | None = None
        self._last_published_window: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> CloudWatchEmulation:
        if self._thread is not None:
            return self
        for source in self.sources:
            discard = getattr(source, "discard", None)
            if callable(discard):
                try:
                    discard()
                except Exception as exc:
                    self.errors[source.name] = f"{type(exc).__name__}: {exc}"
        current = self.clock.current(PUBLISH_PERIOD)
        # The first publication (at this window's end) covers this window: data exists from its start on.
        self._last_published_window = current.index - 1
        if self.evaluator is not None:
            self.evaluator.history_start = current.start
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="cloudwatch-emulation", daemon=True)
        self._thread.start()
        log.info("CloudWatch emulation started: a %ds period lasts %.3gs (time scale %g)",
                 PUBLISH_PERIOD, self.clock.width(PUBLISH_PERIOD), self.clock.time_scale)
        return self

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Running once its thread is: the first publication is due at the end of the current window."""

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> CloudWatchEmulation:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- work ------------------------------------------------------------------------------------
    def publish(self, now: float | None = None) -> int:
        """Publish the last minute that ended by `now`, once (a minute the thread slept through stays
        missing, as AWS's would); returns the number of datums put."""
        now = self.clock.now() if now is None else now
        last = self.clock.last_complete(PUBLISH_PERIOD, now)
        if self._last_published_window is not None and last.index <= self._last_published_window:
            return 0
        stamp = dt.datetime.fromtimestamp(last.end - min(STAMP_BEFORE_EDGE, last.seconds / 2), dt.UTC)
        total = 0
        for source in self.sources:
            try:
                datums = source.collect()
                total += self.sink.put(datums, stamp)
                with self._lock:
                    self.published[source.name] = self.published.get(source.name, 0) + len(datums)
                    self.errors.pop(source.name, None)
            except Exception as exc:
                log.warning("publishing %s metrics failed: %s", source.name, exc)
                with self._lock:
                    self.errors[source.name] = f"{type(exc).__name__}: {exc}"
        self._last_published_window = last.index
        self.last_publish = now
        return total

    def evaluate(self, now: float | None = None) -> None:
        if self.evaluator is None:
            return
        try:
            self.evaluator.evaluate(now)
            with self._lock:
                self.errors.pop("alarms", None)
        except Exception as exc:
            log.warning("evaluating alarms failed: %s", exc)
            with self._lock:
                self.errors["alarms"] = f"{type(exc).__name__}: {exc}"

    def tick(self, now: float | None = None) -> None:
        """Publish what is due, then evaluate what is due (the thread's loop body)."""
        self.publish(now)
        self.evaluate(now)

    def _next_wake(self, now: float) -> float:
        periods = {PUBLISH_PERIOD, *(self.evaluator.periods if self.evaluator is not None else ())}
        return min(self.clock.next_boundary(p, now) for p in periods)

    def _run(self) -> None:
        while not self._stop.is_set():
            now = self.clock.now()
            wake = self._next_wake(now)
            if self._stop.wait(max(0.0, wake - now) + 0.05):
                return
            self.tick()

    # -- reporting -------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            published = dict(self.published)
            errors = dict(self.errors)
        result: dict[str, Any] = {
            "time_scale": self.clock.time_scale,
            "period_60_seconds": self.clock.width(PUBLISH_PERIOD),
            "running": self._thread is not None and self._thread.is_alive(),
            "last_publish": dt.datetime.fromtimestamp(self.last_publish, dt.UTC).isoformat()
            if self.last_publish else None,
            "published": published,
            "errors": errors,
        }
        for source in self.sources:
            if isinstance(source, SqsMetrics) and source.inside_available is False:
                result.setdefault("notes", []).append(
                    "the emulator has no /_harness/sqs: no ApproximateAgeOfOldestMessage nor SQS message counters"
                )
            if isinstance(source, EcsMetrics) and source.clusters_without_insights:
                result.setdefault("notes", []).append(
                    f"Container Insights disabled on {', '.join(source.clusters_without_insights)}: no ECS task counts"
                )
        if self.evaluator is not None:
            result["alarms"] = dict(self.evaluator.states)
            result["transitions"] = list(self.evaluator.recent())
            result["notifications"] = self.evaluator.notifier.published if self.evaluator.notifier else 0
            result["unsupported_alarms"] = dict(self.evaluator.unsupported)
            result["actions_not_performed"] = list(self.evaluator.skipped_actions)
        return result
