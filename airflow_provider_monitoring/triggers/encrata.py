"""Deferrable wait for an Encrata monitor run."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Hashable

from airflow_provider_monitoring._http import values
from airflow_provider_monitoring._http.errors import ConfigurationError
from airflow_provider_monitoring._waiting import RunState
from airflow_provider_monitoring.triggers._feed import FeedKey, walk_until_found
from airflow_provider_monitoring.triggers.base import MonitoringRunTrigger

if TYPE_CHECKING:  # the hook loads where the wait runs (see triggers/base.py)
    from airflow_provider_monitoring.hooks.encrata import EncrataHook

__all__ = ["EncrataRunTrigger"]


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

    vendor = "encrata"

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

    def make_hook(self) -> EncrataHook:
        from airflow_provider_monitoring.hooks.encrata import EncrataHook

        return EncrataHook(encrata_conn_id=self.conn_id)

    async def read_state(self, hook: EncrataHook) -> RunState:
        return await hook.aget_run_state(self.monitor_id, self.run_id)

    def listing(self) -> tuple[Any, ...]:
        return ("all runs",)

    def need(self) -> Hashable:
        return str(self.monitor_id).strip(), str(self.run_id).strip()

    @staticmethod
    async def read_listing(hook: EncrataHook, key: FeedKey, needs: frozenset, previous: Any) -> "ListedRuns":
        return await ListedRuns.read(hook, needs, previous)


@functools.lru_cache(maxsize=4096)  # the same runs' times come back at every shared read
def _moment(text: str) -> datetime | None:
    try:
        return values.parse_time(text, "started_at")
    except ConfigurationError:
        return None


def started(run: dict) -> datetime | None:
    """When a listed run started (``started_at``, else ``created_at``); None when it does not say."""
    text = run.get("started_at") or run.get("created_at")
    return _moment(text) if isinstance(text, str) else None


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

    def state_of(self, need: Hashable) -> RunState | None:
        monitor_id, run_id = need
        run = self.runs.get(run_id)
        # A run listed under another monitor, or without a status, is left to the wait's own read,
        # which says what is wrong with it.
        if run is None or str(run.get("monitor_id")) != monitor_id or run.get("status") is None:
            return None
        from airflow_provider_monitoring.hooks.encrata import listed_run_state

        return listed_run_state(run)
