"""Encrata end to end: create a domain monitor, run it (the wait is deferred), export its results
to a JSON Lines file, and read the changed targets downstream.

Where the export goes: ``$AIRFLOW_HOME/monitoring-exports/example_encrata/<run id>/results.jsonl``
(``~/airflow/...`` when ``AIRFLOW_HOME`` is unset; ``.airflow/demo/...`` under ``make demo``), one
folder per DAG run (named after the run id, with characters other than letters, digits, ``.``,
``_`` and ``-`` made ``_``), in the Airflow home of the worker that runs the export. Nothing is written
elsewhere, and nothing is deleted: remove old run folders when you no longer need them. The path
is computed when the export task renders its templates, at run time on the worker, never when the
DAG file is parsed. It is a ``file://`` URI, which the export operator opens as an
``ObjectStoragePath``: make ``export_path`` return ``s3://bucket/...`` (or any other object
storage URI) and the export and the downstream read work unchanged.
"""

from __future__ import annotations

import json
import os
import re
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import ObjectStoragePath, dag, task

from airflow_provider_monitoring.operators.encrata import (
    EncrataCreateMonitorOperator,
    EncrataRunResultsOperator,
    EncrataTriggerRunOperator,
)

EXPORTS_FOLDER = "monitoring-exports"


def export_path(dag_id: str, run_id: str, file_name: str) -> str:
    """``file://$AIRFLOW_HOME/monitoring-exports/<dag_id>/<run_id>/<file_name>``, its folder made.

    A template macro (see ``user_defined_macros`` below), so it runs when the task renders its
    templates, in the task's own process and Airflow home."""
    home = Path(os.path.expandvars(os.environ.get("AIRFLOW_HOME") or "~/airflow")).expanduser().absolute()
    run_folder = re.sub(r"[^A-Za-z0-9._-]", "_", run_id)  # run ids hold ':' and '+'
    folder = ObjectStoragePath(home.as_uri()) / EXPORTS_FOLDER / dag_id / run_folder
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / file_name)


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1),
    catchup=False,
    tags=["example", "encrata"],
    user_defined_macros={"export_path": export_path},
)
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
        # A retry resumes this task's own run, paying nothing more (README, "Retries and crashes").
        retries=1,
        retry_delay=timedelta(seconds=2),
        poll_interval=1,
        timeout=600,
        deferrable=True,
    )
    export = EncrataRunResultsOperator(
        task_id="export_results",
        monitor_id=create.output,
        run_id=run.output,
        output_path="{{ export_path(dag.dag_id, run_id, 'results.jsonl') }}",
    )

    @task
    def changed_targets(summary: dict) -> list[str]:
        print(f"reading the export at {summary['path']}")
        with ObjectStoragePath(summary["path"]).open("rb") as handle:
            records = [json.loads(line) for line in handle]
        assert len(records) == summary["records"]
        changed = [record["email"] for record in records if record.get("has_changes")]
        print(f"{len(changed)} of {len(records)} targets changed: {changed}")
        return changed

    changed_targets(export.output)


example_encrata()
