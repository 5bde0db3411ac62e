"""Deferrable wait for an Encrata monitor run."""

from __future__ import annotations

from typing import Any

from airflow_provider_monitoring._waiting import RunState
from airflow_provider_monitoring.hooks.encrata import EncrataHook
from airflow_provider_monitoring.triggers.base import MonitoringRunTrigger

__all__ = ["EncrataRunTrigger"]


class EncrataRunTrigger(MonitoringRunTrigger):
    """Fires when an Encrata run ends (success / failed, unknown statuses fail closed), when the
    wall-clock ``deadline`` (epoch seconds) passes (status ``timeout``), or on an API error.

    Encrata has no single-run endpoint: each poll reads the monitor's run listing until the run
    turns up (usually on its first page, newest first).

    :param monitor_id: The monitor whose run is waited for.
    :param run_id: The run.
    :param encrata_conn_id: The Airflow connection to Encrata (its key is read in the triggerer).
    :param poll_interval: Seconds between reads.
    :param deadline: Wall-clock end of the wait, in epoch seconds (None: no end).
    :param not_found_until: Epoch seconds until which a run missing from the listing counts as not
        visible yet rather than as an error (the operator sets it for the run it just triggered).
    """

    vendor = "encrata"

    def __init__(self, monitor_id: str, run_id: str, encrata_conn_id: str = "encrata_default",
                 poll_interval: float = 30.0, deadline: float | None = None, not_found_until: float | None = None):
        super().__init__(encrata_conn_id, poll_interval, deadline)
        self.monitor_id = monitor_id
        self.run_id = run_id
        self.not_found_until = not_found_until

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "airflow_provider_monitoring.triggers.encrata.EncrataRunTrigger",
            {
                "monitor_id": self.monitor_id,
                "run_id": self.run_id,
                "encrata_conn_id": self.conn_id,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "not_found_until": self.not_found_until,
            },
        )

    def event_ids(self) -> tuple[Any, Any]:
        return self.monitor_id, self.run_id

    def subject(self) -> str:
        return f"Encrata run {self.run_id} of monitor {self.monitor_id}"

    def make_hook(self) -> EncrataHook:
        return EncrataHook(encrata_conn_id=self.conn_id)

    async def read_state(self, hook: EncrataHook) -> RunState:
        return await hook.aget_run_state(self.monitor_id, self.run_id)
