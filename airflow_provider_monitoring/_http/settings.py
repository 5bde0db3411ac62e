"""What a hook needs to talk to one vendor, read once from an Airflow connection."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_monitoring._http.errors import ConfigurationError, register_secret

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 4


@dataclass(frozen=True)
class VendorSpec:
    """The fixed facts of one vendor API (see docs/design.md, "Connections")."""

    name: str  # shown in messages: "Encrata", "Diligent", "Datafold"
    conn_type: str
    default_conn_id: str
    default_host: str
    auth_header: str
    auth_scheme: str  # prefix before the key, "" for none

    def auth_value(self, api_key: str) -> str:
        return f"{self.auth_scheme} {api_key}" if self.auth_scheme else api_key


@dataclass(frozen=True)
class ApiSettings:
    vendor: VendorSpec
    base_url: str
    api_key: str = field(repr=False)
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    extras: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        register_secret(self.api_key)  # so that no error can show it, wherever it is built

    def url(self, path: str) -> str:
        return self.base_url + path

    def auth_headers(self) -> dict[str, str]:
        return {self.vendor.auth_header: self.vendor.auth_value(self.api_key)}


def settings_from_connection(vendor: VendorSpec, conn: Any) -> ApiSettings:
    """Build settings from an Airflow Connection (UI form, URI or JSON form alike)."""
    # Older forms stored custom fields as "extra__<conn_type>__<name>"; read both spellings.
    prefix = f"extra__{vendor.conn_type}__"
    extras = {key.removeprefix(prefix): value for key, value in (conn.extra_dejson or {}).items()}
    api_key = _api_key(vendor, conn)
    return ApiSettings(
        vendor=vendor,
        base_url=base_url_from(vendor, conn.host, getattr(conn, "schema", None), conn.port),
        api_key=api_key,
        timeout=_positive_float(extras.get("timeout"), DEFAULT_TIMEOUT, "timeout"),
        max_retries=_non_negative_int(extras.get("max_retries"), DEFAULT_MAX_RETRIES, "max_retries"),
        extras=extras,
    )


def _api_key(vendor: VendorSpec, conn: Any) -> str:
    key = (conn.password or "").strip()
    if not key:
        raise ConfigurationError(
            f"connection {conn.conn_id!r} has no {vendor.name} API key: set its API key field "
            "('password' in the JSON, URI and CLI forms)"
        )
    problem = _unsendable(key)
    if problem:
        # Caught here, before any request: in a header it would be refused by the HTTP library with
        # the key quoted in the error, after the request had been counted as possibly sent.
        raise ConfigurationError(
            f"the {vendor.name} API key of connection {conn.conn_id!r} contains {problem}; "
            "an API key is one word of printable ASCII: copy it again from the vendor"
        )
    return key


def _unsendable(key: str) -> str:
    """What stops ``key`` from travelling in an HTTP header, told by position only (never the
    character itself, which is part of the key); "" when nothing does."""
    for position, char in enumerate(key, start=1):
        if char < " " or char == "\x7f":
            return f"a control character at position {position}"
        if char.isspace():
            return f"whitespace at position {position}"
        if not char.isascii():
            return f"a non-ASCII character at position {position}"
    return ""


def base_url_from(vendor: VendorSpec, host: str | None, schema: str | None = None, port: int | None = None) -> str:
    """The connection host, or the vendor default; always ``scheme://host[:port][/path]``, no slash at the end.

    A bare host ("us.datafold.com") is taken as https, unless the connection's schema field says
    ``http``. Plain http is refused for anything but loopback, since the API key would cross the
    network in clear text.
    """
    raw = (host or "").strip() or vendor.default_host
    if "://" not in raw:
        scheme = (schema or "").strip().lower() if (schema or "").strip().lower() in ("http", "https") else "https"
        raw = f"{scheme}://{raw}"
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"{vendor.name} host {raw!r} is not an http(s) URL")
    if scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigurationError(
            f"refusing plain http:// for {vendor.name} host {parts.hostname!r}: the API key would travel "
            "unencrypted; use https:// (plain http is allowed only for loopback hosts such as 127.0.0.1)"
        )
    netloc = parts.netloc
    if port and parts.port is None:
        netloc = f"{netloc}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def is_loopback(hostname: str) -> bool:
    if hostname.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname.strip("[]")).is_loopback
    except ValueError:
        return False


def _positive_float(value: Any, default: float, name: str) -> float:
    if value in (None, ""):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"connection extra {name!r} must be a number of seconds, got {value!r}") from None
    if number <= 0:
        raise ConfigurationError(f"connection extra {name!r} must be positive, got {value!r}")
    return number


def _non_negative_int(value: Any, default: int, name: str) -> int:
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"connection extra {name!r} must be a whole number, got {value!r}") from None
    if number < 0:
        raise ConfigurationError(f"connection extra {name!r} must be 0 or more, got {value!r}")
    return number
