"""Deferrable wait for a Datafold monitor run."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Hashable, Sequence

from airflow_provider_monitoring._http.errors import MonitoringError, RateLimitedError
from airflow_provider_monitoring._waiting import RUNNING, RunState
from airflow_provider_monitoring.triggers._events import MonitoringEventTrigger, Read, event_payload, parse_moment
from airflow_provider_monitoring.triggers._feed import FeedKey, walk_until_found
from airflow_provider_monitoring.triggers.base import MonitoringRunTrigger, hook_of

if TYPE_CHECKING:  # the hook loads where the wait runs (see triggers/base.py)
    from airflow_provider_monitoring.hooks.datafold import DatafoldHook

HOOK = "airflow_provider_monitoring.hooks.datafold.DatafoldHook"

__all__ = ["DatafoldMonitorRunTrigger", "DatafoldRunEventTrigger"]

log = logging.getLogger(__name__)

# How long before its start a Datafold run may have been made (queued): the runs listing's time
# filter is sent this much earlier than what a watcher needs.
QUEUED_FOR = timedelta(hours=1)
# The end states a run event may announce (docs/vendors/datafold.md: the documented end states).
END_STATES = ("ok", "alert", "error", "cancelled", "learning", "skipped")

# on_kill has little time (Airflow gives it [triggerer] on_kill_timeout, 30 s by default): its
# requests must be over within this, retry sleeps included.
CANCEL_WITHIN = 20.0
CANCEL_REQUEST_TIMEOUT = 8.0


class DatafoldMonitorRunTrigger(MonitoringRunTrigger):
    """Fires when a Datafold run ends: ``ok`` → success, ``alert`` → alert, ``error`` /
    ``cancelled`` → failed, ``learning`` / ``skipped`` → failed unless listed in ``accept_states``,
    any state Datafold adds later → failed with the raw value; or at the wall-clock ``deadline``
    (timeout), or on an API error.

    The waits on one connection share one read per interval, a few monitors at a time: per
    monitor, the run itself while one wait is on it, else the monitor's run listing and then each
    run it shows ended, for its ``error`` and ``warnings`` (the listing does not carry them).

    :param monitor_id: The monitor whose run is waited for.
    :param run_id: The run.
    :param datafold_conn_id: The Airflow connection to Datafold (its key is read in the triggerer).
    :param poll_interval: Seconds between reads.
    :param deadline: Wall-clock end of the wait, in epoch seconds (None: no end).
    :param accept_states: ``learning`` and/or ``skipped``, to count as success.
    :param not_found_until: Epoch seconds until which a 404 for the run means "not visible yet"
        (Datafold's documented race right after ``POST /run``).
    :param cancel_on_kill: When a user marks or clears the deferred task, cancel the run's data diff
        (diff monitors).
    """

    vendor, hook_path = "datafold", HOOK

    def __init__(self, monitor_id: int, run_id: int, datafold_conn_id: str = "datafold_default",
                 poll_interval: float = 30.0, deadline: float | None = None, accept_states: Sequence[str] = (),
                 not_found_until: float | None = None, cancel_on_kill: bool = True):
        super().__init__(datafold_conn_id, poll_interval, deadline)
        self.monitor_id = monitor_id
        self.run_id = run_id
        self.accept_states = list(accept_states)
        self.not_found_until = not_found_until
        self.cancel_on_kill = cancel_on_kill
        self._diff_id: Any = None  # learnt from the polls, so on_kill needs one request, not two

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "airflow_provider_monitoring.triggers.datafold.DatafoldMonitorRunTrigger",
            {
                "monitor_id": self.monitor_id,
                "run_id": self.run_id,
                "datafold_conn_id": self.conn_id,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "accept_states": self.accept_states,
                "not_found_until": self.not_found_until,
                "cancel_on_kill": self.cancel_on_kill,
            },
        )

    def event_ids(self) -> tuple[Any, Any]:
        return self.monitor_id, self.run_id

    def subject(self) -> str:
        return f"Datafold run {self.run_id} of monitor {self.monitor_id}"

    async def read_state(self, hook: DatafoldHook) -> RunState:
        return await hook.aget_monitor_run_state(self.monitor_id, self.run_id, self.accept_states)

    def remember(self, state: RunState) -> None:
        self._diff_id = state.run.get("diff_id", self._diff_id)

    def listing(self) -> tuple[Any, ...]:
        return ("monitor runs",)

    def need(self) -> Hashable:
        return str(self.monitor_id).strip(), str(self.run_id).strip(), tuple(self.accept_states)

    @staticmethod
    async def read_listing(hook: DatafoldHook, key: FeedKey, needs: frozenset, previous: Any) -> "ListedRuns":
        return await ListedRuns.read(hook, needs)

    async def on_kill(self) -> None:
        """Cancel the run's data diff (the one documented cancel call), on a session of its own,
        all within CANCEL_WITHIN seconds; a run without a diff (metric, test, schema monitors) is
        left running and named in the log."""
        from airflow_provider_monitoring._http.retry import deadline_at

        if not self.cancel_on_kill:
            self.log.info("cancel_on_kill=False: Datafold run %s of monitor %s left running; %s",
                          self.run_id, self.monitor_id, await self.monitor_link())
            return
        hook = hook_of(self.hook_path, self.conn_id, timeout=CANCEL_REQUEST_TIMEOUT, max_retries=1)
        with deadline_at(time.time() + CANCEL_WITHIN):
            async with hook:
                diff_id = self._diff_id
                if diff_id is None:  # killed before any poll came back
                    diff_id = (await hook.aget_monitor_run(self.monitor_id, self.run_id)).get("diff_id")
                if diff_id is None:
                    self.log.warning("Datafold run %s of monitor %s has no data diff to cancel (only diff monitor "
                                     "runs can be cancelled); it keeps running: see %s",
                                     self.run_id, self.monitor_id, self.link_for(hook.settings.base_url))
                    return
                await hook.acancel_data_diff(diff_id)
        self.log.warning("cancelled data diff %s of Datafold run %s (monitor %s), as the task was stopped by a user",
                         diff_id, self.run_id, self.monitor_id)


def _state(run: dict, accepted: Sequence[str]) -> RunState:
    from airflow_provider_monitoring.hooks.datafold import monitor_run_state

    return monitor_run_state(run, accepted)


class ListedRuns:
    """Runs of the monitors open waits are on, as one shared read of the connection saw them, by
    (monitor id, run id). Per monitor: the run itself when one wait is on it; else the monitor's
    run listing, then, one after the other, each run it shows ended, in full (a listing item lacks
    ``error`` and ``warnings``). ``complete`` holds the runs whose record is the run itself;
    ``errors`` what a read failed with, by monitor (its listing: all its waits) or by (monitor,
    run) (one run: that run's waits only)."""

    # Pages beyond what the open waits' runs fill, in case other runs of the monitor came in between.
    SPARE_PAGES = 1
    # Monitors read at once: a few connections, opened at the first read and reused by every read after.
    READS_AT_ONCE = 4

    def __init__(self) -> None:
        self.runs: dict[tuple[str, str], dict] = {}
        self.complete: set[tuple[str, str]] = set()
        self.errors: dict[Any, MonitoringError] = {}

    @classmethod
    async def read(cls, hook: DatafoldHook, needs: frozenset) -> ListedRuns:
        wanted: dict[str, set[str]] = {}
        for monitor_id, run_id, _accepted in needs:
            wanted.setdefault(monitor_id, set()).add(run_id)
        listing, gate = cls(), asyncio.Semaphore(cls.READS_AT_ONCE)
        try:
            async with asyncio.TaskGroup() as group:
                for monitor_id, run_ids in wanted.items():
                    group.create_task(listing.read_monitor(hook, gate, monitor_id, run_ids))
        except* RateLimitedError as limited:
            raise limited.exceptions[0] from None  # the account is limited: the feed backs off, for all
        return listing

    async def read_monitor(self, hook: DatafoldHook, gate: asyncio.Semaphore, monitor_id: str,
                           run_ids: set[str]) -> None:
        from airflow_provider_monitoring.hooks.datafold import PAGE_SIZE

        async with gate:
            if len(run_ids) == 1:  # one request either way: the run itself says more than its listing item
                (run_id,) = run_ids
                await self.read_in_full(hook, monitor_id, run_id)
                return
            try:
                walk = hook.alist_monitor_runs(monitor_id)
                for run_id, run in (await walk_until_found(walk, "run_id", run_ids, PAGE_SIZE, self.SPARE_PAGES)).items():
                    self.runs[monitor_id, run_id] = run
            except RateLimitedError:
                raise
            except MonitoringError as exc:
                self.errors[monitor_id] = exc
                return
            for run_id in sorted(run_ids):
                if self.ended(monitor_id, run_id):
                    await self.read_in_full(hook, monitor_id, run_id)

    def ended(self, monitor_id: str, run_id: str) -> bool:
        run = self.runs.get((monitor_id, run_id))
        return run is not None and "state" in run and _state(run, ()).outcome != RUNNING

    async def read_in_full(self, hook: DatafoldHook, monitor_id: str, run_id: str) -> None:
        try:
            self.runs[monitor_id, run_id] = await hook.aget_monitor_run(monitor_id, run_id)
        except RateLimitedError:
            raise
        except MonitoringError as exc:
            self.errors[monitor_id, run_id] = exc  # this run's waits only
            return
        self.complete.add((monitor_id, run_id))

    def state_of(self, need: Hashable) -> RunState | None:
        monitor_id, run_id, accepted = need
        error = self.errors.get((monitor_id, run_id)) or self.errors.get(monitor_id)
        if error is not None:
            raise error.with_traceback(None)  # the waits it concerns only
        run = self.runs.get((monitor_id, run_id))
        if run is None or "state" not in run:
            return None
        state = _state(run, accepted)
        # An end is only reported from the run's own record, which carries the details.
        return state if (monitor_id, run_id) in self.complete or state.outcome == RUNNING else None


class DatafoldRunEventTrigger(MonitoringEventTrigger):
    """An AssetWatcher's trigger: one event per run of ``monitor_ids`` that ended in one of
    ``states`` (Datafold's words: ``ok``, ``alert``, ``error``, ``cancelled``, ``learning``,
    ``skipped``; an undocumented end state counts as ``error``). The payload is docs/design.md's
    "Vendor events" one (``kind`` "run"). Watchers on one connection share one poll, which reads
    each watched monitor's runs once; each keeps its cursor in its asset's state store.

    :param monitor_ids: The monitors whose runs are watched.
    :param datafold_conn_id: The Airflow connection to Datafold.
    :param states: The end states announced.
    :param poll_interval: Seconds between polls (at least 30).
    :param look_back: On a first start, also announce runs started up to this many seconds before.
    """

    vendor, hook_path, kind = "datafold", HOOK, "run"

    def __init__(self, monitor_ids: Sequence[int | str], datafold_conn_id: str = "datafold_default",
                 states: Sequence[str] = ("alert", "error"), poll_interval: float = 300.0, look_back: float = 0.0):
        from airflow_provider_monitoring._http.errors import ConfigurationError
        from airflow_provider_monitoring._http.values import int_id

        super().__init__(datafold_conn_id, poll_interval, look_back)
        if isinstance(monitor_ids, (str, int)) or not monitor_ids:
            raise ConfigurationError(f"monitor_ids must be a non-empty list of monitor ids, got {monitor_ids!r}")
        self.monitor_ids = [int_id(monitor_id, "monitor_ids item") for monitor_id in monitor_ids]
        unknown = sorted(set(states) - set(END_STATES))
        if unknown or isinstance(states, str) or not states:
            raise ConfigurationError(f"states must be a non-empty list of {list(END_STATES)}, got {states!r}")
        self.states = list(states)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "airflow_provider_monitoring.triggers.datafold.DatafoldRunEventTrigger",
            {
                "monitor_ids": self.monitor_ids,
                "datafold_conn_id": self.conn_id,
                "states": self.states,
                "poll_interval": self.poll_interval,
                "look_back": self.look_back,
            },
        )

    def listing(self) -> tuple[Any, ...]:
        return ("monitor runs",)

    def monitors(self) -> frozenset[str] | None:
        return frozenset(map(str, self.monitor_ids))

    async def read_objects(self, hook: DatafoldHook, since: datetime, monitors: frozenset[str] | None) -> Read:
        """Runs of each watched monitor from ``since`` on, one monitor after the other. Datafold
        does not say which time ``start_time`` filters on (a run is made, then queued, then
        started), so it is sent QUEUED_FOR earlier. A monitor whose runs cannot be read is left out
        of the read (logged): only its own watchers wait for the next one."""
        from airflow_provider_monitoring._http.errors import ACCOUNT_ERRORS

        runs, read = [], set()
        for monitor_id in sorted(monitors or ()):
            try:
                async for run in hook.alist_monitor_runs(monitor_id, start_time=since - QUEUED_FOR):
                    runs.append({**run, "monitor_id": run.get("monitor_id", monitor_id)})
            except ACCOUNT_ERRORS:
                raise  # the account's trouble: every watcher waits, the poll backs off
            except MonitoringError as exc:
                log.warning("Datafold events: the runs of monitor %s cannot be read (%s); its watchers wait", monitor_id, exc)
                continue
            read.add(monitor_id)
        return Read(runs, monitors=frozenset(read))

    def object_id(self, item: dict) -> str | None:
        # Run ids may be numbered per monitor: the monitor makes the run unique.
        return None if item.get("run_id") is None else f"{item.get('monitor_id')}/{item['run_id']}"

    def object_time(self, item: dict) -> datetime | None:
        return parse_moment(item.get("started_at"))

    def ended(self, item: dict) -> bool:
        return "state" in item and _state(item, ()).outcome != RUNNING

    def watches(self, item: dict) -> bool:
        return str(item.get("monitor_id")) in self.monitors()

    def announces(self, item: dict) -> bool:
        state = item.get("state")
        return (state if state in END_STATES else "error") in self.states

    def payload(self, item: dict, base_url: str) -> dict[str, Any]:
        from airflow_provider_monitoring._vendors import monitor_url

        state = _state(item, ())
        return event_payload(self.vendor, self.kind, str(item["run_id"]), item.get("monitor_id"), state.outcome,
                             state.vendor_state, self.object_time(item), monitor_url(base_url, item.get("monitor_id")),
                             item, unique_id=self.object_id(item))
