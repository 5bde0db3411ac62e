"""A Diligent execution's evidence: the checks its alerts failed (docs/results.md, "Diligent").

Diligent has no endpoint for one execution or its results (docs/vendors/diligent.md §8.1): the
evidence is the alerts of the monitoring raised at the execution's time, each failed check one
finding. An execution without alerts has none.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

from airflow_provider_monitoring._http.values import time_or_none
from airflow_provider_monitoring.results import Finding
from airflow_provider_monitoring.results.base import Evidence, whole_or_none

# Alerts are listed by execution time; a second either side covers the API's millisecond
# rendering against the execution listing's.
EXECUTION_TIME_SLACK = timedelta(seconds=1)
# The most alerts read for one execution's evidence. The window is two seconds of one monitoring,
# but a server that ignores the filters (the camelCase generation, §1.6) would list the account's
# whole history: the read stops here and says the findings may be partial.
ALERT_READ_LIMIT = 500
# A check's status that is a pass; any other value (FAILED, or one Diligent adds) reads as failed.
PASSING_CHECK_STATUSES = ("passed", "pass", "ok", "success")


def read_evidence(hook: Any, monitoring_id: str, execution: dict) -> Evidence:
    """The evidence of ``execution`` (an item of GET /monitoring-executions) of ``monitoring_id``."""
    if "alert_count" not in execution:  # no execution: the monitoring itself failed (running_state)
        return Evidence()
    evidence = from_execution(execution)
    alerts = evidence.counts.get("alerts")
    executed = time_or_none(execution.get("execution_time"))
    if alerts == 0 or executed is None:
        return evidence
    with evidence.reading():
        listed = list(itertools.islice(hook.list_alerts(
            monitoring_id=monitoring_id, execution_time_after=executed - EXECUTION_TIME_SLACK,
            execution_time_before=executed + EXECUTION_TIME_SLACK), ALERT_READ_LIMIT))
        mine = alerts_of(execution, executed, listed)
        evidence.findings = [finding for alert in mine for finding in failed_checks(alert)]
        evidence.counts["failed_checks"] = sum(finding["status"] == "failed" for finding in evidence.findings)
        if len(listed) == ALERT_READ_LIMIT:
            evidence.error = (f"read the first {ALERT_READ_LIMIT} alerts Diligent listed for this execution's "
                              "time only; its findings may be incomplete")
        elif not mine:
            evidence.error = (f"Diligent counts {alerts} alert(s) for execution {execution.get('id')} but "
                              f"lists none of monitoring {monitoring_id} at {execution.get('execution_time')}")
    return evidence


def from_execution(execution: dict) -> Evidence:
    """What the execution record itself says: its alert count, id and time."""
    alerts = whole_or_none(execution.get("alert_count"))
    return Evidence(counts={} if alerts is None else {"alerts": alerts}, run_id=execution.get("id"),
                    started_at=execution.get("execution_time"), finished_at=execution.get("execution_time"))


def alerts_of(execution: dict, executed: Any, listed: list[dict]) -> list[dict]:
    """The alerts ``execution`` raised among ``listed``: those whose ``execution_result_id`` is the
    execution's id; when none is (§13.6: the two ids probably, not certainly, match), those of the
    execution's time, within the slack of the two listings' renderings."""
    by_id = [alert for alert in listed
             if execution.get("id") is not None and str(alert.get("execution_result_id")) == str(execution["id"])]
    if by_id:
        return by_id
    return [alert for alert in listed
            if (when := time_or_none(alert.get("execution_time"))) is not None
            and abs(when - executed) <= EXECUTION_TIME_SLACK]


def failed_checks(alert: dict) -> list[Finding]:
    """One finding per entry of the alert's ``failed_checks``; an alert that lists none (an older
    rendering) is one failed finding of its own."""
    website = str(alert["website"]) if alert.get("website") else None
    entries = [entry for entry in alert.get("failed_checks") or [] if isinstance(entry, dict)]
    if not entries:
        finding: Finding = {"name": "alert", "status": "failed", "severity": "warning",
                            "message": f"Diligent alert {alert.get('id')} lists no failed check"}
        return [{**finding, "target": website} if website else finding]
    findings: list[Finding] = []
    for entry in entries:
        check = str(entry.get("check") or "(unnamed check)")
        passed = str(entry.get("status") or "").lower() in PASSING_CHECK_STATUSES
        explanation = str(entry.get("explanation") or f"check {check} {'passed' if passed else 'failed'}")
        finding = {"name": check, "status": "passed" if passed else "failed",
                   "severity": "info" if passed else "warning", "message": explanation, "check": check}
        findings.append({**finding, "target": website} if website else finding)
    return findings
