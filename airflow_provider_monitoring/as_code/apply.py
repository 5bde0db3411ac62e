"""Applying a plan: carry out its actions one after the other, stop at the first failure, and say
what was done and what was not. A rerun plans again from what the vendors show, so it finishes the
job; creates go through the hooks' create paths, which never send a create twice and find a create
whose answer was lost (docs/monitors-as-code.md, "Apply")."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from airflow_provider_monitoring.as_code.model import canonical
from airflow_provider_monitoring.as_code.plan import CHANGES, Action, Plan, PlanError
from airflow_provider_monitoring.as_code.vendors import ADAPTERS

__all__ = ["ApplyReport", "apply_plan", "check_plan_shape", "check_saved_plan"]

PAST = {"create": "created", "update": "updated", "replace": "replaced", "pause": "paused", "adopt": "adopted",
        "delete": "deleted"}
# The parts of an action apply carries out: all of it, or (a replace) its removal or its create alone.
WHOLE, REMOVE, ADD = "whole", "remove", "add"


@dataclass
class ApplyReport:
    """What an apply did.

    :param done: The actions carried out, in order: ``{"action", "vendor", "key", "id"}`` (``id``
        is the new id for a create or a replace).
    :param failed: The action that failed, with ``error``; None when all went through.
    :param not_done: The actions not attempted after the failure.
    :param unchanged: How many monitors needed nothing.
    """

    done: list[dict[str, Any]] = field(default_factory=list)
    failed: dict[str, Any] | None = None
    not_done: list[dict[str, Any]] = field(default_factory=list)
    unchanged: int = 0

    @property
    def ok(self) -> bool:
        return self.failed is None

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "done": self.done, "failed": self.failed, "not_done": self.not_done,
                "unchanged": self.unchanged}

    def summary_line(self) -> str:
        counts: dict[str, int] = {}
        for item in self.done:
            counts[item["action"]] = counts.get(item["action"], 0) + 1
        done = ", ".join(f"{count} {PAST[kind]}" for kind, count in counts.items()) or "nothing changed"
        if self.ok:
            return f"Apply complete: {done}; {self.unchanged} unchanged."
        failed = self.failed or {}
        return (f"Apply stopped: {failed.get('action')} of {failed.get('vendor')} {failed.get('key')!r} failed; "
                f"done before it: {done}; not done: {len(self.not_done)} more. Run apply again to finish.")

    def render(self) -> str:
        lines = [f"  {PAST[item['action']]:<9} {item['vendor']} {item['key']!r} (id {item['id']})" for item in self.done]
        if self.failed is not None:
            lines.append(f"  FAILED    {self.failed['action']} of {self.failed['vendor']} {self.failed['key']!r}: "
                         f"{self.failed['error']}")
            lines += [f"  not done  {item['action']} of {item['vendor']} {item['key']!r}"
                      + (f" ({item['note']})" if item.get("note") else "") for item in self.not_done]
        lines.append(self.summary_line())
        return "\n".join(lines)


def _entry(action: Action, vendor_id: Any = None) -> dict[str, Any]:
    return {"action": action.kind, "vendor": action.vendor, "key": action.key,
            "id": action.vendor_id if vendor_id is None else vendor_id}


def ordered_steps(plan: Plan) -> list[tuple[Action, str]]:
    """The writes of ``plan`` in the order apply makes them, each as (action, part). First what
    frees a name or a website: the deletes (prune) and, on a vendor that allows one monitor per site
    (Diligent), every deactivation, the first half of each replace included; then the rest in file
    order. Two Diligent monitors that swap websites are thus both deactivated before either is
    created again: replaced one after the other, the first would meet the other's active one.

    :param plan: A plan from ``make_plan``.
    """
    def frees(action: Action) -> bool:
        return action.kind == "delete" or (ADAPTERS[action.vendor].one_per_site and action.kind in ("pause", "replace"))

    changes = [action for action in plan.actions if action.kind in CHANGES]
    first = [(action, REMOVE if action.kind == "replace" else WHOLE) for action in changes if frees(action)]
    then = [(action, ADD if frees(action) else WHOLE) for action in changes
            if not frees(action) or action.kind == "replace"]
    return first + then


def _not_done(steps: list[tuple[Action, str]], failed: Action, removed: set[int]) -> list[dict[str, Any]]:
    """The report's entries for the steps not attempted: one per action (a replace's removal is
    listed with its create), saying when a replace got as far as removing the old monitor."""
    entries = []
    for action, part in steps:
        if part == REMOVE or action is failed:
            continue
        entry = _entry(action)
        if id(action) in removed:
            entry["note"] = f"{action.vendor_id} is {_removed(action)} already; its replacement is not created yet"
        entries.append(entry)
    return entries


def _removed(action: Action) -> str:
    words = ADAPTERS[action.vendor].delete_words
    return PAST["delete"] if words == "delete" else f"{words}d"


def apply_plan(plan: Plan, hooks: Mapping[str, Any], echo: Callable[[str], None] | None = None) -> ApplyReport:
    """Carry out ``plan`` in the order of :func:`ordered_steps`. Stops at the first failure; the
    report says what was done. A plan with blocked monitors is refused before any write.

    :param plan: A plan from ``make_plan``.
    :param hooks: The hooks the plan was made with.
    :param echo: Called with a line per action done (progress), if given.
    """
    if plan.blocked:
        reasons = "; ".join(f"{a.vendor} {a.key!r}: {a.note}" for a in plan.blocked)
        raise PlanError(f"apply refused: {len(plan.blocked)} monitor(s) blocked, nothing was changed: {reasons}")
    steps = ordered_steps(plan)
    report = ApplyReport(unchanged=plan.count()["unchanged"])
    removed: set[int] = set()  # the replaces whose old monitor is gone, their new one still to come
    for index, (action, part) in enumerate(steps):
        try:
            vendor_id = carry_out(action, hooks[action.vendor], part)
        except Exception as exc:  # reported with what was done; the rerun finishes the job
            report.failed = {**_entry(action), "error": str(exc) or type(exc).__name__}
            report.not_done = _not_done(steps[index + 1:], action, removed)
            break
        if part == REMOVE:
            removed.add(id(action))
            continue
        report.done.append(_entry(action, vendor_id))
        if echo is not None:
            echo(f"{PAST[action.kind]} {action.vendor} {action.key!r} (id {vendor_id})")
    return report


def carry_out(action: Action, hook: Any, part: str = WHOLE) -> Any:
    """One action's writes; the id of the monitor it leaves (a new one for a create or replace).

    :param action: A change of the plan.
    :param hook: The hook of the action's vendor.
    :param part: ``whole``; or, for a replace, ``remove`` (the old monitor only) or ``add`` (the
        new one only, the old one being gone already).
    """
    adapter = ADAPTERS[action.vendor]
    if action.kind == "create":
        return adapter.create(hook, action.desired, action.marker)
    if action.kind == "delete" or (action.kind == "pause" and not adapter.updates_in_place):
        adapter.delete(hook, action.observed)  # Diligent pauses by deactivating
        return action.vendor_id
    if action.kind in ("update", "adopt", "pause"):
        adapter.update(hook, action.observed, action.desired, action.changes, action.marker)
        return action.vendor_id
    if action.kind == "replace":
        if part != ADD:
            adapter.delete(hook, action.observed)
        if part == REMOVE:
            return action.vendor_id
        try:
            return adapter.create(hook, action.desired, action.marker)
        except Exception as exc:
            exc.args = (f"{action.vendor_id} was {_removed(action)}, then creating its replacement failed: {exc}",)
            raise
    raise ValueError(f"no writes for a {action.kind!r} action")


def check_plan_shape(saved: Any) -> None:
    """Refuse what is not a saved plan (a file of something else, or a plan XCom rendered into
    text by a template) before it is read or any request is sent.

    :param saved: What was given as the saved plan.
    """
    if not isinstance(saved, Mapping) or "fingerprint" not in saved:
        raise PlanError(f"not a saved plan (the JSON form 'airflow-monitoring plan --out' writes, or the plan "
                        f"operator's XCom): got {type(saved).__name__} {str(saved)[:60]!r}")


def check_saved_plan(saved: Mapping[str, Any], fresh: Plan) -> None:
    """Refuse a saved plan (``plan --out``) that no longer describes what apply would do: the spec
    changed, or the vendors did (a fresh plan differs). Raises PlanError naming the difference.

    :param saved: The saved plan (``Plan.as_dict()``, read back from its file).
    :param fresh: A plan made now from the same spec.
    """
    check_plan_shape(saved)
    if saved.get("spec_digest") != fresh.spec.digest:
        raise PlanError("the saved plan is stale: the spec changed since it was saved; run plan again")
    if saved["fingerprint"] == fresh.fingerprint:
        return
    before = {(a.get("vendor"), a.get("key"), a.get("id")): a for a in saved.get("actions") or []}
    for action in fresh.actions:
        old = before.get((action.vendor, action.key, action.vendor_id))
        if old is None or canonical(old) != canonical(action.as_dict()):
            was = f"was {old.get('action')!r}" if old else "was not in the saved plan"
            raise PlanError(f"the saved plan is stale: the vendors changed since it was saved ({action.vendor} "
                            f"{action.key!r} is now {action.kind!r}, {was}); run plan again")
    raise PlanError("the saved plan is stale: the vendors changed since it was saved; run plan again")
