"""Deferrable wait for an Encrata monitor run."""

from __future__ import annotations

from typing import Any

from airflow_provider_monitoring._waiting import RunState
from airflow_provider_monitoring.hooks.encrata import EncrataHook
from airflow_provider_monitoring.triggers.base import MonitoringRunTrigger


class EncrataRunTrigger(MonitoringRunTrigger):
    """Fires when an Encrata run ends (success / failed, unknown statuses fail closed), when the
    wall-clock ``deadline`` (epoch seconds) passes (status ``timeout``), or on an API error.

    Encrata has no single-run endpoint: each poll reads the monitor's run listing until the run
    turns up (usually on its first page, newest first). ``not_found_until`` (epoch seconds): until
    then a run missing from the listing counts as not visible yet, not as an error (the operator
    sets it for the run it has just triggered).
    """

    vendor = "encrata"
    conn_kwarg = "encrata_conn_id"

    def __init__(self, monitor_id: str, run_id: str, encrata_conn_id: str = "encrata_default",
                 poll_interval: float = 30.0, deadline: float | None = None, not_found_until: float | None = None):
        super().__init__(monitor_id, run_id, encrata_conn_id, poll_interval, deadline, not_found_until)

    def extra_kwargs(self) -> dict[str, Any]:
        return {"not_found_until": self.not_found_until}

    def make_hook(self) -> EncrataHook:
        return EncrataHook(encrata_conn_id=self.conn_id)

    async def read_state(self, hook: EncrataHook) -> RunState:
        return await hook.aget_run_state(self.monitor_id, self.run_id)

    def link_for(self, base_url: str) -> str:
        from airflow_provider_monitoring.operators.encrata import monitor_url

        return monitor_url(base_url, self.monitor_id)
