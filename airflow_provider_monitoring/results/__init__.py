"""One answer to "how did the run go", whatever the vendor: the ``monitoring_result`` contract.

Every waiting operator and sensor of this provider (and the run-results operators) pushes one
``MonitoringResult`` to XCom under the key ``monitoring_result``, when the run ends well or badly,
before the task passes, skips or fails; a downstream task with ``trigger_rule="all_done"`` can read
it. The same dict goes into the ``extra`` of the task's outlet asset events (sent when the task
succeeds) and feeds the OpenLineage facets. See docs/results.md for every key and each vendor's
findings.

Importing this module costs nothing beyond the standard library: the DAG processor may import it.
"""


from typing import Any, Literal, NotRequired, Required, TypedDict, get_args

__all__ = [
    "FINDING_SEVERITIES", "FINDING_STATUSES", "MAX_FINDINGS", "RESULT_KEY", "RESULT_OUTCOMES", "Finding",
    "MonitoringResult", "ResultError", "WatchedDataset", "validate_result",
]

# The XCom key every waiting task pushes its result under.
RESULT_KEY = "monitoring_result"

# How a run ended, in the provider's one vocabulary: the trigger event's statuses.
Outcome = Literal["success", "alert", "failed", "timeout", "error"]
RESULT_OUTCOMES: tuple[str, ...] = get_args(Outcome)

# What one finding says about its check: it held, it did not, the watched value changed (Encrata),
# or the vendor does not tell (a Datafold metric whose value the API does not expose, say).
Status = Literal["passed", "failed", "changed", "unknown"]
Severity = Literal["info", "warning", "error"]
FINDING_STATUSES: tuple[str, ...] = get_args(Status)
FINDING_SEVERITIES: tuple[str, ...] = get_args(Severity)

# Findings kept per result: enough to act on, small enough for XCom and an asset event's extra.
# ``counts["findings"]`` always holds how many there were in all.
MAX_FINDINGS = 100


class Finding(TypedDict, total=False):
    """One piece of the vendor's evidence, in one shape for the three vendors.

    Always present: ``name`` (what was checked: a target's field, a Diligent check, a Datafold
    column or metric), ``status`` (one of ``FINDING_STATUSES``), ``severity`` (one of
    ``FINDING_SEVERITIES``) and ``message`` (one line a person reads). The rest is there where the
    vendor gives it: ``target`` (the Encrata target or Diligent website), ``field``, ``old``, ``new``
    (an Encrata change), ``check`` (the kind of check: a Diligent check, a Datafold metric,
    ``rows_changed``, ``values_match``, ``schema_change``...), ``table`` and ``column`` (Datafold),
    ``expected`` and ``actual`` (a threshold and the value measured).
    """

    name: Required[str]
    status: Required[Status]
    severity: Required[Severity]
    message: Required[str]
    target: str
    field: str
    old: Any
    new: Any
    check: str
    table: str
    column: str
    expected: Any
    actual: Any


class WatchedDataset(TypedDict):
    """A dataset a Datafold monitor watches, as the monitor names it: the Datafold data source
    (``connection_id``) and the ``table`` (``db.schema.table``; None for a query dataset), with the
    ``column`` of a column metric."""

    connection_id: int | None
    table: str | None
    column: str | None


class MonitoringResult(TypedDict):
    """What every waiting task pushes as XCom ``monitoring_result``.

    ``vendor`` (``encrata``, ``diligent``, ``datafold``); ``monitor_id`` (the Diligent monitoring
    id); ``run_id`` (the Encrata or Datafold run, the Diligent execution; None when no run was
    found); ``outcome`` (one of ``RESULT_OUTCOMES``); ``vendor_state`` (the vendor's raw state, None
    when unknown); ``started_at`` and ``finished_at`` (ISO 8601 UTC, None where the vendor does not
    give them); ``url`` (the monitor in the vendor's UI); ``message`` (the line the task logged);
    ``counts`` (whole numbers: ``findings`` in all, plus each vendor's own counts); ``findings``
    (at most ``MAX_FINDINGS`` of them, failed ones first); ``findings_error`` (only when the
    evidence could not be read: the run's outcome stands, its findings are missing); ``datasets``
    (Datafold only: what the monitor watches, see ``WatchedDataset``).
    """

    vendor: str
    monitor_id: str
    run_id: str | None
    outcome: Outcome
    vendor_state: str | None
    started_at: str | None
    finished_at: str | None
    url: str | None
    message: str
    counts: dict[str, int]
    findings: list[Finding]
    findings_error: NotRequired[str]
    datasets: NotRequired[list[WatchedDataset]]


class ResultError(ValueError):
    """A value that is not a ``MonitoringResult``: names the key and what was wrong."""


def validate_result(value: Any) -> MonitoringResult:
    """``value`` if it is a ``MonitoringResult`` (every key, each of its type, known outcome,
    statuses and severities); ``ResultError`` naming the first key that is not. Use it in a
    downstream task to read a result pulled from XCom or an asset event's ``extra``."""
    import msgspec

    try:
        result = msgspec.convert(value, MonitoringResult)
    except msgspec.ValidationError as exc:
        raise ResultError(f"not a monitoring_result: {exc}") from None
    if len(result["findings"]) > MAX_FINDINGS:
        raise ResultError(f"not a monitoring_result: {len(result['findings'])} findings, at most {MAX_FINDINGS}")
    if result["counts"].get("findings", 0) < len(result["findings"]):
        raise ResultError("not a monitoring_result: counts.findings is smaller than the findings listed")
    return result
