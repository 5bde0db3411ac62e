"""Deferrable wait for an Encrata monitor run."""

from __future__ import annotations

import logging
from contextlib import aclosing
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Hashable

from airflow_provider_monitoring._http import values
from airflow_provider_monitoring._waiting import RUNNING, RunState
from airflow_provider_monitoring.triggers._events import MonitoringEventTrigger, Read, event_payload, parse_moment
from airflow_provider_monitoring.triggers._feed import MOST_SHARED_RECORDS, FeedKey, walk_until_found
from airflow_provider_monitoring.triggers.base import MonitoringRunTrigger

if TYPE_CHECKING:  # the hook loads where the wait runs (see triggers/base.py)
    from airflow_provider_monitoring.hooks.encrata import EncrataHook

HOOK = "airflow_provider_monitoring.hooks.encrata.EncrataHook"

__all__ = ["EncrataRunEventTrigger", "EncrataRunTrigger"]

log = logging.getLogger(__name__)


class EncrataRunTrigger(MonitoringRunTrigger):
    """Fires when an Encrata run ends (success / failed, unknown statuses fail closed), when the
    wall-clock ``deadline`` (epoch seconds) passes (status ``timeout``), or on an API error.

    Encrata has no single-run endpoint. The waits on one connection share one read per interval of
    the all-runs listing (``GET .../monitoring/runs``), walked only until every open wait's run has
    turned up; a wait whose run is not there reads its monitor's run listing on its own.

    :param monitor_id: The monitor whose run is waited for.
    :param run_id: The run.
    :param encrata_conn_id: The Airflow connection to Encrata (its key is read in the triggerer).
    :param poll_interval: Seconds between reads.
    :param deadline: Wall-clock end of the wait, in epoch seconds (None: no end).
    :param not_found_until: Epoch seconds until which a run missing from the listing counts as not
        visible yet rather than as an error (the operator sets it for the run it just triggered).
    """

    vendor, hook_path = "encrata", HOOK

    def __init__(self, monitor_id: str, run_id: str, encrata_conn_id: str = "encrata_default",
                 poll_interval: float = 30.0, deadline: float | None = None, not_found_until: float | None = None):
        super().__init__(encrata_conn_id, poll_interval, deadline)
        self.monitor_id = monitor_id
        self.run_id = run_id
        self.not_found_until = not_found_until

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "airflow_provider_monitoring.triggers.encrata.EncrataRunTrigger",
            {
                "monitor_id": self.monitor_id,
                "run_id": self.run_id,
                "encrata_conn_id": self.conn_id,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "not_found_until": self.not_found_until,
            },
        )

    def event_ids(self) -> tuple[Any, Any]:
        return self.monitor_id, self.run_id

    def subject(self) -> str:
        return f"Encrata run {self.run_id} of monitor {self.monitor_id}"

    async def read_state(self, hook: EncrataHook) -> RunState:
        return await hook.aget_run_state(self.monitor_id, self.run_id)

    def listing(self) -> tuple[Any, ...]:
        return ("all runs",)

    def need(self) -> Hashable:
        return str(self.monitor_id).strip(), str(self.run_id).strip()

    @staticmethod
    async def read_listing(hook: EncrataHook, key: FeedKey, needs: frozenset, previous: Any) -> "ListedRuns":
        return await ListedRuns.read(hook, needs, previous)


def started(run: dict) -> datetime | None:
    """When a listed run was made (``created_at``, the listing's order, newest first; else
    ``started_at``); None when it does not say."""
    return values.time_or_none(run.get("created_at") or run.get("started_at"))


class ListedRuns:
    """The newest runs of every monitor, as one shared read saw them, by run id, and when each
    open wait's run started (learnt by the reads, so the next walks back far enough).

    :param runs: The runs read, by id.
    :param starts: When each open wait's run started, as far as the reads have seen it.
    """

    # Pages beyond what the open waits' runs fill, in case other monitors' runs came in between.
    SPARE_PAGES = 2
    # Runs of other monitors may be listed out of start order by this much (clock skew, queueing).
    SLACK = timedelta(minutes=5)

    def __init__(self, runs: dict[str, dict], starts: dict[str, datetime]):
        self.runs, self.starts = runs, starts

    @classmethod
    async def read(cls, hook: EncrataHook, needs: frozenset, previous: ListedRuns | None) -> ListedRuns:
        """The all-runs listing (newest first in practice; its order is undocumented), walked until
        every open wait's run turned up, and never much past the oldest of them: a run not reached
        is read by its own wait."""
        from airflow_provider_monitoring.hooks.encrata import PAGE_LIMIT

        wanted = {run_id for _monitor, run_id in needs}
        starts = {run_id: when for run_id, when in (previous.starts.items() if previous else ()) if run_id in wanted}
        oldest = min(starts.values(), default=None)

        def reaches_back(run: dict) -> bool:
            when = started(run)
            return oldest is not None and (when is None or when >= oldest - cls.SLACK)

        runs = await walk_until_found(hook.alist_runs(), "id", wanted, PAGE_LIMIT, cls.SPARE_PAGES, reaches_back)
        for run_id in wanted & runs.keys():
            when = started(runs[run_id])
            if when is not None:
                starts[run_id] = when
        return cls(runs, starts)

    def learn(self, need: Hashable, state: RunState) -> None:
        """A wait's own read found its run: the next walks reach back to it."""
        when = started(state.run) if isinstance(state.run, dict) else None
        if when is not None:
            self.starts[need[1]] = when

    def state_of(self, need: Hashable) -> RunState | None:
        monitor_id, run_id = need
        run = self.runs.get(run_id)
        # A run listed under another monitor, or without a status, is left to the wait's own read,
        # which says what is wrong with it.
        if run is None or str(run.get("monitor_id")) != monitor_id or run.get("status") is None:
            return None
        from airflow_provider_monitoring.hooks.encrata import listed_run_state

        return listed_run_state(run)


class EncrataRunEventTrigger(MonitoringEventTrigger):
    """An AssetWatcher's trigger: one event per Encrata run that ended (with ``changes_detected > 0``
    when ``only_changes``), of one monitor, of one monitor type, or of every monitor. The payload is
    docs/design.md's "Vendor events" one (``kind`` "run"). Watchers on one connection share one poll
    of the all-runs listing; each keeps its cursor in its asset's state store.

    :param encrata_conn_id: The Airflow connection to Encrata.
    :param monitor_id: Only this monitor's runs (None: every monitor's).
    :param monitor_type: Only runs of monitors of this type (``email``, ``phone``, ``domain``, ``ip``,
        ``company``, ``darkweb``; None: every type).
    :param only_changes: Only runs that detected changes.
    :param poll_interval: Seconds between polls (at least 30).
    :param look_back: On a first start, also announce runs made up to this many seconds before it (runs
        still running then are announced when they end in any case).
    """

    vendor, hook_path, kind = "encrata", HOOK, "run"

    def __init__(self, encrata_conn_id: str = "encrata_default", monitor_id: str | None = None,
                 monitor_type: str | None = None, only_changes: bool = True, poll_interval: float = 300.0,
                 look_back: float = 0.0):
        from airflow_provider_monitoring.hooks.encrata import optional_monitor_type

        super().__init__(encrata_conn_id, poll_interval, look_back)
        self.monitor_id = monitor_id
        self.monitor_type = optional_monitor_type(monitor_type)  # refused at parse time, not in the triggerer
        self.only_changes = only_changes

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "airflow_provider_monitoring.triggers.encrata.EncrataRunEventTrigger",
            {
                "encrata_conn_id": self.conn_id,
                "monitor_id": self.monitor_id,
                "monitor_type": self.monitor_type,
                "only_changes": self.only_changes,
                "poll_interval": self.poll_interval,
                "look_back": self.look_back,
            },
        )

    def listing(self) -> tuple[Any, ...]:
        return ("all runs", self.monitor_type)  # the type is a server-side filter: one poll per type

    async def read_objects(self, hook: EncrataHook, since: datetime, monitors: frozenset[str] | None) -> Read:
        """The all-runs listing (of ``monitor_type``), newest first, down to a full page of runs made
        before ``since`` (one run out of order does not end the walk); at most MOST_SHARED_RECORDS,
        and then the read says how far back it reached, so the watchers' cursors stop there."""
        from airflow_provider_monitoring.hooks.encrata import PAGE_LIMIT

        runs: list[dict] = []
        older_in_a_row = 0
        async with aclosing(hook.alist_runs(self.monitor_type)) as walk:
            async for run in walk:
                when = started(run)
                older_in_a_row = older_in_a_row + 1 if when is not None and when < since else 0
                if older_in_a_row >= PAGE_LIMIT:
                    break
                runs.append(run)
                if len(runs) >= MOST_SHARED_RECORDS:
                    reached = min((moment for moment in map(started, runs) if moment), default=None)
                    log.warning("Encrata events: more than %d runs since %s; this read reached back to %s",
                                MOST_SHARED_RECORDS, since.isoformat(), reached)
                    return Read(runs, reached=reached)
        return Read(runs)

    def object_id(self, item: dict) -> str | None:
        return None if item.get("id") is None else str(item["id"])

    def object_time(self, item: dict) -> datetime | None:
        return started(item)

    def ended(self, item: dict) -> bool:
        return self._state(item).outcome != RUNNING

    def watches(self, item: dict) -> bool:
        return self.monitor_id is None or str(item.get("monitor_id")) == str(self.monitor_id).strip()

    def announces(self, item: dict) -> bool:
        changes = item.get("changes_detected")
        return not self.only_changes or (isinstance(changes, int) and not isinstance(changes, bool) and changes > 0)

    def payload(self, item: dict, base_url: str) -> dict[str, Any]:
        from airflow_provider_monitoring._vendors import monitor_url

        state = self._state(item)
        return event_payload(self.vendor, self.kind, str(item["id"]), item.get("monitor_id"), state.outcome,
                             state.vendor_state, parse_moment(item.get("completed_at")) or started(item),
                             monitor_url(base_url, item.get("monitor_id")), item)

    @staticmethod
    def _state(item: dict) -> RunState:
        from airflow_provider_monitoring._waiting import run_state
        from airflow_provider_monitoring.hooks.encrata import RUN_OUTCOMES

        # An undocumented status is final and failed (fail closed), with the raw value kept.
        return run_state("Encrata", RUN_OUTCOMES, item.get("status"), item)
