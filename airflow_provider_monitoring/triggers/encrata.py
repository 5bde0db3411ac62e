"""Deferrable wait for an Encrata monitor run."""

from __future__ import annotations

from airflow_provider_monitoring._waiting import RunState
from airflow_provider_monitoring.hooks.encrata import EncrataHook
from airflow_provider_monitoring.triggers.base import MonitoringRunTrigger


class EncrataRunTrigger(MonitoringRunTrigger):
    """Fires when an Encrata run ends (success / failed, unknown statuses fail closed), when the
    wall-clock ``deadline`` (epoch seconds) passes (status ``timeout``), or on an API error.

    Encrata has no single-run endpoint: each poll reads the monitor's run listing until the run
    turns up (usually on its first page, newest first).
    """

    vendor = "encrata"
    conn_kwarg = "encrata_conn_id"

    def __init__(self, monitor_id: str, run_id: str, encrata_conn_id: str = "encrata_default",
                 poll_interval: float = 30.0, deadline: float | None = None):
        super().__init__(monitor_id, run_id, encrata_conn_id, poll_interval, deadline)

    def make_hook(self) -> EncrataHook:
        return EncrataHook(encrata_conn_id=self.conn_id)

    async def read_state(self, hook: EncrataHook) -> RunState:
        return await hook.aget_run_state(self.monitor_id, self.run_id)
