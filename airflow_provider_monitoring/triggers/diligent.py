"""Deferrable wait for a Diligent monitoring's next execution."""

from __future__ import annotations

from typing import Any

from airflow_provider_monitoring._waiting import RunState
from airflow_provider_monitoring.hooks.diligent import DiligentHook
from airflow_provider_monitoring.triggers.base import MonitoringRunTrigger

__all__ = ["DiligentExecutionTrigger"]


class DiligentExecutionTrigger(MonitoringRunTrigger):
    """Fires when monitoring ``monitoring_id`` has an execution after ``executed_after``: success
    with no alert, alert with alerts; failed when its ``running_state`` turns ``FAILED`` (or an
    undocumented value); timeout at the wall-clock ``deadline``. Nothing is started: the wait
    watches for the next execution, so the event's ``run_id`` is the execution's id once one is
    found, and None before.

    :param monitoring_id: The monitoring whose next execution is waited for.
    :param executed_after: An ISO 8601 time; the first execution after it is the answer.
    :param diligent_conn_id: The Airflow connection to Diligent (its key is read in the triggerer).
    :param poll_interval: Seconds between reads.
    :param deadline: Wall-clock end of the wait, in epoch seconds (None: no end).
    """

    vendor = "diligent"

    def __init__(self, monitoring_id: str, executed_after: str, diligent_conn_id: str = "diligent_default",
                 poll_interval: float = 60.0, deadline: float | None = None):
        super().__init__(diligent_conn_id, poll_interval, deadline)
        self.monitoring_id = monitoring_id
        self.executed_after = executed_after

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "airflow_provider_monitoring.triggers.diligent.DiligentExecutionTrigger",
            {
                "monitoring_id": self.monitoring_id,
                "executed_after": self.executed_after,
                "diligent_conn_id": self.conn_id,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
            },
        )

    def event_ids(self) -> tuple[Any, Any]:
        return self.monitoring_id, None

    def subject(self) -> str:
        return f"the next execution of Diligent monitoring {self.monitoring_id} after {self.executed_after}"

    def make_hook(self) -> DiligentHook:
        return DiligentHook(diligent_conn_id=self.conn_id)

    async def read_state(self, hook: DiligentHook) -> RunState:
        return await hook.aget_execution_state(self.monitoring_id, self.executed_after)

    def link_for(self, base_url: str) -> str:
        return ""  # Diligent documents no page for a monitoring

    async def on_kill(self) -> None:
        """Nothing to cancel: this wait started nothing, it only watches for an execution."""
        self.log.info("stopped waiting for %s", self.subject())

    def finish(self, event: dict[str, Any]) -> dict[str, Any]:
        found = event.get("run") or {}
        return {**event, "run_id": str(found["id"])} if "execution_time" in found and found.get("id") else event
