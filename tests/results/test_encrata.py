"""An Encrata run's findings: one per changed target, in the shape the hook normalises changes to; and
the run-results operator's result, pushed before the export so a failed export still has it, and
never failing an export when the run itself cannot be read."""

from __future__ import annotations

import pytest

from airflow_provider_monitoring.operators.encrata import EncrataRunResultsOperator
from airflow_provider_monitoring.results import validate_result
from airflow_provider_monitoring.results.encrata import changed_target
from airflow_provider_monitoring.sandbox.core import FaultRule
from airflow_provider_monitoring.sensors.encrata import EncrataRunSensor
from tests.standins import poke_until_done, task_context
from tests.vendor_runs import start_encrata_run


def test_one_changed_field_is_the_findings_own_field_old_and_new():
    finding = changed_target({"email": "a@x.io", "changes": {"title": {"old": "CEO", "new": "CTO"}}})
    assert (finding["name"], finding["field"], finding["old"], finding["new"]) == ("a@x.io", "title", "CEO", "CTO")
    assert finding["message"] == "a@x.io changed: title: 'CEO' -> 'CTO'"


def test_several_changed_fields_map_each_field_to_its_old_and_new_value():
    finding = changed_target({"email": "a@x.io", "changes": {"title": {"old": "CEO", "new": "CTO"},
                                                             "phone": {"old": None, "new": "+1 555"}}})
    assert finding["field"] == "title, phone"
    assert (finding["old"], finding["new"]) == ({"title": "CEO", "phone": None}, {"title": "CTO", "phone": "+1 555"})


@pytest.mark.parametrize("record", [{"email": "a@x.io", "changes": None}, {"email": "a@x.io", "changes": {}}, "x"])
def test_a_record_without_changes_is_no_finding(record):
    assert changed_target(record) is None


def finished_run(name: str) -> tuple[str, str]:
    """A run of a two-target monitor, waited for until it succeeded."""
    monitor, run = start_encrata_run(name)
    poke_until_done(EncrataRunSensor(task_id="w", monitor_id=monitor, run_id=run, poll_interval=0.1,
                                     deferrable=False))
    return monitor, run


def test_the_run_results_operator_pushes_the_result_even_when_its_export_fails(monitoring_sandbox):
    monitor, run = finished_run("exported")
    task = EncrataRunResultsOperator(task_id="results", monitor_id=monitor, run_id=run, max_xcom_records=1)
    context = task_context()
    with pytest.raises(ValueError):
        task.execute(context)  # two records, at most one for XCom: the export fails
    result = validate_result(context["ti"].pushed["monitoring_result"])
    assert (result["outcome"], result["run_id"], result["counts"]["records"]) == ("success", run, 2)


def test_a_run_that_cannot_be_read_gets_no_result_but_the_export_goes_on(monitoring_sandbox, tmp_path):
    monitor, run = finished_run("unlisted")
    monitoring_sandbox.config.faults.append(FaultRule(kind="status", status=404, method="GET", path="*/runs"))
    task = EncrataRunResultsOperator(task_id="results", monitor_id=monitor, run_id=run,
                                     output_path=str(tmp_path / "out.jsonl"))
    context = task_context()
    assert task.execute(context)["records"] == 2
    assert "monitoring_result" not in context["ti"].pushed
