"""The services trust the local cloud's SNS signer, as on AWS they trust SNS's.

On AWS a webhook checks that ``SigningCertURL`` is on ``sns.<region>.amazonaws.com`` before it fetches
the certificate, and confirms a subscription only through a SubscribeURL on that host. In the local cloud
SNS is the emulator: the ``sns-http-delivery`` patch signs with its own key, serves the certificate under
``<emulator>/_harness/sns/`` and puts its own address in every SubscribeURL. ``sns_trust_overrides`` reads
``GET <emulator>/_harness/sns`` and gives the two task environment variables that say so; the runtime
passes them to ``EcsRunner(environment_overrides=...)``, the local cloud's equivalent of the platform
trusting AWS's SNS signing certificates.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from harness.core.errors import HarnessError

log = logging.getLogger(__name__)

INFO_PATH = "/_harness/sns"
CERT_URL_ENV = "SNS_TRUSTED_CERT_URL_PATTERN"
SUBSCRIBE_URL_ENV = "SNS_TRUSTED_SUBSCRIBE_URL_PATTERN"
_CERT_SUFFIX = INFO_PATH + "/"


def trust_overrides(info: Mapping[str, Any]) -> dict[str, str]:
    """The two patterns from the patch's ``/_harness/sns`` JSON.

    ``SNS_TRUSTED_CERT_URL_PATTERN``: exactly the signing certificate URL (the patch's own
    ``trusted_cert_url_pattern`` when given). ``SNS_TRUSTED_SUBSCRIBE_URL_PATTERN``: a ConfirmSubscription
    URL on the same emulator address (``<base>/?Action=ConfirmSubscription&...``), as the patch writes them.
    """
    cert_url = info.get("signing_cert_url")
    if not isinstance(cert_url, str) or _CERT_SUFFIX not in cert_url:
        raise ValueError(f"no signing_cert_url under {INFO_PATH}/ in {dict(info)!r}")
    base = cert_url[: cert_url.rindex(_CERT_SUFFIX)]
    cert_pattern = info.get("trusted_cert_url_pattern")
    if not isinstance(cert_pattern, str) or not re.match(cert_pattern, cert_url):
        cert_pattern = "^" + re.escape(cert_url) + "$"
    return {
        CERT_URL_ENV: cert_pattern,
        SUBSCRIBE_URL_ENV: "^" + re.escape(base) + r"/\?Action=ConfirmSubscription&",
    }


def sns_trust_overrides(aws_endpoint_url: str, timeout: float = 5.0) -> dict[str, str]:
    """Task env overrides that make the services trust the emulator's SNS signer.

    Reads ``GET <aws_endpoint_url>/_harness/sns`` with the same address Terraform and the tasks use, so the
    URLs match those in the messages. An emulator without the ``sns-http-delivery`` patch (404: stock moto,
    LocalStack) gives {} and a warning: the services keep trusting only AWS. An emulator that does not
    answer raises a HarnessError.
    """
    url = aws_endpoint_url.rstrip("/") + INFO_PATH
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - the emulator's URL
            info = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            log.warning(
                "%s answers 404: the emulator does not sign SNS deliveries like the harness "
                "(patch sns-http-delivery); the services keep trusting only AWS's SNS certificates",
                url,
            )
            return {}
        raise HarnessError(
            f"reading the emulator's SNS signer at {url} failed: HTTP {exc.code}",
            "check the emulator's log (moto.log in the run directory)",
        ) from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise HarnessError(
            f"reading the emulator's SNS signer at {url} failed ({exc})",
            "start the emulated AWS first and check HARNESS_AWS_ENDPOINT_URL",
        ) from exc
    if not isinstance(info, dict):
        raise HarnessError(f"{url} did not answer a JSON object", "check the emulator's log")
    try:
        return trust_overrides(info)
    except ValueError as exc:
        raise HarnessError(f"{url}: {exc}", "check that the sns-http-delivery patch is current") from exc
