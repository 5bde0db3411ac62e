"""Wait for an Encrata monitor run, by poking or deferred."""

from __future__ import annotations

from typing import Any, Sequence

from airflow_provider_monitoring.sensors.base import MonitoringRunSensor

__all__ = ["EncrataRunSensor"]


class EncrataRunSensor(MonitoringRunSensor):
    """Waits until run ``run_id`` of monitor ``monitor_id`` ends and returns the run.

    ``success``/``completed`` pass; ``failed`` and any status Encrata does not document fail (the
    raw value is in the message); ``pending``/``queued``/``running`` keep waiting. With
    ``deferrable`` (default: Airflow's ``operators.default_deferrable``) the wait runs in the
    triggerer and holds no worker slot.

    :param monitor_id: The monitor (templated).
    :param run_id: The run (templated).
    :param encrata_conn_id: The Airflow connection to Encrata.

    ``poll_interval``, ``timeout``, ``on_alert``, ``on_error``, ``deferrable`` and
    ``start_from_trigger`` are those of every sensor of this provider (see ``MonitoringRunSensor``).
    """

    vendor = "encrata"
    template_fields: Sequence[str] = ("monitor_id", "run_id")

    def __init__(self, *, monitor_id: str, run_id: str, encrata_conn_id: str = "encrata_default", **kwargs: Any):
        super().__init__(conn_id=encrata_conn_id, **kwargs)
        self.monitor_id = monitor_id
        self.run_id = run_id
        self.start_in_the_triggerer()

    def event_ids(self) -> tuple[Any, Any]:
        return self.monitor_id, self.run_id

    def subject(self) -> str:
        return f"Encrata run {self.run_id} of monitor {self.monitor_id}"

    def make_hook(self):
        from airflow_provider_monitoring.hooks.encrata import EncrataHook

        return EncrataHook(encrata_conn_id=self.conn_id)

    def read_state(self):
        return self.hook.get_run_state(self.monitor_id, self.run_id)

    def read_evidence(self, event: dict):
        from airflow_provider_monitoring.results.encrata import read_evidence

        return read_evidence(self.hook, self.monitor_id, event["run"])

    def make_trigger(self, deadline: float | None):
        from airflow_provider_monitoring.triggers.encrata import EncrataRunTrigger

        return EncrataRunTrigger(self.monitor_id, self.run_id, encrata_conn_id=self.conn_id,
                                 poll_interval=self.poll_interval, deadline=deadline)
