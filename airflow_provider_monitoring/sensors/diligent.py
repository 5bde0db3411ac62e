"""Wait for a Diligent monitoring's next execution, by poking or deferred."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Sequence

from airflow_provider_monitoring.sensors.base import MonitoringRunSensor

__all__ = ["DiligentExecutionSensor"]

# The default reference time, the DAG run's start, as a template: a task started in the triggerer
# has it rendered there, the same moment execute() takes on a worker.
DAG_RUN_START = "{{ dag_run.start_date.isoformat() }}"


class DiligentExecutionSensor(MonitoringRunSensor):
    """Waits until monitoring ``monitoring_id`` has an execution after ``executed_after`` (default:
    when the DAG run started, which stays put across retries of the sensor) and returns it.

    No alert passes; alerts follow ``on_alert`` (``"fail"``, ``"succeed"``, ``"skip"``); a
    ``running_state`` of ``FAILED`` fails. Diligent cannot filter executions by monitoring, so each
    read lists the executions from ``executed_after`` to now and filters them here.

    :param monitoring_id: The monitoring (templated).
    :param executed_after: The moment after which an execution counts (datetime or ISO 8601,
        templated); default the DAG run's start.
    :param diligent_conn_id: The Airflow connection to Diligent.

    ``poll_interval``, ``timeout``, ``on_alert``, ``on_error``, ``deferrable`` and
    ``start_from_trigger`` are those of every sensor of this provider (see ``MonitoringRunSensor``).
    """

    vendor = "diligent"
    template_fields: Sequence[str] = ("monitoring_id", "executed_after")

    def __init__(self, *, monitoring_id: str, executed_after: Any = None, diligent_conn_id: str = "diligent_default",
                 **kwargs: Any):
        super().__init__(conn_id=diligent_conn_id, **kwargs)
        self.monitoring_id = monitoring_id
        self.executed_after = executed_after
        self.start_in_the_triggerer()

    def execute(self, context: Any) -> Any:
        if not self.executed_after:
            dag_run = context.get("dag_run") if isinstance(context, dict) else None
            started = getattr(dag_run, "start_date", None)
            self.executed_after = (started or datetime.now(timezone.utc)).isoformat()
        return super().execute(context)

    def event_ids(self) -> tuple[Any, Any]:
        return self.monitoring_id, None

    def subject(self) -> str:
        after = self.executed_after or "the DAG run's start"
        return f"the next execution of Diligent monitoring {self.monitoring_id} after {after}"

    def make_hook(self):
        from airflow_provider_monitoring.hooks.diligent import DiligentHook

        return DiligentHook(diligent_conn_id=self.conn_id)

    def read_state(self):
        return self.hook.get_execution_state(self.monitoring_id, self.executed_after)

    def read_evidence(self, event: dict):
        from airflow_provider_monitoring.results.diligent import read_evidence

        return read_evidence(self.hook, self.monitoring_id, event["run"])

    def result_url(self) -> None:
        return None  # Diligent documents no page for a monitoring in its app

    def make_trigger(self, deadline: float | None):
        from airflow_provider_monitoring.triggers.diligent import DiligentExecutionTrigger

        return DiligentExecutionTrigger(self.monitoring_id, str(self.executed_after or DAG_RUN_START),
                                        diligent_conn_id=self.conn_id,
                                        poll_interval=self.poll_interval, deadline=deadline)
