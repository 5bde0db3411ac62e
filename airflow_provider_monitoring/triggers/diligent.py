"""Deferrable wait for a Diligent monitoring's next execution."""

from __future__ import annotations

from typing import Any

from airflow_provider_monitoring._waiting import RunState
from airflow_provider_monitoring.hooks.diligent import DiligentHook
from airflow_provider_monitoring.triggers.base import MonitoringRunTrigger


class DiligentExecutionTrigger(MonitoringRunTrigger):
    """Fires when monitoring ``monitoring_id`` has an execution after ``executed_after`` (an ISO
    8601 time): success with no alert, alert with alerts; failed when its ``running_state`` turns
    ``FAILED`` (or an undocumented value); timeout at the wall-clock ``deadline``. The event's
    ``run_id`` is the execution's id once found."""

    vendor = "diligent"
    conn_kwarg = "diligent_conn_id"

    def __init__(self, monitoring_id: str, executed_after: str, diligent_conn_id: str = "diligent_default",
                 poll_interval: float = 60.0, deadline: float | None = None):
        super().__init__(monitoring_id, f"next after {executed_after}", diligent_conn_id, poll_interval, deadline)
        self.executed_after = executed_after

    def identity_kwargs(self) -> dict[str, Any]:
        return {"monitoring_id": self.monitor_id, "executed_after": self.executed_after}

    def make_hook(self) -> DiligentHook:
        return DiligentHook(diligent_conn_id=self.conn_id)

    async def read_state(self, hook: DiligentHook) -> RunState:
        return await hook.aget_execution_state(self.monitor_id, self.executed_after)

    async def on_kill(self) -> None:
        """Nothing to cancel: this wait started nothing, it only watches for an execution."""
        self.log.info("stopped waiting for the next execution of Diligent monitoring %s after %s",
                      self.monitor_id, self.executed_after)

    def finish(self, event: dict[str, Any]) -> dict[str, Any]:
        found = event.get("run") or {}
        return {**event, "run_id": str(found["id"])} if "execution_time" in found and found.get("id") else event
