"""Rule conditions, rule order, redirects, ELBv2 parsing, target choice and forwarded headers: pure."""

from __future__ import annotations

import re

import pytest

from harness.aws.elbv2.balancer import RoundRobin, WeightedChooser
from harness.aws.elbv2.loader import parse_action, parse_condition, parse_health_check, parse_rule, sort_rules
from harness.aws.elbv2.model import Condition, RedirectConfig, Target, WeightedTargetGroup
from harness.aws.elbv2.proxy import forwarded_headers, strip_hop_by_hop
from harness.aws.elbv2.redirects import OriginalUrl, redirect_location
from harness.aws.elbv2.routing import RequestView, condition_matches, select_rule


def view(**kwargs) -> RequestView:
    defaults = {"method": "GET", "path": "/", "host": "alb.example.com"}
    return RequestView(**{**defaults, **kwargs})


# --------------------------------------------------------------------------- conditions


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("/static/*", "/static/a/b.png", True),
        ("/static/*", "/Static/a.png", False),  # path patterns are case-sensitive
        ("/v?/messages", "/v1/messages", True),
        ("/v?/messages", "/v10/messages", False),
        ("/api", "/api/", False),
        ("*.[ch]", "x.[ch]", True),  # brackets are literal, not a character class
    ],
)
def test_path_pattern(pattern: str, path: str, matches: bool) -> None:
    assert condition_matches(Condition("path-pattern", (pattern,)), view(path=path)) is matches


def test_host_header_is_case_insensitive_and_ignores_the_port() -> None:
    condition = Condition("host-header", ("admin.*", "api.example.com"))
    assert condition_matches(condition, view(host="ADMIN.example.com:443"))
    assert condition_matches(condition, view(host="api.example.com"))
    assert not condition_matches(condition, view(host="www.example.com"))


def test_http_header_condition() -> None:
    condition = Condition("http-header", ("canary*", "beta"), header_name="X-Release")
    assert condition_matches(condition, view(headers=(("x-release", "Canary-7"),)))
    assert condition_matches(condition, view(headers=(("x-release", "stable"), ("X-Release", "beta"))))
    assert not condition_matches(condition, view(headers=(("x-other", "beta"),)))


def test_query_string_condition_with_and_without_key() -> None:
    keyed = Condition("query-string", query_pairs=(("version", "v2*"),))
    assert condition_matches(keyed, view(query_string="a=1&version=V2beta"))
    assert not condition_matches(keyed, view(query_string="other=v2"))
    keyless = Condition("query-string", query_pairs=(("", "debug"),))
    assert condition_matches(keyless, view(query_string="mode=debug"))


def test_source_ip_and_method_conditions() -> None:
    source = Condition("source-ip", ("10.0.0.0/8", "192.168.1.7/32"))
    assert condition_matches(source, view(client_ip="10.1.2.3"))
    assert condition_matches(source, view(client_ip="192.168.1.7"))
    assert not condition_matches(source, view(client_ip="127.0.0.1"))
    method = Condition("http-request-method", ("POST",))
    assert condition_matches(method, view(method="POST"))
    assert not condition_matches(method, view(method="post"))


def test_rules_and_conditions_and_values_or_default_last() -> None:
    fixed = [
        {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200", "MessageBody": str(n)}}
        for n in range(3)
    ]
    rules = sort_rules(
        [
            parse_rule({"Priority": "default", "IsDefault": True, "Conditions": [], "Actions": [fixed[0]]}),
            parse_rule(
                {
                    "Priority": "20",
                    "Conditions": [
                        {"Field": "path-pattern", "Values": ["/a/*", "/b/*"]},
                        {"Field": "host-header", "HostHeaderConfig": {"Values": ["api.*"]}},
                    ],
                    "Actions": [fixed[2]],
                }
            ),
            parse_rule(
                {"Priority": "3", "Conditions": [{"Field": "path-pattern", "Values": ["/a/x"]}], "Actions": [fixed[1]]}
            ),
        ]
    )
    assert [r.priority for r in rules] == [3, 20, None]

    def body(**kwargs) -> str:
        rule = select_rule(rules, view(**kwargs))
        assert rule is not None and rule.action.fixed_response is not None
        return rule.action.fixed_response.message_body

    assert body(path="/a/x", host="api.example.com") == "1"
    assert body(path="/b/y", host="api.example.com") == "2"
    assert body(path="/b/y", host="www.example.com") == "0"  # conditions are AND-ed


# --------------------------------------------------------------------------- redirects

URL = OriginalUrl(protocol="http", host="alb.example.com", port=80, path="/inbox/1", query="a=1&b=2")


def test_default_redirect_to_https_keeps_host_path_query_with_the_public_port() -> None:
    config = parse_action(
        [{"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}]
    ).redirect
    assert config is not None and config.status_code == 301
    assert redirect_location(config, URL) == "https://alb.example.com:443/inbox/1?a=1&b=2"


def test_redirect_placeholders_in_every_component() -> None:
    config = RedirectConfig(
        protocol="#{protocol}",
        port="8443",
        host="new.#{host}",
        path="/v2/#{path}",
        query="from=#{port}&#{query}",
        status_code=302,
    )
    assert redirect_location(config, URL) == "http://new.alb.example.com:8443/v2/inbox/1?from=80&a=1&b=2"


def test_redirect_with_empty_query_has_no_question_mark() -> None:
    config = RedirectConfig(protocol="HTTPS", port="443", query="")
    assert redirect_location(config, URL) == "https://alb.example.com:443/inbox/1"


# --------------------------------------------------------------------------- parsing ELBv2 shapes


def test_parse_conditions_in_both_api_shapes() -> None:
    assert parse_condition({"Field": "path-pattern", "Values": ["/a"]}) == Condition("path-pattern", ("/a",))
    assert parse_condition({"Field": "path-pattern", "PathPatternConfig": {"Values": ["/a"]}}).values == ("/a",)
    header = parse_condition({"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X", "Values": ["1"]}})
    assert (header.header_name, header.values) == ("X", ("1",))
    query = parse_condition({"Field": "query-string", "QueryStringConfig": {"Values": [{"Value": "v"}]}})
    assert query.query_pairs == (("", "v"),)


def test_parse_weighted_forward_and_action_order() -> None:
    action = parse_action(
        [
            {"Type": "authenticate-oidc", "Order": 1},
            {
                "Type": "forward",
                "Order": 2,
                "ForwardConfig": {
                    "TargetGroups": [{"TargetGroupArn": "tg-a", "Weight": 3}, {"TargetGroupArn": "tg-b", "Weight": 1}]
                },
            },
        ]
    )
    assert action.type == "forward"
    assert action.target_groups == (WeightedTargetGroup("tg-a", 3), WeightedTargetGroup("tg-b", 1))
    assert parse_action([{"Type": "forward", "TargetGroupArn": "tg"}]).target_groups == (WeightedTargetGroup("tg"),)
    assert parse_action([{"Type": "authenticate-cognito"}]).type == "unsupported"


def test_parse_health_check() -> None:
    check = parse_health_check(
        {
            "HealthCheckProtocol": "HTTP",
            "HealthCheckPort": "9000",
            "HealthCheckPath": "/healthz",
            "HealthCheckIntervalSeconds": 15,
            "HealthCheckTimeoutSeconds": 6,
            "HealthyThresholdCount": 3,
            "UnhealthyThresholdCount": 4,
            "Matcher": {"HttpCode": "200,204"},
        }
    )
    assert (check.path, check.interval_seconds, check.timeout_seconds, check.matcher) == ("/healthz", 15, 6, "200,204")
    assert (check.healthy_threshold, check.unhealthy_threshold) == (3, 4)
    assert check.port_for(8080) == 9000
    assert parse_health_check({"HealthCheckPort": "traffic-port"}).port_for(8080) == 8080


# --------------------------------------------------------------------------- choosing targets


def test_round_robin_over_current_candidates() -> None:
    rr = RoundRobin()
    a, b, c = Target("127.0.0.2", 1), Target("127.0.0.3", 1), Target("127.0.0.4", 1)
    assert [rr.pick("tg", [b, a]) for _ in range(4)] == [a, b, a, b]
    assert rr.pick("tg", [c]) == c
    assert rr.pick("tg", []) is None


def test_weighted_choice_is_proportional_and_skips_groups_without_capacity() -> None:
    chooser = WeightedChooser()
    groups = (WeightedTargetGroup("a", 3), WeightedTargetGroup("b", 1), WeightedTargetGroup("z", 0))
    picks = [chooser.pick(groups, lambda arn: True) for _ in range(8)]
    assert picks.count("a") == 6 and picks.count("b") == 2
    assert {chooser.pick(groups, lambda arn: arn == "b") for _ in range(3)} == {"b"}
    assert chooser.pick(groups, lambda arn: False) is None


# --------------------------------------------------------------------------- headers


def test_forwarded_headers() -> None:
    headers = [
        (b"host", b"alb"),
        (b"connection", b"keep-alive, x-drop"),
        (b"x-drop", b"1"),
        (b"x-forwarded-for", b"203.0.113.7"),
        (b"x-forwarded-proto", b"spoofed"),
        (b"accept", b"*/*"),
    ]
    out = dict(forwarded_headers(headers, "127.0.0.9", "https", 443))
    assert out[b"x-forwarded-for"] == b"203.0.113.7, 127.0.0.9"
    assert (out[b"x-forwarded-proto"], out[b"x-forwarded-port"]) == (b"https", b"443")
    assert b"connection" not in out and b"x-drop" not in out
    assert re.fullmatch(rb"Root=1-[0-9a-f]{8}-[0-9a-f]{24}", out[b"x-amzn-trace-id"])
    assert strip_hop_by_hop([(b"Transfer-Encoding", b"chunked"), (b"Content-Type", b"x")]) == [(b"Content-Type", b"x")]
