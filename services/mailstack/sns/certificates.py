"""Fetching and caching the X.509 certificates SNS signs with."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

MAX_CERTIFICATE_BYTES = 64 * 1024

CertificateFetcher = Callable[[str], bytes]


class CertificateError(Exception):
    """The signing certificate could not be fetched or is unusable."""


def fetch_with_httpx(url: str) -> bytes:
    """GET the PEM certificate at `url` (no redirects, small size cap)."""
    try:
        with httpx.stream("GET", url, timeout=5.0, follow_redirects=False) as response:
            if response.status_code != 200:
                raise CertificateError(f"fetching {url} returned HTTP {response.status_code}")
            data = b""
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > MAX_CERTIFICATE_BYTES:
                    raise CertificateError(f"certificate at {url} is larger than {MAX_CERTIFICATE_BYTES} bytes")
            return data
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise CertificateError(f"fetching {url!r} failed: {exc}") from exc


class CertificateStore:
    """Public keys by certificate URL, fetched once and kept (least recently used evicted)."""

    def __init__(self, fetch: CertificateFetcher = fetch_with_httpx, max_entries: int = 32) -> None:
        self._fetch = fetch
        self._max_entries = max_entries
        self._keys: OrderedDict[str, tuple[RSAPublicKey, datetime]] = OrderedDict()
        self._lock = threading.Lock()

    def public_key(self, url: str) -> RSAPublicKey:
        with self._lock:
            cached = self._keys.get(url)
            if cached is not None:
                self._keys.move_to_end(url)
        if cached is not None and cached[1] > datetime.now(UTC):
            return cached[0]
        key, not_after = self._load(url)
        with self._lock:
            self._keys[url] = (key, not_after)
            self._keys.move_to_end(url)
            while len(self._keys) > self._max_entries:
                self._keys.popitem(last=False)
        return key

    def _load(self, url: str) -> tuple[RSAPublicKey, datetime]:
        try:
            certificate = x509.load_pem_x509_certificate(self._fetch(url))
        except ValueError as exc:
            raise CertificateError(f"{url} is not a PEM certificate") from exc
        now = datetime.now(UTC)
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            raise CertificateError(f"certificate at {url} is not valid now")
        key = certificate.public_key()
        if not isinstance(key, RSAPublicKey):
            raise CertificateError(f"certificate at {url} does not hold an RSA key")
        return key, certificate.not_valid_after_utc
