"""A Diligent execution's findings: the failed checks of the alerts it raised, matched by id or, when
the ids differ (they probably, not certainly, match), by time; a count with no alert to show is said,
not silently dropped; a server that ignores the filters is read a bounded number of alerts."""

from __future__ import annotations

from datetime import datetime, timezone

from airflow_provider_monitoring._waiting import RunState, make_event
from airflow_provider_monitoring.hooks.diligent import DiligentHook
from airflow_provider_monitoring.results import validate_result
from airflow_provider_monitoring.results.base import build_result
from airflow_provider_monitoring.results.diligent import ALERT_READ_LIMIT, alerts_of, failed_checks, read_evidence
from tests.vendor_runs import start_diligent_monitoring, wait_for_diligent_execution

EXECUTED = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
EXECUTION = {"id": "exe-1", "monitoring_id": "m-1", "execution_time": "2026-03-01T12:00:00Z", "alert_count": 2}


def alert(**fields) -> dict:
    return {"id": "a", "monitoring_id": "m-1", "execution_result_id": "exe-1", "execution_time": "2026-03-01T12:00:00.412Z",
            "website": "https://shop.example", "failed_checks": [{"check": "high_risk_mcc", "status": "FAILED"}], **fields}


def test_alerts_are_matched_by_execution_id_first():
    mine, other = alert(id="a1"), alert(id="a2", execution_result_id="exe-2")
    assert alerts_of(EXECUTION, EXECUTED, [mine, other]) == [mine]


def test_when_no_id_matches_the_alerts_of_the_executions_time_are_its_own():
    # The alert listing renders milliseconds the execution listing leaves out.
    near = alert(id="a1", execution_result_id="result-9")
    far = alert(id="a2", execution_result_id="result-8", execution_time="2026-03-01T12:00:02Z")
    assert alerts_of(EXECUTION, EXECUTED, [near, far]) == [near]


def test_an_alert_of_an_older_rendering_without_failed_checks_is_still_a_failed_finding():
    (finding,) = failed_checks(alert(failed_checks=None))
    assert (finding["name"], finding["status"], finding["target"]) == ("alert", "failed", "https://shop.example")


def test_a_check_whose_status_says_it_passed_is_a_passed_finding():
    checks = [{"check": "high_risk_mcc", "status": "PASSED"}, {"check": "non_operational_website", "status": "FLAGGED"}]
    assert [f["status"] for f in failed_checks(alert(failed_checks=checks))] == ["passed", "failed"]


def result_of_execution(execution: dict) -> dict:
    state = RunState("alert", "alerts", execution)
    event = make_event("alert", "diligent", execution["monitoring_id"], None, state, "alerts")
    return validate_result(build_result(event, lambda: None,
                                        lambda: read_evidence(DiligentHook(), execution["monitoring_id"], execution)))


def test_alerts_counted_but_not_listed_are_said_and_the_counts_stay(monitoring_sandbox):
    result = result_of_execution({**EXECUTION, "monitoring_id": "no-such-monitoring"})
    assert result["findings"] == [] and result["counts"] == {"alerts": 2, "failed_checks": 0, "findings": 0}
    assert "counts 2 alert(s)" in result["findings_error"] and result["run_id"] == "exe-1"


def test_a_server_that_ignores_the_filters_is_read_a_bounded_number_of_alerts(monitoring_sandbox):
    # The older camelCase generation ignores the snake_case filters (and page size) sent.
    monitoring_sandbox.call(lambda state: state["diligent"].setdefault("settings", {}).update(rendering="camel"))
    monitoring, before = start_diligent_monitoring("https://alert-demo-evidence.example.com")
    execution = wait_for_diligent_execution(monitoring, before, on_alert="succeed")
    result = result_of_execution(execution)
    assert {f["check"] for f in result["findings"]} == {"non_operational_website", "high_risk_mcc"}
    assert "findings_error" not in result
    # However long the account's history, one gate reads at most ALERT_READ_LIMIT alerts.
    pages = [r for r in monitoring_sandbox.requests() if r[1].endswith("/monitoring-alerts")]
    assert 1 <= len(pages) <= ALERT_READ_LIMIT // 10 + 1
