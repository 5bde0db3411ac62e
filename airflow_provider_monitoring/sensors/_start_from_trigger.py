"""Starting a sensor's wait in the triggerer, without a worker (``start_from_trigger=True``).

On Airflow >= 3.3 the scheduler creates the trigger of a task whose serialized form carries
``start_from_trigger=True`` and ``start_trigger_args`` itself, and puts the task in ``deferred``
without queueing it for a worker; the triggerer then renders those of the task's templated fields
that are also trigger kwargs (and attributes of the trigger) with the task's context, and the
trigger's event resumes the task on a worker with ``next_method``. Before 3.3 the triggerer did not
render templates, so a templated id would reach the trigger as the raw Jinja string.

What this module decides is whether a task can be started that way at all, from what is known when
the DAG is parsed; everything that cannot (a value only a worker resolves, a template the triggerer
cannot render) starts on a worker.
"""

from __future__ import annotations

import functools
import re
import typing
from datetime import date, datetime, timedelta
from typing import Any

__all__ = ["airflow_starts_tasks_in_the_triggerer", "start_args_for", "why_it_starts_on_a_worker"]

# The values a trigger kwarg can hold at parse time and still mean the same in the triggerer: plain
# values, and strings (a Jinja template among them, rendered in the triggerer).
PARSE_TIME_VALUES = (str, int, float, date, datetime)


def airflow_starts_tasks_in_the_triggerer() -> bool:
    """Airflow >= 3.3, whose triggerer renders a task's templated trigger kwargs."""
    try:
        from airflow import __version__
        from airflow.triggers.base import StartTriggerArgs  # noqa: F401 (the feature itself)
        from packaging.version import Version
    except ImportError:
        return False
    return Version(__version__).release[:2] >= (3, 3)


def why_it_starts_on_a_worker(task: Any, identity: dict[str, Any]) -> str | None:
    """Why ``task`` cannot start in the triggerer with these identity arguments (its templated
    fields, by name), or None when it can."""
    if not airflow_starts_tasks_in_the_triggerer():
        from airflow import __version__

        return f"Airflow {__version__} does not render templates in the triggerer (it needs 3.3 or later)"
    if task.get_closest_mapped_task_group() is not None:
        return "it is in a mapped task group, whose arguments are resolved on a worker"
    for name, value in identity.items():
        reason = _why_not_a_parse_time_value(name, value)
        if reason:
            return reason
    return None


def _why_not_a_parse_time_value(name: str, value: Any) -> str | None:
    from airflow.sdk.definitions._internal.mixins import ResolveMixin

    if isinstance(value, ResolveMixin):  # an XComArg (task.output) or a mapped argument
        return f"{name} is {type(value).__name__}, which only a worker resolves; use a Jinja template instead"
    if isinstance(value, str) and _pulls_every_map_index(value) and not triggerer_answers_xcom_sequences():
        return (f"{name} calls xcom_pull without map_indexes, which this Airflow's triggerer cannot answer; "
                "add map_indexes=-1 to start in the triggerer")
    if value is None or (isinstance(value, PARSE_TIME_VALUES) and not isinstance(value, bool)):
        return None
    return f"{name} is a {type(value).__name__}, neither a plain value nor a template"


def _pulls_every_map_index(template: str) -> bool:
    """Whether ``template`` calls ``xcom_pull`` without ``map_indexes``: such a pull asks for the
    XComs of every map index of the task (a sequence request), not for one XCom."""
    return any("map_indexes" not in arguments for arguments in _xcom_pull_arguments(template))


def _xcom_pull_arguments(template: str) -> list[str]:
    """The argument text of every ``xcom_pull(...)`` call in ``template``."""
    calls = []
    for start in re.finditer(r"xcom_pull\s*\(", template):
        depth, end = 1, start.end()
        while end < len(template) and depth:
            depth += {"(": 1, ")": -1}.get(template[end], 0)
            end += 1
        calls.append(template[start.end():end - 1])
    return calls


@functools.cache
def triggerer_answers_xcom_sequences() -> bool:
    """Whether Airflow's triggerer answers the request ``ti.xcom_pull(task_ids=...)`` sends without
    ``map_indexes`` (``GetXComSequenceSlice``). Airflow 3.3.2's does not: it logs "Unable to decode
    message" and never answers, so the trigger would hang until the task's timeout. A pull with
    ``map_indexes`` sends ``GetXCom``, which it answers."""
    try:
        from airflow.jobs.triggerer_job_runner import ToTriggerSupervisor
    except ImportError:  # not known here (no Airflow core): assume the answer of 3.3.2
        return False
    requests = typing.get_args(typing.get_args(ToTriggerSupervisor)[0])  # Annotated[A | B | ..., Field]
    return any(request.__name__ == "GetXComSequenceSlice" for request in requests)


def start_args_for(trigger: Any, timeout: float) -> Any:
    """What the scheduler needs to start ``trigger`` for the task: its class path and kwargs exactly
    as the trigger serializes itself (ids, the connection id, never the key), ``execute_complete``
    as the method its event resumes on a worker, and the sensor's ``timeout``, which Airflow
    enforces (the trigger itself gets no deadline: when the task starts is not known at parse
    time)."""
    from airflow.triggers.base import StartTriggerArgs

    classpath, kwargs = trigger.serialize()
    return StartTriggerArgs(trigger_cls=classpath, trigger_kwargs=kwargs, next_method="execute_complete",
                            next_kwargs=None, timeout=timedelta(seconds=timeout))
