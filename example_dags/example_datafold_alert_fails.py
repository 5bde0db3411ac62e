"""The failure path: a Datafold data diff whose run ends in ``alert`` fails its gate.

The sandbox's rule makes monitors named "*alert demo*" end in alert, so this DAG is meant to end
failed; its "failure-path" tag tells the demo so. ``on_alert="fail"`` is the default of the gate.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag

from airflow_provider_monitoring.operators.datafold import DatafoldCreateMonitorOperator, DatafoldRunMonitorOperator


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False, tags=["example", "failure-path"])
def example_datafold_alert_fails():
    create = DatafoldCreateMonitorOperator(task_id="create_replica_diff", monitor_type="diff", spec={
        "name": "orders replica alert demo",
        "schedule": {"type": "none"},
        "datadiff": {
            "diff_type": "inmem",
            "dataset_a": {"connection_id": 11, "table": "PROD.SALES.ORDERS"},
            "dataset_b": {"connection_id": 12, "table": "analytics.sales.orders"},
            "primary_key": ["order_id"],
        },
        "alert": {"different_rows_count": 0},
    })
    DatafoldRunMonitorOperator(task_id="gate", monitor_id=create.output, on_alert="fail", poll_interval=1)


example_datafold_alert_fails()
