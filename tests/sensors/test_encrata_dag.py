"""EncrataRunSensor deferred inside whole DAGs: dag.test() runs the trigger in-process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

DAG_FILE = textwrap.dedent('''
    import pendulum
    from airflow.sdk import dag, task

    from airflow_provider_monitoring.sensors.encrata import EncrataRunSensor


    def build(dag_id, monitor_name, tags):
        @dag(dag_id=dag_id, schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False, tags=tags)
        def waiting():
            @task
            def start() -> dict:
                from airflow_provider_monitoring.hooks.encrata import EncrataHook

                hook = EncrataHook()
                monitor = hook.create_monitor(monitor_name, monitor_type="domain", targets=["example.com"])
                return {"monitor_id": monitor["id"], "run_id": hook.trigger_run(monitor["id"])["run_id"]}

            wait = EncrataRunSensor(
                task_id="wait",
                monitor_id="{{ ti.xcom_pull(task_ids='start')['monitor_id'] }}",
                run_id="{{ ti.xcom_pull(task_ids='start')['run_id'] }}",
                poll_interval=0.5, timeout=60, deferrable=True,
            )

            @task
            def check(run: dict) -> None:
                assert run["status"] == "success", run

            start() >> wait
            check(wait.output)

        return waiting()


    build("encrata_sensor_success", "sensor domains", ["test"])
    build("encrata_sensor_failure", "sensor fail demo", ["test", "failure-path"])
''')


def test_deferred_sensor_passes_a_successful_run_and_fails_a_failed_one(tmp_path):
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "encrata_sensor_dags.py").write_text(DAG_FILE)
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_monitoring.sandbox.demo", str(folder),
         "--airflow-home", str(tmp_path / "home")],
        capture_output=True, text=True, env=os.environ, timeout=600,
    )
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("encrata_")}
    report = result.stdout + result.stderr + (tmp_path / "home" / "demo.log").read_text()[-4000:]
    assert "3 tasks  success  as expected" in lines.get("encrata_sensor_success", ""), report
    assert "failed   as expected" in lines.get("encrata_sensor_failure", ""), report
    assert result.returncode == 0, report
    # Both waits really deferred, and dag.test() ran their triggers in-process.
    log = (tmp_path / "home" / "demo.log").read_text()
    assert log.count("Pausing task as DEFERRED") == 2, log[-2000:]
    assert log.count("running trigger in line") == 2, log[-2000:]
