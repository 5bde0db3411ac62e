"""An Encrata run's evidence: its changed targets (docs/results.md, "Encrata").

One finding per changed target, read from the run's changed records (``changes_only``), at most
``MAX_FINDINGS`` of them: about one page. The run record's own counts say how many there are in all.
"""

from __future__ import annotations

import itertools
from typing import Any

from airflow_provider_monitoring.results import MAX_FINDINGS, Finding
from airflow_provider_monitoring.results.base import Evidence, whole_or_none

# The run record's counts, under the names the result uses.
RUN_COUNTS = {"total_records": "records", "changes_detected": "changed_targets", "credits_used": "credits_used"}


def read_evidence(hook: Any, monitor_id: str, run: dict) -> Evidence:
    """The evidence of ``run`` (a listed run record) of ``monitor_id``."""
    evidence = from_run(run)
    changed = evidence.counts.get("changed_targets")
    if changed != 0 and run.get("id") is not None:  # unknown counts are read too
        with evidence.reading():
            records = hook.get_run_results(monitor_id, str(run["id"]), changes_only=True)
            evidence.findings = [finding for record in itertools.islice(records, MAX_FINDINGS)
                                 if (finding := changed_target(record)) is not None]
    return evidence


def from_run(run: dict) -> Evidence:
    """What the run record itself says: its counts and times."""
    counts = {name: whole_or_none(run.get(key)) for key, name in RUN_COUNTS.items()}
    counts = {name: value for name, value in counts.items() if value is not None}
    return Evidence(counts=counts, total=counts.get("changed_targets"),
                    started_at=run.get("started_at"), finished_at=run.get("completed_at"))


def changed_target(record: Any) -> Finding | None:
    """The finding of one result record with changes; None for a record without any. One field
    changed: ``field``, ``old``, ``new`` are its own; several: ``field`` names them all, and
    ``old``/``new`` map each field to its value."""
    if not isinstance(record, dict) or not isinstance(record.get("changes"), dict) or not record["changes"]:
        return None
    target = str(record.get("email") or "")
    changes = {str(name): _old_new(change) for name, change in record["changes"].items()}
    described = "; ".join(f"{name}: {old!r} -> {new!r}" for name, (old, new) in changes.items())
    finding: Finding = {"name": target or "(no target)", "status": "changed", "severity": "info",
                        "message": f"{target} changed: {described}", "target": target}
    if len(changes) == 1:
        ((name, (old, new)),) = changes.items()
        finding.update(field=name, old=old, new=new)
    else:
        finding.update(field=", ".join(changes), old={name: old for name, (old, _) in changes.items()},
                       new={name: new for name, (_, new) in changes.items()})
    return finding


def _old_new(change: Any) -> tuple[Any, Any]:
    """A change as the hook normalises it (``{"old", "new"}``); another shape is kept whole as new."""
    if isinstance(change, dict) and set(change) <= {"old", "new"}:
        return change.get("old"), change.get("new")
    return None, change
