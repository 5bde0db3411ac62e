"""Monitors as code: one YAML spec declares monitors of the three vendors; ``plan`` says what would
change (read-only), ``apply`` makes it so, idempotently. Only monitors the spec manages (the
ownership marker, docs/monitors-as-code.md) are ever changed or deleted; deleting needs ``prune``.

    spec = load_spec("monitors.yaml")
    hooks = make_hooks(spec.vendors)
    plan = make_plan(spec, hooks)
    print(plan.render())
    report = apply_plan(plan, hooks)

The command line is ``airflow-monitoring plan|apply SPEC`` (``as_code.cli``); the operators are
``MonitorsPlanOperator`` and ``MonitorsApplyOperator`` (``operators.as_code``).
"""

from __future__ import annotations

from airflow_provider_monitoring.as_code.apply import ApplyReport, apply_plan, check_saved_plan
from airflow_provider_monitoring.as_code.plan import Action, Plan, PlanError, make_hooks, make_plan
from airflow_provider_monitoring.as_code.spec import MonitorSpec, Spec, SpecError, load_spec, parse_spec

__all__ = [
    "Action", "ApplyReport", "MonitorSpec", "Plan", "PlanError", "Spec", "SpecError", "apply_plan",
    "check_saved_plan", "load_spec", "make_hooks", "make_plan", "parse_spec",
]
