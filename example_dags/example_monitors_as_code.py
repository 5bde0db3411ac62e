"""Monitors as code: plan the spec beside this file (monitors.yaml), then apply exactly that plan.

The plan task reads the three vendors and returns the plan (create / update / pause / delete /
unchanged per monitor) as XCom; the apply task applies it only if nothing changed in between (a
fresh plan must be the same), and returns what it changed. A second run changes nothing. The same
from a shell: ``airflow-monitoring plan example_dags/monitors.yaml`` (docs/monitors-as-code.md).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag

from airflow_provider_monitoring.operators.as_code import MonitorsApplyOperator, MonitorsPlanOperator


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False, tags=["example", "as-code"])
def example_monitors_as_code():
    plan = MonitorsPlanOperator(task_id="plan", spec_path="monitors.yaml")
    MonitorsApplyOperator(task_id="apply", spec_path="monitors.yaml", plan=plan.output)


example_monitors_as_code()
