"""The sensor every vendor's run wait is: poke with the sync hook, or defer to the vendor trigger."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any, ClassVar

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_monitoring._http.errors import MonitoringError
from airflow_provider_monitoring._http.values import choice
from airflow_provider_monitoring._waiting import (
    ON_ALERT,
    ON_ERROR,
    RUNNING,
    TransientFailures,
    default_deferrable,
    error_event,
    make_event,
    settle,
    validate_event,
)

__all__ = ["MonitoringRunSensor"]


# The task state store key of a rescheduled sensor's count of failed pokes in a row.
TRANSIENT_KEY = "monitoring_transient_failures"


class MonitoringRunSensor(BaseSensorOperator):
    """Waits for a run (or an execution) to end: ``success`` passes and returns it; ``alert``
    follows ``on_alert`` (fail / succeed / skip); ``failed``, a timeout and an unknown state fail;
    an API error fails unless ``on_error="skip"``. Each vendor's sensor keeps its own ids and names
    what it waits for; the base keeps the poke, the deferral and the settling.

    :param conn_id: The Airflow connection to the vendor.
    :param poll_interval: Seconds between reads.
    :param timeout: Seconds (or a timedelta) to wait in all.
    :param on_alert: ``"fail"`` (default), ``"succeed"`` or ``"skip"``.
    :param on_error: ``"fail"`` (default) or ``"skip"`` when the wait ends on an API error.
    :param deferrable: Wait in the triggerer (default: Airflow's ``operators.default_deferrable``).
    """

    vendor: ClassVar[str]

    def __init__(self, *, conn_id: str, poll_interval: float = 60.0,
                 timeout: float | timedelta = 7 * 24 * 3600, on_alert: str = "fail", on_error: str = "fail",
                 deferrable: bool | None = None, **kwargs: Any):
        from airflow_provider_monitoring.policies import default_retry_policy

        super().__init__(poke_interval=poll_interval, timeout=timeout, **default_retry_policy(kwargs))
        self.conn_id = conn_id
        self.poll_interval = float(poll_interval)
        self.on_alert = choice(on_alert, ON_ALERT, "on_alert")
        self.on_error = choice(on_error, ON_ERROR, "on_error")
        self.deferrable = default_deferrable() if deferrable is None else deferrable

    # ---- what each vendor provides ----------------------------------------------------------

    def event_ids(self) -> tuple[Any, Any]:
        """(monitor id, run id) as events name them; the run id is None while unknown."""
        raise NotImplementedError

    def subject(self) -> str:
        """What the sensor waits for, as messages name it."""
        raise NotImplementedError

    def make_hook(self) -> Any:
        raise NotImplementedError

    @property
    def hook(self) -> Any:
        """One hook (one pooled HTTP session) for every poke of this sensor instance."""
        if getattr(self, "_hook", None) is None:
            self._hook = self.make_hook()
        return self._hook

    def read_state(self) -> Any:
        """The current RunState, read with the vendor's sync hook."""
        raise NotImplementedError

    def make_trigger(self, deadline: float) -> Any:
        raise NotImplementedError

    # ---- the shared part --------------------------------------------------------------------

    def execute(self, context: Any) -> Any:
        if not self.deferrable:
            return super().execute(context)
        # A wall-clock deadline: it still means the same moment after the triggerer restarts.
        self.defer(trigger=self.make_trigger(time.time() + self.timeout), method_name="execute_complete")

    def poke(self, context: Any) -> bool | PokeReturnValue:
        monitor_id, run_id = self.event_ids()
        failures, store = self._failed_pokes_so_far(context)
        try:
            state = self.read_state()
        except MonitoringError as exc:
            if failures.tolerate(exc, self.subject()):
                if store is not None:
                    store.set(TRANSIENT_KEY, failures.in_a_row)
                return False
            event = error_event(self.vendor, monitor_id, run_id, exc, message=failures.message(exc))
            return PokeReturnValue(True, settle(event, self.on_alert, self.on_error))
        if store is not None and failures.in_a_row:
            store.delete(TRANSIENT_KEY)
        failures.reset()
        if state.outcome == RUNNING:
            self.log.info("%s is %r", self.subject(), state.vendor_state)
            return False
        message = state.message or f"{self.subject()} ended {state.vendor_state!r}"
        event = make_event(state.outcome, self.vendor, monitor_id, run_id, state, message)
        return PokeReturnValue(True, settle(event, self.on_alert, self.on_error))

    def _failed_pokes_so_far(self, context: Any) -> tuple[TransientFailures, Any]:
        """The count of failed pokes in a row, and where it is kept between pokes: on this sensor
        while it pokes in one worker, in the task state store when ``mode="reschedule"`` builds a
        new sensor for every poke (without a store, a rescheduled poke starts the count anew)."""
        store = context.get("task_state_store") if self.mode == "reschedule" else None
        if store is not None:
            return TransientFailures(in_a_row=int(store.get(TRANSIENT_KEY) or 0)), store
        return self.__dict__.setdefault("_failed_pokes", TransientFailures()), None

    def execute_complete(self, context: Any, event: Any = None) -> Any:
        """Back from the trigger: act on its event only if it is the documented payload."""
        return settle(validate_event(event, self.vendor), self.on_alert, self.on_error)
