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

__all__ = ["ApplyReport", "apply_plan", "check_saved_plan"]

PAST = {"create": "created", "update": "updated", "replace": "replaced", "pause": "paused", "adopt": "adopted",
        "delete": "deleted"}


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
            lines += [f"  not done  {item['action']} of {item['vendor']} {item['key']!r}" for item in self.not_done]
        lines.append(self.summary_line())
        return "\n".join(lines)


def _entry(action: Action, vendor_id: Any = None) -> dict[str, Any]:
    return {"action": action.kind, "vendor": action.vendor, "key": action.key,
            "id": action.vendor_id if vendor_id is None else vendor_id}


def apply_plan(plan: Plan, hooks: Mapping[str, Any], echo: Callable[[str], None] | None = None) -> ApplyReport:
    """Carry out ``plan``: deletes (prune) first, so a website or name they free can be used, then
    the spec's monitors in file order. Stops at the first failure; the report says what was done.
    A plan with blocked monitors is refused before any write.

    :param plan: A plan from ``make_plan``.
    :param hooks: The hooks the plan was made with.
    :param echo: Called with a line per action done (progress), if given.
    """
    if plan.blocked:
        reasons = "; ".join(f"{a.vendor} {a.key!r}: {a.note}" for a in plan.blocked)
        raise PlanError(f"apply refused: {len(plan.blocked)} monitor(s) blocked, nothing was changed: {reasons}")
    todo = [a for a in plan.actions if a.kind == "delete"] + [a for a in plan.actions
                                                              if a.kind in CHANGES and a.kind != "delete"]
    report = ApplyReport(unchanged=plan.count()["unchanged"])
    for index, action in enumerate(todo):
        try:
            vendor_id = carry_out(action, hooks[action.vendor])
        except Exception as exc:  # reported with what was done; the rerun finishes the job
            report.failed = {**_entry(action), "error": str(exc) or type(exc).__name__}
            report.not_done = [_entry(rest) for rest in todo[index + 1:]]
            break
        report.done.append(_entry(action, vendor_id))
        if echo is not None:
            echo(f"{PAST[action.kind]} {action.vendor} {action.key!r} (id {vendor_id})")
    return report


def carry_out(action: Action, hook: Any) -> Any:
    """One action's writes; the id of the monitor it leaves (a new one for a create or replace).

    :param action: A change of the plan.
    :param hook: The hook of the action's vendor.
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
        adapter.delete(hook, action.observed)
        try:
            return adapter.create(hook, action.desired, action.marker)
        except Exception as exc:
            exc.args = (f"{action.vendor_id} was {PAST['delete'] if adapter.delete_words == 'delete' else 'deactivated'}"
                        f", then creating its replacement failed: {exc}",)
            raise
    raise ValueError(f"no writes for a {action.kind!r} action")


def check_saved_plan(saved: Mapping[str, Any], fresh: Plan) -> None:
    """Refuse a saved plan (``plan --out``) that no longer describes what apply would do: the spec
    changed, or the vendors did (a fresh plan differs). Raises PlanError naming the difference.

    :param saved: The saved plan (``Plan.as_dict()``, read back from its file).
    :param fresh: A plan made now from the same spec.
    """
    if not isinstance(saved, Mapping) or "fingerprint" not in saved:
        raise PlanError("the saved plan is not a plan file written by 'airflow-monitoring plan --out'")
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
