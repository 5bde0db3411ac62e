"""OpenLineage for the gates: the facets built from a ``monitoring_result`` (as they go on the wire,
serialized by the OpenLineage client), what a real gate answers the listener after a run against
the sandbox, the events Airflow's OpenLineage listener emits under ``dag.test()``, and that without
the OpenLineage packages nothing changes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

import pytest
from airflow.sdk.exceptions import AirflowException

from airflow_provider_monitoring.hooks.datafold import DatafoldHook
from airflow_provider_monitoring.hooks.encrata import EncrataHook
from airflow_provider_monitoring.lineage import lineage_of
from airflow_provider_monitoring.operators.datafold import DatafoldRunMonitorOperator
from airflow_provider_monitoring.operators.encrata import EncrataTriggerRunOperator
from tests.dag_runs import ROOT, run_dags
from tests.standins import task_context

API = "https://app.datafold.com/monitors/7"
METRIC_SPEC = {"schedule": {"type": "none"}, "connection_id": 11,
               "metric": {"type": "table", "table": "PROD.SALES.ORDERS", "metric": "row_count"},
               "alert": {"type": "automatic", "sensitivity": 50}}


def result(vendor: str = "datafold", findings=(), **changes) -> dict:
    return {"vendor": vendor, "monitor_id": "7", "run_id": "41", "outcome": "alert", "vendor_state": "alert",
            "started_at": "2026-05-01T10:00:00Z", "finished_at": None, "url": API,
            "message": "datafold run 41 ended 'alert'", "counts": {"findings": len(findings)},
            "findings": list(findings), **changes}


def finding(name: str, status: str = "failed", severity: str = "error", **extra) -> dict:
    return {"name": name, "status": status, "severity": severity, "message": f"{name}: {status}", **extra}


def wire(lineage) -> dict:
    """The lineage as the OpenLineage client serializes it into an event."""
    from openlineage.client.serde import Serde

    return {
        "inputs": [json.loads(Serde.to_json(dataset)) for dataset in lineage.inputs],
        "run": {key: json.loads(Serde.to_json(facet)) for key, facet in lineage.run_facets.items()},
    }


def assertions(dataset: dict) -> list[dict]:
    return dataset["inputFacets"]["dataQualityAssertions"]["assertions"]


# ---- (a) the conversion ----------------------------------------------------------------------------------

DIFF_DATASETS = [{"connection_id": 11, "table": "PROD.SALES.ORDERS", "column": None},
                 {"connection_id": 12, "table": "DEV.SALES.ORDERS", "column": None}]


def test_datafold_assertions_go_on_each_watched_dataset_they_are_about():
    rows = finding("rows changed", "failed", "warning", expected={"max": 0}, actual=3)
    column = finding("column amount", "passed", "info", column="amount", expected=0, actual=0)
    target_only = finding("not_null check on DEV.SALES.ORDERS", "failed", table="dev.sales.orders", column="id")
    sent = wire(lineage_of(result(findings=[rows, column, target_only], datasets=DIFF_DATASETS), API))

    source, target = sent["inputs"]
    assert (source["namespace"], source["name"]) == ("datafold://app.datafold.com/data-sources/11", "PROD.SALES.ORDERS")
    assert (target["namespace"], target["name"]) == ("datafold://app.datafold.com/data-sources/12", "DEV.SALES.ORDERS")
    # Findings that name no table are about the whole comparison: both sides carry them.
    assert [a["name"] for a in assertions(source)] == ["rows changed", "column amount"]
    assert [a["name"] for a in assertions(target)] == ["rows changed", "column amount",
                                                       "not_null check on DEV.SALES.ORDERS"]
    first, second, third = assertions(target)
    assert first == {"assertion": "rows changed", "name": "rows changed", "success": False, "severity": "warn",
                     "description": "rows changed: failed", "expected": '{"max": 0}', "actual": "3",
                     "params": {"status": "failed"}}
    assert (second["success"], second["column"], second["expected"], second["actual"]) == (True, "amount", "0", "0")
    assert (third["success"], third["column"], third["severity"]) == (False, "id", "error")
    assert "test" not in sent["run"]  # every finding found its dataset


def test_a_finding_about_a_table_the_monitor_does_not_watch_becomes_a_run_test():
    stray = finding("schema of OTHER.TABLE", "changed", "warning", table="OTHER.TABLE")
    sent = wire(lineage_of(result(findings=[stray], datasets=DIFF_DATASETS[:1]), API))

    assert "inputFacets" not in sent["inputs"][0] or not sent["inputs"][0]["inputFacets"]
    [test] = sent["run"]["test"]["tests"]
    assert (test["name"], test["status"], test["severity"]) == ("schema of OTHER.TABLE", "fail", "warn")
    assert test["params"] == {"status": "changed", "table": "OTHER.TABLE"}


def test_a_table_finding_matches_the_watched_table_by_its_last_parts():
    sent = wire(lineage_of(result(findings=[finding("freshness", table="Sales.Orders")],
                                  datasets=DIFF_DATASETS[:1]), API))
    assert [a["name"] for a in assertions(sent["inputs"][0])] == ["freshness"]


def test_a_query_dataset_is_named_after_the_monitor_and_a_column_metric_names_its_column():
    watched = [{"connection_id": 11, "table": None, "column": "amount"}]
    sent = wire(lineage_of(result(findings=[finding("average of amount", "unknown", "warning")],
                                  datasets=watched), API))
    [dataset] = sent["inputs"]
    assert dataset["namespace"] == "datafold://app.datafold.com/data-sources/11"
    assert dataset["name"] == "monitors/7/query"
    [assertion] = assertions(dataset)
    assert (assertion["column"], assertion["success"], assertion["params"]) == ("amount", False, {"status": "unknown"})


def test_a_datafold_result_without_datasets_reports_its_findings_as_run_tests():
    sent = wire(lineage_of(result(findings=[finding("data diff")]), API))
    assert sent["inputs"] == []
    assert [t["name"] for t in sent["run"]["test"]["tests"]] == ["data diff"]


def test_encrata_reads_the_monitor_and_reports_one_test_per_finding():
    changed = finding("example.com mx", "changed", "warning", target="example.com", field="mx",
                      old=["mx1.example.com"], new=["mx2.example.com"])
    held = finding("example.com registrar", "passed", "info", target="example.com", field="registrar")
    sent = wire(lineage_of(result("encrata", [changed, held], url="https://encrata.com/monitors/7"),
                           "https://encrata.com/monitors/7"))

    assert sent["inputs"] == [{"namespace": "encrata://encrata.com", "name": "monitors/7", "facets": {},
                               "inputFacets": {}}]
    first, second = sent["run"]["test"]["tests"]
    assert (first["name"], first["status"], first["severity"], first["type"]) == (
        "example.com mx", "fail", "warn", "example.com mx")
    assert first["params"] == {"status": "changed", "target": "example.com", "field": "mx",
                               "old": ["mx1.example.com"], "new": ["mx2.example.com"]}
    assert (second["status"], second["severity"]) == ("pass", "info")


def test_diligent_tests_are_typed_by_their_check():
    alert = finding("high_risk_mcc on shop.example", check="high_risk_mcc", target="https://shop.example")
    sent = wire(lineage_of(result("diligent", [alert]), "https://api.godiligent.ai/monitors/7"))

    assert (sent["inputs"][0]["namespace"], sent["inputs"][0]["name"]) == ("diligent://api.godiligent.ai", "monitorings/7")
    [test] = sent["run"]["test"]["tests"]
    assert (test["type"], test["status"], test["description"]) == (
        "high_risk_mcc", "fail", "high_risk_mcc on shop.example: failed")


def test_no_findings_means_no_test_facet_and_no_assertions():
    assert "test" not in wire(lineage_of(result("encrata"), "https://encrata.com"))["run"]
    sent = wire(lineage_of(result(datasets=DIFF_DATASETS), API))
    assert all(not dataset["inputFacets"] for dataset in sent["inputs"])


def test_the_summary_facet_says_how_the_run_ended_and_where_to_see_it():
    sent = wire(lineage_of(result(findings=[finding("x")], counts={"findings": 250, "warnings": 1},
                                  findings_error="the diff summary could not be read"), API))
    summary = sent["run"]["monitoringResult"]
    assert summary == {
        "_producer": "https://pypi.org/project/airflow-provider-monitoring/0.1.0/",
        "_schemaURL": "https://pypi.org/project/airflow-provider-monitoring/0.1.0/#lineage-openlineage",
        "vendor": "datafold", "monitorId": "7", "runId": "41", "outcome": "alert", "vendorState": "alert",
        "startedAt": "2026-05-01T10:00:00Z", "url": API, "message": "datafold run 41 ended 'alert'",
        "counts": {"findings": 250, "warnings": 1}, "findingsError": "the diff summary could not be read",
    }


def test_credentials_written_into_a_host_never_reach_the_facets():
    url = "https://user:sk-secret@datafold.internal:8443/monitors/7"
    sent = json.dumps(wire(lineage_of(result(url=url, datasets=DIFF_DATASETS[:1]), url)))
    assert "sk-secret" not in sent and "user" not in sent
    assert "datafold://datafold.internal:8443/data-sources/11" in sent
    assert "https://datafold.internal:8443/monitors/7" in sent


# ---- the gates answer the listener -------------------------------------------------------------------------

def gate(monitor_id, **kwargs) -> DatafoldRunMonitorOperator:
    return DatafoldRunMonitorOperator(task_id="gate", monitor_id=monitor_id, deferrable=False, poll_interval=0.1,
                                      timeout=30, **kwargs)


def test_a_gate_that_read_no_run_reports_nothing():
    task = gate(1)
    assert task.get_openlineage_facets_on_complete(None) is None
    assert task.get_openlineage_facets_on_failure(None) is None


def test_a_failed_gate_reports_its_failed_assertions_on_failure(monitoring_sandbox):
    monitor_id = DatafoldHook().create_monitor("metric", {"name": "orders alert demo", **METRIC_SPEC})
    task = gate(monitor_id)
    with pytest.raises(AirflowException):
        task.execute(task_context())

    sent = wire(task.get_openlineage_facets_on_failure(None))
    [dataset] = sent["inputs"]
    host = monitoring_sandbox.url.split("://")[1]
    assert (dataset["namespace"], dataset["name"]) == (f"datafold://{host}/data-sources/11", "PROD.SALES.ORDERS")
    assert [a["success"] for a in assertions(dataset)] == [False]
    assert sent["run"]["monitoringResult"]["outcome"] == "alert"


def test_without_a_link_the_host_is_the_connections(monitoring_sandbox):
    task = gate(7)
    task.monitoring_result = result(url=None, datasets=DIFF_DATASETS[:1])
    [dataset] = wire(task.get_openlineage_facets_on_complete(None))["inputs"]
    assert dataset["namespace"] == f"datafold://{monitoring_sandbox.url.split('://')[1]}/data-sources/11"


def test_an_encrata_run_reports_the_monitor_and_its_findings_as_tests(monitoring_sandbox):
    monitor_id = EncrataHook().create_monitor("domains", monitor_type="domain", targets=["example.com"])["id"]
    task = EncrataTriggerRunOperator(task_id="run", monitor_id=monitor_id, deferrable=False, poll_interval=0.1,
                                     timeout=30)
    task.execute(task_context())

    sent = wire(task.get_openlineage_facets_on_complete(None))
    assert sent["inputs"][0]["name"] == f"monitors/{monitor_id}"
    assert sent["inputs"][0]["namespace"] == f"encrata://{monitoring_sandbox.url.split('://')[1]}"
    names = [f["name"] for f in task.monitoring_result["findings"]]
    assert names  # the sandbox's run reports its target
    assert [t["name"] for t in sent["run"]["test"]["tests"]] == names
    assert sent["run"]["monitoringResult"]["outcome"] == "success"


# ---- (b) Airflow's listener, end to end ---------------------------------------------------------------------

GATE_DAGS = textwrap.dedent('''
    import pendulum
    from airflow.sdk import dag, task

    from airflow_provider_monitoring.hooks.datafold import DatafoldHook
    from airflow_provider_monitoring.operators.datafold import DatafoldRunMonitorOperator


    def build(dag_id, monitor_name):
        @dag(dag_id=dag_id, schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False)
        def gated():
            @task
            def create():
                return DatafoldHook().create_monitor("metric", {"name": monitor_name, %(spec)s})

            create() >> DatafoldRunMonitorOperator(
                task_id="gate", monitor_id="{{ ti.xcom_pull(task_ids='create') }}", deferrable=False,
                poll_interval=0.2, timeout=120, on_alert="fail")

        return gated()


    build("gate_passes", "orders")
    build("gate_fails", "orders alert demo")  # the sandbox's default rules end it in alert
''') % {"spec": repr(METRIC_SPEC)[1:-1]}

# The listener on, emitting to the console transport (it logs each event's JSON at INFO). In a
# thread of the task's own process rather than a fork, waited for up to a minute: the events are
# in the log when dag.test() returns, whatever the load of the machine.
OPENLINEAGE_ENV = {
    "AIRFLOW__OPENLINEAGE__TRANSPORT": '{"type": "console"}',
    "AIRFLOW__OPENLINEAGE__DISABLED": "False",
    "AIRFLOW__OPENLINEAGE__SELECTIVE_ENABLE": "False",
    "AIRFLOW__OPENLINEAGE__DISABLED_FOR_OPERATORS": "",
    "AIRFLOW__OPENLINEAGE__EXECUTE_IN_THREAD": "True",
    "AIRFLOW__OPENLINEAGE__EXECUTION_TIMEOUT": "60",
}
CONSOLE_LOGGER = "[openlineage.client.transport.console]"


def emitted_events(log: str) -> list[dict]:
    """The events the console transport logged, in order."""
    decoder = json.JSONDecoder()
    return [decoder.raw_decode(line, line.index("{"))[0] for line in log.splitlines() if CONSOLE_LOGGER in line]


@pytest.fixture(scope="module")
def gate_events(tmp_path_factory):
    with pytest.MonkeyPatch.context() as env:
        env.delenv("OPENLINEAGE_DISABLED", raising=False)
        for name, value in OPENLINEAGE_ENV.items():
            env.setenv(name, value)
        runs = run_dags(GATE_DAGS, tmp_path_factory.mktemp("lineage"))
    return runs, {dag_id: emitted_events(runs.logs[dag_id]) for dag_id in runs.states}


def gate_event(events: list[dict], event_type: str) -> dict:
    [event] = [e for e in events if e["job"]["name"].endswith(".gate") and e["eventType"] == event_type]
    return event


def test_a_gate_that_passes_emits_complete_with_its_assertions_on_the_watched_table(gate_events):
    runs, events = gate_events
    assert runs.states["gate_passes"] == "success", runs.logs["gate_passes"][-3000:]
    event = gate_event(events["gate_passes"], "COMPLETE")
    [dataset] = event["inputs"]
    assert dataset["name"] == "PROD.SALES.ORDERS"
    assert re.fullmatch(r"datafold://127\.0\.0\.1:\d+/data-sources/11", dataset["namespace"])
    [assertion] = assertions(dataset)
    assert assertion["success"] is True
    assert event["run"]["facets"]["monitoringResult"]["outcome"] == "success"


def test_a_gate_that_fails_on_alert_emits_fail_with_the_failed_assertions(gate_events):
    runs, events = gate_events
    assert runs.states["gate_fails"] == "failed"
    event = gate_event(events["gate_fails"], "FAIL")
    [dataset] = event["inputs"]
    assert dataset["name"] == "PROD.SALES.ORDERS"
    assert [a["success"] for a in assertions(dataset)] == [False]
    assert event["run"]["facets"]["monitoringResult"]["outcome"] == "alert"
    assert "errorMessage" in event["run"]["facets"]


def test_no_emitted_event_holds_the_api_key(gate_events):
    from airflow_provider_monitoring.sandbox.core import DEFAULT_API_KEY

    runs, events = gate_events
    assert events["gate_passes"] and events["gate_fails"]
    assert DEFAULT_API_KEY not in json.dumps(events)


# ---- (c) without OpenLineage --------------------------------------------------------------------------------

WITHOUT_OPENLINEAGE = textwrap.dedent('''
    import importlib.abc
    import importlib.metadata
    import sys

    import importlib_metadata

    HIDDEN = ("openlineage", "airflow.providers.openlineage")


    class NoOpenLineage(importlib.abc.MetaPathFinder):
        """As if neither the OpenLineage provider nor the client were installed: no module..."""

        def find_spec(self, name, path=None, target=None):
            if any(name == hidden or name.startswith(hidden + ".") for hidden in HIDDEN):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None


    def without_openlineage(discover):
        """...and no distribution, so Airflow's provider discovery does not find one either."""

        def discover_others(cls, **kwargs):
            return (dist for dist in discover(**kwargs) if "openlineage" not in (dist.metadata["Name"] or "").lower())

        return classmethod(discover_others)


    sys.meta_path.insert(0, NoOpenLineage())
    for metadata in (importlib.metadata, importlib_metadata):
        metadata.Distribution.discover = without_openlineage(metadata.Distribution.discover)

    import airflow_provider_monitoring.lineage
    import airflow_provider_monitoring.operators.datafold as datafold
    import airflow_provider_monitoring.operators.diligent
    import airflow_provider_monitoring.operators.encrata
    import airflow_provider_monitoring.sensors.datafold
    import airflow_provider_monitoring.sensors.diligent
    import airflow_provider_monitoring.sensors.encrata

    task = datafold.DatafoldRunMonitorOperator(task_id="gate", monitor_id=7)
    answers = [task.get_openlineage_facets_on_complete(None)]
    task.monitoring_result = %(result)r
    answers += [task.get_openlineage_facets_on_complete(None), task.get_openlineage_facets_on_failure(None)]
    loaded = sorted(name for name in sys.modules if "openlineage" in name)
    print(answers, loaded)
''')


def test_without_openlineage_the_modules_import_and_the_gates_report_nothing():
    source = WITHOUT_OPENLINEAGE % {"result": result(findings=[finding("x")], datasets=DIFF_DATASETS)}
    done = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[None, None, None] []"
