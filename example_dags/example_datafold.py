"""A Datafold data-quality gate: run a monitor, wait deferred, continue only on ``ok``.

Two gates side by side: the orders row-count monitor passes and its downstream task runs; the
replica diff (named "alert demo", which the sandbox's default rules make end in ``alert``) uses
``on_alert="skip"``, so its downstream task is skipped rather than the DAG failing.

The row-count gate names the asset alias ``datafold_quality_gates`` among its outlets: when it
passes, Airflow records an event of the monitor's own asset (``datafold://<host>/monitors/<id>``)
with the gate's ``monitoring_result`` in its extra, and ``example_datafold_quality_report``,
scheduled on that alias, runs and reads it from ``triggering_asset_events``.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import AssetAlias, dag, task

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
# Where passing gates announce their monitors (a monitor created at run time has no id to name in
# the DAG file; a gate on a known monitor can name datafold_monitor_asset(<id>) instead).
QUALITY_GATES = AssetAlias("datafold_quality_gates")

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
                                           poll_interval=1, timeout=600, deferrable=True,
                                           outlets=[QUALITY_GATES], **RETRY_ONCE)
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


@dag(schedule=[QUALITY_GATES], start_date=pendulum.datetime(2026, 1, 1), catchup=False,
     tags=["example", "datafold"])
def example_datafold_quality_report():
    @task
    def report(triggering_asset_events=None) -> list[dict]:
        from airflow_provider_monitoring.assets import monitor_of
        from airflow_provider_monitoring.results import validate_result

        # Keyed by the alias and by the asset it resolved to, so one event may be listed twice;
        # each event names its own asset.
        events = {(e.asset.uri, e.timestamp): e for listed in triggering_asset_events.values() for e in listed}
        seen = []
        for event in events.values():
            result = validate_result(event.extra["monitoring_result"])
            print(f"{event.asset.uri}: monitor {monitor_of(event.asset.uri).monitor_id} run {result['run_id']} "
                  f"{result['outcome']}, {result['counts']['findings']} findings")
            seen.append({"uri": event.asset.uri, "run_id": result["run_id"], "outcome": result["outcome"]})
        return seen

    report()


example_datafold_quality_report()
