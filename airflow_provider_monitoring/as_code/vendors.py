"""One adapter per vendor: which spec fields it takes, how they are checked (the hooks' own create
checks), how its monitors are read and compared, where the ownership marker goes, and the writes
(creates through the hooks' never-twice create paths). docs/monitors-as-code.md describes each
vendor's rules; the vendor notes (docs/vendors/) the API facts they rest on.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar, Iterable

from airflow_provider_monitoring._http.errors import ConfigurationError
from airflow_provider_monitoring.as_code.model import (
    MARKER_PREFIX, Desired, FieldChange, Marker, Observed, canonical, fingerprint, split_suffix, with_suffix,
)
from airflow_provider_monitoring.as_code.spec import MonitorSpec, SpecError

__all__ = ["ADAPTERS", "Adapter"]


class Adapter:
    """What planning and applying need from one vendor. Subclasses fill in the class attributes and
    the methods that raise NotImplementedError. The methods take ``monitor`` (a spec entry),
    ``hook`` (the vendor's hook), ``desired`` / ``observed`` (the monitor as the spec wants it and
    as the vendor shows it), ``changes`` (the plan's field changes) and ``marker`` (the ownership
    mark to write)."""

    vendor: ClassVar[str]
    spec_fields: ClassVar[tuple[str, ...]]
    # Groups of fields the vendor never returns, in marker order: group -> (what it stands for,
    # whether a change needs the monitor created again).
    hidden_groups: ClassVar[dict[str, tuple[str, bool]]] = {}
    # Whether a monitor changes in place at all. Diligent's cannot (no update endpoint): it is
    # replaced for any change, cannot be marked when adopted, and pausing it deactivates it for good.
    updates_in_place: ClassVar[bool] = True
    # Whether the vendor allows one active monitor per site (Diligent, docs/vendors/diligent.md §3).
    one_per_site: ClassVar[bool] = False
    # What deleting means on this vendor, for the plan's words.
    delete_words: ClassVar[str] = "delete"

    # ---- the spec (no request) --------------------------------------------------------------

    def desired(self, monitor: MonitorSpec) -> Desired:
        """The monitor as the plan compares it; raises ConfigurationError for a bad field."""
        raise NotImplementedError

    def check(self, monitor: MonitorSpec) -> None:
        self.desired(monitor)

    def check_together(self, path: str, monitors: list[MonitorSpec]) -> None:
        """Checks across the monitors of this vendor (none by default)."""

    def field_of(self, message: str, given: Iterable[str] = ()) -> str | None:
        """The spec field an error message of the hooks' checks is about: the first it quotes among
        the fields the monitor gives (``given``), else the first it names. ("takes its addresses in
        'emails', not 'targets'" is about ``targets`` when that is the one written.)"""
        cleaned = self.field_message(message)
        quoted = sorted((cleaned.find(f"'{name}'"), name) for name in self.spec_fields
                        if f"'{name}'" in cleaned and name in set(given))
        if quoted:
            return quoted[0][1]
        found = [(match.start(), name) for name in self.spec_fields
                 for match in [re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", cleaned)] if match]
        return min(found)[1] if found else None

    def field_message(self, message: str) -> str:
        return message

    def marker(self, desired: Desired, namespace: str) -> Marker:
        return Marker(namespace, desired.key, tuple(desired.hidden[group] for group in self.hidden_groups))

    def same(self, name: str, old: Any, new: Any) -> bool:
        return canonical(old) == canonical(new)

    # ---- the vendor (requests) --------------------------------------------------------------

    def make_hook(self, conn_id: str) -> Any:
        raise NotImplementedError

    def observe(self, hook: Any, namespace: str) -> list[Observed]:
        """Every monitor of the account that planning may judge; read-only calls only."""
        raise NotImplementedError

    def create(self, hook: Any, desired: Desired, marker: Marker) -> Any:
        """Create the monitor (marked) and bring it to the spec; its vendor id."""
        raise NotImplementedError

    def update(self, hook: Any, observed: Observed, desired: Desired, changes: list[FieldChange],
               marker: Marker) -> None:
        """Change ``changes`` in place and write ``marker`` when it differs from the one it has."""
        raise NotImplementedError

    def delete(self, hook: Any, observed: Observed) -> None:
        raise NotImplementedError


def _only_given(fields: dict[str, Any], names: Iterable[str]) -> dict[str, Any]:
    return {name: fields[name] for name in names if fields.get(name) is not None}


def _refuse_marker_text(value: Any, what: str) -> None:
    # A marker written by hand would make an unmanaged monitor look managed, or the reverse.
    texts = value if isinstance(value, list) else [value]
    if any(isinstance(text, str) and MARKER_PREFIX in text for text in texts):
        raise ConfigurationError(f"{what} must not contain {MARKER_PREFIX!r}: the provider writes that mark itself")


def _check_text_before_marker(value: Any, what: str) -> None:
    """A text the marker is appended to: no marker of its own, and no space at either end (the
    space before the marker is read back as part of the separator, so a padded text would never
    equal what the vendor returns, and every plan would change it again)."""
    _refuse_marker_text(value, what)
    if isinstance(value, str) and value != value.strip():
        raise ConfigurationError(f"{what} must not begin or end with a space, got {value!r}")


# ---- Encrata ------------------------------------------------------------------------------------


class EncrataAdapter(Adapter):
    """Encrata monitors; the marker ends the name (``Domains [as-code:ns/key#targets]``), since the
    name is the one free-text field a monitor has. Targets are never returned, so their
    fingerprint rides in the marker; a change of targets, type or data source re-creates the
    monitor (the API cannot change them, docs/vendors/encrata.md §4.4)."""

    vendor = "encrata"
    spec_fields = ("name", "monitor_type", "emails", "targets", "frequency", "change_detection",
                   "data_source_type", "data_source_ref", "tracked_fields")
    hidden_groups = {"targets": ("emails/targets, type and data source", True)}
    UPDATABLE = ("frequency", "change_detection", "tracked_fields")
    FIXED = ("monitor_type", "data_source_type", "data_source_ref")

    def desired(self, monitor: MonitorSpec) -> Desired:
        from airflow_provider_monitoring.hooks.encrata import monitor_payload, tracked_fields_string

        fields = monitor.fields
        _check_text_before_marker(fields.get("name"), "name")
        payload = monitor_payload(
            fields.get("name"), fields.get("monitor_type", "email"), fields.get("emails"), fields.get("targets"),
            fields.get("frequency"), fields.get("change_detection"), fields.get("data_source_type"),
            fields.get("data_source_ref"),
        )
        updatable: dict[str, Any] = {"name": payload["name"], **_only_given(payload, self.UPDATABLE)}
        if fields.get("tracked_fields") is not None:
            updatable["tracked_fields"] = json.loads(tracked_fields_string(fields["tracked_fields"]))
        updatable["enabled"] = monitor.enabled
        return Desired(monitor, label=payload["name"], updatable=updatable,
                       fixed=_only_given(payload, self.FIXED), hidden={"targets": fingerprint(self.fixed_part(payload))})

    def fixed_part(self, payload: dict[str, Any]) -> dict[str, Any]:
        """What the fingerprint stands for: the targets as a set (their order means nothing, and a
        changed fingerprint re-creates the monitor), the type and the data source, which the
        listing may not return (docs/vendors/encrata.md §3.1); ``csv``, the default source, counts
        as not given."""
        fixed = _only_given(payload, self.FIXED)
        if fixed.get("data_source_type") == "csv":
            del fixed["data_source_type"]
        targets = payload.get("emails", payload.get("targets"))
        return {**fixed, "targets": sorted(targets) if targets is not None else None}

    def make_hook(self, conn_id: str) -> Any:
        from airflow_provider_monitoring.hooks.encrata import EncrataHook

        return EncrataHook(encrata_conn_id=conn_id)

    def observe(self, hook: Any, namespace: str) -> list[Observed]:
        return [self._observed(record) for record in hook.list_monitors() if isinstance(record, dict)]

    def _observed(self, record: dict) -> Observed:
        name, marker = split_suffix(record.get("name"))
        updatable = {"name": name, **{key: record[key] for key in self.UPDATABLE if key in record}}
        if isinstance(updatable.get("tracked_fields"), str):  # the request form, should a server echo it
            try:
                updatable["tracked_fields"] = json.loads(updatable["tracked_fields"])
            except ValueError:
                pass
        updatable["enabled"] = record.get("status") != "paused"
        fixed = {key: record[key] for key in self.FIXED if key in record}
        return Observed(self.vendor, record.get("id"), str(name), marker, updatable, fixed,
                        enabled=updatable["enabled"], order=(str(record.get("created_at") or ""), str(record.get("id"))),
                        record=record)

    def same(self, name: str, old: Any, new: Any) -> bool:
        if name == "tracked_fields":  # a set of field names: order carries nothing
            return sorted(map(str, old or [])) == sorted(map(str, new or []))
        return super().same(name, old, new)

    def create(self, hook: Any, desired: Desired, marker: Marker) -> Any:
        fields = desired.monitor.fields
        created = hook.create_monitor(
            with_suffix(desired.updatable["name"], marker), monitor_type=fields.get("monitor_type", "email"),
            emails=fields.get("emails"), targets=fields.get("targets"), frequency=fields.get("frequency"),
            change_detection=fields.get("change_detection"), data_source_type=fields.get("data_source_type"),
            data_source_ref=fields.get("data_source_ref"),
        )
        # What Create does not take: tracked fields and the paused status, set right after.
        after = {}
        if "tracked_fields" in desired.updatable:
            after["tracked_fields"] = desired.updatable["tracked_fields"]
        if not desired.monitor.enabled:
            after["status"] = "paused"
        if after:
            hook.update_monitor(created["id"], **after)
        return created["id"]

    def update(self, hook: Any, observed: Observed, desired: Desired, changes: list[FieldChange],
               marker: Marker) -> None:
        changed = {change.field: change.new for change in changes}
        arguments: dict[str, Any] = {key: changed[key] for key in self.UPDATABLE if key in changed}
        if "enabled" in changed:
            arguments["status"] = "active" if changed["enabled"] else "paused"
        if "name" in changed or observed.marker != marker:
            arguments["name"] = with_suffix(desired.updatable["name"], marker)
        if arguments:
            hook.update_monitor(observed.id, **arguments)

    def delete(self, hook: Any, observed: Observed) -> None:
        hook.delete_monitor(observed.id)


# ---- Diligent -----------------------------------------------------------------------------------


class DiligentAdapter(Adapter):
    """Diligent monitorings; the marker is the ``external_id`` (after the spec's own external id,
    when it gives one). The API has no update (docs/vendors/diligent.md §6): any change deactivates
    the monitoring and creates a new one; ``enabled: false`` deactivates it, which cannot be undone
    (enabling again creates a new one). Only active monitorings count."""

    vendor = "diligent"
    spec_fields = ("website", "checks", "frequency", "expires_at", "external_id", "run_now")
    updates_in_place = False
    one_per_site = True
    delete_words = "deactivate"

    def desired(self, monitor: MonitorSpec) -> Desired:
        from airflow_provider_monitoring.hooks.diligent import monitoring_request, site_key

        fields = monitor.fields
        _check_text_before_marker(fields.get("external_id"), "external_id")
        body = monitoring_request(
            fields.get("website"), fields.get("checks"), fields.get("frequency", "every_2_weeks"),
            fields.get("run_now", True), fields.get("expires_at"), fields.get("external_id"),
        )
        fixed = {"website": body["website"], "checks": body["checks"], "frequency": body["frequency"],
                 **_only_given(body, ("expires_at", "external_id"))}
        return Desired(monitor, label=body["website"], fixed=fixed, site=site_key(body["website"]))

    def check_together(self, path: str, monitors: list[MonitorSpec]) -> None:
        from airflow_provider_monitoring.hooks.diligent import site_key

        first: dict[str, MonitorSpec] = {}
        for monitor in monitors:
            site = site_key(str(monitor.fields["website"]))
            if site in first:
                other = first[site]
                raise SpecError(
                    f"{path}:{monitor.line}: monitor {monitor.key!r}: field 'website' {monitor.fields['website']!r} "
                    f"is the site of monitor {other.key!r} (line {other.line}); Diligent keeps one active "
                    "monitoring per website", path, key=monitor.key, field="website",
                )
            first[site] = monitor

    def same(self, name: str, old: Any, new: Any) -> bool:
        from airflow_provider_monitoring._http.values import time_or_none
        from airflow_provider_monitoring.hooks.diligent import site_key

        if name == "website":  # stored sanitised (§13.8)
            return isinstance(old, str) and site_key(old) == site_key(new)
        if name == "checks":
            return sorted(old or []) == sorted(new or [])
        if name == "frequency":
            return isinstance(old, str) and old.lower() == new
        if name == "expires_at":
            return time_or_none(old) is not None and time_or_none(old) == time_or_none(new)
        return super().same(name, old, new)

    def make_hook(self, conn_id: str) -> Any:
        from airflow_provider_monitoring.hooks.diligent import DiligentHook

        return DiligentHook(diligent_conn_id=conn_id)

    def observe(self, hook: Any, namespace: str) -> list[Observed]:
        from airflow_provider_monitoring.hooks.diligent import STABLE_SORT, site_key

        observed = []
        for record in hook.list_monitorings(sort_by=STABLE_SORT):
            if not isinstance(record, dict) or record.get("is_active") is False:
                continue  # a deactivated monitoring is history: it runs no more and blocks nothing (§7)
            external, marker = split_suffix(record.get("external_id"))
            fixed = {key: record[key] for key in ("website", "checks", "frequency", "expires_at") if key in record}
            fixed["external_id"] = external
            website = record.get("website")
            observed.append(Observed(
                self.vendor, record.get("id"), str(website), marker, {}, fixed,
                order=(str(record.get("created_at") or ""), str(record.get("id"))),
                site=site_key(website) if isinstance(website, str) else None, record=record,
            ))
        return observed

    def create(self, hook: Any, desired: Desired, marker: Marker) -> Any:
        fields = desired.monitor.fields
        created = hook.create_monitoring(
            desired.fixed["website"], desired.fixed["checks"], frequency=desired.fixed["frequency"],
            run_now=fields.get("run_now", True), expires_at=fields.get("expires_at"),
            external_id=with_suffix(fields.get("external_id"), marker),
        )
        return created["id"]

    def update(self, hook: Any, observed: Observed, desired: Desired, changes: list[FieldChange],
               marker: Marker) -> None:
        # Nothing changes in place on Diligent: the plan only ever pauses (deactivates) or replaces.
        raise ConfigurationError("Diligent monitorings cannot be updated; the plan replaces them")

    def delete(self, hook: Any, observed: Observed) -> None:
        hook.deactivate_monitoring(observed.id)


# ---- Datafold -----------------------------------------------------------------------------------

DIFF_DATASETS = ("dataset_a", "dataset_b")


class DatafoldAdapter(Adapter):
    """Datafold monitors of the four types; the marker is a tag (``as-code:ns/key#fixed.options``).
    GET returns neither a diff's options, a test's query or test, nor the fields fixed at creation
    (docs/vendors/datafold.md §2.2), so two fingerprints in the marker stand for them: a change of
    the fixed ones (connection, datasets, metric, table) re-creates the monitor, of the others
    updates it. ``enabled`` goes through the toggle endpoint."""

    vendor = "datafold"
    spec_fields = ("type", "name", "schedule", "description", "notifications", "tags", "owner", "datadiff",
                   "alert", "connection_id", "metric", "query", "test", "table")
    hidden_groups = {
        "fixed": ("connection_id/datasets/metric/table", True),
        "options": ("datadiff options/query/test", False),
    }
    UPDATABLE = ("name", "schedule", "description", "notifications", "tags", "owner", "alert")

    def field_message(self, message: str) -> str:
        return message.replace("spec.", "")  # the hook's checks say spec.schedule; the YAML says schedule

    def desired(self, monitor: MonitorSpec) -> Desired:
        from airflow_provider_monitoring._http.values import choice
        from airflow_provider_monitoring.hooks._datafold_specs import validated_create_body
        from airflow_provider_monitoring.hooks.datafold import MONITOR_TYPES

        fields = monitor.fields
        if fields.get("type") is None:
            raise ConfigurationError(f"type is required: one of {', '.join(MONITOR_TYPES)}")
        kind = choice(fields["type"], MONITOR_TYPES, "type")
        _refuse_marker_text(fields.get("tags"), "tags")
        body = validated_create_body(kind, self.create_body(monitor))
        updatable = {"name": body["name"], "schedule": body["schedule"],
                     **_only_given(body, self.UPDATABLE[2:]), "enabled": monitor.enabled}
        return Desired(monitor, label=body["name"], updatable=updatable, fixed={"type": kind},
                       hidden={"fixed": fingerprint(self.fixed_part(body)),
                               "options": fingerprint(self.options_part(body))})

    @staticmethod
    def create_body(monitor: MonitorSpec) -> dict[str, Any]:
        return {name: value for name, value in monitor.fields.items() if name != "type"}

    @staticmethod
    def fixed_part(body: dict) -> dict:
        datadiff = body.get("datadiff") or {}
        return {**_only_given(body, ("connection_id", "metric", "table")), **_only_given(datadiff, DIFF_DATASETS)}

    @staticmethod
    def options_part(body: dict) -> dict:
        options = {key: value for key, value in (body.get("datadiff") or {}).items() if key not in DIFF_DATASETS}
        return {**({"datadiff": options} if options else {}), **_only_given(body, ("query", "test"))}

    def same(self, name: str, old: Any, new: Any) -> bool:
        if name == "tags":
            return sorted(old or []) == sorted(new or [])
        if name == "schedule":
            return canonical(_plain_schedule(old)) == canonical(_plain_schedule(new))
        return super().same(name, old, new)

    def make_hook(self, conn_id: str) -> Any:
        from airflow_provider_monitoring.hooks.datafold import DatafoldHook

        return DatafoldHook(datafold_conn_id=conn_id)

    def observe(self, hook: Any, namespace: str) -> list[Observed]:
        observed = []
        for summary in hook.list_monitors():
            # The listing's tags are optional (docs/vendors/datafold.md §2.1): without them the
            # marker would go unseen and every apply would create the monitor again.
            full = hook.get_monitor(summary["id"]) if "tags" not in summary else None
            marker = _marker_tag((full or summary).get("tags"))
            # The listing lacks schedule, alert and the rest: a monitor this plan may judge is read
            # in full (ours, whatever their key); the others are only named.
            ours = marker is not None and marker.namespace == namespace
            observed.append(self._observed((full or hook.get_monitor(summary["id"])) if ours else summary, marker))
        return observed

    def observe_one(self, hook: Any, observed: Observed) -> Observed:
        """The full record of a monitor the listing only named (one about to be adopted)."""
        return self._observed(hook.get_monitor(observed.id), observed.marker)

    def _observed(self, record: dict, marker: Marker | None) -> Observed:
        updatable = {key: record[key] for key in self.UPDATABLE if key in record}
        if "tags" in updatable:
            updatable["tags"] = [tag for tag in updatable["tags"] or [] if Marker.parse(tag) is None]
        alert = updatable.get("alert")
        if isinstance(alert, dict) and record.get("monitor_type") == "diff" and alert.get("type") == "diff":
            # GET tags the diff alert; create and update bodies have no such tag (§2.2).
            updatable["alert"] = {key: value for key, value in alert.items() if key != "type"}
        updatable["enabled"] = record.get("enabled") is not False
        return Observed(self.vendor, record.get("id"), str(record.get("name")), marker, updatable,
                        {"type": record["monitor_type"]} if record.get("monitor_type") else {},
                        enabled=updatable["enabled"], order=(int(record.get("id") or 0),), record=record)

    def create(self, hook: Any, desired: Desired, marker: Marker) -> Any:
        body = self.create_body(desired.monitor)
        body["tags"] = [*(body.get("tags") or []), marker.text()]
        if not desired.monitor.enabled:
            body["enabled"] = False
        monitor_id = hook.create_monitor(desired.fixed["type"], body)
        self.check_created(hook, monitor_id, desired, marker)
        return monitor_id

    @staticmethod
    def check_created(hook: Any, monitor_id: Any, desired: Desired, marker: Marker) -> None:
        """Make sure the id is the monitor just created. After a create whose answer was lost the
        hook finds it by name and type among the newest monitors, and another one (a second key
        of the spec with the same name, or anyone's) can match; only ours carries the marker."""
        from airflow_provider_monitoring._http.errors import MonitoringError

        found = _marker_tag(hook.get_monitor(monitor_id).get("tags"))
        if found != marker:
            raise MonitoringError(
                f"the create of {desired.label!r} lost its answer and monitor {monitor_id}, found in its place by name "
                f"and type, does not carry its mark (it has {found.text() if found else 'none'}); whether it was "
                "created is unknown: run apply again (a monitor it did create carries the mark and is found)"
            )

    def update(self, hook: Any, observed: Observed, desired: Desired, changes: list[FieldChange],
               marker: Marker) -> None:
        changed = {change.field: change.new for change in changes}
        kind = desired.fixed["type"]
        patch = {key: changed[key] for key in self.UPDATABLE if key in changed}
        if "options" in changed:
            body = self.create_body(desired.monitor)
            options = self.options_part(body)
            patch.update(options)
            if kind == "test":  # query and test exclude each other: clear the one not used
                patch.setdefault("query", None)
                patch.setdefault("test", None)
        if "tags" in patch or observed.marker != marker:
            tags = desired.updatable.get("tags", observed.updatable.get("tags") or [])
            patch["tags"] = [*tags, marker.text()]
        if patch:
            hook.update_monitor(observed.id, patch, monitor_type=kind)
        if "enabled" in changed:
            hook.toggle_monitor(observed.id, changed["enabled"])

    def delete(self, hook: Any, observed: Observed) -> None:
        hook.delete_monitor(observed.id)


def _marker_tag(tags: Any) -> Marker | None:
    for tag in tags or []:
        marker = Marker.parse(tag)
        if marker is not None:
            return marker
    return None


def _plain_schedule(schedule: Any) -> Any:
    """A schedule without an interval's ``type`` where ``every`` implies it (hour/hourly, day/daily):
    a server that adds or drops the implied type has not changed the schedule."""
    if not isinstance(schedule, dict) or not isinstance(schedule.get("interval"), dict):
        return schedule
    interval = dict(schedule["interval"])
    if interval.get("type") == {"hour": "hourly", "day": "daily"}.get(interval.get("every")):
        interval.pop("type", None)
    return {**schedule, "interval": interval}


ADAPTERS: dict[str, Adapter] = {adapter.vendor: adapter for adapter in
                                (EncrataAdapter(), DiligentAdapter(), DatafoldAdapter())}
