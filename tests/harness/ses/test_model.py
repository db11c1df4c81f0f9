"""Receipt model: rule parsing with API defaults, SES recipient matching, IP filter evaluation."""

from __future__ import annotations

from harness.aws.ses.model import (
    IpFilter,
    ReceiptConfig,
    ReceiptRule,
    VerifiedIdentities,
    action_from_api,
    rule_from_api,
)

VERIFIED = VerifiedIdentities.of(["example.com", "someone@elsewhere.test"])


def test_rule_defaults_follow_the_api_when_fields_are_absent():
    rule = rule_from_api({"Name": "bare"})  # what moto returns for a rule created with a name only
    assert (rule.enabled, rule.scan_enabled, rule.tls_policy, rule.recipients, rule.actions) == (
        False,
        False,
        "Optional",
        (),
        (),
    )


def test_actions_keep_order_and_sns_encoding_defaults_to_utf8():
    rule = rule_from_api(
        {
            "Name": "r",
            "Enabled": True,
            "Actions": [
                {"AddHeaderAction": {"HeaderName": "X-A", "HeaderValue": "1"}},
                {"SNSAction": {"TopicArn": "arn:t"}},
                {"WorkmailAction": {"OrganizationArn": "arn:o"}},
            ],
        }
    )
    assert [a.kind for a in rule.actions] == ["AddHeader", "SNS", "WorkMail"]
    assert rule.actions[1].params["Encoding"] == "UTF-8"
    assert action_from_api({"ConnectAction": {"InstanceARN": "x"}}).kind == "Connect"


def test_full_address_matches_that_address_only_case_insensitively():
    rule = ReceiptRule("r", True, ("Alice@Example.com",))
    assert rule.matches("alice@example.COM", VERIFIED)
    assert not rule.matches("bob@example.com", VERIFIED)


def test_domain_matches_the_domain_but_not_subdomains():
    rule = ReceiptRule("r", True, ("example.com",))
    assert rule.matches("anyone@example.com", VERIFIED)
    assert not rule.matches("anyone@eu.example.com", VERIFIED)
    assert not rule.matches("anyone@notexample.com", VERIFIED)


def test_dot_domain_matches_subdomains_at_any_depth_but_not_the_domain():
    rule = ReceiptRule("r", True, (".example.com",))
    assert rule.matches("a@eu.example.com", VERIFIED)
    assert rule.matches("a@x.eu.example.com", VERIFIED)
    assert not rule.matches("a@example.com", VERIFIED)
    assert not rule.matches("a@badexample.com", VERIFIED)


def test_rule_without_recipients_matches_verified_domains_and_addresses_only():
    rule = ReceiptRule("catch-all", True, ())
    assert rule.matches("x@example.com", VERIFIED)
    assert rule.matches("someone@elsewhere.test", VERIFIED)
    assert not rule.matches("other@elsewhere.test", VERIFIED)
    assert not rule.matches("x@sub.example.com", VERIFIED)


def test_disabled_rules_do_not_accept_recipients():
    config = ReceiptConfig(
        rule_set_name="s",
        rules=(ReceiptRule("off", False, ("example.com",)), ReceiptRule("on", True, ("a@b.test",))),
        verified=VERIFIED,
    )
    assert not config.accepts("x@example.com")
    assert [r.name for r in config.rules_for("a@b.test")] == ["on"]


def test_allow_filter_wins_over_block_and_unlisted_addresses_pass():
    config = ReceiptConfig(
        filters=(IpFilter("block-net", "Block", "10.0.0.0/8"), IpFilter("allow-one", "Allow", "10.1.2.3/32"))
    )
    blocked = config.check_ip("10.9.9.9")
    assert not blocked.allowed and blocked.filter is not None and blocked.filter.name == "block-net"
    assert config.check_ip("10.1.2.3").allowed
    assert config.check_ip("192.0.2.1") == config.check_ip("192.0.2.1") and config.check_ip("192.0.2.1").allowed
    assert not config.check_ip("::ffff:10.0.0.1").allowed  # IPv4-mapped IPv6 peers are matched as IPv4
