"""One monitor per vendor, created, run and read back through the hooks.

Runs anywhere the three default connections point (the offline sandbox in the demo). It shows the
hooks on their own, so waiting is a short poll inside the task; the operators and sensors of the
other examples wait in the triggerer instead.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from monitoring_example_wait import wait_until  # example_dags/ is on sys.path, as Airflow puts the DAGs folder there


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False, tags=["example", "monitoring"])
def example_monitoring_hooks():
    @task
    def encrata_domain_changes() -> dict:
        from airflow_provider_monitoring.hooks.encrata import EncrataHook

        hook = EncrataHook()
        monitor = hook.create_monitor("Domain portfolio", monitor_type="domain",
                                      targets=["example.com", "mysite.io"], frequency="weekly")
        run_id = hook.trigger_run(monitor["id"])["run_id"]
        run = wait_until(lambda: hook.get_run(monitor["id"], run_id),
                         lambda r: r["status"] not in ("pending", "queued", "running"), "Encrata run")
        if run["status"] not in ("success", "completed"):
            raise RuntimeError(f"Encrata run ended {run['status']!r}")
        changed = list(hook.get_run_results(monitor["id"], run_id, changes_only=True))
        return {"run_id": run_id, "status": run["status"], "changed_targets": [r["email"] for r in changed]}

    @task
    def diligent_website_execution() -> dict:
        from airflow_provider_monitoring.hooks.diligent import DiligentHook

        hook = DiligentHook()
        started = pendulum.now("UTC").subtract(seconds=5)
        monitoring = hook.create_monitoring("https://hooks-demo.example.com", checks=["non_operational_website"])
        execution = wait_until(
            lambda: next(iter(hook.list_executions(start=started, monitoring_id=monitoring["id"])), None),
            lambda e: e is not None, "Diligent execution")
        alerts = list(hook.list_alerts(monitoring_id=monitoring["id"]))
        return {"execution_id": execution["id"], "alert_count": execution["alert_count"], "alerts": len(alerts)}

    @task
    def datafold_row_count() -> dict:
        from airflow_provider_monitoring.hooks.datafold import DatafoldHook

        hook = DatafoldHook()
        monitor_id = hook.create_monitor("metric", {
            "name": "orders row count",
            "connection_id": 11,
            "metric": {"type": "table", "table": "PROD.SALES.ORDERS", "metric": "row_count"},
            "alert": {"type": "automatic", "sensitivity": 50},
            "schedule": {"type": "none"},
        })
        run_id = hook.run_monitor(monitor_id)
        run = wait_until(lambda: hook.get_monitor_run(monitor_id, run_id),
                         lambda r: r["state"] not in (None, "created", "queued", "checking"), "Datafold run")
        if run["state"] != "ok":
            raise RuntimeError(f"Datafold run ended {run['state']!r}: {run.get('error')}")
        return {"monitor_id": monitor_id, "run_id": run_id, "state": run["state"]}

    encrata_domain_changes()
    diligent_website_execution()
    datafold_row_count()


example_monitoring_hooks()
