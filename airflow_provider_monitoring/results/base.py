"""Assembling a ``MonitoringResult`` from a wait's event, written once for the three vendors.

Each vendor module reads its own evidence (``Evidence``) with the sync hook, on the worker, after
the wait ended; this module turns event plus evidence into the result, and pushes it. Reading the
evidence never changes the task's verdict: the outcome is the wait's, and a failed read leaves the
findings out with ``findings_error`` saying why.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from airflow_provider_monitoring._http.errors import MonitoringError
from airflow_provider_monitoring._http.values import iso_utc, time_or_none
from airflow_provider_monitoring.results import MAX_FINDINGS, RESULT_KEY, Finding, MonitoringResult

log = logging.getLogger(__name__)

# Outcomes after which the run ended and its evidence can be read; a timeout or an API error leaves
# the run unread (it may still be going, or the vendor could not be reached).
ENDED = ("success", "alert", "failed")
# Failed findings first, then changes, then what the vendor did not judge, then passes.
STATUS_ORDER = {"failed": 0, "changed": 1, "unknown": 2, "passed": 3}


@dataclass
class Evidence:
    """What a vendor module knows about an ended run: first what the run record says, then what
    further reads add (``reading()``). ``total`` is how many findings there are in all when the
    module read fewer than exist (Encrata's changed targets); None means ``findings`` is all of
    them. ``run_id`` names the run where the event could not (a Diligent execution); ``error``
    says why the findings are missing or partial."""

    findings: list[Finding] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    total: int | None = None
    started_at: Any = None
    finished_at: Any = None
    datasets: list[dict] | None = None
    run_id: Any = None
    error: str | None = None

    @contextlib.contextmanager
    def reading(self) -> Iterator[Evidence]:
        """The reads that add findings: whatever goes wrong in them is noted in ``error`` and
        logged, and what is known already (the run record's counts and times) stays."""
        try:
            yield self
        except Exception as exc:
            self.error = _described(exc)
            log.warning("the run's outcome stands, but its findings could not be read: %s", self.error,
                        exc_info=not isinstance(exc, MonitoringError))


def build_result(event: dict, url: Callable[[], str | None], read_evidence: Callable[[], Evidence]) -> MonitoringResult:
    """The result of the wait that ended with ``event`` (a validated trigger event): the monitor's
    ``url()`` and, when the run ended, the evidence ``read_evidence()`` reads.

    Neither may change the task's verdict, which is the event's: whatever goes wrong reading them
    (the vendor, the connection, or a bug of ours) is logged and noted in ``findings_error``."""
    link = _or_none(url)
    evidence = Evidence()
    if event["status"] in ENDED:
        # Each vendor guards its own reads (Evidence.reading); what still escapes (the run record
        # itself unreadable, a bug) leaves an empty evidence that says what went wrong.
        with Evidence().reading() as fallback:
            evidence = read_evidence()
        evidence = evidence if fallback.error is None else fallback
    error = evidence.error
    findings = sorted(evidence.findings, key=lambda finding: STATUS_ORDER.get(finding["status"], 9))
    total = max(evidence.total or 0, len(findings))
    result: dict[str, Any] = {
        "vendor": event["vendor"],
        "monitor_id": event["monitor_id"],
        "run_id": event["run_id"] if evidence.run_id is None else str(evidence.run_id),
        "outcome": event["status"],
        "vendor_state": event.get("vendor_state"),
        "started_at": _iso(evidence.started_at),
        "finished_at": _iso(evidence.finished_at),
        "url": link,
        "message": event["message"],
        "counts": {**{key: value for key, value in evidence.counts.items() if _whole(value)}, "findings": total},
        "findings": findings[:MAX_FINDINGS],
    }
    if error is not None:
        result["findings_error"] = error
    if evidence.datasets is not None:
        result["datasets"] = evidence.datasets
    return result  # type: ignore[return-value]


def result_of_run(state: Any, vendor: str, monitor_id: Any, run_id: Any, url: str | None,
                  read_evidence: Callable[[], Evidence]) -> MonitoringResult | None:
    """The result of a run read outside any wait (a run-results operator), from its ``RunState``;
    None while the run is still going (it has no outcome yet)."""
    from airflow_provider_monitoring._waiting import RUNNING, make_event

    if state.outcome == RUNNING:
        return None
    message = state.message or f"{vendor} run {run_id} of monitor {monitor_id} ended {state.vendor_state!r}"
    event = make_event(state.outcome, vendor, monitor_id, run_id, state, message)
    return build_result(event, lambda: url, read_evidence)


def push_result(task: Any, context: Any, result: MonitoringResult) -> None:
    """Keep the result on the task (the OpenLineage methods read it there), push it to XCom, and
    log its one-line summary."""
    task.monitoring_result = result
    context["ti"].xcom_push(key=RESULT_KEY, value=result)
    log.info("monitoring_result: %s", summary_line(result))


def annotate_outlets(task: Any, context: Any, result: MonitoringResult, base_url: Callable[[], str]) -> None:
    """Put ``result`` in the ``extra`` of every asset event the task sends, under the key
    ``monitoring_result``: its ``Asset`` outlets' events, and for each ``AssetAlias`` outlet an
    event of the monitor's own asset (``<vendor>://<host of base_url()>/monitors/<id>``), so a
    gate on a monitor created at run time still sends its monitor's event. Airflow sends them
    when the task succeeds.

    Called once the task passed: an outlet that cannot carry the result (an alias whose monitor
    asset cannot be built) is logged as an error and left out; it never fails a passed gate,
    which would make a retry pay for another run."""
    from airflow.sdk import Asset, AssetAlias

    outlets = getattr(task, "outlets", None) or []
    if not outlets:
        return
    events = context["outlet_events"]
    for outlet in outlets:
        try:
            if isinstance(outlet, Asset):
                events[outlet].extra[RESULT_KEY] = result
            elif isinstance(outlet, AssetAlias):
                from airflow_provider_monitoring.assets import monitor_asset

                monitor = monitor_asset(result["vendor"], result["monitor_id"], base_url())
                events[outlet].add(monitor, extra={RESULT_KEY: result})
        except Exception as exc:
            log.error("the gate passed, but its outlet %r carries no event of its monitor: %s", outlet,
                      _described(exc), exc_info=not isinstance(exc, (MonitoringError, ValueError)))


def summary_line(result: MonitoringResult) -> str:
    """One line a person reads: outcome, run, counts and the first findings."""
    counts = ", ".join(f"{key} {value}" for key, value in result["counts"].items())
    run = f"run {result['run_id']}" if result["run_id"] is not None else "no run"
    # What failed or changed, by its check or field: an Encrata finding is named after its target,
    # an email or phone number that has no place in a log line.
    failing = [finding.get("check") or finding.get("field") or finding["name"]
               for finding in result["findings"] if finding["status"] in ("failed", "changed")]
    failing = list(dict.fromkeys(failing))
    shown = f"; {', '.join(failing[:3])}{' ...' if len(failing) > 3 else ''}" if failing else ""
    return f"{result['vendor']} monitor {result['monitor_id']}, {run}: {result['outcome']} ({counts}){shown}"


def _or_none(url: Callable[[], str | None]) -> str | None:
    """The monitor's link, or None when it cannot be built (the connection is gone, say)."""
    try:
        return url()
    except Exception as exc:
        log.warning("the result carries no link to the monitor: %s", _described(exc))
        return None


def _described(exc: BaseException) -> str:
    """An API error's own message (it names vendor, status and path); anything else with its type."""
    return str(exc) if isinstance(exc, MonitoringError) else f"{type(exc).__name__}: {exc}"


def whole_or_none(value: Any) -> int | None:
    """A vendor count as an int, or None when it is not a whole number (booleans included)."""
    return value if _whole(value) else None


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _iso(value: Any) -> str | None:
    moment = time_or_none(value)  # unreadable reads as unknown: the result is evidence, not a gate
    return None if moment is None else iso_utc(moment)
