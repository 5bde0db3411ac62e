"""A Diligent execution's evidence: the checks its alerts failed (docs/results.md, "Diligent").

Diligent has no endpoint for one execution or its results (docs/vendors/diligent.md §8.1): the
evidence is the alerts of the monitoring raised at the execution's time, each failed check one
finding. An execution without alerts has none.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow_provider_monitoring._http.values import time_or_none
from airflow_provider_monitoring.results import Finding
from airflow_provider_monitoring.results.base import Evidence, whole_or_none

# Alerts are listed by execution time; a second either side covers the API's millisecond
# rendering against the execution listing's.
EXECUTION_TIME_SLACK = timedelta(seconds=1)
# A check's status that is a pass; any other value (FAILED, or one Diligent adds) reads as failed.
PASSING_CHECK_STATUSES = ("passed", "pass", "ok", "success")


def read_evidence(hook: Any, monitoring_id: str, execution: dict) -> Evidence:
    """The evidence of ``execution`` (an item of GET /monitoring-executions) of ``monitoring_id``."""
    if "alert_count" not in execution:  # no execution: the monitoring itself failed (running_state)
        return Evidence()
    alerts = whole_or_none(execution.get("alert_count"))
    evidence = Evidence(counts={} if alerts is None else {"alerts": alerts}, run_id=execution.get("id"),
                        started_at=execution.get("execution_time"), finished_at=execution.get("execution_time"))
    executed = time_or_none(execution.get("execution_time"))
    if alerts == 0 or executed is None:
        return evidence
    listed = hook.list_alerts(monitoring_id=monitoring_id, execution_time_after=executed - EXECUTION_TIME_SLACK,
                              execution_time_before=executed + EXECUTION_TIME_SLACK)
    mine = [alert for alert in listed if of_execution(alert, execution, executed)]
    evidence.findings = [finding for alert in mine for finding in failed_checks(alert)]
    evidence.counts["failed_checks"] = sum(finding["status"] == "failed" for finding in evidence.findings)
    return evidence


def of_execution(alert: dict, execution: dict, executed: Any) -> bool:
    """Whether ``alert`` was raised by ``execution``: its ``execution_result_id`` is the
    execution's id (probably, not certainly, the same id: §13.6), or failing that, its execution
    time is the execution's."""
    if alert.get("execution_result_id") is not None and execution.get("id") is not None:
        return str(alert["execution_result_id"]) == str(execution["id"])
    return time_or_none(alert.get("execution_time")) == executed


def failed_checks(alert: dict) -> list[Finding]:
    """One finding per entry of the alert's ``failed_checks``."""
    findings: list[Finding] = []
    for entry in alert.get("failed_checks") or []:
        if not isinstance(entry, dict):
            continue
        check = str(entry.get("check") or "(unnamed check)")
        passed = str(entry.get("status") or "").lower() in PASSING_CHECK_STATUSES
        explanation = str(entry.get("explanation") or f"check {check} {'passed' if passed else 'failed'}")
        finding: Finding = {"name": check, "status": "passed" if passed else "failed",
                            "severity": "info" if passed else "warning", "message": explanation, "check": check}
        if alert.get("website"):
            finding["target"] = str(alert["website"])
        findings.append(finding)
    return findings
