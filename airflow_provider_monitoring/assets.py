"""Monitors as Airflow assets: the ``encrata://``, ``diligent://`` and ``datafold://`` URI schemes.

One monitor is one asset, named by the API host it lives on and its id::

    encrata://encrata.com/monitors/<id>
    diligent://api.godiligent.ai/monitorings/<id>
    datafold://app.datafold.com/monitors/<id>

The host is the host (and port, if any) of the connection's base URL, so the same monitor id on
two Datafold deployments (US, EU, dedicated) is two assets. The provider info registers one
normalizer per scheme (Airflow calls it on every ``Asset(uri)`` of that scheme, in DAG files and
when it deserializes them) and the helpers below as the schemes' factories.

Nothing here touches the network, and importing this module does not import Airflow (its
``Asset`` costs seconds to import; it is imported when a helper builds one), so DAG files and the
provider info may import it freely.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import SplitResult, urlsplit, urlunsplit

from airflow_provider_monitoring._vendors import DATAFOLD, DILIGENT, ENCRATA

if TYPE_CHECKING:
    from airflow.sdk import Asset

__all__ = [
    "MonitorRef", "conn_host", "datafold_monitor_asset", "diligent_monitoring_asset", "encrata_monitor_asset",
    "monitor_asset", "monitor_of", "monitor_path", "normalize_datafold_uri", "normalize_diligent_uri",
    "normalize_encrata_uri", "to_openlineage_dataset",
]

# One DNS label of a host name (IPv4 addresses pass as labels of digits).
_LABEL = r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST_NAME = re.compile(rf"{_LABEL}(\.{_LABEL})*")
# Encrata and Diligent ids are opaque strings (UUIDs, ``mon_...``): one path segment of URI
# "unreserved" characters, so an id never needs percent-encoding and has one spelling only.
_OPAQUE_ID = re.compile(r"[A-Za-z0-9._~-]+")


class MonitorRef(NamedTuple):
    """What a monitor asset names: ``vendor`` (``encrata``, ``diligent``, ``datafold``), ``host``
    (lower-case, with the port if the URI has one) and ``monitor_id`` (an ``int`` for Datafold, the
    id as written for Encrata and Diligent)."""

    vendor: str
    host: str
    monitor_id: str | int


@dataclass(frozen=True)
class _MonitorScheme:
    """The URI form of one vendor's monitors."""

    scheme: str  # also the vendor's name in MonitorRef
    collection: str  # the path segment before the id
    default_host: str
    integer_ids: bool  # Datafold: positive integers; the others: opaque strings

    def example(self) -> str:
        return f"{self.scheme}://{self.default_host}/{self.collection}/<id>"


def conn_host(base_url: str) -> str:
    """The host part of a monitor asset URI for a connection: the base URL's host, lower-case, with
    its port if it has one (``https://App.Datafold.com`` gives ``app.datafold.com``,
    ``http://127.0.0.1:8900/datafold`` gives ``127.0.0.1:8900``). The path and any user name are
    left out. A bare host (``us.datafold.com``) is read as the connections read one.

    :param base_url: the connection's base URL, e.g. a hook's ``settings.base_url``.
    :raises ValueError: when ``base_url`` names no host.
    """
    if not isinstance(base_url, str) or not base_url.strip():
        raise ValueError(f"a base URL must be a non-empty string, got {base_url!r}")
    text = base_url.strip()
    parts = urlsplit(text if "://" in text else f"https://{text}")
    return _host_of(parts, what=f"base URL {_shown(parts)!r}")


# ---- the normalizers Airflow calls ------------------------------------------------------------------------


def normalize_encrata_uri(parts: SplitResult) -> SplitResult:
    """Airflow's URI handler for ``encrata://<host>/monitors/<id>``.

    :param parts: the split URI, as Airflow passes it.
    :raises ValueError: naming the URI and what is wrong with it.
    """
    return _normalized(parts, _SCHEMES["encrata"])


def normalize_diligent_uri(parts: SplitResult) -> SplitResult:
    """Airflow's URI handler for ``diligent://<host>/monitorings/<id>``.

    :param parts: the split URI, as Airflow passes it.
    :raises ValueError: naming the URI and what is wrong with it.
    """
    return _normalized(parts, _SCHEMES["diligent"])


def normalize_datafold_uri(parts: SplitResult) -> SplitResult:
    """Airflow's URI handler for ``datafold://<host>/monitors/<id>``; ``/monitors/042`` becomes
    ``/monitors/42``, the monitor Datafold's API reads it as.

    :param parts: the split URI, as Airflow passes it.
    :raises ValueError: naming the URI and what is wrong with it.
    """
    return _normalized(parts, _SCHEMES["datafold"])


def _normalized(parts: SplitResult, scheme: _MonitorScheme) -> SplitResult:
    """The one spelling of a monitor URI: scheme and host lower-case, no user, query or fragment,
    the path exactly ``/<collection>/<id>``."""
    what = f"{scheme.scheme} asset URI {_shown(parts)!r}"
    if parts.scheme.lower() != scheme.scheme:
        raise ValueError(f"{what}: the scheme must be {scheme.scheme}://")
    if "@" in parts.netloc:
        raise ValueError(f"{what}: a monitor URI carries no user name or password; expected {scheme.example()}")
    if parts.query:
        raise ValueError(f"{what}: a monitor URI has no query string (?{parts.query}); expected {scheme.example()}")
    if parts.fragment:
        raise ValueError(f"{what}: a monitor URI has no fragment (#{parts.fragment}); expected {scheme.example()}")
    host = _host_of(parts, what=what)
    # Airflow strips trailing slashes before calling a handler; a direct call gets the same.
    segments = parts.path.rstrip("/").split("/")
    if len(segments) != 3 or segments[0] or segments[1] != scheme.collection:
        raise ValueError(f"{what}: the path must be /{scheme.collection}/<id>, got {parts.path or '(none)'!r}")
    monitor_id = _checked_id(segments[2], scheme, what)
    return SplitResult(scheme.scheme, host, f"/{scheme.collection}/{monitor_id}", "", "")


def _host_of(parts: SplitResult, what: str) -> str:
    """``host[:port]`` of ``parts``, lower-case, brackets around an IPv6 address."""
    host = parts.hostname or ""
    if not host:
        raise ValueError(f"{what}: no host (a monitor is named by the API host of its connection)")
    if ":" in host:
        try:
            host = f"[{ipaddress.IPv6Address(host).compressed}]"
        except ValueError:
            raise ValueError(f"{what}: {host!r} is not a valid IPv6 address") from None
    elif not _HOST_NAME.fullmatch(host):
        raise ValueError(f"{what}: {host!r} is not a host name")
    try:
        port = parts.port
    except ValueError:  # not a number, or beyond 65535
        raise ValueError(f"{what}: the port must be a number from 1 to 65535") from None
    if port == 0:
        raise ValueError(f"{what}: the port must be a number from 1 to 65535")
    return f"{host}:{port}" if port else host


def _checked_id(raw: str, scheme: _MonitorScheme, what: str) -> str:
    """The id as it appears in the normalized URI."""
    if scheme.integer_ids:
        if not (raw.isascii() and raw.isdigit()) or int(raw) == 0:
            raise ValueError(f"{what}: the monitor id {raw!r} is not a positive integer (Datafold ids are numbers)")
        return str(int(raw))  # "042" is monitor 42
    if not _OPAQUE_ID.fullmatch(raw) or raw in (".", ".."):
        raise ValueError(
            f"{what}: the monitor id {raw!r} must be letters, digits, '-', '_', '.' or '~', and not '.' or '..' "
            f"(it is one path segment, never percent-encoded)"
        )
    return raw


def _shown(parts: SplitResult) -> str:
    """The URI for a message, as written (``urlunsplit`` would drop an empty ``//``) but without
    any user name or password it carries."""
    query = f"?{parts.query}" if parts.query else ""
    fragment = f"#{parts.fragment}" if parts.fragment else ""
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}{query}{fragment}"


# The vendors' URI forms; the default hosts are those of the connections (_vendors.py).
_SCHEMES = {
    s.scheme: s
    for s in (
        _MonitorScheme("encrata", "monitors", conn_host(ENCRATA.default_host), integer_ids=False),
        _MonitorScheme("diligent", "monitorings", conn_host(DILIGENT.default_host), integer_ids=False),
        _MonitorScheme("datafold", "monitors", conn_host(DATAFOLD.default_host), integer_ids=True),
    )
}
ENCRATA_HOST = _SCHEMES["encrata"].default_host
DILIGENT_HOST = _SCHEMES["diligent"].default_host
DATAFOLD_HOST = _SCHEMES["datafold"].default_host


# ---- helpers for DAG files; they are also the schemes' factories ------------------------------------------


def encrata_monitor_asset(monitor_id: str, host: str = ENCRATA_HOST, **asset_kwargs: Any) -> Asset:
    """The asset of one Encrata monitor: ``encrata://<host>/monitors/<monitor_id>``.

    :param monitor_id: the Encrata monitor id (e.g. a UUID or ``mon_...``), kept as written.
    :param host: the API host of the connection, with its port if any (see ``conn_host``).
    :param asset_kwargs: passed on to ``airflow.sdk.Asset`` (``name``, which defaults to the URI,
        ``group``, ``extra``, ``watchers``).
    :raises ValueError: on a bad id or host, before anything else happens.
    """
    return _monitor_asset(_SCHEMES["encrata"], monitor_id, host, asset_kwargs)


def diligent_monitoring_asset(monitoring_id: str, host: str = DILIGENT_HOST, **asset_kwargs: Any) -> Asset:
    """The asset of one Diligent monitoring: ``diligent://<host>/monitorings/<monitoring_id>``.

    :param monitoring_id: the Diligent monitoring id (a UUID), kept as written.
    :param host: the API host of the connection, with its port if any (see ``conn_host``).
    :param asset_kwargs: passed on to ``airflow.sdk.Asset`` (``name``, which defaults to the URI,
        ``group``, ``extra``, ``watchers``).
    :raises ValueError: on a bad id or host, before anything else happens.
    """
    return _monitor_asset(_SCHEMES["diligent"], monitoring_id, host, asset_kwargs)


def datafold_monitor_asset(monitor_id: int, host: str = DATAFOLD_HOST, **asset_kwargs: Any) -> Asset:
    """The asset of one Datafold monitor: ``datafold://<host>/monitors/<monitor_id>``.

    :param monitor_id: the Datafold monitor id, a positive integer (a string of digits is accepted).
    :param host: the API host of the connection, with its port if any (see ``conn_host``).
    :param asset_kwargs: passed on to ``airflow.sdk.Asset`` (``name``, which defaults to the URI,
        ``group``, ``extra``, ``watchers``).
    :raises ValueError: on a bad id or host, before anything else happens.
    """
    return _monitor_asset(_SCHEMES["datafold"], monitor_id, host, asset_kwargs)


def monitor_asset(vendor: str, monitor_id: Any, base_url: str, **asset_kwargs: Any) -> Asset:
    """The asset of a monitor of ``vendor`` reached through a connection whose base URL is
    ``base_url``: what a gate adds to an ``AssetAlias`` among its outlets.

    :param vendor: ``encrata``, ``diligent`` or ``datafold``.
    :param monitor_id: the monitor's (Diligent: the monitoring's) id.
    :param base_url: the connection's base URL (a hook's ``settings.base_url``).
    :param asset_kwargs: passed on to ``airflow.sdk.Asset``.
    """
    return _monitor_asset(_SCHEMES[vendor], monitor_id, conn_host(base_url), asset_kwargs)


def _monitor_asset(scheme: _MonitorScheme, monitor_id: Any, host: Any, asset_kwargs: dict) -> Asset:
    from airflow.sdk import Asset

    return Asset(uri=_monitor_uri(scheme, monitor_id, host), **asset_kwargs)


def _monitor_uri(scheme: _MonitorScheme, monitor_id: Any, host: Any) -> str:
    """The normalized URI, built from the arguments and passed through the scheme's normalizer, so
    a helper and ``Asset(uri)`` always agree."""
    what = f"{scheme.scheme} monitor asset"
    if isinstance(monitor_id, bool) or not isinstance(monitor_id, (str, int)):
        raise ValueError(f"{what}: the monitor id must be a string or an integer, got {monitor_id!r}")
    if not isinstance(host, str) or not host.strip() or any(c in host for c in "/?#@"):
        raise ValueError(
            f"{what}: host must be a host name with an optional port, such as {scheme.default_host!r} or "
            f"'127.0.0.1:8900', got {host!r}; conn_host(base_url) takes it from a connection's base URL"
        )
    raw_id = str(monitor_id).strip()
    _checked_id(raw_id, scheme, f"{what} with id {monitor_id!r}")
    parts = urlsplit(f"{scheme.scheme}://{host.strip()}/{scheme.collection}/{raw_id}")
    return urlunsplit(_normalized(parts, scheme))


# ---- OpenLineage ---------------------------------------------------------------------------------------------


def to_openlineage_dataset(asset: Any, lineage_context: Any = None) -> Any:
    """Airflow's OpenLineage converter for the three schemes (registered in the provider info): a
    monitor asset is the dataset ``<vendor>://<host>``, ``<monitors|monitorings>/<id>``, the same
    the gates report for the monitor itself (README, "Lineage (OpenLineage)").

    :param asset: the ``Asset``, its URI already normalized.
    :param lineage_context: what Airflow passes along (unused).
    """
    from openlineage.client.event_v2 import Dataset

    parts = urlsplit(asset.uri)
    return Dataset(namespace=f"{parts.scheme}://{parts.netloc}", name=parts.path.lstrip("/"))


def monitor_path(vendor: str, monitor_id: Any) -> str:
    """``monitors/<id>`` (Diligent: ``monitorings/<id>``): a monitor's path in its asset URI."""
    return f"{_SCHEMES[vendor].collection}/{monitor_id}"


# ---- reading one back ---------------------------------------------------------------------------------------


def monitor_of(asset_or_uri: Any) -> MonitorRef:
    """Which monitor an asset (or its URI) names, e.g. for a task that receives triggering asset
    events: ``monitor_of("datafold://app.datafold.com/monitors/42")`` is
    ``MonitorRef("datafold", "app.datafold.com", 42)``.

    :param asset_or_uri: an ``Asset`` (anything with a ``uri``) or a URI string.
    :raises ValueError: when it is not a valid ``encrata://``, ``diligent://`` or ``datafold://`` URI.
    """
    uri = getattr(asset_or_uri, "uri", asset_or_uri)
    if not isinstance(uri, str):
        raise ValueError(f"expected an Asset or a URI string, got {asset_or_uri!r}")
    parts = urlsplit(uri.strip())
    vendor = parts.scheme.lower()
    if vendor not in _SCHEMES:
        raise ValueError(
            f"{_shown(parts)!r} is not a monitor asset URI: the scheme must be encrata://, diligent:// or datafold://"
        )
    normalized = _normalized(parts, _SCHEMES[vendor])
    raw_id = normalized.path.rpartition("/")[2]
    return MonitorRef(vendor, normalized.netloc, int(raw_id) if _SCHEMES[vendor].integer_ids else raw_id)
