"""Waiting for a run, written once for the three vendors (docs/design.md, "Run outcome" and "Waiting").

Each vendor's hook knows how to read one run and map its raw state onto the one vocabulary
(``running`` / ``success`` / ``alert`` / ``failed``). Everything else lives here: the wait loop with
its wall-clock deadline, the TriggerEvent payload, its validation, and what a task does with it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping

from airflow.sdk.exceptions import AirflowException

from airflow_provider_monitoring._http.errors import (
    DeadlineReached,
    MonitoringError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
    UnexpectedResponseError,
)
from airflow_provider_monitoring.results import RESULT_OUTCOMES

log = logging.getLogger(__name__)

RUNNING, SUCCESS, ALERT, FAILED = "running", "success", "alert", "failed"
OUTCOMES = (RUNNING, SUCCESS, ALERT, FAILED)
EVENT_STATUSES = RESULT_OUTCOMES  # an event's status is the outcome its result reports
ON_ALERT = ("fail", "succeed", "skip")
ON_ERROR = ("fail", "skip")

# Failures that say nothing about the run: the vendor or the network had a bad moment. A poll that
# still fails this way after the HTTP layer's own retries is tried again at the next interval, up
# to TRANSIENT_POLLS polls in a row, before the wait ends as "error". Auth, not-found and
# validation errors end it at once: waiting does not fix them.
TRANSIENT_ERRORS = (TransportError, ServerError, RateLimitedError, UnexpectedResponseError)
TRANSIENT_POLLS = 5

# A run id the vendor has just returned may not be readable yet (Datafold answers 404 for a moment
# after POST /run). For this long after the run was started, a "not found" means "not visible yet":
# a few polls, and never less than half a minute.
NOT_VISIBLE_GRACE_POLLS = 3
NOT_VISIBLE_GRACE_FLOOR = 30.0


def not_visible_until(started_at: float, poll_interval: float) -> float:
    """Until when (epoch seconds) a just-started run may answer "not found" without ending the wait."""
    return started_at + max(NOT_VISIBLE_GRACE_POLLS * poll_interval, NOT_VISIBLE_GRACE_FLOOR)


@dataclass(frozen=True)
class RunState:
    """One reading of a run: where it stands in the shared vocabulary, and what the vendor said."""

    outcome: str
    vendor_state: str | None
    run: dict = field(default_factory=dict)
    message: str = ""


def run_state(vendor: str, table: Mapping[str | None, str], raw: Any, run: dict, message: str = "") -> RunState:
    """Map ``raw`` through a vendor's table. A value the table does not know fails closed: the run
    is reported failed with the raw value in the message, never taken for progress or success."""
    key = raw if raw is None or isinstance(raw, str) else str(raw)
    outcome = table.get(key)
    if outcome is None:
        return RunState(FAILED, key, run, f"unknown {vendor} run state {raw!r}; treated as failed")
    return RunState(outcome, key, run, message)


def make_event(status: str, vendor: str, monitor_id: Any, run_id: Any, state: RunState | None,
               message: str, error: BaseException | None = None) -> dict[str, Any]:
    event = {
        "status": status,
        "vendor": vendor,
        "monitor_id": str(monitor_id),
        "run_id": None if run_id is None else str(run_id),  # None: not known (yet), e.g. no execution found
        "vendor_state": state.vendor_state if state else None,
        "run": state.run if state else {},
        "message": message,
    }
    if error is not None:
        event["error"] = error_details(error)
    return event


def error_details(error: BaseException) -> dict[str, Any]:
    """What a retry policy needs to know of the API error that ended a wait, as plain JSON (the
    event crosses from the triggerer to a worker, where the exception object is gone)."""
    return {
        "type": type(error).__name__,
        "status": getattr(error, "status", None),
        "retry_after": getattr(error, "retry_after", None),
        "not_found": isinstance(error, NotFoundError),
    }


def error_event(vendor: str, monitor_id: Any, run_id: Any, error: MonitoringError,
                state: RunState | None = None, message: str | None = None) -> dict[str, Any]:
    return make_event("error", vendor, monitor_id, run_id, state, message or str(error), error)


def timeout_event(vendor: str, monitor_id: Any, run_id: Any, state: RunState | None,
                  subject: str | None = None) -> dict[str, Any]:
    where = f"still {state.vendor_state!r}" if state is not None else "not read successfully"
    return make_event("timeout", vendor, monitor_id, run_id, state,
                      f"{subject or f'{vendor} run {run_id}'} {where} at the deadline; gave up waiting")


class TransientFailures:
    """Counts polls in a row that failed for a transient reason (see TRANSIENT_ERRORS)."""

    def __init__(self, limit: int = TRANSIENT_POLLS, in_a_row: int = 0):
        self.limit = limit
        self.in_a_row = in_a_row

    def tolerate(self, error: MonitoringError, subject: str) -> bool:
        """True when the wait for ``subject`` should shrug ``error`` off and poll again at the
        next interval."""
        if not isinstance(error, TRANSIENT_ERRORS):
            return False
        self.in_a_row += 1
        if self.in_a_row >= self.limit:
            return False
        log.warning("%s: poll %d in a row failed (%s); trying again at the next interval "
                    "(the wait ends as error after %d)", subject, self.in_a_row, error, self.limit)
        return True

    def message(self, error: MonitoringError) -> str:
        return f"{error} ({self.in_a_row} polls in a row failed)" if self.in_a_row > 1 else str(error)

    def reset(self) -> None:
        self.in_a_row = 0


async def wait_for_run(
    read: Callable[[], Awaitable[RunState]],
    *,
    vendor: str,
    monitor_id: Any,
    run_id: Any,
    deadline: float,
    poll_interval: float,
    not_found_until: float | None = None,
    subject: str | None = None,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    clock: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """Poll ``read`` until the run leaves ``running`` or the wall-clock ``deadline`` (epoch seconds)
    passes; the TriggerEvent payload. The last sleep ends at the deadline, so the run is read once
    more there before a timeout is reported, and no read outlives the deadline either: the HTTP
    layer gives up its retry sleeps when they would pass it.

    A transient read failure (see TRANSIENT_ERRORS) is tried again at the next interval, up to
    TRANSIENT_POLLS polls in a row; a "not found" before ``not_found_until`` (epoch seconds; a run
    just started may not be visible yet) counts as still running; any other API error ends the
    wait with status ``error``. ``subject`` names what is waited for in messages (default
    "<vendor> run <run_id>").
    """
    from airflow_provider_monitoring._http.retry import deadline_at  # the HTTP layer, loaded when a wait runs

    subject = subject or f"{vendor} run {run_id}"
    failures = TransientFailures()
    state: RunState | None = None
    while True:
        pause = poll_interval
        try:
            with deadline_at(deadline if math.isfinite(deadline) else None):
                state = await read()
        except DeadlineReached:
            return timeout_event(vendor, monitor_id, run_id, state, subject)
        except MonitoringError as exc:
            if isinstance(exc, NotFoundError) and not_found_until is not None and clock() < not_found_until:
                log.info("%s is not visible yet (%s); waiting", subject, exc)
            elif failures.tolerate(exc, subject):
                # A rate limit that asked for a longer pause than the poll interval gets it.
                pause = max(poll_interval, getattr(exc, "retry_after", None) or 0.0)
            else:
                return error_event(vendor, monitor_id, run_id, exc, state, failures.message(exc))
        else:
            failures.reset()
            if state.outcome != RUNNING:
                message = state.message or f"{subject} ended {state.vendor_state!r}"
                return make_event(state.outcome, vendor, monitor_id, run_id, state, message)
        remaining = deadline - clock()
        if remaining <= 0:
            return timeout_event(vendor, monitor_id, run_id, state, subject)
        await sleep(min(pause, remaining))


def wait_blocking(read: Callable[[], RunState], **kwargs: Any) -> dict[str, Any]:
    """The same wait, for a task that polls in its worker slot (``deferrable=False``): the loop
    above, driven with a blocking read and a blocking sleep, so both modes behave alike."""

    async def read_now() -> RunState:
        return read()

    async def sleep_now(seconds: float) -> None:
        time.sleep(seconds)

    return asyncio.run(wait_for_run(read_now, sleep=sleep_now, **kwargs))


def default_deferrable() -> bool:
    """Airflow's ``[operators] default_deferrable`` (a local config read, no network)."""
    from airflow.sdk import conf

    return conf.getboolean("operators", "default_deferrable", fallback=False)


class WaitError(AirflowException):
    """A wait ended on an API error (in the triggerer or in the worker). Carries the error's HTTP
    ``status``, ``retry_after`` and whether it was a not-found, for MonitoringRetryPolicy."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None,
                 not_found: bool = False):
        super().__init__(message)
        self.status, self.retry_after, self.not_found = status, retry_after, not_found


class EventError(MonitoringError):
    """A trigger event that is not the documented payload: acted on by nobody."""


def validate_event(event: Any, vendor: str) -> dict[str, Any]:
    """The event if it is the documented payload of this vendor; an error otherwise (fail closed)."""
    if not isinstance(event, dict):
        raise EventError(f"expected a {vendor} run event (a dict), got {event!r}")
    missing = {"status", "vendor", "monitor_id", "run_id", "message"} - set(event)
    if missing:
        raise EventError(f"{vendor} run event lacks {sorted(missing)}: {event!r}")
    if event["vendor"] != vendor:
        raise EventError(f"expected a {vendor} run event, got one from {event['vendor']!r}")
    if event["status"] not in EVENT_STATUSES:
        raise EventError(f"{vendor} run event has an unknown status {event['status']!r}: {event!r}")
    return event


def settle(event: dict[str, Any], on_alert: str = "fail", on_error: str = "fail") -> dict[str, Any]:
    """What the task does with a validated event: return the run for success (and for an alert
    when ``on_alert="succeed"``), skip, or fail with the event's message. A timeout always fails,
    and an error never passes for success; an error fails as WaitError, carrying the API error's
    status so MonitoringRetryPolicy can decide without the exception object."""
    from airflow.sdk.exceptions import AirflowException, AirflowSkipException

    status, message = event["status"], event["message"]
    if status == SUCCESS:
        return event["run"]
    if status == ALERT:
        if on_alert == "succeed":
            return event["run"]
        if on_alert == "skip":
            raise AirflowSkipException(message)
        raise AirflowException(message)
    if status == "error":
        if on_error == "skip":
            raise AirflowSkipException(message)
        raise wait_error(message, event.get("error"))
    raise AirflowException(message)


def wait_error(message: str, details: Any) -> WaitError:
    """The exception a task fails with when its wait ended on an API error."""
    details = details if isinstance(details, dict) else {}
    status, retry_after = details.get("status"), details.get("retry_after")
    return WaitError(
        message,
        status=status if isinstance(status, int) and not isinstance(status, bool) else None,
        retry_after=float(retry_after) if isinstance(retry_after, (int, float)) else None,
        not_found=details.get("not_found") is True,
    )
