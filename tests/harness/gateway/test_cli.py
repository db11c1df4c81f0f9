"""The gateway's command line and route table."""

from __future__ import annotations

import pytest

from harness.gateway.__main__ import main
from harness.gateway.routing import RouteTable, parse_routes


def test_routes_name_services_by_signing_name_or_alias():
    table = RouteTable("http://moto:5000/", dict(parse_routes(["sqs=http://localstack:4566", "cloudwatch=http://x:1"])))
    assert table.backend("sqs") == "http://localstack:4566"
    assert table.backend("monitoring") == "http://x:1"
    assert table.backend("s3") == "http://moto:5000"
    table.set("elbv2", "http://y:2/")
    assert table.backend("elasticloadbalancing") == "http://y:2"


@pytest.mark.parametrize("spec", ["sqs", "=http://x:1", "sqs=x:1"])
def test_a_malformed_route_is_refused(spec, capsys):
    assert main(["--port", "1", "--backend", "http://moto:5000", "--route", spec]) == 2
    assert "expected service=http://host:port" in capsys.readouterr().err
