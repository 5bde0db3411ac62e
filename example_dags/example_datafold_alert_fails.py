"""The failure path: a Datafold data diff whose run ends in ``alert`` fails its task.

The demo's sandbox rule makes monitors named "*alert demo*" end in alert, so this DAG is meant to
end failed; its "failure-path" tag tells the demo so.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from monitoring_example_wait import wait_until  # example_dags/ is on sys.path, as Airflow puts the DAGs folder there



@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False, tags=["example", "failure-path"])
def example_datafold_alert_fails():
    @task
    def diff_orders_replica() -> int:
        from airflow_provider_monitoring.hooks.datafold import DatafoldHook

        hook = DatafoldHook()
        monitor_id = hook.create_monitor("diff", {
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
        run_id = hook.run_monitor(monitor_id)
        run = wait_until(lambda: hook.get_monitor_run(monitor_id, run_id),
                         lambda r: r["state"] not in (None, "created", "queued", "checking"), "Datafold run")
        if run["state"] == "alert":
            summary = hook.get_data_diff_summary(run["diff_id"]) if run.get("diff_id") else {}
            raise RuntimeError(f"data diff alert on monitor {monitor_id}: {summary.get('diff_stats')}")
        return run_id

    diff_orders_replica()


example_datafold_alert_fails()
