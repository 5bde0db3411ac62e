"""Deferrable wait for a Datafold monitor run."""

from __future__ import annotations

from typing import Any, Sequence

from airflow_provider_monitoring._waiting import RunState
from airflow_provider_monitoring.hooks.datafold import DatafoldHook
from airflow_provider_monitoring.triggers.base import MonitoringRunTrigger


class DatafoldMonitorRunTrigger(MonitoringRunTrigger):
    """Fires when a Datafold run ends: ``ok`` → success, ``alert`` → alert, ``error`` /
    ``cancelled`` → failed, ``learning`` / ``skipped`` → failed unless listed in ``accept_states``,
    any state Datafold adds later → failed with the raw value; or at the wall-clock ``deadline``
    (timeout), or on an API error."""

    vendor = "datafold"
    conn_kwarg = "datafold_conn_id"

    def __init__(self, monitor_id: int, run_id: int, datafold_conn_id: str = "datafold_default",
                 poll_interval: float = 30.0, deadline: float | None = None, accept_states: Sequence[str] = ()):
        super().__init__(monitor_id, run_id, datafold_conn_id, poll_interval, deadline)
        self.accept_states = list(accept_states)

    def extra_kwargs(self) -> dict[str, Any]:
        return {"accept_states": self.accept_states}

    def make_hook(self) -> DatafoldHook:
        return DatafoldHook(datafold_conn_id=self.conn_id)

    async def read_state(self, hook: DatafoldHook) -> RunState:
        return await hook.aget_monitor_run_state(self.monitor_id, self.run_id, self.accept_states)
