"""Redirect actions: the Location header from a RedirectConfig and its #{...} placeholders."""

from __future__ import annotations

from dataclasses import dataclass

from harness.aws.elbv2.model import RedirectConfig


@dataclass(frozen=True)
class OriginalUrl:
    """The request as the client addressed the *Terraform* listener (public port, not the local one)."""

    protocol: str  # http | https
    host: str  # without port
    port: int
    path: str  # starts with "/"
    query: str  # without "?"


def _fill(template: str, url: OriginalUrl) -> str:
    return (
        template.replace("#{protocol}", url.protocol)
        .replace("#{host}", url.host)
        .replace("#{port}", str(url.port))
        .replace("#{path}", url.path.removeprefix("/"))
        .replace("#{query}", url.query)
    )


def redirect_location(config: RedirectConfig, url: OriginalUrl) -> str:
    """`protocol://host:port/path?query`, each part from the config with placeholders filled in.

    As in AWS, #{path} is the original path without its leading slash (the default Path is
    "/#{path}"), and an empty query leaves out the "?".
    """
    protocol = _fill(config.protocol, url).lower()
    host = _fill(config.host, url)
    port = _fill(config.port, url)
    path = _fill(config.path, url)
    if not path.startswith("/"):
        path = "/" + path
    query = _fill(config.query, url)
    location = f"{protocol}://{host}:{port}{path}"
    return f"{location}?{query}" if query else location
