"""Plan and apply a spec file in one call: what the command line and the operators share."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

from airflow_provider_monitoring.as_code.apply import ApplyReport, apply_plan, check_plan_shape, check_saved_plan
from airflow_provider_monitoring.as_code.plan import Plan, PlanError, make_hooks, make_plan
from airflow_provider_monitoring.as_code.spec import load_spec

__all__ = ["apply_spec", "plan_spec"]


def plan_spec(path: str | Path, prune: bool = False, conn_ids: Mapping[str, str] | None = None) -> Plan:
    """Check the spec (no request), then read the vendors and plan.

    :param path: The spec file.
    :param prune: Plan deleting managed monitors that are not in the spec.
    :param conn_ids: Connection ids by vendor (default: ``<vendor>_default``).
    """
    spec = load_spec(path)
    hooks = make_hooks(spec.vendors, conn_ids)
    return make_plan(spec, hooks, prune)


def apply_spec(
    path: str | Path,
    prune: bool = False,
    conn_ids: Mapping[str, str] | None = None,
    saved_plan: Mapping[str, Any] | None = None,
    echo: Callable[[str], None] | None = None,
) -> tuple[Plan, ApplyReport]:
    """Plan afresh and carry the plan out. With ``saved_plan`` (a plan's ``as_dict()``), its
    ``prune`` is used and apply is refused unless the fresh plan is the same (PlanError).

    :param path: The spec file.
    :param prune: Delete managed monitors that are not in the spec. With ``saved_plan``, the saved
        plan's choice is used, and True with a plan saved without prune is refused (PlanError).
    :param conn_ids: Connection ids by vendor (default: ``<vendor>_default``).
    :param saved_plan: A plan saved earlier, to apply only if nothing changed since.
    :param echo: Called with a line per action done.
    """
    spec = load_spec(path)
    if saved_plan is not None:
        check_plan_shape(saved_plan)
        if prune and not saved_plan.get("prune"):
            raise PlanError("prune asked for, but the saved plan was made without it (it deletes nothing): "
                            "plan again with prune")
        prune = bool(saved_plan.get("prune"))
    hooks = make_hooks(spec.vendors, conn_ids)
    plan = make_plan(spec, hooks, prune)
    if saved_plan is not None:
        check_saved_plan(saved_plan, plan)
    return plan, apply_plan(plan, hooks, echo)
