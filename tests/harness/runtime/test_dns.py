"""harness.aws.route53.resolver: Route53 alias records -> the ALB data plane's local listeners."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from harness.aws.route53.resolver import (
    DnsTruthPublisher,
    DnsTruthReader,
    alb_ca_bundle,
    dns_map,
    ensure_alb_ca,
    lookup,
    read_dns_map,
    resolve_url,
    write_dns_truth,
)

LB_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/mailstack-dev-alb/50dc6c495c0c9188"
OTHER_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/other/1111"
LB_DNS = "mailstack-dev-alb-1234567890.us-east-1.elb.amazonaws.com"
LBS = [
    {"LoadBalancerArn": LB_ARN, "DNSName": LB_DNS, "Type": "application"},
    {"LoadBalancerArn": OTHER_ARN, "DNSName": "other-1.us-east-1.elb.amazonaws.com", "Type": "application"},
]
LISTENERS = [
    {"load_balancer_arn": LB_ARN, "port": 443, "protocol": "HTTPS", "local_port": 50123,
     "local_url": "https://127.0.0.1:50123"},
    {"load_balancer_arn": LB_ARN, "port": 80, "protocol": "HTTP", "local_port": 50122,
     "local_url": "http://127.0.0.1:50122"},
]


def alias(name: str, target: str, kind: str = "A") -> dict:
    return {"Name": name, "Type": kind,
            "AliasTarget": {"HostedZoneId": "Z35SXDOTRQ7X7K", "DNSName": target, "EvaluateTargetHealth": True}}


LOCAL = {80: "127.0.0.1:50122", 443: "127.0.0.1:50123"}


def test_alias_record_maps_to_the_albs_listeners():
    records = [
        {"Name": "mailstack.example.", "Type": "NS", "TTL": 172800, "ResourceRecords": [{"Value": "ns-1.awsdns."}]},
        {"Name": "mailstack.example.", "Type": "MX", "TTL": 300,
         "ResourceRecords": [{"Value": "10 inbound-smtp.us-east-1.amazonaws.com"}]},
        alias("api.mailstack.example.", LB_DNS + "."),
    ]
    assert dns_map(records, LBS, LISTENERS) == {"api.mailstack.example": LOCAL, LB_DNS: LOCAL}


def test_alias_target_match_ignores_case_trailing_dot_and_dualstack():
    records = [
        alias("API.Mailstack.Example", "DualStack." + LB_DNS.upper() + "."),
        alias("v6.mailstack.example.", LB_DNS, kind="AAAA"),
    ]
    mapped = dns_map(records, LBS, LISTENERS)
    assert mapped["api.mailstack.example"] == LOCAL
    assert mapped["v6.mailstack.example"] == LOCAL


def test_records_not_aliasing_a_served_alb_map_nothing():
    records = [
        alias("cdn.mailstack.example.", "d111111abcdef8.cloudfront.net."),
        alias("other.mailstack.example.", "other-1.us-east-1.elb.amazonaws.com."),  # no listener served
        {"Name": "plain.mailstack.example.", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "192.0.2.1"}]},
        alias("txt.mailstack.example.", LB_DNS, kind="TXT"),
    ]
    assert dns_map(records, LBS, LISTENERS) == {LB_DNS: LOCAL}


def test_no_listeners_no_map():
    assert dns_map([alias("api.mailstack.example.", LB_DNS)], LBS, []) == {}


def test_cname_to_the_alb_dns_name_and_wildcards():
    records = [
        {"Name": "www.mailstack.example.", "Type": "CNAME", "TTL": 60, "ResourceRecords": [{"Value": LB_DNS}]},
        alias("\\052.apps.mailstack.example.", LB_DNS),
    ]
    mapped = dns_map(records, LBS, LISTENERS)
    assert mapped["www.mailstack.example"] == LOCAL
    assert mapped["*.apps.mailstack.example"] == LOCAL
    assert lookup(mapped, "a.apps.mailstack.example", 443) == "127.0.0.1:50123"
    assert lookup(mapped, "x.y.apps.mailstack.example.", 443) == "127.0.0.1:50123"  # Route53: any depth
    assert lookup(mapped, "apps.mailstack.example", 443) is None


def test_lookup_exact_wins_over_wildcard_and_decides_the_port():
    mapping = {"*.mailstack.example": {443: "127.0.0.1:1"}, "api.mailstack.example": {80: "127.0.0.1:2"}}
    assert lookup(mapping, "API.mailstack.example", 80) == "127.0.0.1:2"
    assert lookup(mapping, "api.mailstack.example", 443) is None
    assert lookup(mapping, "web.mailstack.example", 443) == "127.0.0.1:1"
    assert lookup(mapping, "", 443) is None


def test_unspecified_and_ipv6_bind_addresses():
    listeners = [
        {"load_balancer_arn": LB_ARN, "port": 443, "local_port": 7, "local_url": "https://0.0.0.0:7"},
        {"load_balancer_arn": LB_ARN, "port": 80, "local_port": 8, "local_url": "http://[::1]:8"},
    ]
    assert dns_map([], LBS, listeners) == {LB_DNS: {80: "[::1]:8", 443: "127.0.0.1:7"}}


def test_resolve_url_keeps_path_query_userinfo_and_gives_host_and_server_name():
    mapping = {"api.mailstack.example": {443: "127.0.0.1:50123", 8443: "127.0.0.1:50124"}}
    route = resolve_url(mapping, "https://api.mailstack.example/v1/webhooks/aws/sns?x=1")
    assert route is not None
    assert route.url == "https://127.0.0.1:50123/v1/webhooks/aws/sns?x=1"
    assert (route.host_header, route.server_name, route.address) == (
        "api.mailstack.example", "api.mailstack.example", "127.0.0.1:50123")
    route = resolve_url(mapping, "https://user:pw@API.mailstack.example:8443/hook")
    assert route is not None
    assert route.url == "https://user:pw@127.0.0.1:50124/hook"
    assert route.host_header == "api.mailstack.example:8443"
    assert resolve_url(mapping, "http://api.mailstack.example/hook") is None  # port 80 not mapped
    assert resolve_url(mapping, "https://elsewhere.example/hook") is None
    assert resolve_url(mapping, "ftp://api.mailstack.example/") is None
    assert resolve_url({}, "https://api.mailstack.example/") is None


def test_truth_round_trip_and_mtime_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "truth" / "dns.json"
    reader = DnsTruthReader()
    monkeypatch.delenv("HARNESS_DNS_TRUTH", raising=False)
    assert reader.read() == {}
    monkeypatch.setenv("HARNESS_DNS_TRUTH", str(path))
    assert reader.read() == {}  # no file yet: plain DNS
    write_dns_truth(path, {"api.mailstack.example": {443: "127.0.0.1:50123"}})
    assert json.loads(path.read_text()) == {"format": 1, "hosts": {"api.mailstack.example": {"443": "127.0.0.1:50123"}}}
    first = reader.read()
    assert first == {"api.mailstack.example": {443: "127.0.0.1:50123"}}
    assert reader.read() is first  # unchanged file: not parsed again
    write_dns_truth(path, {"api.mailstack.example": {443: "127.0.0.1:6"}})
    assert reader.read() == {"api.mailstack.example": {443: "127.0.0.1:6"}}
    path.write_text("{not json")
    os.utime(path, ns=(time.time_ns(), time.time_ns()))
    assert reader.read() == {}


def test_read_dns_map_from_route53_and_elbv2(tmp_path: Path):
    """Against moto (in process, mock_aws): public zone records only; private zones are not SNS's DNS."""
    boto3 = pytest.importorskip("boto3")
    from moto import mock_aws

    with mock_aws():
        kwargs = {"region_name": "us-east-1"}
        ec2 = boto3.client("ec2", **kwargs)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"][
                "SubnetId"]
            for i, z in ((1, "a"), (2, "b"))
        ]
        elbv2 = boto3.client("elbv2", **kwargs)
        lb = elbv2.create_load_balancer(Name="mailstack-dev-alb", Subnets=subnets, Type="application")[
            "LoadBalancers"][0]
        route53 = boto3.client("route53", **kwargs)
        public = route53.create_hosted_zone(Name="mailstack.example", CallerReference="a")["HostedZone"]["Id"]
        private = route53.create_hosted_zone(
            Name="internal.example", CallerReference="b", VPC={"VPCRegion": "us-east-1", "VPCId": vpc},
            HostedZoneConfig={"PrivateZone": True, "Comment": ""},
        )["HostedZone"]["Id"]
        for zone, name in ((public, "api.mailstack.example"), (private, "api.internal.example")):
            route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{
                "Action": "UPSERT",
                "ResourceRecordSet": {"Name": name, "Type": "A", "AliasTarget": {
                    "HostedZoneId": lb["CanonicalHostedZoneId"], "DNSName": lb["DNSName"],
                    "EvaluateTargetHealth": True}}}]})

        class Alb:
            def listeners(self) -> list[dict]:
                return [{**item, "load_balancer_arn": lb["LoadBalancerArn"]} for item in LISTENERS]

        mapped = read_dns_map(route53, elbv2, Alb())  # type: ignore[arg-type]
        assert mapped == {"api.mailstack.example": LOCAL, lb["DNSName"].lower(): LOCAL}

        path = tmp_path / "dns.json"
        publisher = DnsTruthPublisher(route53, elbv2, Alb(), path, min_interval=60)  # type: ignore[arg-type]
        assert publisher.publish() == mapped
        written = json.loads(path.read_text())["hosts"]["api.mailstack.example"]
        assert written == {"80": "127.0.0.1:50122", "443": "127.0.0.1:50123"}
        path.unlink()
        publisher.publish()  # within min_interval: not re-read, file not rewritten
        assert not path.exists()
        publisher.publish(force=True)
        assert path.exists()


def test_alb_ca_is_known_before_the_alb_starts(tmp_path: Path):
    from harness.aws.elbv2.dataplane import AlbDataPlane

    expected = alb_ca_bundle(tmp_path)
    assert not expected.exists()
    assert ensure_alb_ca(tmp_path) == expected and expected.exists()
    before = expected.read_bytes()
    from harness.core.context import RuntimeContext

    dataplane = AlbDataPlane(RuntimeContext.for_emulator("http://127.0.0.1:1", "us-east-1", tmp_path))  # the daemon's
    assert dataplane.ca_bundle_path == expected
    assert ensure_alb_ca(tmp_path) == expected and expected.read_bytes() == before  # reused, not replaced
