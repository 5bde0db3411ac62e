"""Wait for a Datafold monitor run, by poking or deferred: a data-quality gate."""

from __future__ import annotations

from typing import Any, Sequence

from airflow_provider_monitoring.sensors.base import MonitoringRunSensor

__all__ = ["DatafoldMonitorRunSensor"]


class DatafoldMonitorRunSensor(MonitoringRunSensor):
    """Waits until run ``run_id`` of monitor ``monitor_id`` ends and returns the run.

    ``ok`` passes. ``alert`` follows ``on_alert`` (``"fail"``, ``"succeed"``, ``"skip"``).
    ``error`` and ``cancelled`` fail with the run's ``error`` and ``warnings`` in the message.
    ``learning`` (the anomaly model has no verdict yet) and ``skipped`` (the run did not execute)
    fail unless named in ``accept_states``, e.g. ``accept_states=("learning",)`` while a new metric
    monitor learns. A state Datafold adds later fails with its raw value.

    :param monitor_id: The monitor (templated).
    :param run_id: The run (templated).
    :param accept_states: ``learning`` and/or ``skipped``, to count as success.
    :param datafold_conn_id: The Airflow connection to Datafold.

    ``poll_interval``, ``timeout``, ``on_alert``, ``on_error``, ``deferrable`` and
    ``start_from_trigger`` are those of every sensor of this provider (see ``MonitoringRunSensor``).
    """

    vendor = "datafold"
    template_fields: Sequence[str] = ("monitor_id", "run_id")

    def __init__(self, *, monitor_id: int, run_id: int, accept_states: Sequence[str] = (),
                 datafold_conn_id: str = "datafold_default", **kwargs: Any):
        super().__init__(conn_id=datafold_conn_id, **kwargs)
        self.monitor_id = monitor_id
        self.run_id = run_id
        from airflow_provider_monitoring.hooks.datafold import run_outcomes

        run_outcomes(accept_states)  # refuses anything but learning/skipped now, not mid-wait
        self.accept_states = tuple(accept_states)
        self.start_in_the_triggerer()

    def event_ids(self) -> tuple[Any, Any]:
        return self.monitor_id, self.run_id

    def subject(self) -> str:
        return f"Datafold run {self.run_id} of monitor {self.monitor_id}"

    def make_hook(self):
        from airflow_provider_monitoring.hooks.datafold import DatafoldHook

        return DatafoldHook(datafold_conn_id=self.conn_id)

    def read_state(self):
        return self.hook.get_monitor_run_state(self.monitor_id, self.run_id, self.accept_states)

    def read_evidence(self, event: dict):
        from airflow_provider_monitoring.results.datafold import read_evidence

        return read_evidence(self.hook, self.monitor_id, event["run"])

    def make_trigger(self, deadline: float | None):
        from airflow_provider_monitoring.triggers.datafold import DatafoldMonitorRunTrigger

        return DatafoldMonitorRunTrigger(self.monitor_id, self.run_id, datafold_conn_id=self.conn_id,
                                         poll_interval=self.poll_interval, deadline=deadline,
                                         accept_states=self.accept_states)
