"""Encrata end to end: create a domain monitor, run it (the wait is deferred), export its results
to a JSON Lines file, and read the changed targets downstream."""

from __future__ import annotations

import json
import os
import tempfile

import pendulum
from airflow.sdk import dag, task

from airflow_provider_monitoring.operators.encrata import (
    EncrataCreateMonitorOperator,
    EncrataRunResultsOperator,
    EncrataTriggerRunOperator,
)

EXPORT_DIR = os.environ.get("ENCRATA_EXPORT_DIR", tempfile.gettempdir())


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False, tags=["example", "encrata"])
def example_encrata():
    create = EncrataCreateMonitorOperator(
        task_id="create_monitor",
        name="Domain portfolio",
        monitor_type="domain",
        targets=["example.com", "mysite.io", "shop.example.org", "blog.example.net"],
        frequency="weekly",
    )
    run = EncrataTriggerRunOperator(
        task_id="trigger_run",
        monitor_id=create.output,
        poll_interval=1,
        timeout=600,
        deferrable=True,
    )
    export = EncrataRunResultsOperator(
        task_id="export_results",
        monitor_id=create.output,
        run_id=run.output,
        output_path=os.path.join(EXPORT_DIR, "encrata_results_{{ run_id | replace(':', '_') }}.jsonl"),
    )

    @task
    def changed_targets(summary: dict) -> list[str]:
        with open(summary["path"]) as handle:
            records = [json.loads(line) for line in handle]
        assert len(records) == summary["records"]
        changed = [record["email"] for record in records if record.get("has_changes")]
        print(f"{len(changed)} of {len(records)} targets changed: {changed}")
        return changed

    changed_targets(export.output)


example_encrata()
