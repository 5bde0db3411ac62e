"""Datafold operators against the sandbox: the data-quality gate."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowSkipException

from airflow_provider_monitoring._http.errors import ConfigurationError
from airflow_provider_monitoring.hooks.datafold import DatafoldHook
from airflow_provider_monitoring.operators.datafold import (
    DatafoldCreateMonitorOperator, DatafoldMonitorLink, DatafoldRunMonitorOperator, DatafoldRunResultsOperator,
)
from airflow_provider_monitoring.sandbox import OutcomeRule
from tests.datafold_specs import MANUAL_SPECS as SPECS
from tests.standins import task_context

BROKEN = {
    "diff": ({**SPECS["diff"], "datadiff": {**SPECS["diff"]["datadiff"], "diff_type": None}}, "diff_type"),
    "metric": ({**SPECS["metric"], "metric": {"table": "T", "metric": "row_count"}}, "metric.type"),
    "test": ({**SPECS["test"], "query": "select 1"}, "exactly one"),
    "schema": ({k: v for k, v in SPECS["schema"].items() if k != "connection_id"}, "connection_id"),
}


def create(monitor_type: str, **changes) -> int:
    spec = {**SPECS[monitor_type], **changes}
    return DatafoldCreateMonitorOperator(task_id="create", monitor_type=monitor_type, spec=spec).execute(task_context())


@pytest.mark.parametrize("monitor_type", sorted(SPECS))
def test_creates_each_monitor_type(monitoring_sandbox, monitor_type):
    monitor_id = create(monitor_type)
    assert DatafoldHook().get_monitor(monitor_id)["monitor_type"] == monitor_type
    [(method, path)] = monitoring_sandbox.requests("POST")
    assert path == f"/datafold/api/v1/monitors/create/{monitor_type}"


@pytest.mark.parametrize("monitor_type", sorted(BROKEN))
def test_an_invalid_spec_of_each_type_is_refused_before_any_request(monitoring_sandbox, monitor_type):
    spec, complaint = BROKEN[monitor_type]
    with pytest.raises(ConfigurationError, match=complaint):
        DatafoldCreateMonitorOperator(task_id="create", monitor_type=monitor_type, spec=spec)
    assert monitoring_sandbox.requests() == []


def run(monitor_id: int, **kwargs):
    ctx = task_context()
    task = DatafoldRunMonitorOperator(task_id="gate", monitor_id=monitor_id, deferrable=False,
                                      poll_interval=0.1, timeout=30, **kwargs)
    return task.execute(ctx), ctx


def test_an_ok_run_passes_and_pushes_the_run_and_the_link_first(monitoring_sandbox):
    monitor_id = create("metric")
    run_id, ctx = run(monitor_id)
    assert DatafoldHook().get_monitor_run(monitor_id, run_id)["state"] == "ok"
    assert ctx["ti"].pushed["run_id"] == run_id
    assert ctx["ti"].pushed[DatafoldMonitorLink().xcom_key] == f"{monitoring_sandbox.url}/datafold/monitors/{monitor_id}"


@pytest.mark.parametrize("on_alert, outcome", [("fail", AirflowException), ("skip", AirflowSkipException), ("succeed", None)])
def test_an_alert_follows_on_alert(monitoring_sandbox, on_alert, outcome):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("datafold", "*rows*", "alert"))
    monitor_id = create("metric")
    if outcome is None:
        assert isinstance(run(monitor_id, on_alert=on_alert)[0], int)
    else:
        with pytest.raises(outcome, match="ended 'alert'"):
            run(monitor_id, on_alert=on_alert)


@pytest.mark.parametrize("state", ["error", "cancelled", "paused_by_vendor"])
def test_error_cancelled_and_unknown_states_fail(monitoring_sandbox, state):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("datafold", "*rows*", state))
    monitor_id = create("metric")
    with pytest.raises(AirflowException) as info:
        run(monitor_id, on_alert="succeed")
    assert not isinstance(info.value, AirflowSkipException) and f"'{state}'" in str(info.value)
    if state == "error":
        assert "error:" in str(info.value)  # the run's own error text reaches the failure


def test_learning_fails_unless_accepted(monitoring_sandbox):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("datafold", "*rows*", "learning"))
    monitor_id = create("metric")
    with pytest.raises(AirflowException, match="'learning'"):
        run(monitor_id)
    assert isinstance(run(monitor_id, accept_states=("learning",))[0], int)
    with pytest.raises(ValueError, match="accept_states"):
        DatafoldRunMonitorOperator(task_id="gate", monitor_id=1, accept_states=("alert",))


def test_results_bring_the_data_diff_of_a_diff_monitor(monitoring_sandbox):
    diff_id = create("diff")
    run_id, _ = run(diff_id)
    result = DatafoldRunResultsOperator(task_id="results", monitor_id=diff_id, run_id=run_id).execute(task_context())
    assert result["run"]["run_id"] == run_id and result["data_diff"]["diff"]["id"] == result["run"]["diff_id"]
    assert "status" in result["data_diff"]["summary"]
    metric_id = create("metric")
    metric_run, _ = run(metric_id)
    plain = DatafoldRunResultsOperator(task_id="results", monitor_id=metric_id, run_id=metric_run).execute(task_context())
    assert plain["data_diff"] is None


@pytest.mark.parametrize("on_error, outcome", [("fail", AirflowException), ("skip", AirflowSkipException)])
def test_an_api_error_during_the_wait_follows_on_error_and_never_passes(monitoring_sandbox, on_error, outcome):
    from airflow_provider_monitoring.sandbox import FaultRule

    monitor_id = create("metric")
    monitoring_sandbox.config.faults.append(FaultRule("status", status=403, method="GET",
                                                      path="/datafold/api/v1/monitors/*/runs/*"))
    with pytest.raises(outcome, match="HTTP 403") as info:
        run(monitor_id, on_error=on_error)
    assert on_error == "skip" or not isinstance(info.value, AirflowSkipException)
