"""Waiting for a run, written once for the three vendors (DESIGN.md, "Run outcome" and "Waiting").

Each vendor's hook knows how to read one run and map its raw state onto the one vocabulary
(``running`` / ``success`` / ``alert`` / ``failed``). Everything else lives here: the wait loop with
its wall-clock deadline, the TriggerEvent payload, its validation, and what a task does with it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping

from airflow_provider_monitoring._http.errors import MonitoringError

RUNNING, SUCCESS, ALERT, FAILED = "running", "success", "alert", "failed"
OUTCOMES = (RUNNING, SUCCESS, ALERT, FAILED)
EVENT_STATUSES = (SUCCESS, ALERT, FAILED, "timeout", "error")
ON_ALERT = ("fail", "succeed", "skip")
ON_ERROR = ("fail", "skip")


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
               message: str) -> dict[str, Any]:
    return {
        "status": status,
        "vendor": vendor,
        "monitor_id": str(monitor_id),
        "run_id": str(run_id),
        "vendor_state": state.vendor_state if state else None,
        "run": state.run if state else {},
        "message": message,
    }


async def wait_for_run(
    read: Callable[[], Awaitable[RunState]],
    *,
    vendor: str,
    monitor_id: Any,
    run_id: Any,
    deadline: float,
    poll_interval: float,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    clock: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """Poll ``read`` until the run leaves ``running`` or the wall-clock ``deadline`` (epoch seconds)
    passes; the TriggerEvent payload. The last sleep ends at the deadline, so the run is read once
    more there before a timeout is reported. An API error ends the wait with status ``error``."""
    while True:
        try:
            state = await read()
        except MonitoringError as exc:
            return make_event("error", vendor, monitor_id, run_id, None, str(exc))
        if state.outcome != RUNNING:
            message = state.message or f"{vendor} run {run_id} ended {state.vendor_state!r}"
            return make_event(state.outcome, vendor, monitor_id, run_id, state, message)
        remaining = deadline - clock()
        if remaining <= 0:
            return make_event(
                "timeout", vendor, monitor_id, run_id, state,
                f"{vendor} run {run_id} still {state.vendor_state!r} at the deadline; gave up waiting",
            )
        await sleep(min(poll_interval, remaining))


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
    and an error never passes for success."""
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
    if status == "error" and on_error == "skip":
        raise AirflowSkipException(message)
    raise AirflowException(message)
