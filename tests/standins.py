"""Stand-ins for the parts of Airflow's task context the operators use, for tests that call
``execute()`` directly: a task instance (try number, XCom pushes) and a task state store (the
Airflow 3.3 store that keeps a value across the tries of one task instance)."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any


class TaskInstanceStandIn:
    """Its try number and xcom_push, which is all the operators use of a task instance."""

    def __init__(self, try_number: int = 1):
        self.try_number = try_number
        self.pushed: dict[str, object] = {}

    def xcom_push(self, key: str, value: object) -> None:
        self.pushed[key] = value


class TaskStateStoreStandIn:
    """A dict with the accessor's signature (get / set with retention / delete)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.retention: dict[str, timedelta | None] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any, *, retention: timedelta | None = None) -> None:
        if value is None:
            raise ValueError("Cannot set value as None")  # as Airflow's accessor refuses it
        self.values[key], self.retention[key] = value, retention

    def delete(self, key: str) -> None:
        self.values.pop(key, None)


def task_context(try_number: int = 1, dag_run_start: datetime | None = None,
                 store: TaskStateStoreStandIn | None = None) -> dict:
    """A task context as Airflow builds one; without ``store`` it is Airflow before 3.3."""
    context: dict[str, Any] = {"ti": TaskInstanceStandIn(try_number),
                               "dag_run": SimpleNamespace(start_date=dag_run_start)}
    if store is not None:
        context["task_state_store"] = store
    return context
