"""Diligent end to end: onboard websites in bulk, wait for the first execution of one, collect its
alerts and acknowledge them.

The wait starts in the triggerer and never takes a worker slot (``start_from_trigger=True``, Airflow
>= 3.3): its ids are Jinja templates, which the triggerer renders. Under ``dag.test()`` (``make
demo``) it starts on a worker and defers, as it does on an older Airflow.

The sandbox's default rules make "alert-demo" websites raise alerts, so there is something to collect.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from airflow_provider_monitoring.operators.diligent import (
    DiligentAlertsOperator,
    DiligentBulkCreateMonitoringsOperator,
)
from airflow_provider_monitoring.sensors.diligent import DiligentExecutionSensor

WEBSITES = ["https://shop.example.com", "https://alert-demo.example.com", "https://store.example.org"]
WATCHED = "alert-demo.example.com"


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False, tags=["example", "diligent"])
def example_diligent():
    onboard = DiligentBulkCreateMonitoringsOperator(
        task_id="onboard", websites=WEBSITES, checks=["non_operational_website", "high_risk_mcc"],
    )

    @task
    def watched_monitoring(onboarded: dict) -> str:
        return next(m["id"] for m in onboarded["created"] if WATCHED in (m["website"] or ""))

    monitoring_id = watched_monitoring(onboard.output)
    first_execution = DiligentExecutionSensor(
        task_id="first_execution",
        # Templates, not monitoring_id itself: an XComArg is resolved on a worker only, which would
        # start the task there instead (start_from_trigger falls back to the worker path). The
        # pulls name map_indexes=-1: Airflow 3.3.2's triggerer answers only single-XCom pulls
        # (README, "Sensors that never take a worker slot").
        monitoring_id="{{ ti.xcom_pull(task_ids='watched_monitoring', map_indexes=-1) }}",
        start_from_trigger=True,
        retries=1,  # a retry waits for the same execution again (see README, "Waiting for a run")
        retry_delay=timedelta(seconds=2),
        # The onboarding time: the first execution may come before this task starts.
        executed_after="{{ ti.xcom_pull(task_ids='onboard', map_indexes=-1)['requested_at'] }}",
        on_alert="succeed",  # alerts are what this DAG is here to collect
        poll_interval=1,
        timeout=600,
        deferrable=True,
    )
    # Every alert of the monitoring, acknowledged or not: example_events_diligent's watcher may have
    # handled and acknowledged them already (in `make airflow`, where both run).
    alerts = DiligentAlertsOperator(task_id="collect_and_acknowledge", monitoring_id=monitoring_id,
                                    only_unacknowledged=False, acknowledge=True)

    @task
    def report(collected: list[dict]) -> int:
        for alert in collected:
            checks = [check["check"] for check in alert.get("failed_checks", [])]
            print(f"{alert['website']}: failed {checks}")
        assert collected, "the alert-demo website raised no alert"
        return len(collected)

    monitoring_id >> first_execution >> alerts
    report(alerts.output)


example_diligent()
