"""The README's main command, end to end: every example DAG through dag.test() against the sandbox."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "example_dags"


def test_demo_runs_every_example_dag_and_each_ends_as_meant(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_monitoring.sandbox.demo", str(EXAMPLES),
         "--airflow-home", str(tmp_path / "airflow-home")],
        capture_output=True, text=True, env=os.environ, timeout=600,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("example_")}
    assert set(lines) == {
        "example_monitoring_hooks", "example_datafold_alert_fails", "example_encrata", "example_datafold",
        "example_diligent", "example_events_diligent", "example_events_encrata", "example_events_datafold",
        "example_monitors_as_code", "example_datafold_quality_report",
    }, report
    assert "5 tasks  success  as expected" in lines["example_diligent"]
    assert "7 tasks  success  as expected" in lines["example_datafold"]
    assert "3 tasks  success  as expected" in lines["example_monitoring_hooks"]
    # Plan, then apply that plan: the spec beside the DAG is read, its four monitors created.
    assert "2 tasks  success  as expected" in lines["example_monitors_as_code"]
    # Started by no event under dag.test(): each runs once and has nothing to handle.
    for dag_id in ("example_events_diligent", "example_events_encrata", "example_events_datafold",
                   "example_datafold_quality_report"):
        assert "success  as expected" in lines[dag_id], report
    assert "4 tasks  success  as expected" in lines["example_encrata"]
    assert "failed   as expected (demonstrates a failure path)" in lines["example_datafold_alert_fails"]
    # example_encrata's run wait deferred, and dag.test() ran the trigger in-process.
    log = (tmp_path / "airflow-home" / "demo.log").read_text()
    assert re.search(r"Pausing task as DEFERRED\.\s+\[task\] dag_id=example_encrata", log)
    assert "running trigger in line" in log
    # example_datafold's two gates both deferred; the alerting one skipped its downstream task.
    assert len(re.findall(r"Pausing task as DEFERRED\.\s+\[task\] dag_id=example_datafold ", log)) == 2
    assert "new_state=skipped" in log
    assert re.search(r"Pausing task as DEFERRED\.\s+\[task\] dag_id=example_diligent ", log)


def test_demo_fails_on_a_folder_without_dags(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_monitoring.sandbox.demo", str(tmp_path / "nothing-here"),
         "--airflow-home", str(tmp_path / "airflow-home")],
        capture_output=True, text=True, env=os.environ, timeout=300,
    )
    assert result.returncode == 1 and "no DAG found" in result.stdout
