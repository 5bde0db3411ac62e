"""A Datafold run's evidence, per monitor type (docs/results.md, "Datafold").

A data-diff run links a data diff (``diff_id``): its statistics give rows added, removed and
changed, and its structured summary each compared column. Metric, test and schema-change runs
expose no measurement (docs/vendors/datafold.md §2.14): their finding is the monitor's own check
(metric and bounds, test, watched table) judged by the run's state, ``actual`` left out.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_monitoring.hooks.datafold import run_problems
from airflow_provider_monitoring.results import Finding
from airflow_provider_monitoring.results.base import Evidence, whole_or_none

# A run state read as a finding's status and severity. Learning and skipped runs give no verdict.
STATE_VERDICTS = {
    "ok": ("passed", "info"),
    "alert": ("failed", "warning"),
    "error": ("failed", "error"),
    "cancelled": ("failed", "error"),
    "learning": ("unknown", "warning"),
    "skipped": ("unknown", "warning"),
}
UNKNOWN_STATE = ("failed", "error")  # a state Datafold adds later: fail closed, as the wait does
# diff_stats counts, under the names the result uses.
DIFF_COUNTS = {"rows_added": "rows_added", "rows_removed": "rows_removed", "diff_rows_count": "rows_changed"}


def read_evidence(hook: Any, monitor_id: Any, run: dict, diff: dict | None = None) -> Evidence:
    """The evidence of ``run`` (the run's detail, GET /monitors/{id}/runs/{run_id}) of
    ``monitor_id``: the monitor (its type, datasets and alert condition) and, for a data diff,
    the diff (unless the caller read it already: ``diff``) and its structured summary."""
    evidence = from_run(run)
    status, severity = STATE_VERDICTS.get(run.get("state"), UNKNOWN_STATE)
    detail = run_problems(run)
    with evidence.reading():
        monitor = hook.get_monitor(monitor_id)
        evidence.datasets = watched_datasets(monitor)
        kind = monitor.get("monitor_type")
        if kind == "diff" and run.get("diff_id") is not None:
            diff = diff if diff is not None else hook.get_data_diff(run["diff_id"])
            evidence.finished_at = diff.get("finished_at")
            done = hook.get_data_diff_summary_results(run["diff_id"])
            evidence.findings, counts = diff_findings(diff, done, monitor.get("alert"), status, severity, detail)
            evidence.counts.update(counts)
        else:
            evidence.findings = [check_finding(kind, entry, monitor.get("alert"), status, severity, detail)
                                 for entry in (monitor.get("dataset") or [{}]) if isinstance(entry, dict)]
    return evidence


def from_run(run: dict) -> Evidence:
    """What the run record itself says: its warnings and start."""
    warnings = run.get("warnings") if isinstance(run.get("warnings"), list) else []
    return Evidence(counts={"warnings": len(warnings)}, started_at=run.get("started_at"))


def watched_datasets(monitor: dict) -> list[dict]:
    """What the monitor watches, from the flattened ``dataset`` entries GET returns (§2.2)."""
    datasets = []
    for entry in monitor.get("dataset") or []:
        if isinstance(entry, dict):
            connection = entry.get("connection_id")
            datasets.append({"connection_id": connection if isinstance(connection, int) else None,
                             "table": _text(entry.get("table")), "column": _text(entry.get("column"))})
    return datasets


def diff_findings(diff: dict, done: dict, alert: Any, status: str, severity: str,
                  detail: str) -> tuple[list[Finding], dict[str, int]]:
    """Rows added, removed and changed (the diff's statistics, judged against the monitor's alert
    condition), and each compared column (the structured summary's value statistics)."""
    stats = diff.get("diff_stats") if isinstance(diff.get("diff_stats"), dict) else {}
    counts = {name: count for key, name in DIFF_COUNTS.items() if (count := whole_or_none(stats.get(key))) is not None}
    condition = {key: value for key, value in (alert or {}).items() if key != "type" and value is not None}
    findings: list[Finding] = []
    for name, count in counts.items():
        part, part_severity = part_verdict(count > 0, status, severity)
        findings.append({"name": name.replace("_", " "), "check": name, "status": part, "severity": part_severity,
                         "message": _with(f"{count} {name.replace('_', ' ')}", detail),
                         "expected": condition or None, "actual": count})
    values = done.get("values") if isinstance(done.get("values"), dict) else {}
    columns = [entry for entry in values.get("columns_diff_stats") or [] if isinstance(entry, dict)]
    for entry in columns:
        findings.append(column_finding(entry, status, severity))
    counts["columns_compared"] = whole_or_none(values.get("compared_columns")) or len(columns)
    differing = whole_or_none(values.get("columns_with_differences"))
    counts["columns_with_differences"] = differing if differing is not None else sum(
        (whole_or_none(entry.get("values_different")) or 0) > 0 for entry in columns)
    if status == "failed" and not findings:  # a diff that failed before measuring anything
        findings.append({"name": "data diff", "check": "data_diff", "status": "failed", "severity": severity,
                         "message": _with("the data diff gave no statistics", detail)})
    return findings, counts


def column_finding(entry: dict, status: str, severity: str) -> Finding:
    """One compared column: how many of its values differ, and its match percentage."""
    column = str(entry.get("column_name") or "(unnamed column)")
    different = whole_or_none(entry.get("values_different")) or 0
    match = entry.get("match")
    share = f" ({match:.1f}% match)" if isinstance(match, (int, float)) and not isinstance(match, bool) else ""
    part, part_severity = part_verdict(different > 0, status, severity)
    finding: Finding = {"name": f"column {column}", "check": "values_match", "status": part,
                        "severity": part_severity, "message": f"{different} values differ{share}", "column": column,
                        "actual": different}
    if status == "failed":
        finding["expected"] = 0  # in a run that passed, the alert condition tolerated what differs
    return finding


def part_verdict(differs: bool, status: str, severity: str) -> tuple[str, str]:
    """A part of a diff (a row count, a column) judged with the run: in a run that did not pass,
    the parts with differences carry the run's verdict and the others passed; in a run that
    passed or gave no verdict, every part shares its status."""
    if status == "failed" and not differs:
        return "passed", "info"
    return status, severity if status != "passed" else "info"


def check_finding(kind: Any, entry: dict, alert: Any, status: str, severity: str, detail: str) -> Finding:
    """A metric, test or schema-change monitor's check, judged by the run's state."""
    table, column = _text(entry.get("table")), _text(entry.get("column"))
    where = ".".join(part for part in (table, column) if part) or "its query"
    if kind == "metric":
        check = str(entry.get("metric") or "metric")
        name = f"{check} of {where}"
    elif kind == "schema":
        check, name = "schema_change", f"schema of {where}"
        status = "changed" if status == "failed" and severity == "warning" else status
    else:
        check, name = f"{kind or 'monitor'}_check", f"{kind or 'monitor'} check on {where}"
    finding: Finding = {"name": name, "check": check, "status": status, "severity": severity,
                        "message": _with(f"{name}: {_verdict(status)}", detail)}
    if table:
        finding["table"] = table
    if column:
        finding["column"] = column
    condition = {key: value for key, value in (alert or {}).items() if value is not None}
    if kind == "metric" and condition:
        finding["expected"] = condition  # the alert's bounds; Datafold's API gives no measured value
    return finding


def _verdict(status: str) -> str:
    return {"passed": "held", "failed": "did not hold", "changed": "changed",
            "unknown": "no verdict from Datafold"}[status]


def _with(text: str, detail: str) -> str:
    return f"{text} ({detail})" if detail else text


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
