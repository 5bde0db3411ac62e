"""Wait for a Diligent monitoring's next execution, by poking or deferred."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Sequence

from airflow_provider_monitoring.sensors.base import MonitoringRunSensor


class DiligentExecutionSensor(MonitoringRunSensor):
    """Waits until monitoring ``monitoring_id`` has an execution after ``executed_after`` (default:
    when the DAG run started, which stays put across retries of the sensor) and returns it.

    No alert passes; alerts follow ``on_alert`` (``"fail"``, ``"succeed"``, ``"skip"``); a
    ``running_state`` of ``FAILED`` fails. Diligent cannot filter executions by monitoring, so each
    read lists the executions from ``executed_after`` to now and filters them here.
    """

    vendor = "diligent"
    template_fields: Sequence[str] = ("monitor_id", "executed_after")

    def __init__(self, *, monitoring_id: str, executed_after: Any = None, diligent_conn_id: str = "diligent_default",
                 **kwargs: Any):
        super().__init__(monitor_id=monitoring_id, run_id=None, conn_id=diligent_conn_id, **kwargs)
        self.executed_after = executed_after
        self.diligent_conn_id = diligent_conn_id

    @property
    def monitoring_id(self) -> str:
        return self.monitor_id

    def execute(self, context: Any) -> Any:
        if not self.executed_after:
            dag_run = context.get("dag_run") if isinstance(context, dict) else None
            started = getattr(dag_run, "start_date", None)
            self.executed_after = (started or datetime.now(timezone.utc)).isoformat()
        self.run_id = f"next after {self.executed_after}"
        return super().execute(context)

    def make_hook(self):
        from airflow_provider_monitoring.hooks.diligent import DiligentHook

        return DiligentHook(diligent_conn_id=self.conn_id)

    def read_state(self):
        return self.hook.get_execution_state(self.monitor_id, self.executed_after)

    def make_trigger(self, deadline: float):
        from airflow_provider_monitoring.triggers.diligent import DiligentExecutionTrigger

        return DiligentExecutionTrigger(self.monitor_id, str(self.executed_after), diligent_conn_id=self.conn_id,
                                        poll_interval=self.poll_interval, deadline=deadline)
