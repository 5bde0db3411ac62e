"""A Datafold run's findings per monitor type and run state, read through the run operator's path
(a sensor poking the sandbox): metric, test and schema monitors are judged by the run's state with
the monitor's own check named; a diff lists rows and columns; no verdict is never a pass."""

from __future__ import annotations

import pytest

from airflow_provider_monitoring.hooks.datafold import DatafoldHook
from airflow_provider_monitoring.results import validate_result
from airflow_provider_monitoring.sandbox.core import OUTCOME_WORDS, OutcomeRule
from airflow_provider_monitoring.sensors.datafold import DatafoldMonitorRunSensor
from tests.datafold_specs import MANUAL_SPECS
from tests.standins import poke_until_done, task_context


def result_of(sandbox, monitor_type: str, outcome: str, **sensor_kwargs) -> dict:
    hook = DatafoldHook()
    monitor = hook.create_monitor(monitor_type, MANUAL_SPECS[monitor_type])
    if outcome in OUTCOME_WORDS["datafold"][0]:
        run = sandbox.start_run("datafold", monitor_id=monitor, outcome=outcome)["run_id"]
    else:  # a state Datafold may add later: only an outcome rule serves it
        sandbox.config.rules.insert(0, OutcomeRule("datafold", str(monitor), outcome))
        run = hook.run_monitor(monitor)
    task = DatafoldMonitorRunSensor(task_id="gate", monitor_id=monitor, run_id=run, poll_interval=0.1,
                                    deferrable=False, on_alert="succeed", **sensor_kwargs)
    context = task_context()
    try:
        poke_until_done(task, context)
    except Exception:
        pass  # error and unaccepted states fail the task: the result is pushed all the same
    return validate_result(context["ti"].pushed["monitoring_result"])


@pytest.mark.parametrize("outcome, status, severity", [
    ("ok", "passed", "info"), ("alert", "failed", "warning"), ("error", "failed", "error"),
    ("learning", "unknown", "warning"), ("Exploded", "failed", "error"),
])
def test_a_metric_monitors_finding_is_its_metric_judged_by_the_run_with_its_bounds(monitoring_sandbox, outcome,
                                                                                 status, severity):
    result = result_of(monitoring_sandbox, "metric", outcome)
    (finding,) = result["findings"]
    assert (finding["status"], finding["severity"]) == (status, severity)
    assert finding["name"] == "row_count of PROD.SALES.ORDERS" and finding["table"] == "PROD.SALES.ORDERS"
    assert finding["expected"] == {"type": "automatic", "sensitivity": 50}
    assert "actual" not in finding  # Datafold's API exposes no measured value
    assert result["datasets"] == [{"connection_id": 11, "table": "PROD.SALES.ORDERS", "column": None}]


def test_a_learning_run_accepted_as_success_still_says_there_was_no_verdict(monitoring_sandbox):
    result = result_of(monitoring_sandbox, "metric", "learning", accept_states=("learning",))
    assert result["outcome"] == "success"
    (finding,) = result["findings"]
    assert finding["status"] == "unknown" and "learning" in finding["message"]
    assert result["counts"]["warnings"] == 1


def test_a_test_monitors_finding_names_the_tested_table_and_column(monitoring_sandbox):
    (finding,) = result_of(monitoring_sandbox, "test", "alert")["findings"]
    assert finding == {"name": "test check on PROD.SALES.ORDERS.order_id", "check": "test_check",
                       "status": "failed", "severity": "warning",
                       "message": "test check on PROD.SALES.ORDERS.order_id: did not hold",
                       "table": "PROD.SALES.ORDERS", "column": "order_id"}


@pytest.mark.parametrize("outcome, status", [("alert", "changed"), ("ok", "passed"), ("error", "failed")])
def test_a_schema_monitor_that_alerts_reports_its_table_changed(monitoring_sandbox, outcome, status):
    (finding,) = result_of(monitoring_sandbox, "schema", outcome)["findings"]
    assert (finding["name"], finding["status"]) == ("schema of PROD.SALES.ORDERS", status)


def test_a_cancelled_diff_reports_what_failed_without_statistics(monitoring_sandbox):
    result = result_of(monitoring_sandbox, "diff", "cancelled")
    assert result["outcome"] == "failed"
    assert [f["status"] for f in result["findings"]] == ["failed"]
    assert result["findings"][0]["severity"] == "error"


def test_the_run_results_operator_pushes_the_result_reading_the_diff_once(monitoring_sandbox):
    from airflow_provider_monitoring.operators.datafold import DatafoldRunResultsOperator

    gated = result_of(monitoring_sandbox, "diff", "alert")  # a diff monitor's ended run, as the gate saw it
    monitor, run = int(gated["monitor_id"]), int(gated["run_id"])
    before = len(monitoring_sandbox.requests())
    context = task_context()
    returned = DatafoldRunResultsOperator(task_id="results", monitor_id=monitor, run_id=run).execute(context)
    pushed = validate_result(context["ti"].pushed["monitoring_result"])
    assert {key: pushed[key] for key in ("outcome", "counts", "findings")} == {
        key: gated[key] for key in ("outcome", "counts", "findings")}
    assert pushed["counts"]["rows_changed"] == returned["data_diff"]["diff"]["diff_stats"]["diff_rows_count"]
    diff_reads = [path for _, path in monitoring_sandbox.requests()[before:]
                  if path.endswith(f"/datadiffs/{returned['run']['diff_id']}")]
    assert len(diff_reads) == 1
