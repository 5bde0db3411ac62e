"""Reading a monitors-as-code spec: one YAML file listing monitors of any of the three vendors.

Everything here runs before any request: the file is parsed with PyYAML, each monitor is checked by
its vendor's own create checks (the ones the hooks and the create operators use), and every error
names the file, the line, the monitor's key and the field (docs/monitors-as-code.md, "The spec").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from airflow_provider_monitoring._http.errors import ConfigurationError

__all__ = ["MonitorSpec", "Spec", "SpecError", "load_spec", "parse_spec"]

VENDOR_NAMES = ("encrata", "diligent", "datafold")
# Keys and namespaces end up inside vendor fields (a name suffix, an external id, a tag): a short,
# plain alphabet survives every one of them and reads back unambiguously.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
TOP_LEVEL_FIELDS = ("namespace", "vendors", "monitors")
COMMON_FIELDS = ("key", "vendor", "enabled", "adopt")


class SpecError(ConfigurationError):
    """A spec that cannot be used; raised before any request. ``path``, ``key`` and ``field`` say
    where (each None when the error is not about one of them).

    :param message: What is wrong, already prefixed with the file, line and monitor.
    :param path: The spec file.
    :param key: The monitor's key, when the error is about one monitor.
    :param field: The field, when the error is about one field.
    """

    def __init__(self, message: str, path: str, key: str | None = None, field: str | None = None):
        super().__init__(message)
        self.path, self.key, self.field = path, key, field


@dataclass(frozen=True)
class MonitorSpec:
    """One monitor as the spec declares it, checked.

    :param key: The stable key the user chose (unique in the spec).
    :param vendor: ``encrata``, ``diligent`` or ``datafold``.
    :param fields: The vendor's own fields, as written (dates turned into ISO 8601 text).
    :param enabled: Whether the monitor should run (False: paused, or deactivated on Diligent).
    :param adopt: The vendor id of an existing monitor to take over, when the spec says so.
    :param line: The line of the file where the monitor starts.
    """

    key: str
    vendor: str
    fields: dict[str, Any]
    enabled: bool = True
    adopt: str | None = None
    line: int = 0


@dataclass(frozen=True)
class Spec:
    """A whole spec file, checked.

    :param path: Where it was read from (as given).
    :param namespace: Scopes ownership: only monitors marked with this namespace are managed (and
        pruned) by this spec. Empty for none.
    :param vendors: The vendors this spec manages: those its monitors use, plus any listed under
        ``vendors`` (so the last monitor of a vendor can be pruned).
    :param monitors: The monitors, in file order.
    :param digest: A digest of the parsed content, which a saved plan is tied to.
    """

    path: str
    namespace: str
    vendors: tuple[str, ...]
    monitors: tuple[MonitorSpec, ...] = field(default_factory=tuple)
    digest: str = ""


# ---- YAML with line numbers -------------------------------------------------------------------


def _loader_class() -> type:
    """A safe loader that remembers where each mapping starts and refuses a key written twice in one
    mapping (PyYAML would silently keep the last one)."""
    import yaml

    class LineLoader(yaml.SafeLoader):
        pass

    def construct_mapping(loader: Any, node: Any) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            name = loader.construct_object(key_node, deep=True)
            if name in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"field {name!r} is written twice (first on line {seen[name]})", key_node.start_mark
                )
            seen[name] = key_node.start_mark.line + 1
        mapping = _LinedDict(loader.construct_mapping(node, deep=True))
        mapping.line = node.start_mark.line + 1
        return mapping

    LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return LineLoader


class _LinedDict(dict):
    line = 0


def _read_yaml(path: str, text: str) -> Any:
    import yaml

    try:
        return yaml.load(text, Loader=_loader_class())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else path
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(f"{where}: not valid YAML: {problem}", path) from None


# ---- checks -----------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """YAML values as JSON-like data: dates become ISO 8601 text (the hooks parse them), line
    bookkeeping is dropped."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _name(value: Any, what: str, fail: Any) -> str:
    if not isinstance(value, str) or not NAME_PATTERN.match(value):
        fail(f"{what} must be 1-63 letters, digits, '_', '.' or '-' (starting with a letter or digit), "
             f"got {value!r}", what)
    return value


def parse_spec(text: str, path: str = "<spec>") -> Spec:
    """Check a spec given as YAML text; see :func:`load_spec`.

    :param text: The YAML document.
    :param path: The name errors give the document.
    """
    from airflow_provider_monitoring.as_code.model import digest
    from airflow_provider_monitoring.as_code.vendors import ADAPTERS

    document = _read_yaml(path, text)

    def fail(message: str, field_name: str | None = None, line: int | None = None) -> None:
        where = f"{path}:{line}" if line else path
        raise SpecError(f"{where}: {message}", path, field=field_name)

    if not isinstance(document, dict):
        fail("the spec must be a mapping with a 'monitors' list")
    unknown = sorted(set(document) - set(TOP_LEVEL_FIELDS))
    if unknown:
        fail(f"unknown top-level field(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(TOP_LEVEL_FIELDS)}",
             unknown[0])
    namespace = document.get("namespace") or ""
    if namespace:
        _name(namespace, "namespace", fail)
    monitors = document.get("monitors")
    if not isinstance(monitors, list):
        fail("'monitors' must be a list of monitors", "monitors")
    listed_vendors = document.get("vendors") or []
    if not isinstance(listed_vendors, list) or any(v not in VENDOR_NAMES for v in listed_vendors):
        fail(f"'vendors' must be a list of {', '.join(VENDOR_NAMES)}, got {listed_vendors!r}", "vendors")

    checked: list[MonitorSpec] = []
    lines_by_key: dict[str, int] = {}
    for index, entry in enumerate(monitors):
        monitor = _check_monitor(entry, index, path, lines_by_key, ADAPTERS)
        checked.append(monitor)
    for adapter in ADAPTERS.values():
        adapter.check_together(path, [m for m in checked if m.vendor == adapter.vendor])
    vendors = tuple(v for v in VENDOR_NAMES if v in listed_vendors or any(m.vendor == v for m in checked))
    content = {"namespace": namespace, "vendors": vendors,
               "monitors": [[m.key, m.vendor, m.enabled, m.adopt, m.fields] for m in checked]}
    return Spec(path=path, namespace=namespace, vendors=vendors, monitors=tuple(checked), digest=digest(content))


def _check_monitor(entry: Any, index: int, path: str, lines_by_key: dict[str, int], adapters: dict) -> MonitorSpec:
    line = getattr(entry, "line", 0)
    label = f"monitors[{index}]"

    def fail(message: str, field_name: str | None = None, key: str | None = None) -> None:
        where = f"{path}:{line}" if line else path
        who = f"monitor {key!r}" if key else label
        raise SpecError(f"{where}: {who}: {message}", path, key=key, field=field_name)

    if not isinstance(entry, dict):
        fail(f"must be a mapping of fields, got {entry!r}")
    if "key" not in entry:
        fail("field 'key' is required: a stable name for this monitor, unique in the spec", "key")
    key = _name(entry["key"], "key", lambda message, what: fail(message, what))
    if key in lines_by_key:
        fail(f"duplicate key: field 'key' {key!r} is already used on line {lines_by_key[key]}", "key", key)
    lines_by_key[key] = line

    vendor = entry.get("vendor")
    if vendor not in adapters:
        fail(f"field 'vendor': unknown vendor {vendor!r}; expected one of: {', '.join(VENDOR_NAMES)}", "vendor", key)
    adapter = adapters[vendor]
    fields = {name: _plain(value) for name, value in entry.items() if name not in COMMON_FIELDS}
    allowed = adapter.spec_fields
    unknown = [name for name in fields if name not in allowed]
    if unknown:
        fail(f"unknown field {unknown[0]!r} for a {vendor} monitor; allowed: "
             f"{', '.join(COMMON_FIELDS + tuple(allowed))}", unknown[0], key)
    enabled = entry.get("enabled", True)
    if not isinstance(enabled, bool):
        fail(f"field 'enabled' must be true or false, got {enabled!r}", "enabled", key)
    adopt = entry.get("adopt")
    if adopt is not None:
        if isinstance(adopt, bool) or not isinstance(adopt, (str, int)) or not str(adopt).strip():
            fail(f"field 'adopt' must be the vendor id of the monitor to take over, got {adopt!r}", "adopt", key)
        adopt = str(adopt).strip()
    monitor = MonitorSpec(key=key, vendor=vendor, fields=fields, enabled=enabled, adopt=adopt, line=line)
    try:
        adapter.check(monitor)
    except ConfigurationError as exc:
        field_name = adapter.field_of(str(exc), fields)
        message = adapter.field_message(str(exc))
        fail(f"field {field_name!r}: {message}" if field_name else message, field_name, key)
    return monitor


def load_spec(path: str | Path) -> Spec:
    """Read and check a spec file; :class:`SpecError` names the file, line, key and field of the
    first problem. Nothing is sent anywhere.

    :param path: The YAML file.
    """
    path = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"{path}: cannot read the spec: {exc.strerror or exc}", path) from None
    return parse_spec(text, path)
