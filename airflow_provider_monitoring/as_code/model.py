"""What planning works with: the ownership marker, a monitor as the spec wants it (``Desired``), a
monitor as the vendor shows it (``Observed``), and one field's change."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_monitoring.as_code.spec import MonitorSpec

MARKER_PREFIX = "as-code:"
# as-code:[<namespace>/]<key>[#<fingerprint>[.<fingerprint>]]
MARKER_PATTERN = re.compile(
    r"as-code:(?:(?P<namespace>[A-Za-z0-9][A-Za-z0-9_.-]*)/)?(?P<key>[A-Za-z0-9][A-Za-z0-9_.-]*)"
    r"(?:#(?P<prints>[0-9a-f]*(?:\.[0-9a-f]*)*))?"
)
# The marker at the end of a text field (an Encrata name, a Diligent external id): "<text> [<marker>]".
SUFFIX_PATTERN = re.compile(r"^(?P<text>.*?)\s*\[(?P<marker>as-code:[^\]\s]+)\]\s*$", re.DOTALL)


def canonical(value: Any) -> str:
    """``value`` as one JSON text, keys sorted: equal data, equal text (comparisons and digests).

    :param value: JSON-like data.
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def digest(value: Any) -> str:
    """The SHA-256 of ``value``'s canonical JSON, in hex.

    :param value: JSON-like data.
    """
    return hashlib.sha256(canonical(value).encode()).hexdigest()


def fingerprint(value: Any) -> str:
    """Eight hex digits standing for ``value``: how the marker remembers fields a vendor never
    returns, so a later plan can tell whether the spec changed them.

    :param value: JSON-like data.
    """
    return digest(value)[:8]


@dataclass(frozen=True)
class Marker:
    """The ownership mark the provider writes on a monitor it created (docs/monitors-as-code.md,
    "Ownership").

    :param namespace: The spec's namespace ("" for none).
    :param key: The monitor's key in the spec.
    :param fingerprints: One per group of fields the vendor does not return, in the adapter's order.
    """

    namespace: str
    key: str
    fingerprints: tuple[str, ...] = ()

    def text(self) -> str:
        scope = f"{self.namespace}/" if self.namespace else ""
        prints = f"#{'.'.join(self.fingerprints)}" if self.fingerprints else ""
        return f"{MARKER_PREFIX}{scope}{self.key}{prints}"

    @classmethod
    def parse(cls, text: Any) -> Marker | None:
        """The marker a whole string is, or None.

        :param text: A tag, or the part of a name or external id the marker takes.
        """
        if not isinstance(text, str):
            return None
        found = MARKER_PATTERN.fullmatch(text.strip())
        if found is None:
            return None
        prints = tuple(found["prints"].split(".")) if found["prints"] else ()
        return cls(found["namespace"] or "", found["key"], prints)


def with_suffix(text: str | None, marker: Marker) -> str:
    """``text`` carrying ``marker`` at its end (the marker alone when there is no text).

    :param text: A name or an external id, or None.
    :param marker: The ownership marker.
    """
    return f"{text} [{marker.text()}]" if text else marker.text()


def split_suffix(text: Any) -> tuple[Any, Marker | None]:
    """(the text without its marker, the marker) of a text field; the marker may be the whole text.

    :param text: A name or an external id as the vendor returned it.
    """
    if not isinstance(text, str):
        return text, None
    alone = Marker.parse(text)
    if alone is not None:
        return None, alone
    found = SUFFIX_PATTERN.match(text)
    if found is None:
        return text, None
    marker = Marker.parse(found["marker"])
    return (found["text"], marker) if marker is not None else (text, None)


@dataclass
class Desired:
    """A monitor as the spec wants it, in the terms the plan compares.

    :param monitor: The spec entry.
    :param label: How the plan names it (a name, a website).
    :param updatable: Readable fields a vendor changes in place, by name.
    :param fixed: Readable fields fixed at creation: a change means delete and create again.
    :param hidden: Fingerprints of the fields the vendor never returns, by group (the adapter's
        ``hidden_groups``), each with the fields it stands for.
    :param site: The website (Diligent), whose duplicates the vendor refuses.
    """

    monitor: MonitorSpec
    label: str
    updatable: dict[str, Any] = field(default_factory=dict)
    fixed: dict[str, Any] = field(default_factory=dict)
    hidden: dict[str, str] = field(default_factory=dict)
    site: str | None = None

    @property
    def key(self) -> str:
        return self.monitor.key


@dataclass
class Observed:
    """A monitor as the vendor showed it.

    :param vendor: ``encrata``, ``diligent`` or ``datafold``.
    :param id: The vendor's id.
    :param label: How the plan names it.
    :param marker: Its ownership marker, or None for a monitor the provider did not create.
    :param updatable: The readable updatable fields the vendor returned (an absent one is not compared).
    :param fixed: The readable fixed fields the vendor returned.
    :param enabled: Whether it runs.
    :param order: Sorts monitors of one key oldest first (the oldest is kept, the rest are extras).
    :param site: The website (Diligent).
    :param record: The vendor's record, as sent.
    """

    vendor: str
    id: Any
    label: str
    marker: Marker | None
    updatable: dict[str, Any] = field(default_factory=dict)
    fixed: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True
    order: tuple = ()
    site: str | None = None
    record: dict = field(default_factory=dict)


@dataclass(frozen=True)
class FieldChange:
    """One field the plan changes: ``old`` as the vendor has it, ``new`` as the spec says.
    ``replace`` when it cannot change in place (the monitor is deleted and created again)."""

    field: str
    old: Any
    new: Any
    replace: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "old": self.old, "new": self.new, "replace": self.replace}
