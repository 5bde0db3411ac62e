"""The monitoring_result contract and what a task does with it, against the sandbox: the typed
definition refuses what is not a result; the cap keeps the total; a result is pushed when the wait
fails too; reading the evidence never changes a verdict, and what went wrong is noted."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowException

from airflow_provider_monitoring._waiting import RunState, make_event
from airflow_provider_monitoring.hooks.encrata import EncrataHook
from airflow_provider_monitoring.results import MAX_FINDINGS, ResultError, validate_result
from airflow_provider_monitoring.results.base import summary_line
from airflow_provider_monitoring.sensors.datafold import DatafoldMonitorRunSensor
from airflow_provider_monitoring.sensors.encrata import EncrataRunSensor
from tests.standins import poke_until_done, task_context
from airflow_provider_monitoring.sandbox.core import OutcomeRule
from tests.vendor_runs import start_datafold_run, start_encrata_run


def a_result(**changes) -> dict:
    result = {"vendor": "datafold", "monitor_id": "7", "run_id": "3", "outcome": "alert", "vendor_state": "alert",
              "started_at": None, "finished_at": None, "url": None, "message": "m", "counts": {"findings": 1},
              "findings": [{"name": "rows changed", "status": "failed", "severity": "warning", "message": "3 rows"}]}
    return {**result, **changes}


@pytest.mark.parametrize("changes, named", [
    ({"outcome": "maybe"}, "outcome"),
    ({"findings": [{"name": "x", "status": "bad", "severity": "info", "message": ""}]}, "findings[0].status"),
    ({"findings": [{"status": "passed", "severity": "info", "message": ""}]}, "name"),
    ({"counts": {"findings": "many"}}, "$.counts"),
    ({"counts": {"findings": 0}}, "counts.findings is smaller"),
    ({"run_id": 3}, "run_id"),
])
def test_the_typed_definition_refuses_what_is_not_a_result_and_names_the_key(changes, named):
    validate_result(a_result())
    with pytest.raises(ResultError, match="not a monitoring_result") as refused:
        validate_result(a_result(**changes))
    assert named in str(refused.value)


def test_an_encrata_run_with_more_changed_targets_than_the_cap_keeps_the_total(monitoring_sandbox):
    hook = EncrataHook()
    targets = [f"d{n}.example.com" for n in range(MAX_FINDINGS + 20)]
    monitor = hook.create_monitor("many changes", monitor_type="domain", targets=targets)["id"]
    run = monitoring_sandbox.start_run("encrata", monitor_id=monitor, changes=True)["run_id"]
    task = EncrataRunSensor(task_id="wait", monitor_id=monitor, run_id=run, poll_interval=0.1, deferrable=False)
    context = task_context()
    poke_until_done(task, context)
    result = validate_result(context["ti"].pushed["monitoring_result"])
    assert len(result["findings"]) == MAX_FINDINGS
    assert result["counts"]["findings"] == result["counts"]["changed_targets"] == len(targets)
    # One page of changed records was read for the findings, not every page.
    results_reads = [r for r in monitoring_sandbox.requests() if r[1].endswith(f"/runs/{run}/results")]
    assert len(results_reads) == 1


def test_a_failing_wait_pushes_its_result_before_the_task_fails(monitoring_sandbox):
    from tests.datafold_specs import MANUAL_METRIC_SPEC

    monitor, run = start_datafold_run({**MANUAL_METRIC_SPEC, "name": "orders fail demo"})
    task = DatafoldMonitorRunSensor(task_id="gate", monitor_id=monitor, run_id=run, poll_interval=0.1,
                                    deferrable=False)
    context = task_context()
    with pytest.raises(AirflowException, match="error"):
        poke_until_done(task, context)
    result = validate_result(context["ti"].pushed["monitoring_result"])
    assert (result["outcome"], result["vendor_state"]) == ("failed", "error")
    (finding,) = result["findings"]
    assert finding["status"] == "failed" and finding["severity"] == "error" and "Query failed" in finding["message"]
    assert finding["table"] == "PROD.SALES.ORDERS"
    assert task.monitoring_result == result


def test_evidence_that_cannot_be_read_leaves_the_verdict_and_says_why(monitoring_sandbox):
    # A passing event for a run the vendor does not know: the findings cannot be read, the gate passes.
    task = EncrataRunSensor(task_id="wait", monitor_id="no-such-monitor", run_id="r1", deferrable=True)
    run = {"id": "r1", "status": "success", "changes_detected": 2}
    context = task_context()
    event = {**make_event("success", "encrata", "no-such-monitor", "r1", None, "ended 'success'"), "run": run}
    assert task.execute_complete(context, event) == run
    result = validate_result(context["ti"].pushed["monitoring_result"])
    assert result["outcome"] == "success" and result["findings"] == []
    assert "404" in result["findings_error"] and "no-such-monitor" in result["findings_error"]


def test_a_timeout_pushes_a_result_without_reading_any_evidence(monitoring_sandbox):
    task = EncrataRunSensor(task_id="wait", monitor_id="m1", run_id="r1", deferrable=True)
    context = task_context()
    before = len(monitoring_sandbox.requests())
    # A run record that an ended run's evidence would be read for (changes counted).
    running = RunState("running", "running", {"id": "r1", "status": "running", "changes_detected": 3})
    with pytest.raises(AirflowException, match="gave up"):
        task.execute_complete(context, make_event("timeout", "encrata", "m1", "r1", running, "gave up"))
    result = validate_result(context["ti"].pushed["monitoring_result"])
    assert (result["outcome"], result["findings"], result["counts"]) == ("timeout", [], {"findings": 0})
    assert "findings_error" not in result and len(monitoring_sandbox.requests()) == before


def test_the_summary_line_names_the_outcome_counts_and_failing_findings():
    line = summary_line(a_result(counts={"rows_changed": 3, "findings": 1}))
    assert line == "datafold monitor 7, run 3: alert (rows_changed 3, findings 1); rows changed"


def test_a_polling_sensor_that_airflow_times_out_pushes_a_timeout_result(monitoring_sandbox):
    from airflow.sdk.exceptions import AirflowSensorTimeout

    monitoring_sandbox.config.rules.insert(0, OutcomeRule("datafold", "*", seconds=60))  # read at the run's start
    monitor, run = start_datafold_run()
    task = DatafoldMonitorRunSensor(task_id="gate", monitor_id=monitor, run_id=run, poll_interval=0.1,
                                    timeout=0.5, deferrable=False)
    context = task_context()
    with pytest.raises(AirflowSensorTimeout):
        task.execute(context)
    result = validate_result(context["ti"].pushed["monitoring_result"])
    assert (result["outcome"], result["run_id"]) == ("timeout", str(run))
    assert "timeout of 0.5 s" in result["message"]


def test_evidence_that_cannot_be_read_keeps_what_the_run_record_says(monitoring_sandbox):
    from airflow_provider_monitoring.sandbox.core import FaultRule

    monitor, run = start_encrata_run("counted")
    record = poke_until_done(EncrataRunSensor(task_id="w", monitor_id=monitor, run_id=run, poll_interval=0.1,
                                              deferrable=False))[0].xcom_value
    monitoring_sandbox.config.faults.append(FaultRule(kind="status", status=404, path="*/results"))
    task = EncrataRunSensor(task_id="wait", monitor_id=monitor, run_id=run, deferrable=True)
    context = task_context()
    event = make_event("success", "encrata", monitor, run, RunState("success", "success", record), "ok")
    assert task.execute_complete(context, event) == record
    result = validate_result(context["ti"].pushed["monitoring_result"])
    assert result["counts"]["records"] == 2 and result["started_at"] and "404" in result["findings_error"]


class NoEventFor:
    """Outlet events that refuse one asset, as Airflow would for an alias it cannot resolve."""

    def __getitem__(self, outlet):
        raise ValueError(f"no outlet event accessor for {outlet!r}")


def test_an_outlet_that_cannot_carry_the_result_never_fails_a_passed_gate(monitoring_sandbox):
    from airflow.sdk import Asset

    from airflow_provider_monitoring.operators.encrata import EncrataTriggerRunOperator

    monitor, _ = start_encrata_run("outlets")
    task = EncrataTriggerRunOperator(task_id="gate", monitor_id=monitor, poll_interval=0.1, deferrable=False,
                                     outlets=[Asset("orders")])
    context = {**task_context(), "outlet_events": NoEventFor()}
    run_id = task.execute(context)
    assert validate_result(context["ti"].pushed["monitoring_result"])["run_id"] == run_id
