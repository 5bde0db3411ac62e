"""The sensor every vendor's run wait is: poke with the sync hook, defer to the vendor trigger, or
start in the triggerer without a worker (``start_from_trigger``, see ``_start_from_trigger.py``)."""

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
from airflow_provider_monitoring.lineage import MonitoringLineageMixin
from airflow_provider_monitoring.sensors._start_from_trigger import start_args_for, why_it_starts_on_a_worker

__all__ = ["MonitoringRunSensor"]


# The task state store key of a rescheduled sensor's count of failed pokes in a row.
TRANSIENT_KEY = "monitoring_transient_failures"

# Why a task granted start_from_trigger still reached execute() on a worker: only a run that skips
# the scheduler's start in the triggerer does that.
RAN_BY_AIRFLOW_ON_A_WORKER = "Airflow ran it there (dag.test(), `airflow tasks test`, a mapped task)"


class MonitoringRunSensor(MonitoringLineageMixin, BaseSensorOperator):
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
    :param start_from_trigger: On Airflow >= 3.3, start the task in the triggerer, never queueing
        it for a worker while it waits, when every id is a plain value or a Jinja template (rendered
        in the triggerer; pull XComs there with ``map_indexes=-1``). Otherwise (an XComArg, a mapped
        task, an older Airflow, ``dag.test()``) the task starts on a worker and waits as
        ``deferrable`` says. Either way the event is settled on a worker by ``execute_complete``,
        and ``timeout`` bounds the wait. Default False.
    """

    vendor: ClassVar[str]
    # What Airflow reads on the serialized task to start it in the triggerer. The class says "on a
    # worker"; an instance that can start in the triggerer sets its own (see start_in_the_triggerer).
    # A mapped task reads the class's, so it always starts on a worker.
    start_from_trigger = False
    start_trigger_args = None
    # The result this task pushed (XCom ``monitoring_result``), once the wait ended.
    monitoring_result: Any = None

    def __init__(self, *, conn_id: str, poll_interval: float = 60.0,
                 timeout: float | timedelta = 7 * 24 * 3600, on_alert: str = "fail", on_error: str = "fail",
                 deferrable: bool | None = None, start_from_trigger: bool = False, **kwargs: Any):
        from airflow_provider_monitoring.policies import default_retry_policy

        super().__init__(poke_interval=poll_interval, timeout=timeout, **default_retry_policy(kwargs))
        self.conn_id = conn_id
        self.poll_interval = float(poll_interval)
        self.on_alert = choice(on_alert, ON_ALERT, "on_alert")
        self.on_error = choice(on_error, ON_ERROR, "on_error")
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        # The user's wish; whether it is granted is decided once the vendor's ids are set.
        self.start_from_trigger_requested = start_from_trigger
        self.starts_on_a_worker_because: str | None = None

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

    def make_trigger(self, deadline: float | None) -> Any:
        """The vendor's trigger for this wait (``deadline`` None: Airflow enforces the timeout)."""
        raise NotImplementedError

    def read_evidence(self, event: dict) -> Any:
        """What the vendor says about the ended run of ``event``: a ``results.base.Evidence``."""
        raise NotImplementedError

    def result_url(self) -> str | None:
        """The monitor in the vendor's UI, for the result; None where the vendor documents none."""
        from airflow_provider_monitoring._vendors import monitor_url

        return monitor_url(self.hook.settings.base_url, self.event_ids()[0])

    def identity(self) -> dict[str, Any]:
        """The templated fields that name what is waited for, by name: the trigger kwargs the
        triggerer renders when the task starts there."""
        return {name: getattr(self, name) for name in self.template_fields}

    # ---- the shared part --------------------------------------------------------------------

    def start_in_the_triggerer(self) -> None:
        """Called by each vendor's ``__init__`` once its ids are set: grant ``start_from_trigger``
        when Airflow can start this task in the triggerer, else leave it to start on a worker and
        say why when it does (the wait then runs exactly as without the option)."""
        if not self.start_from_trigger_requested:
            return
        self.starts_on_a_worker_because = why_it_starts_on_a_worker(self, self.identity())
        if self.starts_on_a_worker_because is None:
            self.start_trigger_args = start_args_for(self.make_trigger(deadline=None), self.timeout)
            self.start_from_trigger = True

    def execute(self, context: Any) -> Any:
        if self.start_from_trigger_requested:
            self.log.info("start_from_trigger: this task started on a worker, as %s; waiting %s",
                          self.starts_on_a_worker_because or RAN_BY_AIRFLOW_ON_A_WORKER,
                          "deferred" if self.deferrable else "by poking")
        if not self.deferrable:
            return self.wait_by_poking(context)
        # A wall-clock deadline: it still means the same moment after the triggerer restarts.
        self.defer(trigger=self.make_trigger(time.time() + self.timeout), method_name="execute_complete")

    def wait_by_poking(self, context: Any) -> Any:
        """Airflow's poke loop (``mode="poke"`` or ``"reschedule"``). When Airflow ends it on the
        sensor's timeout, the ``timeout`` result is pushed before the task fails, as every other
        ending of the wait pushes one."""
        from airflow.sdk.exceptions import AirflowSensorTimeout

        from airflow_provider_monitoring.results.base import build_result, push_result

        try:
            return super().execute(context)
        except AirflowSensorTimeout:
            event = self.timeout_event()
            push_result(self, context, build_result(event, self.result_url, lambda: self.read_evidence(event)))
            raise

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
            return PokeReturnValue(True, self.finish(event, context))
        if store is not None and failures.in_a_row:
            store.delete(TRANSIENT_KEY)
        failures.reset()
        if state.outcome == RUNNING:
            self.log.info("%s is %r", self.subject(), state.vendor_state)
            return False
        message = state.message or f"{self.subject()} ended {state.vendor_state!r}"
        event = make_event(state.outcome, self.vendor, monitor_id, run_id, state, message)
        return PokeReturnValue(True, self.finish(event, context))

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
        return self.finish(validate_event(event, self.vendor), context)

    def finish(self, event: dict, context: Any) -> Any:
        """Push the wait's ``monitoring_result`` (a downstream ``all_done`` task reads it whatever
        happens next), then pass, skip or fail as the event says; a pass also puts the result in
        the outlet asset events. Returns the run for XCom."""
        from airflow_provider_monitoring.results.base import annotate_outlets, build_result, push_result

        result = build_result(event, self.result_url, lambda: self.read_evidence(event))
        push_result(self, context, result)
        run = settle(event, self.on_alert, self.on_error)
        annotate_outlets(self, context, result, lambda: self.hook.settings.base_url)
        return run

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Any) -> Any:
        """A task started in the triggerer has no deadline of its own in the trigger: Airflow ends
        the wait at the sensor's ``timeout`` and resumes the task with its "trigger timeout"
        failure. That becomes the same ``timeout`` event a trigger fires at its deadline, so it
        fails with this provider's message, as a wait started on a worker does."""
        if self.start_from_trigger and airflow_timed_the_trigger_out(next_method, next_kwargs):
            next_method, next_kwargs = "execute_complete", {"event": self.timeout_event()}
        return super().resume_execution(next_method, next_kwargs, context)

    def timeout_event(self) -> dict[str, Any]:
        monitor_id, run_id = self.event_ids()
        limit = f"the sensor's timeout of {self.timeout:g} s"
        if self.execution_timeout is not None and self.execution_timeout.total_seconds() < self.timeout:
            limit = f"the task's execution_timeout of {self.execution_timeout.total_seconds():g} s"
        return make_event("timeout", self.vendor, monitor_id, run_id, None,
                          f"{self.subject()}: no outcome within {limit}; gave up waiting")


def airflow_timed_the_trigger_out(next_method: str, next_kwargs: dict[str, Any] | None) -> bool:
    """Airflow resumes a task whose trigger outlived its timeout with ``__fail__`` and the error
    "Trigger timeout" (``TRIGGER_FAIL_REPR``, ``TriggerFailureReason.TRIGGER_TIMEOUT``)."""
    from airflow.sdk.bases.operator import TRIGGER_FAIL_REPR, TriggerFailureReason

    timed_out = (next_kwargs or {}).get("error") == TriggerFailureReason.TRIGGER_TIMEOUT
    return next_method == TRIGGER_FAIL_REPR and timed_out
