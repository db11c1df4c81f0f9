"""STARTTLS for the local SES inbound: a server certificate from the harness CA.

With the stack's CA (the runtime context's, the one the ALB uses) a client can verify the MX like any
other local endpoint.
"""

from __future__ import annotations

import ipaddress
import ssl

from harness.core.ca import LocalCA


def server_context(ca: LocalCA, hostname: str, host: str) -> ssl.SSLContext:
    """A TLS server context for `hostname` (the SES inbound name), `localhost` and the listening address."""
    try:
        ips, dns = [str(ipaddress.ip_address(host))], [hostname, "localhost"]
    except ValueError:
        ips, dns = [], [hostname, "localhost", host]
    issued = ca.issue_server_certificate("ses-inbound", dns, ips)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(issued.cert_path, issued.key_path)
    return context
