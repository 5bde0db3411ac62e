"""Planning: read the vendors (read-only calls) and say, per monitor, what apply would do.

Kinds of action (docs/monitors-as-code.md, "Plan"): ``create``, ``update`` (field by field, old ->
new), ``replace`` (deleted and created again: a field the API cannot change), ``pause``, ``adopt``
(an existing monitor taken over by its vendor id), ``delete`` (only with prune), ``unchanged``,
``kept`` (managed but no longer in the spec, left alone without prune) and ``blocked`` (apply
cannot carry it out: the plan says why).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Mapping

from airflow_provider_monitoring._http.errors import ConfigurationError
from airflow_provider_monitoring.as_code.model import Desired, FieldChange, Marker, Observed, digest
from airflow_provider_monitoring.as_code.spec import Spec
from airflow_provider_monitoring.as_code.vendors import ADAPTERS, Adapter

__all__ = ["Action", "Plan", "PlanError", "make_hooks", "make_plan"]

CHANGES = ("create", "update", "replace", "pause", "adopt", "delete")
KINDS = (*CHANGES, "unchanged", "kept", "blocked")
SYMBOLS = {"create": "+", "update": "~", "replace": "-/+", "pause": "||", "adopt": "<", "delete": "-",
           "unchanged": "=", "kept": ".", "blocked": "!"}
VENDOR_TITLES = {"encrata": "Encrata", "diligent": "Diligent", "datafold": "Datafold"}
# Exit codes of `plan`, as terraform plan -detailed-exitcode: no changes, error, changes.
EXIT_NO_CHANGES, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


class PlanError(ConfigurationError):
    """A plan that cannot be applied (blocked monitors, a saved plan the world no longer matches)."""


@dataclass
class Action:
    """One monitor's line of the plan.

    :param kind: One of ``KINDS``.
    :param vendor: The vendor.
    :param key: The spec key (for a monitor no longer in the spec, the key its marker holds).
    :param label: The monitor's name or website.
    :param vendor_id: The vendor's id of the monitor acted on (None for a create).
    :param changes: The fields that change (for a create: every field the spec sets).
    :param note: Why, in words, where the kind alone does not say.
    """

    kind: str
    vendor: str
    key: str | None
    label: str
    vendor_id: Any = None
    changes: list[FieldChange] = field(default_factory=list)
    note: str = ""
    desired: Desired | None = field(default=None, repr=False, compare=False)
    observed: Observed | None = field(default=None, repr=False, compare=False)
    marker: Marker | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.kind, "vendor": self.vendor, "key": self.key, "label": self.label,
                "id": self.vendor_id, "changes": [change.as_dict() for change in self.changes], "note": self.note}


@dataclass
class Plan:
    """What apply would do, and what it is based on.

    :param spec: The spec planned for.
    :param prune: Whether managed monitors missing from the spec are deleted.
    :param actions: One per monitor, grouped by vendor, spec order first.
    """

    spec: Spec
    prune: bool
    actions: list[Action]

    def count(self) -> dict[str, int]:
        counts = dict.fromkeys(KINDS, 0)
        for action in self.actions:
            counts[action.kind] += 1
        return counts

    @property
    def has_changes(self) -> bool:
        return any(action.kind in CHANGES for action in self.actions)

    @property
    def blocked(self) -> list[Action]:
        return [action for action in self.actions if action.kind == "blocked"]

    @property
    def exit_code(self) -> int:
        if self.blocked:
            return EXIT_ERROR
        return EXIT_CHANGES if self.has_changes else EXIT_NO_CHANGES

    @property
    def fingerprint(self) -> str:
        """Stands for the spec and every action: a saved plan is applied only while a fresh plan has
        the same fingerprint (nothing changed in the spec or at the vendors)."""
        return digest({"spec": self.spec.digest, "prune": self.prune, "actions": [a.as_dict() for a in self.actions]})

    def as_dict(self) -> dict[str, Any]:
        """The plan for machines (``--json``, XCom, a saved plan file)."""
        return {
            "format": 1, "spec": self.spec.path, "namespace": self.spec.namespace, "prune": self.prune,
            "vendors": list(self.spec.vendors), "actions": [action.as_dict() for action in self.actions],
            "summary": self.count(), "has_changes": self.has_changes, "exit_code": self.exit_code,
            "spec_digest": self.spec.digest, "fingerprint": self.fingerprint,
        }

    def render(self) -> str:
        """The plan for people: a block per vendor, a line per monitor, a line per changed field,
        then the summary line."""
        lines: list[str] = []
        for vendor in self.spec.vendors:
            actions = [action for action in self.actions if action.vendor == vendor]
            lines.append(f"{VENDOR_TITLES[vendor]}: {len(actions)} monitor{'s' if len(actions) != 1 else ''}")
            lines.extend(line for action in actions for line in _action_lines(action))
        lines.append(self.summary_line())
        return "\n".join(lines)

    def summary_line(self) -> str:
        counts = self.count()
        tail = [f"{counts['unchanged']} unchanged"]
        if counts["kept"]:
            tail.append(f"{counts['kept']} not in the spec and kept (--prune deletes them)")
        if counts["blocked"]:
            tail.append(f"{counts['blocked']} blocked (apply refuses until resolved)")
        if not self.has_changes:
            return f"No changes. {'; '.join(tail)}."
        done = ", ".join(f"{counts[kind]} to {kind}" for kind in CHANGES)
        return f"Plan: {done}; {'; '.join(tail)}."


def _value(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def _action_lines(action: Action) -> list[str]:
    where = f" (id {action.vendor_id})" if action.vendor_id is not None else ""
    head = f"  {SYMBOLS[action.kind]:>3} {action.kind:<9} {action.key or '-'}: {action.label}{where}"
    lines = [head + (f"  -- {action.note}" if action.note else "")]
    if action.kind == "create":
        return lines  # every field is new: the JSON form lists them
    for change in action.changes:
        how = "  (cannot change in place)" if change.replace else ""
        if change.field in ADAPTERS[action.vendor].hidden_groups:
            what = ADAPTERS[action.vendor].hidden_groups[change.field][0]
            old = "unknown" if change.old is None else f"fingerprint {change.old}"
            lines.append(f"        {what}: changed ({old} -> fingerprint {change.new}; "
                         f"{VENDOR_TITLES[action.vendor]} does not return them){how}")
        else:
            lines.append(f"        {change.field}: {_value(change.old)} -> {_value(change.new)}{how}")
    return lines


# ---- making a plan -------------------------------------------------------------------------------


def make_hooks(vendors: tuple[str, ...], conn_ids: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A hook per vendor, on ``conn_ids[vendor]`` or the vendor's default connection. Nothing is
    read until the first call.

    :param vendors: The vendors to make hooks for.
    :param conn_ids: Connection ids by vendor.
    """
    conn_ids = conn_ids or {}
    return {vendor: ADAPTERS[vendor].make_hook(conn_ids.get(vendor) or f"{vendor}_default") for vendor in vendors}


def make_plan(spec: Spec, hooks: Mapping[str, Any], prune: bool = False) -> Plan:
    """Read each vendor of the spec (read-only calls) and plan every monitor.

    :param spec: A checked spec (``load_spec``).
    :param hooks: A hook per vendor of ``spec.vendors`` (``make_hooks``).
    :param prune: Plan deleting managed monitors that are not in the spec.
    """
    actions: list[Action] = []
    for vendor in spec.vendors:
        adapter = ADAPTERS[vendor]
        monitors = [monitor for monitor in spec.monitors if monitor.vendor == vendor]
        observed = adapter.observe(hooks[vendor], spec.namespace)
        actions.extend(VendorPlanner(adapter, hooks[vendor], spec.namespace, observed, prune).plan(monitors))
    return Plan(spec, prune, actions)


class VendorPlanner:
    """Plans the monitors of one vendor against what that vendor showed.

    :param adapter: The vendor's adapter.
    :param hook: The vendor's hook (an adopted Datafold monitor is read in full with it).
    :param namespace: The spec's namespace: only its marks are the spec's.
    :param observed: Every monitor the vendor showed.
    :param prune: Whether managed monitors not in the spec are deleted.
    """

    def __init__(self, adapter: Adapter, hook: Any, namespace: str, observed: list[Observed], prune: bool):
        self.adapter, self.hook, self.namespace, self.observed, self.prune = adapter, hook, namespace, observed, prune
        self.by_id = {str(item.id): item for item in observed}
        self.by_key: dict[str, list[Observed]] = defaultdict(list)
        for item in sorted(observed, key=lambda o: o.order):
            if item.marker is not None and item.marker.namespace == namespace:
                self.by_key[item.marker.key].append(item)
        self.claimed: set[str] = set()

    def plan(self, monitors: list) -> list[Action]:
        actions, leftovers = [], []
        for monitor in monitors:
            desired = self.adapter.desired(monitor)
            found = self.by_key.pop(monitor.key, [])
            leftovers += [(extra, f"a second monitor marked {monitor.key!r}") for extra in found[1:]]
            actions.append(self.plan_one(desired, found[0] if found else None))
        for key, items in self.by_key.items():
            leftovers += [(item, "not in the spec") for item in items]
        actions += [self.leftover(item, why) for item, why in leftovers]
        self.block_site_conflicts(actions)
        return actions

    def plan_one(self, desired: Desired, current: Observed | None) -> Action:
        adopting = False
        if current is None and desired.monitor.adopt is not None:
            current, refusal = self.adoptable(desired)
            if refusal:
                return Action("blocked", self.adapter.vendor, desired.key, desired.label, desired.monitor.adopt,
                              note=refusal, desired=desired)
            adopting = True
        marker = self.adapter.marker(desired, self.namespace)
        if current is not None:
            self.claimed.add(str(current.id))
        return self.compare(desired, current, marker, adopting)

    def adoptable(self, desired: Desired) -> tuple[Observed | None, str]:
        wanted = desired.monitor.adopt
        target = self.by_id.get(wanted)
        vendor = self.adapter.vendor
        if target is None:
            active = " active" if not self.adapter.updates_in_place else ""
            return None, f"adopt: no{active} {vendor} monitor has id {wanted!r}"
        if target.marker is not None:
            scope = f"{target.marker.namespace}/" if target.marker.namespace else ""
            return None, f"adopt: monitor {wanted!r} is already managed as {scope}{target.marker.key!r}"
        if wanted in self.claimed:
            return None, f"adopt: monitor {wanted!r} is adopted by another key of the spec"
        observe_one = getattr(self.adapter, "observe_one", None)
        return (observe_one(self.hook, target) if observe_one else target), ""

    def compare(self, desired: Desired, current: Observed | None, marker: Marker, adopting: bool) -> Action:
        vendor, adapter = self.adapter.vendor, self.adapter
        base = dict(vendor=vendor, key=desired.key, label=desired.label, desired=desired, marker=marker)
        if current is None:
            if not adapter.updates_in_place and not desired.monitor.enabled:
                return Action("unchanged", note="no active monitoring, as enabled: false asks", **base)
            fields = {**desired.updatable, **desired.fixed}
            return Action("create", changes=[FieldChange(name, None, value) for name, value in fields.items()], **base)
        changes = self.changes(desired, current)
        base.update(vendor_id=current.id, observed=current)
        replace = any(change.replace for change in changes)
        if adopting and replace and not self.may_replace_adopted(desired, current):
            fields = ", ".join(change.field for change in changes if change.replace)
            return Action("blocked", changes=changes, **base,
                          note=f"adopt: monitor {current.id!r} differs from the spec in what cannot change ({fields}): "
                               f"adopting it would {adapter.delete_words} it; correct the spec or the id")
        if not adapter.updates_in_place:
            return self.compare_unchangeable(desired, changes, replace, adopting, base)
        if replace:
            return Action("replace", changes=changes, note=f"{adapter.delete_words}, then create", **base)
        if adopting:
            trusted = [what for group, (what, fixed) in adapter.hidden_groups.items() if fixed]
            note = "takes it over (writes the ownership mark)"
            if trusted:
                note += f"; its {', '.join(trusted)} cannot be read and are taken to be the spec's"
            return Action("adopt", changes=changes, note=note, **base)
        if any(change.field == "enabled" and change.new is False for change in changes):
            return Action("pause", changes=changes, **base)
        return Action("update" if changes else "unchanged", changes=changes, **base)

    def may_replace_adopted(self, desired: Desired, current: Observed) -> bool:
        """Whether adopting ``current`` may remove it for a new one. Only where nothing changes in
        place and it watches the spec's own site (Diligent: taking over a monitoring with other
        checks or frequency). Anywhere else the old monitor is not the one the spec means (a wrong
        id, most likely), and a monitor nobody asked to lose would be deleted."""
        return not self.adapter.updates_in_place and desired.site is not None and desired.site == current.site

    @staticmethod
    def compare_unchangeable(desired: Desired, changes: list[FieldChange], replace: bool, adopting: bool,
                             base: dict[str, Any]) -> Action:
        """The plan for a monitor that cannot change in place (Diligent): deactivate, replace, or
        leave it."""
        if not desired.monitor.enabled:
            return Action("pause", changes=[FieldChange("enabled", True, False)],
                          note="deactivated; Diligent cannot reactivate (enabling again creates a new one)", **base)
        if replace:
            return Action("replace", changes=changes, note="Diligent has no update: deactivate, then create", **base)
        note = "adopted by id; Diligent cannot mark it, so it stays managed while 'adopt' names it" if adopting else ""
        return Action("unchanged", note=note, **base)

    def changes(self, desired: Desired, current: Observed) -> list[FieldChange]:
        same = self.adapter.same
        found = [FieldChange(name, current.updatable[name], new) for name, new in desired.updatable.items()
                 if name in current.updatable and not same(name, current.updatable[name], new)]
        found += [FieldChange(name, current.fixed[name], new, replace=True) for name, new in desired.fixed.items()
                  if name in current.fixed and not same(name, current.fixed[name], new)]
        prints = current.marker.fingerprints if current.marker is not None else ()
        for index, (group, (_, fixed)) in enumerate(self.adapter.hidden_groups.items()):
            old = prints[index] if index < len(prints) and prints[index] else None
            new = desired.hidden[group]
            if old is None and not fixed:
                found.append(FieldChange(group, None, new))  # unknown but updatable: sent, to be sure
            elif old is not None and old != new:
                found.append(FieldChange(group, old, new, replace=fixed))
        return found

    def leftover(self, item: Observed, why: str) -> Action:
        key = item.marker.key if item.marker else None
        if self.prune:
            return Action("delete", self.adapter.vendor, key, item.label, item.id, observed=item,
                          note=f"{why}; {self.adapter.delete_words}" if self.adapter.delete_words != "delete" else why)
        return Action("kept", self.adapter.vendor, key, item.label, item.id, observed=item,
                      note=f"{why}; kept (--prune {self.adapter.delete_words}s it)")

    def block_site_conflicts(self, actions: list[Action]) -> None:
        """Diligent refuses a second active monitoring of a website (docs/vendors/diligent.md §3): a
        create that would meet one the plan does not remove is blocked, naming it, instead of
        failing half-way."""
        if not self.adapter.one_per_site:
            return
        leaving = {str(a.vendor_id) for a in actions if a.kind in ("delete", "replace", "pause")}
        for action in actions:
            if action.kind not in ("create", "replace") or action.desired is None:
                continue
            mine = str(action.vendor_id)
            others = [item for item in self.observed if item.site == action.desired.site
                      and str(item.id) != mine and str(item.id) not in leaving]
            if others:
                action.kind = "blocked"
                action.note = "; ".join(self.describe_conflict(item) for item in others)

    def describe_conflict(self, item: Observed) -> str:
        if item.marker is None:
            return (f"the website already has an active monitoring {item.id} this spec does not manage: "
                    f"deactivate it, or take it over with 'adopt: {item.id}'")
        scope = f"{item.marker.namespace}/" if item.marker.namespace else ""
        return f"the website already has an active monitoring {item.id}, managed as {scope}{item.marker.key!r}"
