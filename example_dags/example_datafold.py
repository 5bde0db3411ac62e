"""A Datafold data-quality gate: run a monitor, wait deferred, continue only on ``ok``.

Two gates side by side: the orders row-count monitor passes and its downstream task runs; the
replica diff (named "alert demo", which the sandbox's default rules make end in ``alert``) uses
``on_alert="skip"``, so its downstream task is skipped rather than the DAG failing.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from airflow_provider_monitoring.operators.datafold import (
    DatafoldCreateMonitorOperator,
    DatafoldRunMonitorOperator,
    DatafoldRunResultsOperator,
)

ORDERS_ROW_COUNT = {
    "name": "orders row count",
    "connection_id": 11,
    "metric": {"type": "table", "table": "PROD.SALES.ORDERS", "metric": "row_count"},
    "alert": {"type": "automatic", "sensitivity": 50},
    "schedule": {"type": "none"},
}
REPLICA_DIFF = {
    "name": "orders replica alert demo",
    "schedule": {"type": "none"},
    "datadiff": {
        "diff_type": "inmem",
        "primary_key": ["order_id"],
        "dataset_a": {"connection_id": 11, "table": "PROD.SALES.ORDERS"},
        "dataset_b": {"connection_id": 12, "table": "analytics.sales.orders"},
    },
    "alert": {"different_rows_count": 0},
}


RETRY_ONCE = {"retries": 1, "retry_delay": timedelta(seconds=2)}

@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False, tags=["example", "datafold"])
def example_datafold():
    @task
    def publish(table: str) -> str:
        print(f"{table} passed its data-quality gate; publishing")
        return table

    rows = DatafoldCreateMonitorOperator(task_id="create_row_count", monitor_type="metric", spec=ORDERS_ROW_COUNT)
    # retries=1 costs nothing: a retry resumes the run its first try started (README, "Retries and
    # crashes"), so Airflow 3.3.2's resume race (README, "Waiting for a run") cannot fail the gate.
    rows_gate = DatafoldRunMonitorOperator(task_id="gate_row_count", monitor_id=rows.output,
                                           poll_interval=1, timeout=600, deferrable=True, **RETRY_ONCE)
    rows_gate >> publish.override(task_id="publish_orders")("PROD.SALES.ORDERS")

    replica = DatafoldCreateMonitorOperator(task_id="create_replica_diff", monitor_type="diff", spec=REPLICA_DIFF)
    replica_gate = DatafoldRunMonitorOperator(task_id="gate_replica_diff", monitor_id=replica.output,
                                              on_alert="skip", poll_interval=1, timeout=600, deferrable=True,
                                              **RETRY_ONCE)
    # The gate pushes its run id (key "run_id") before it waits, so the results can be read even
    # when the gate skipped on an alert.
    results = DatafoldRunResultsOperator(
        task_id="replica_results", monitor_id=replica.output, trigger_rule="all_done",
        run_id="{{ ti.xcom_pull(task_ids='gate_replica_diff', key='run_id') }}",
    )
    replica_gate >> publish.override(task_id="publish_replica")("analytics.sales.orders")
    replica_gate >> results


example_datafold()
