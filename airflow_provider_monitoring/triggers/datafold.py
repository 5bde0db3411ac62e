"""Deferrable wait for a Datafold monitor run."""

from __future__ import annotations

import time
from typing import Any, Sequence

from airflow_provider_monitoring._waiting import RunState
from airflow_provider_monitoring.hooks.datafold import DatafoldHook
from airflow_provider_monitoring.triggers.base import MonitoringRunTrigger

# on_kill has little time (Airflow gives it [triggerer] on_kill_timeout, 30 s by default): its
# requests must be over within this, retry sleeps included.
CANCEL_WITHIN = 20.0
CANCEL_REQUEST_TIMEOUT = 8.0


class DatafoldMonitorRunTrigger(MonitoringRunTrigger):
    """Fires when a Datafold run ends: ``ok`` → success, ``alert`` → alert, ``error`` /
    ``cancelled`` → failed, ``learning`` / ``skipped`` → failed unless listed in ``accept_states``,
    any state Datafold adds later → failed with the raw value; or at the wall-clock ``deadline``
    (timeout), or on an API error.

    ``not_found_until`` (epoch seconds): until then a 404 for the run means "not visible yet"
    (Datafold's documented race right after ``POST /run``). ``cancel_on_kill``: when a user marks
    or clears the deferred task, the run's data diff (diff monitors) is cancelled.
    """

    vendor = "datafold"
    conn_kwarg = "datafold_conn_id"

    def __init__(self, monitor_id: int, run_id: int, datafold_conn_id: str = "datafold_default",
                 poll_interval: float = 30.0, deadline: float | None = None, accept_states: Sequence[str] = (),
                 not_found_until: float | None = None, cancel_on_kill: bool = True):
        super().__init__(monitor_id, run_id, datafold_conn_id, poll_interval, deadline, not_found_until)
        self.accept_states = list(accept_states)
        self.cancel_on_kill = cancel_on_kill
        self._diff_id: Any = None  # learnt from the polls, so on_kill needs one request, not two

    def extra_kwargs(self) -> dict[str, Any]:
        return {"accept_states": self.accept_states, "not_found_until": self.not_found_until,
                "cancel_on_kill": self.cancel_on_kill}

    def make_hook(self) -> DatafoldHook:
        return DatafoldHook(datafold_conn_id=self.conn_id)

    async def read_state(self, hook: DatafoldHook) -> RunState:
        state = await hook.aget_monitor_run_state(self.monitor_id, self.run_id, self.accept_states)
        self._diff_id = state.run.get("diff_id", self._diff_id)
        return state

    def link_for(self, base_url: str) -> str:
        from airflow_provider_monitoring.operators.datafold import monitor_url

        return monitor_url(base_url, self.monitor_id)

    async def on_kill(self) -> None:
        """Cancel the run's data diff (the one documented cancel call), on a session of its own,
        all within CANCEL_WITHIN seconds; a run without a diff (metric, test, schema monitors) is
        left running and named in the log."""
        from airflow_provider_monitoring._http.retry import deadline_at

        if not self.cancel_on_kill:
            self.log.info("cancel_on_kill=False: Datafold run %s of monitor %s left running; %s",
                          self.run_id, self.monitor_id, await self.monitor_link())
            return
        hook = DatafoldHook(datafold_conn_id=self.conn_id, timeout=CANCEL_REQUEST_TIMEOUT, max_retries=1)
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
