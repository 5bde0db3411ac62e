"""Encrata operators against the sandbox: what they send, push and return."""

from __future__ import annotations

import time

import pytest
from airflow.sdk.exceptions import AirflowException, TaskDeferred

from airflow_provider_monitoring._http.errors import ConfigurationError
from airflow_provider_monitoring.hooks.encrata import EncrataHook
from airflow_provider_monitoring.operators.encrata import (
    EncrataCreateMonitorOperator,
    EncrataMonitorLink,
    EncrataTriggerRunOperator,
)
from airflow_provider_monitoring.sandbox import OutcomeRule
from airflow_provider_monitoring.triggers.encrata import EncrataRunTrigger
from tests.standins import task_context


def new_monitor(name: str = "domains") -> str:
    return EncrataHook().create_monitor(name, monitor_type="domain", targets=["example.com", "mysite.io"])["id"]


def test_create_operator_returns_the_new_monitor_id(monitoring_sandbox):
    task = EncrataCreateMonitorOperator(task_id="create", name="VIPs", emails=["a@b.co"], frequency="weekly")
    monitor_id = task.execute(task_context())
    assert EncrataHook().get_monitor(monitor_id)["name"] == "VIPs"
    assert monitoring_sandbox.requests("POST", "/encrata/api/monitors") == [("POST", "/encrata/api/monitors")]


@pytest.mark.parametrize("kwargs, complaint", [
    ({"monitor_type": "fax", "emails": ["a@b.co"]}, "unknown monitor_type 'fax'"),
    ({"monitor_type": "domain"}, "needs 'targets'"),
    ({"emails": ["a@b.co"], "frequency": "daily"}, "unknown frequency 'daily'"),
    ({"emails": ["a@b.co"], "data_source_type": "list"}, "needs data_source_ref"),
    ({"monitor_type": "email", "targets": ["example.com"]}, "not 'targets'"),
])
def test_create_operator_refuses_bad_arguments_when_the_dag_is_parsed(kwargs, complaint):
    with pytest.raises(ConfigurationError, match=complaint):
        EncrataCreateMonitorOperator(task_id="create", name="x", **kwargs)


def test_templated_arguments_are_checked_once_rendered_before_any_request(monitoring_sandbox):
    task = EncrataCreateMonitorOperator(task_id="create", name="{{ ds }}", monitor_type="domain",
                                        targets="{{ params.targets }}")
    task.name, task.targets = "rendered", []  # what rendering produced
    with pytest.raises(ConfigurationError, match="must not be empty"):
        task.execute(task_context())
    assert monitoring_sandbox.requests() == []


def test_trigger_polls_to_success_and_pushes_the_run_and_link_first(monitoring_sandbox):
    monitor_id = new_monitor()
    ctx = task_context()
    run_id = EncrataTriggerRunOperator(task_id="run", monitor_id=monitor_id, deferrable=False,
                                       poll_interval=0.1, timeout=30).execute(ctx)
    assert EncrataHook().get_run(monitor_id, run_id)["status"] == "success"
    assert ctx["ti"].pushed["run_id"] == run_id
    assert ctx["ti"].pushed[EncrataMonitorLink().xcom_key] == f"{monitoring_sandbox.url}/encrata/monitors/{monitor_id}"


def test_trigger_fails_when_the_run_fails(monitoring_sandbox):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("encrata", "doomed*", "failed"))
    monitor_id = new_monitor("doomed domains")
    with pytest.raises(AirflowException, match="ended 'failed'"):
        EncrataTriggerRunOperator(task_id="run", monitor_id=monitor_id, deferrable=False,
                                  poll_interval=0.1, timeout=30).execute(task_context())


def test_deferrable_trigger_defers_after_pushing_the_run_id(monitoring_sandbox):
    monitor_id = new_monitor()
    ctx = task_context()
    task = EncrataTriggerRunOperator(task_id="run", monitor_id=monitor_id, deferrable=True, timeout=600)
    with pytest.raises(TaskDeferred) as deferred:
        task.execute(ctx)
    trigger = deferred.value.trigger
    assert isinstance(trigger, EncrataRunTrigger) and trigger.run_id == ctx["ti"].pushed["run_id"]
    assert trigger.deadline == pytest.approx(time.time() + 600, abs=5)


# Retries that resume their own run: tests/operators/test_base.py.


def test_a_first_try_never_reattaches(monitoring_sandbox):
    monitor_id = new_monitor()
    task = EncrataTriggerRunOperator(task_id="run", monitor_id=monitor_id, wait_for_completion=False)
    first = task.execute(task_context())
    second = task.execute(task_context())
    assert first != second


# ---- EncrataRunResultsOperator --------------------------------------------------------------


def finished_run(targets: int = 30) -> tuple[str, str]:
    hook = EncrataHook()
    monitor_id = hook.create_monitor("portfolio", monitor_type="domain",
                                     targets=[f"d{n}.example.com" for n in range(targets)])["id"]
    run_id = EncrataTriggerRunOperator(task_id="run", monitor_id=monitor_id, deferrable=False,
                                       poll_interval=0.1, timeout=30).execute(task_context())
    return monitor_id, run_id


def results(monitor_id: str, run_id: str, **kwargs):
    from airflow_provider_monitoring.operators.encrata import EncrataRunResultsOperator

    return EncrataRunResultsOperator(task_id="results", monitor_id=monitor_id, run_id=run_id, **kwargs).execute(task_context())


def test_results_to_xcom_within_the_bound(monitoring_sandbox):
    monitor_id, run_id = finished_run(30)
    records = results(monitor_id, run_id)
    assert sorted(r["email"] for r in records) == sorted(f"d{n}.example.com" for n in range(30))
    changed = results(monitor_id, run_id, changes_only=True)
    assert changed and all(r["has_changes"] for r in changed) and len(changed) < 30


def test_results_past_the_xcom_bound_point_to_output_path(monitoring_sandbox):
    monitor_id, run_id = finished_run(30)
    with pytest.raises(ValueError, match="output_path"):
        results(monitor_id, run_id, max_xcom_records=10)


@pytest.mark.parametrize("output_format", ["jsonl", "csv"])
def test_results_stream_to_a_file(monitoring_sandbox, tmp_path, output_format):
    monitor_id, run_id = finished_run(150)
    path = tmp_path / f"out.{output_format}"
    summary = results(monitor_id, run_id, output_path=str(path), output_format=output_format)
    expected_changed = sum(r["has_changes"] for r in EncrataHook().get_run_results(monitor_id, run_id))
    assert summary == {"path": str(path), "records": 150, "changed": expected_changed}
    lines = path.read_text().splitlines()
    assert len(lines) == (150 if output_format == "jsonl" else 151)
    if output_format == "csv":
        header = lines[0].split(",")
        assert "email" in header and "data.registrar" in header
        assert {"changes.registrar.old", "changes.registrar.new"} <= set(header)


def test_results_to_an_object_storage_uri(monitoring_sandbox, tmp_path):
    monitor_id, run_id = finished_run(5)
    summary = results(monitor_id, run_id, output_path=f"file://{tmp_path}/out.jsonl")
    assert summary["records"] == 5 and len((tmp_path / "out.jsonl").read_text().splitlines()) == 5


def test_results_as_the_vendors_own_csv(monitoring_sandbox, tmp_path):
    monitor_id, run_id = finished_run(5)
    summary = results(monitor_id, run_id, output_path=str(tmp_path / "vendor.csv"), output_format="csv",
                      use_vendor_csv=True)
    assert summary["path"] == str(tmp_path / "vendor.csv")
    assert len((tmp_path / "vendor.csv").read_text().splitlines()) == 6
    assert monitoring_sandbox.requests("GET", "*/results/download")


def test_results_refuse_a_bad_format_at_parse_time():
    from airflow_provider_monitoring.operators.encrata import EncrataRunResultsOperator

    with pytest.raises(ValueError, match="unknown output_format 'xml'"):
        EncrataRunResultsOperator(task_id="r", monitor_id="m", run_id="r", output_path="x", output_format="xml")
