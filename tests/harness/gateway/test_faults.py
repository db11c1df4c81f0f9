"""Fault rules: matching, counts, seeded probabilities, latency and validation."""

from __future__ import annotations

import pytest

from harness.gateway.classify import Call, Caller
from harness.gateway.faults import FaultBook, FaultRule, RuleError, rule_from


def a_call(service="sqs", operation="SendMessage", key="AKID1", name=None) -> Call:
    return Call(service, operation, "json", "us-east-1", Caller(key, name, "127.0.0.1:1"))


def outcomes(book: FaultBook, calls: int, **kw) -> list[str | None]:
    return [book.decide(a_call(**kw)).label for _ in range(calls)]


def test_a_count_rule_hits_the_next_n_matching_calls_only():
    book = FaultBook()
    book.add(FaultRule(service="sqs", kind="throttling", operation="SendMessage", count=2))
    assert book.decide(a_call(operation="ReceiveMessage")).rule is None
    assert book.decide(a_call(service="sns", operation="SendMessage")).rule is None
    assert outcomes(book, 3) == ["throttling[r1]", "throttling[r1]", None]
    assert book.rules[0].spent


def test_rules_match_the_caller_by_name_or_access_key():
    book = FaultBook()
    book.add(FaultRule(service="*", kind="unavailable", caller="worker", count=5))
    book.add(FaultRule(service="*", kind="internal_error", caller="AKID2", count=5))
    assert book.decide(a_call(key="AKID1")).rule is None
    assert book.decide(a_call(key="AKID1", name="worker")).label == "unavailable[r1]"
    assert book.decide(a_call(key="AKID2")).label == "internal_error[r2]"


def test_the_same_seed_gives_the_same_faults_and_another_seed_others():
    def run(seed: int) -> list[str | None]:
        book = FaultBook(seed=seed)
        book.add(FaultRule(service="sqs", kind="throttling", probability=0.3))
        return outcomes(book, 200)

    first = run(7)
    assert first == run(7)
    assert first != run(8)
    hits = sum(1 for o in first if o)
    assert 30 < hits < 90  # about 60 of 200


def test_a_rules_draws_do_not_depend_on_other_rules():
    alone = FaultBook(seed=3)
    alone.add(FaultRule(service="sqs", kind="throttling", probability=0.5, id="t"))
    crowded = FaultBook(seed=3)
    crowded.add(FaultRule(service="sns", kind="throttling", probability=0.5))
    crowded.add(FaultRule(service="sqs", kind="throttling", probability=0.5, id="t"))
    for _ in range(50):
        crowded.decide(a_call(service="sns"))
    assert outcomes(alone, 100) == outcomes(crowded, 100)


def test_latency_adds_up_and_an_error_still_wins():
    book = FaultBook(seed=1)
    book.add(FaultRule(service="sqs", kind="latency", delay_ms=100, jitter_ms=50, probability=1.0))
    book.add(FaultRule(service="sqs", kind="latency", delay_ms=10, count=1))
    book.add(FaultRule(service="sqs", kind="throttling", count=1))
    first = book.decide(a_call())
    assert 0.110 <= first.delay <= 0.160
    assert first.rule is not None and first.rule.kind == "throttling"
    assert first.label.startswith("latency+") and first.label.endswith("throttling[r3]")
    second = book.decide(a_call())
    assert 0.100 <= second.delay <= 0.150
    assert second.rule is None


def test_probability_and_count_together_fire_at_most_count_times():
    book = FaultBook(seed=5)
    book.add(FaultRule(service="sqs", kind="blackout", probability=0.5, count=3))
    assert sum(1 for o in outcomes(book, 100) if o) == 3


def test_service_aliases_are_signing_names():
    book = FaultBook()
    rule = book.add(FaultRule(service="cloudwatch", kind="throttling", count=1))
    assert rule.service == "monitoring"
    assert book.decide(a_call(service="monitoring", operation="PutMetricData")).rule is rule


@pytest.mark.parametrize(
    "data",
    [
        {"service": "sqs", "kind": "explode", "count": 1},
        {"service": "sqs", "kind": "throttling"},
        {"service": "sqs", "kind": "throttling", "probability": 1.5},
        {"service": "sqs", "kind": "throttling", "count": 0},
        {"service": "sqs", "kind": "latency", "count": 1},
        {"service": "sqs", "kind": "throttling", "count": 1, "colour": "red"},
        {"kind": "throttling", "count": 1},
    ],
)
def test_rules_that_cannot_work_are_refused(data):
    with pytest.raises(RuleError):
        FaultBook().add(rule_from(data))


def test_rule_ids_are_unique():
    book = FaultBook()
    book.add(FaultRule(service="sqs", kind="throttling", count=1, id="x"))
    with pytest.raises(RuleError):
        book.add(FaultRule(service="sqs", kind="throttling", count=1, id="x"))
