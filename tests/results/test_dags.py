"""One DAG shape gating on each vendor, under dag.test() against the sandbox: create a monitor, gate
on its run, then a task with ``trigger_rule="all_done"`` reads the gate's ``monitoring_result``
and validates it against the public typed definition. For success, alert and failed runs; the
result is there when the gate failed too, and its findings are the vendor's own evidence, read
back from the vendor by the reading task."""

from __future__ import annotations

import json
import re
import textwrap

import pytest

from tests.dag_runs import run_dags

DAGS = textwrap.dedent('''
    import json
    import os

    import pendulum
    from airflow.sdk import Asset, AssetAlias, dag, task

    from airflow_provider_monitoring.assets import conn_host, datafold_monitor_asset

    from airflow_provider_monitoring.hooks.datafold import DatafoldHook
    from airflow_provider_monitoring.hooks.diligent import DiligentHook
    from airflow_provider_monitoring.hooks.encrata import EncrataHook
    from airflow_provider_monitoring.operators.datafold import DatafoldRunMonitorOperator
    from airflow_provider_monitoring.operators.diligent import DiligentCreateMonitoringOperator
    from airflow_provider_monitoring.operators.encrata import EncrataTriggerRunOperator
    from airflow_provider_monitoring.results import validate_result
    from airflow_provider_monitoring.sensors.diligent import DiligentExecutionSensor

    OUT = os.environ["RESULTS_OUT"]
    NAMES = {"success": "orders", "alert": "orders alert demo", "failed": "orders fail demo"}
    TARGETS = [f"shop{n}.example.com" for n in range(12)]
    DIFF = {
        "schedule": {"type": "none"},
        "datadiff": {"diff_type": "indb", "primary_key": ["order_id"],
                     "dataset_a": {"connection_id": 11, "table": "PROD.SALES.ORDERS"},
                     "dataset_b": {"connection_id": 12, "table": "DEV.SALES.ORDERS"},
                     "include_columns": ["amount", "status"]},
        "alert": {"different_rows_count": 0},
    }


    def gate(vendor, outcome):
        name = NAMES[outcome]
        if vendor == "encrata":
            @task
            def create():
                return EncrataHook().create_monitor(name, monitor_type="domain", targets=TARGETS)["id"]
            return create, lambda monitor: EncrataTriggerRunOperator(
                task_id="gate", monitor_id=monitor, poll_interval=0.2, deferrable=False)
        if vendor == "datafold":
            @task
            def create():
                return DatafoldHook().create_monitor("diff", {"name": name, **DIFF})
            return create, lambda monitor: DatafoldRunMonitorOperator(
                task_id="gate", monitor_id=monitor, poll_interval=0.2, deferrable=True)

        @task
        def create():
            site = f"https://{name.replace(' ', '-')}-{pendulum.now().int_timestamp}.example"
            return DiligentCreateMonitoringOperator(task_id="c", website=site,
                                                    checks=["non_operational_website", "high_risk_mcc"]).execute({})
        return create, lambda monitoring: DiligentExecutionSensor(
            task_id="gate", monitoring_id=monitoring, poll_interval=0.2, deferrable=True)


    def evidence(vendor, result):
        """The vendor's own answer to what the findings say, read afresh."""
        if result["outcome"] not in ("success", "alert"):
            return None
        if vendor == "encrata":
            records = EncrataHook().get_run_results(result["monitor_id"], result["run_id"], changes_only=True)
            return sorted(record["email"] for record in records)
        if vendor == "diligent":
            alerts = DiligentHook().list_alerts(monitoring_id=result["monitor_id"])
            return sorted(c["check"] for a in alerts if str(a["execution_result_id"]) == result["run_id"]
                          for c in a["failed_checks"])
        run = DatafoldHook().get_monitor_run(result["monitor_id"], result["run_id"])
        return DatafoldHook().get_data_diff(run["diff_id"])["diff_stats"]["diff_rows_count"]


    def build(vendor, outcome):
        @dag(dag_id=f"gate_{vendor}_{outcome}", schedule=None, start_date=pendulum.datetime(2026, 1, 1),
             catchup=False, tags=["test"])
        def gated():
            create, make_gate = gate(vendor, outcome)
            the_gate = make_gate(create())

            @task(trigger_rule="all_done")
            def read_result(ti=None):
                result = validate_result(ti.xcom_pull(task_ids="gate", key="monitoring_result"))
                states = ti.get_task_states(dag_id=ti.dag_id, task_ids=["gate"], run_ids=[ti.run_id])
                with open(os.path.join(OUT, f"{vendor}_{outcome}.json"), "w") as out:
                    json.dump({"result": result, "evidence": evidence(vendor, result),
                               "gate": states[ti.run_id]["gate"]}, out)

            the_gate >> read_result()
        return gated()


    ORDERS_QUALITY = Asset("orders_quality")
    GATES = AssetAlias("quality_gates")


    @dag(dag_id="outlets_datafold", schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False)
    def outlets():
        create, make_gate = gate("datafold", "success")
        the_gate = make_gate(create())
        the_gate.outlets = [ORDERS_QUALITY, GATES]

        @task(inlets=[ORDERS_QUALITY, GATES])
        def read_event(ti=None, inlet_events=None):
            sent = inlet_events[ORDERS_QUALITY][-1].extra["monitoring_result"]
            pushed = ti.xcom_pull(task_ids="gate", key="monitoring_result")
            # Through the alias: an event of the monitor's own asset, on the connection's host.
            by_alias = inlet_events[GATES][-1]
            host = conn_host(DatafoldHook().settings.base_url)
            with open(os.path.join(OUT, "outlets.json"), "w") as out:
                json.dump({"sent": validate_result(sent), "pushed": pushed,
                           "by_alias": by_alias.extra["monitoring_result"], "monitor_uri": by_alias.asset.uri,
                           "expected_uri": datafold_monitor_asset(int(pushed["monitor_id"]), host=host).uri}, out)

        the_gate >> read_event()


    outlets()

    for vendor, outcomes in {"encrata": ("success", "failed"), "diligent": ("success", "alert", "failed"),
                             "datafold": ("success", "alert", "failed")}.items():
        for outcome in outcomes:
            build(vendor, outcome)
''')

CASES = [("encrata", "success"), ("encrata", "failed"), ("diligent", "success"), ("diligent", "alert"),
         ("diligent", "failed"), ("datafold", "success"), ("datafold", "alert"), ("datafold", "failed")]


@pytest.fixture(scope="module")
def gated(tmp_path_factory):
    """Every gate DAG, run once; (the DagRuns, where each reading task wrote what it read)."""
    tmp = tmp_path_factory.mktemp("gates")
    out = tmp / "results"
    out.mkdir()
    mp = pytest.MonkeyPatch()
    mp.setenv("RESULTS_OUT", str(out))
    try:
        return run_dags(DAGS, tmp), out
    finally:
        mp.undo()


def read(out, vendor, outcome) -> dict:
    return json.loads((out / f"{vendor}_{outcome}.json").read_text())


@pytest.mark.parametrize("vendor, outcome", CASES)
def test_every_gate_pushes_a_result_the_typed_definition_accepts(gated, vendor, outcome):
    runs, out = gated
    # The gate passes only on success; the reading task ran either way and found a valid result.
    assert runs.states[f"gate_{vendor}_{outcome}"] == "success"
    answer = read(out, vendor, outcome)
    assert answer["gate"] == ("success" if outcome == "success" else "failed")
    result = answer["result"]
    assert (result["vendor"], result["outcome"]) == (vendor, outcome)
    assert result["run_id"] is not None or vendor == "diligent" and outcome == "failed"
    assert result["counts"]["findings"] >= len(result["findings"])
    assert "findings_error" not in result


def test_encrata_findings_are_the_runs_changed_targets_with_old_and_new(gated):
    _, out = gated
    answer = read(out, "encrata", "success")
    result, changed = answer["result"], answer["evidence"]
    assert changed, "the sandbox changes about a third of the targets: twelve give some"
    assert sorted(finding["target"] for finding in result["findings"]) == changed
    assert result["counts"]["changed_targets"] == len(changed) == result["counts"]["findings"]
    assert result["counts"]["records"] == 12
    for finding in result["findings"]:
        assert finding["status"] == "changed" and finding["field"] and "->" in finding["message"]
    assert result["started_at"].endswith("Z") and result["finished_at"].endswith("Z")
    assert result["url"].endswith(f"/monitors/{result['monitor_id']}")


def test_diligent_findings_are_the_checks_the_executions_alerts_failed(gated):
    _, out = gated
    answer = read(out, "diligent", "alert")
    result = answer["result"]
    assert sorted(finding["check"] for finding in result["findings"]) == answer["evidence"]
    assert answer["evidence"], "an alerting execution raised at least one alert with failed checks"
    assert all(finding["status"] == "failed" and finding["severity"] == "warning" for finding in result["findings"])
    assert result["counts"]["alerts"] >= 1 and result["url"] is None
    clean = read(out, "diligent", "success")["result"]
    assert (clean["findings"], clean["counts"]["alerts"]) == ([], 0)


def test_datafold_findings_carry_the_diff_rows_and_columns_against_the_alert_condition(gated):
    _, out = gated
    answer = read(out, "datafold", "alert")
    result = answer["result"]
    rows = {finding["name"]: finding for finding in result["findings"] if not finding["name"].startswith("column ")}
    assert rows["rows changed"]["actual"] == answer["evidence"] == result["counts"]["rows_changed"] > 0
    assert rows["rows changed"]["status"] == "failed"
    assert rows["rows changed"]["expected"] == {"different_rows_count": 0}
    columns = {finding["column"]: finding for finding in result["findings"] if "column" in finding}
    assert set(columns) == {"amount", "status"}
    assert [columns[c]["status"] for c in ("amount", "status")] == ["failed", "passed"]
    assert result["findings"][0]["status"] == "failed", "failed findings come first"
    assert result["datasets"] == [{"connection_id": 11, "table": "PROD.SALES.ORDERS", "column": None},
                                  {"connection_id": 12, "table": "DEV.SALES.ORDERS", "column": None}]
    ok = read(out, "datafold", "success")["result"]
    assert ok["counts"]["rows_changed"] == 0 and {f["status"] for f in ok["findings"]} == {"passed"}
    failed = read(out, "datafold", "failed")["result"]
    assert failed["vendor_state"] == "error"
    assert any(f["status"] == "failed" and f["severity"] == "error" and "Query failed" in f["message"]
               for f in failed["findings"])


def test_a_passing_gate_puts_its_result_in_its_outlet_asset_events(gated):
    runs, out = gated
    assert runs.states["outlets_datafold"] == "success", runs.logs["outlets_datafold"][-3000:]
    read = json.loads((out / "outlets.json").read_text())
    # The asset event carries the very result the gate pushed, findings and all.
    assert read["sent"] == read["pushed"] == read["by_alias"]
    assert read["sent"]["findings"] and read["sent"]["outcome"] == "success"
    assert read["monitor_uri"] == read["expected_uri"]
    assert re.fullmatch(rf"datafold://127\.0\.0\.1:\d+/monitors/{read['sent']['monitor_id']}", read["monitor_uri"])
