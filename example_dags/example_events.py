"""DAGs started by vendor events: an Asset per vendor, watched by this provider's event triggers
(README, "Event-driven DAGs").

- ``example_events_diligent``: each new Diligent alert starts it; it handles the alerts, then
  acknowledges them, last, so an alert whose handling failed stays open (a website whose address
  holds "unfixable" cannot be fixed here, on purpose).
- ``example_events_encrata``: each Encrata run that ended with changes starts it; it exports the
  changed records of each run.
- ``example_events_datafold``: each Datafold run of the watched monitors that ended ``alert`` or
  ``error`` starts it; it reports them.

The watchers poll every 30 s (the floor). In ``make airflow`` the sandbox raises alerts and
finishes runs on request (docs/sandbox.md, "Events on request"), so each DAG can be seen starting.
Under ``dag.test()`` (``make demo``) they run once with no event, and do nothing.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pendulum
from airflow.sdk import Asset, AssetWatcher, dag, task
from airflow.sdk import ObjectStoragePath

from airflow_provider_monitoring.events import vendor_events
from airflow_provider_monitoring.operators.diligent import DiligentAcknowledgeAlertsOperator
from airflow_provider_monitoring.operators.encrata import EncrataRunResultsOperator
from airflow_provider_monitoring.triggers.datafold import DatafoldRunEventTrigger
from airflow_provider_monitoring.triggers.diligent import DiligentAlertEventTrigger
from airflow_provider_monitoring.triggers.encrata import EncrataRunEventTrigger

START = pendulum.datetime(2026, 1, 1)
POLL = 30  # seconds; the floor (README, "Event-driven DAGs")
# The Datafold monitors watched: ids are known when the DAG is parsed (kwargs are the watcher's
# identity). In the sandbox, 1 and 2 are the monitors the first example_datafold run creates.
DATAFOLD_MONITORS = [1, 2]

DILIGENT_ALERTS = Asset(
    "diligent_alerts", watchers=[AssetWatcher("diligent_alerts", trigger=DiligentAlertEventTrigger(poll_interval=POLL))]
)
ENCRATA_CHANGES = Asset(
    "encrata_changes",
    watchers=[AssetWatcher("encrata_changes", trigger=EncrataRunEventTrigger(only_changes=True, poll_interval=POLL))],
)
DATAFOLD_FAILURES = Asset(
    "datafold_failures",
    watchers=[AssetWatcher("datafold_failures", trigger=DatafoldRunEventTrigger(
        DATAFOLD_MONITORS, states=["alert", "error"], poll_interval=POLL))],
)


@dag(schedule=[DILIGENT_ALERTS], start_date=START, catchup=False, tags=["example", "events", "diligent"])
def example_events_diligent():
    @task
    def handle(triggering_asset_events=None) -> list[str]:
        alerts = vendor_events(triggering_asset_events, "diligent", "alert")
        for alert in alerts:
            website = alert["object"].get("website") or ""
            checks = [check.get("name") for check in alert["object"].get("failed_checks") or []]
            if "unfixable" in website:
                raise RuntimeError(f"alert {alert['alert_id']} on {website} cannot be handled here; it stays open")
            print(f"handled alert {alert['alert_id']} on {website}: {checks}")
        return [alert["alert_id"] for alert in alerts]

    # Last: only once every alert was handled; by default the alerts of the events that started the run.
    handle() >> DiligentAcknowledgeAlertsOperator(task_id="acknowledge")


EXPORTS_FOLDER = "monitoring-exports"


def export_path(dag_id: str, run_id: str, file_name: str) -> str:
    """``file://$AIRFLOW_HOME/monitoring-exports/<dag_id>/<run_id>/<file_name>``, its folder made
    (a template macro, as in example_encrata)."""
    home = Path(os.path.expandvars(os.environ.get("AIRFLOW_HOME") or "~/airflow")).expanduser().absolute()
    folder = ObjectStoragePath(home.as_uri()) / EXPORTS_FOLDER / dag_id / re.sub(r"[^A-Za-z0-9._-]", "_", run_id)
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / file_name)


@dag(schedule=[ENCRATA_CHANGES], start_date=START, catchup=False, tags=["example", "events", "encrata"],
     user_defined_macros={"export_path": export_path})
def example_events_encrata():
    @task
    def changed_runs(triggering_asset_events=None) -> list[dict]:
        return [{"monitor_id": run["monitor_id"], "run_id": run["run_id"]}
                for run in vendor_events(triggering_asset_events, "encrata", "run")]

    EncrataRunResultsOperator.partial(
        task_id="export_changes",
        changes_only=True,
        output_path="{{ export_path(dag.dag_id, run_id, 'changes-' ~ ti.map_index ~ '.jsonl') }}",
    ).expand_kwargs(changed_runs())


@dag(schedule=[DATAFOLD_FAILURES], start_date=START, catchup=False, tags=["example", "events", "datafold"])
def example_events_datafold():
    @task
    def report(triggering_asset_events=None) -> list[str]:
        lines = [f"Datafold monitor {run['monitor_id']} run {run['run_id']} ended {run['vendor_state']!r}: {run['url']}"
                 for run in vendor_events(triggering_asset_events, "datafold", "run")]
        for line in lines:
            print(line)
        return lines

    report()


example_events_diligent()
example_events_encrata()
example_events_datafold()
