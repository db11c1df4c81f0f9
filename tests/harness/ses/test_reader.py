"""Reading the receipt configuration: defaults, verification status, emulators without receipt filters."""

from __future__ import annotations

from typing import Any

from botocore.parsers import ResponseParserError

from harness.aws.ses.reader import ReceiptConfigReader


class FakeSes:
    def __init__(self, filters: Any) -> None:
        self.filters = filters
        self.filter_calls = 0

    def describe_active_receipt_rule_set(self) -> dict:
        return {"Metadata": {"Name": "s"}, "Rules": [{"Name": "r", "Enabled": True, "Recipients": ["a.test"]}]}

    def get_paginator(self, name: str) -> Any:
        class Pages:
            def paginate(self) -> list[dict]:
                return [{"Identities": ["a.test", "pending.test"]}]

        return Pages()

    def get_identity_verification_attributes(self, Identities: list[str]) -> dict:
        status = {"a.test": "Success", "pending.test": "Pending"}
        return {"VerificationAttributes": {i: {"VerificationStatus": status[i]} for i in Identities}}

    def list_receipt_filters(self) -> dict:
        self.filter_calls += 1
        if isinstance(self.filters, Exception):
            raise self.filters
        return {"Filters": self.filters}


def test_only_successfully_verified_identities_count():
    config = ReceiptConfigReader(FakeSes([])).read()
    assert config.rule_set_name == "s"
    assert config.verified.domains == frozenset({"a.test"})


def test_filters_are_read_every_time_without_ttl():
    ses = FakeSes([{"Name": "f", "IpFilter": {"Policy": "Block", "Cidr": "10.0.0.0/8"}}])
    reader = ReceiptConfigReader(ses)
    assert not reader.read().check_ip("10.1.1.1").allowed
    reader.read()
    assert ses.filter_calls == 2


def test_an_emulator_without_receipt_filters_is_reported_once_and_mail_flows(caplog):
    ses = FakeSes(ResponseParserError("Unable to parse response (syntax error)"))
    reader = ReceiptConfigReader(ses)
    first, second = reader.read(), reader.read()
    assert first.filters == () and first.check_ip("10.1.1.1").allowed
    assert "does not implement ses:ListReceiptFilters" in second.warnings[0]
    assert ses.filter_calls == 1
    assert len([r for r in caplog.records if "ListReceiptFilters" in r.getMessage()]) == 1
