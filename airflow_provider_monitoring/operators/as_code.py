"""Monitors as code in a DAG: plan, then apply, a YAML spec of Encrata, Diligent and Datafold
monitors (docs/monitors-as-code.md).

Importing this module costs little: the spec reader, the planner and the hooks are imported when a
task runs.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

from airflow.sdk import BaseOperator

__all__ = ["MonitorsApplyOperator", "MonitorsPlanOperator"]


def spec_location(spec_path: str, context: Any) -> str:
    """A relative ``spec_path`` is read beside the DAG file (a worker's working directory is
    anyone's guess); an absolute one as it is."""
    path = os.path.expanduser(str(spec_path))
    dag = context.get("dag") if hasattr(context, "get") else None
    fileloc = getattr(dag, "fileloc", None)
    if os.path.isabs(path) or not fileloc:
        return path
    return os.path.join(os.path.dirname(fileloc), path)


class _MonitorsOperator(BaseOperator):
    """What the plan and apply operators share: the spec, prune and the three connections."""

    template_fields: Sequence[str] = ("spec_path",)

    def __init__(self, *, spec_path: str, prune: bool = False, encrata_conn_id: str = "encrata_default",
                 diligent_conn_id: str = "diligent_default", datafold_conn_id: str = "datafold_default",
                 **kwargs: Any):
        from airflow_provider_monitoring.policies import default_retry_policy

        super().__init__(**default_retry_policy(kwargs))
        if not isinstance(prune, bool):
            raise ValueError(f"prune must be True or False, got {prune!r}")
        self.spec_path, self.prune = spec_path, prune
        self.encrata_conn_id, self.diligent_conn_id, self.datafold_conn_id = (
            encrata_conn_id, diligent_conn_id, datafold_conn_id)

    @property
    def conn_ids(self) -> dict[str, str]:
        return {"encrata": self.encrata_conn_id, "diligent": self.diligent_conn_id, "datafold": self.datafold_conn_id}


class MonitorsPlanOperator(_MonitorsOperator):
    """Plans a monitors-as-code spec: reads the vendors (read-only calls), logs the plan as
    ``airflow-monitoring plan`` prints it, and returns it as XCom (the ``--json`` form: ``actions``,
    ``summary``, ``has_changes``, ``fingerprint``...). Fails before any request on a bad spec, and
    when a monitor is blocked (apply could not carry the plan out).

    :param spec_path: The YAML spec (templated); a relative path is read beside the DAG file.
    :param prune: Plan deleting managed monitors that are no longer in the spec.
    :param encrata_conn_id: The Airflow connection to Encrata.
    :param diligent_conn_id: The Airflow connection to Diligent.
    :param datafold_conn_id: The Airflow connection to Datafold.
    """

    def execute(self, context: Any) -> dict:
        from airflow_provider_monitoring.as_code import PlanError
        from airflow_provider_monitoring.as_code.runner import plan_spec

        plan = plan_spec(spec_location(self.spec_path, context), self.prune, self.conn_ids)
        self.log.info("Plan of %s:\n%s", self.spec_path, plan.render())
        if plan.blocked:
            raise PlanError("; ".join(f"{a.vendor} {a.key!r} is blocked: {a.note}" for a in plan.blocked))
        return plan.as_dict()


class MonitorsApplyOperator(_MonitorsOperator):
    """Applies a monitors-as-code spec: plans afresh and carries the plan out, idempotently (a
    second apply changes nothing). Returns what changed: ``{"changed": [{"action", "vendor", "key",
    "id"}, ...], "unchanged": n}``. A failure half-way fails the task with what was done and what
    was not (also pushed as XCom ``apply_report``); a retry or a rerun finishes the job without
    duplicates.

    :param spec_path: The YAML spec (templated); a relative path is read beside the DAG file.
    :param prune: Delete managed monitors that are no longer in the spec.
    :param plan: A plan from ``MonitorsPlanOperator`` (templated, e.g. ``plan_task.output``): apply
        only if a fresh plan is the same, else fail without a write; its ``prune`` is used. None
        (default) applies whatever the fresh plan says.
    :param encrata_conn_id: The Airflow connection to Encrata.
    :param diligent_conn_id: The Airflow connection to Diligent.
    :param datafold_conn_id: The Airflow connection to Datafold.
    """

    template_fields: Sequence[str] = ("spec_path", "plan")

    def __init__(self, *, spec_path: str, prune: bool = False, plan: Any = None, **kwargs: Any):
        super().__init__(spec_path=spec_path, prune=prune, **kwargs)
        self.plan = plan

    def execute(self, context: Any) -> dict:
        from airflow.sdk.exceptions import AirflowException

        from airflow_provider_monitoring.as_code.runner import apply_spec

        plan, report = apply_spec(spec_location(self.spec_path, context), self.prune, self.conn_ids,
                                  saved_plan=self.plan or None, echo=self.log.info)
        self.log.info("Plan of %s:\n%s\n%s", self.spec_path, plan.render(), report.render())
        if not report.ok:
            context["ti"].xcom_push(key="apply_report", value=report.as_dict())
            raise AirflowException(f"{report.summary_line()} The error: {report.failed['error']}")
        return {"changed": report.done, "unchanged": report.unchanged}
