"""Deferrable wait for a Diligent monitoring's next execution."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Hashable

from airflow_provider_monitoring._http import values
from airflow_provider_monitoring._waiting import RunState
from airflow_provider_monitoring.triggers._events import MonitoringEventTrigger, Read, event_payload, parse_moment
from airflow_provider_monitoring.triggers._feed import FeedKey
from airflow_provider_monitoring.triggers.base import MonitoringRunTrigger

if TYPE_CHECKING:  # the hook loads where the wait runs (see triggers/base.py)
    from airflow_provider_monitoring.hooks.diligent import DiligentHook

HOOK = "airflow_provider_monitoring.hooks.diligent.DiligentHook"

__all__ = ["DiligentAlertEventTrigger", "DiligentExecutionTrigger"]


class DiligentExecutionTrigger(MonitoringRunTrigger):
    """Fires when monitoring ``monitoring_id`` has an execution after ``executed_after``: success
    with no alert, alert with alerts; failed when its ``running_state`` turns ``FAILED`` (or an
    undocumented value); timeout at the wall-clock ``deadline``. Nothing is started: the wait
    watches for the next execution, so the event's ``run_id`` is the execution's id once one is
    found, and None before.

    The waits on one connection share one read per interval: the executions listing from the
    oldest open wait's reference time, and the monitorings listing (for ``running_state``) when a
    wait found no execution; a wait the read does not cover reads on its own.

    :param monitoring_id: The monitoring whose next execution is waited for.
    :param executed_after: An ISO 8601 time; the first execution after it is the answer.
    :param diligent_conn_id: The Airflow connection to Diligent (its key is read in the triggerer).
    :param poll_interval: Seconds between reads.
    :param deadline: Wall-clock end of the wait, in epoch seconds (None: no end).
    """

    vendor, hook_path = "diligent", HOOK

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

    async def read_state(self, hook: DiligentHook) -> RunState:
        return await hook.aget_execution_state(self.monitoring_id, self.executed_after)

    def listing(self) -> tuple[Any, ...]:
        return ("executions", "monitorings")

    def need(self) -> Hashable:
        return str(self.monitoring_id).strip(), self.executed_after

    @staticmethod
    async def read_listing(hook: DiligentHook, key: FeedKey, needs: frozenset, previous: Any) -> "ListedExecutions":
        return await ListedExecutions.read(hook, needs)

    def link_for(self, base_url: str) -> str:
        return ""  # Diligent documents no page for a monitoring

    async def on_kill(self) -> None:
        """Nothing to cancel: this wait started nothing, it only watches for an execution."""
        self.log.info("stopped waiting for %s", self.subject())

    def finish(self, event: dict[str, Any]) -> dict[str, Any]:
        found = event.get("run") or {}
        return {**event, "run_id": str(found["id"])} if "execution_time" in found and found.get("id") else event


def _reference_time(executed_after: Any) -> datetime | None:
    """The wait's reference time; None when it does not parse (its own read then says why)."""
    return values.time_or_none(executed_after)


class ListedExecutions:
    """Executions of every monitoring since the oldest open wait's reference time, and the
    monitorings when some wait found none, as one shared read saw them.

    :param since: Start of the executions read (None: none was read, every wait's time is ahead).
    :param now: When the read was made (its window's end).
    """

    def __init__(self, since: datetime | None, now: datetime, executions: dict[str, list[dict]],
                 monitorings: dict[str, dict]):
        self.since, self.now, self.executions, self.monitorings = since, now, executions, monitorings

    @classmethod
    async def read(cls, hook: DiligentHook, needs: frozenset) -> ListedExecutions:
        from airflow_provider_monitoring.hooks.diligent import STABLE_SORT

        from airflow_provider_monitoring.hooks.diligent import MAX_WINDOW

        now = datetime.now(timezone.utc)
        times = [when for when in map(_reference_time, (after for _id, after in needs)) if when is not None]
        # A wait further back than one window reads on its own: it must not make every read long.
        since = min((when for when in times if now - MAX_WINDOW <= when < now), default=None)
        executions: dict[str, list[dict]] = {}
        if since is not None:
            async for execution in hook.alist_executions(start=since, end=now):
                if isinstance(execution, dict):
                    executions.setdefault(str(execution.get("monitoring_id")), []).append(execution)
        listing = cls(since, now, executions, {})
        if any(listing._execution(need) is None for need in needs):
            async for monitoring in hook.alist_monitorings(sort_by=STABLE_SORT):
                if isinstance(monitoring, dict) and monitoring.get("id") is not None:
                    listing.monitorings.setdefault(str(monitoring["id"]), monitoring)
        return listing

    def state_of(self, need: Hashable) -> RunState | None:
        after = _reference_time(need[1])
        if after is None or after < self.now and (self.since is None or after < self.since):
            return None  # not covered by this read's window: the wait reads on its own
        from airflow_provider_monitoring.hooks.diligent import execution_state

        execution = self._execution(need)
        if execution is not None:
            return execution_state(execution, None)
        monitoring = self.monitorings.get(need[0])
        return None if monitoring is None else execution_state(None, monitoring)

    def _execution(self, need: Hashable) -> dict | None:
        after = _reference_time(need[1])
        if after is None or after >= self.now:
            return None
        from airflow_provider_monitoring.hooks.diligent import first_execution_after

        return first_execution_after(self.executions.get(need[0], []), after)


class DiligentAlertEventTrigger(MonitoringEventTrigger):
    """An AssetWatcher's trigger: one event per new unacknowledged Diligent alert, of one
    monitoring or of every monitoring. The payload is docs/design.md's "Vendor events" one
    (``kind`` "alert", ``alert_id``); ``DiligentAcknowledgeAlertsOperator`` acknowledges the alerts
    of the events that started a DAG run. Watchers on one connection share one poll of
    ``GET /monitoring-alerts``; each keeps its cursor in its asset's state store.

    :param diligent_conn_id: The Airflow connection to Diligent.
    :param monitoring_id: Only this monitoring's alerts (None: every monitoring's).
    :param poll_interval: Seconds between polls (at least 30).
    :param look_back: On a first start, also announce alerts raised up to this many seconds before.
    """

    vendor, hook_path, kind = "diligent", HOOK, "alert"

    def __init__(self, diligent_conn_id: str = "diligent_default", monitoring_id: str | None = None,
                 poll_interval: float = 300.0, look_back: float = 0.0):
        super().__init__(diligent_conn_id, poll_interval, look_back)
        self.monitoring_id = monitoring_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "airflow_provider_monitoring.triggers.diligent.DiligentAlertEventTrigger",
            {
                "diligent_conn_id": self.conn_id,
                "monitoring_id": self.monitoring_id,
                "poll_interval": self.poll_interval,
                "look_back": self.look_back,
            },
        )

    def listing(self) -> tuple[Any, ...]:
        return ("unacknowledged alerts",)

    async def read_objects(self, hook: DiligentHook, since: datetime, monitors: frozenset[str] | None) -> Read:
        """Unacknowledged alerts raised at or after ``since`` (filters the hook applies again to
        what comes back)."""
        return Read([alert async for alert in hook.alist_alerts(only_unacknowledged=True, execution_time_after=since)])

    def object_id(self, item: dict) -> str | None:
        return None if item.get("id") is None else str(item["id"])

    def object_time(self, item: dict) -> datetime | None:
        return parse_moment(item.get("execution_time"))

    def watches(self, item: dict) -> bool:
        return self.monitoring_id is None or str(item.get("monitoring_id")) == str(self.monitoring_id).strip()

    def payload(self, item: dict, base_url: str) -> dict[str, Any]:
        # Diligent documents no page for a monitoring or an alert: no link.
        return event_payload(self.vendor, self.kind, str(item["id"]), item.get("monitoring_id"), "alert",
                             "acknowledged" if item.get("acknowledged") else "unacknowledged",
                             self.object_time(item), "", item)
