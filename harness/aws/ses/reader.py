"""Read the receipt configuration back from the (emulated) SES API, with a short cache.

Nothing here knows a rule or bucket name: it asks `DescribeActiveReceiptRuleSet`,
`ListReceiptFilters`, `ListIdentities` and `GetIdentityVerificationAttributes` each time the
cache is older than `ttl` seconds (0 = every call), so rule changes apply without a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from harness.aws.ses.model import ReceiptConfig, VerifiedIdentities, filters_from_api, rule_from_api
from harness.core.errors import HarnessError

log = logging.getLogger(__name__)


class ReceiptConfigReader:
    """Builds a `ReceiptConfig` from an SES client (boto3 `ses`, classic v1 API)."""

    def __init__(self, ses_client: Any, ttl: float = 0.0) -> None:
        self._ses = ses_client
        self._ttl = ttl
        self._lock = threading.Lock()
        self._cached: ReceiptConfig | None = None
        self._cached_at = 0.0
        #: Set once the emulator answered ListReceiptFilters with "not implemented".
        self._filters_unsupported: str | None = None

    def invalidate(self) -> None:
        with self._lock:
            self._cached = None

    def read(self) -> ReceiptConfig:
        with self._lock:
            now = time.monotonic()
            if self._cached is not None and now - self._cached_at < self._ttl:
                return self._cached
            config = self._read_now()
            self._cached, self._cached_at = config, now
            return config

    def _read_now(self) -> ReceiptConfig:
        warnings: list[str] = []
        try:
            active = self._ses.describe_active_receipt_rule_set()
            identities = self._verified_identities()
        except (ClientError, BotoCoreError) as exc:
            raise HarnessError(
                f"cannot read the SES receipt rules from the emulated AWS ({exc})",
                "check that the AWS emulator is running and that the SES inbound component "
                "points at its endpoint and region",
            ) from exc
        filters = self._filters(warnings)
        metadata = active.get("Metadata") or {}
        return ReceiptConfig(
            rule_set_name=metadata.get("Name"),
            rules=tuple(rule_from_api(rule) for rule in active.get("Rules") or ()),
            filters=filters,
            verified=identities,
            warnings=tuple(warnings),
        )

    def _verified_identities(self) -> VerifiedIdentities:
        names: list[str] = []
        paginator = self._ses.get_paginator("list_identities")
        for page in paginator.paginate():
            names.extend(page.get("Identities") or ())
        verified: list[str] = []
        for start in range(0, len(names), 100):  # the API takes at most 100 identities per call
            chunk = names[start : start + 100]
            attributes = self._ses.get_identity_verification_attributes(Identities=chunk)
            for name, attrs in (attributes.get("VerificationAttributes") or {}).items():
                if attrs.get("VerificationStatus") == "Success":
                    verified.append(name)
        return VerifiedIdentities.of(verified)

    def _filters(self, warnings: list[str]) -> tuple:
        if self._filters_unsupported is not None:
            warnings.append(self._filters_unsupported)
            return ()
        try:
            response = self._ses.list_receipt_filters()
        except (BotoCoreError, ResponseParserError, ClientError) as exc:
            status = (
                exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) if isinstance(exc, ClientError) else 0
            )
            if isinstance(exc, ClientError) and status < 500:
                raise HarnessError(
                    f"cannot list the SES receipt filters ({exc})",
                    "check the AWS emulator's SES service",
                ) from exc
            # moto 5.2.5 answers ListReceiptFilters with HTTP 500 "not implemented" (an HTML page
            # botocore cannot parse); other emulators say 501. Say so once, then carry on unfiltered.
            self._filters_unsupported = (
                f"the AWS emulator does not implement ses:ListReceiptFilters ({type(exc).__name__}); "
                "IP receipt filters are not applied"
            )
            log.warning("SES inbound: %s", self._filters_unsupported)
            warnings.append(self._filters_unsupported)
            return ()
        return filters_from_api(response.get("Filters") or ())
