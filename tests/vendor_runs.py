"""Monitors and runs started in the sandbox (the ``monitoring_sandbox`` fixture), for the tests of
each vendor's operators, sensors and triggers: what a test needs before the part it tests waits."""

from __future__ import annotations

from datetime import datetime, timezone

from airflow_provider_monitoring.hooks.datafold import DatafoldHook
from airflow_provider_monitoring.hooks.encrata import EncrataHook
from airflow_provider_monitoring.operators.diligent import DiligentCreateMonitoringOperator
from airflow_provider_monitoring.sensors.diligent import DiligentExecutionSensor
from tests.datafold_specs import MANUAL_METRIC_SPEC
from tests.standins import poke_until_done, task_context

# Where each vendor's runs are started (what a test counts to know how many runs were paid for).
RUN_POSTS = {"encrata": "/encrata/api/monitors/*/run", "datafold": "/datafold/api/v1/monitors/*/run"}

# ---- Encrata --------------------------------------------------------------------------------


def start_encrata_run(name: str) -> tuple[str, str]:
    """A new domain monitor and a run of it: (monitor id, run id)."""
    hook = EncrataHook()
    monitor = hook.create_monitor(name, monitor_type="domain", targets=["example.com", "mysite.io"])
    return monitor["id"], hook.trigger_run(monitor["id"])["run_id"]


# ---- Datafold -------------------------------------------------------------------------------

DATAFOLD_RUN_PATH = "/datafold/api/v1/monitors/*/runs/*"


def start_datafold_run(spec: dict = MANUAL_METRIC_SPEC, monitor_type: str = "metric") -> tuple[int, int]:
    """A new monitor from ``spec`` and a run of it: (monitor id, run id)."""
    hook = DatafoldHook()
    monitor_id = hook.create_monitor(monitor_type, spec)
    return monitor_id, hook.run_monitor(monitor_id)


# ---- Diligent -------------------------------------------------------------------------------

DILIGENT_CHECKS = ["non_operational_website", "high_risk_mcc"]


def create_diligent_monitoring(website: str, **kwargs) -> str:
    """A monitoring of ``website`` made by the create operator (which runs it at once): its id."""
    return DiligentCreateMonitoringOperator(task_id="create", website=website, checks=DILIGENT_CHECKS,
                                            **kwargs).execute(task_context())


def start_diligent_monitoring(website: str) -> tuple[str, str]:
    """A monitoring of ``website`` and the time just before it was made: (its id, the time, ISO)."""
    before = datetime.now(timezone.utc).isoformat()
    return create_diligent_monitoring(website), before


def wait_for_diligent_execution(monitoring_id: str, executed_after: str, **kwargs):
    """What the Diligent sensor returns once the next execution after ``executed_after`` came."""
    sensor = DiligentExecutionSensor(task_id="wait", monitoring_id=monitoring_id, executed_after=executed_after,
                                     poll_interval=0.1, deferrable=False, **kwargs)
    return poke_until_done(sensor, limit=15)[0].xcom_value
