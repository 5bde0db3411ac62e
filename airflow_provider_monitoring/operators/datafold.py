"""Datafold operators: create monitors, run one as a data-quality gate, fetch a run's results.

Importing this module costs little: hooks and triggers are imported when a task runs.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any, Sequence

from airflow_provider_monitoring.lineage import MonitoringLineageMixin
from airflow_provider_monitoring.operators.base import (
    DEFAULT_TIMEOUT, MonitoringOperator, MonitoringRunOperator, MonitorLink, RunSummary, run_time,
    templated,
)

__all__ = ["DatafoldCreateMonitorOperator", "DatafoldMonitorLink", "DatafoldRunMonitorOperator", "DatafoldRunResultsOperator"]


class DatafoldMonitorLink(MonitorLink):
    """The monitor in the Datafold app, on the connection's own host (US, EU or dedicated)."""

    name = "Datafold monitor"


class DatafoldCreateMonitorOperator(MonitoringOperator):
    """Creates a Datafold monitor of ``monitor_type`` (``diff``, ``metric``, ``test``, ``schema``)
    from ``spec`` (the documented create body) and returns its id.

    The spec is checked before any request (name and schedule; ``connection_id`` for metric, test
    and schema; ``datadiff.diff_type`` for diff; exactly one of ``query``/``test``; the ``type`` of
    metric, alert and notifications): at parse time when nothing in it is templated, and again once
    rendered. A Datafold 422 reports each field (``loc``) and message.

    :param monitor_type: ``diff``, ``metric``, ``test`` or ``schema``.
    :param spec: The documented create body of that type (templated).
    :param datafold_conn_id: The Airflow connection to Datafold.
    """

    template_fields: Sequence[str] = ("spec",)

    def __init__(self, *, monitor_type: str, spec: dict, datafold_conn_id: str = "datafold_default", **kwargs: Any):
        super().__init__(conn_id=datafold_conn_id, **kwargs)
        self.monitor_type, self.spec = monitor_type, spec
        if not templated(spec):
            self._check()

    def _check(self) -> None:
        from airflow_provider_monitoring._http.values import choice
        from airflow_provider_monitoring.hooks.datafold import MONITOR_TYPES, validated_create_body

        choice(self.monitor_type, MONITOR_TYPES, "monitor_type")
        validated_create_body(self.monitor_type, self.spec)

    def execute(self, context: Any) -> int:
        from airflow_provider_monitoring.hooks.datafold import DatafoldHook

        self._check()
        monitor_id = DatafoldHook(datafold_conn_id=self.conn_id).create_monitor(self.monitor_type, self.spec)
        self.log.info("created Datafold %s monitor %s", self.monitor_type, monitor_id)
        return monitor_id


class DatafoldRunMonitorOperator(MonitoringRunOperator):
    """Runs a Datafold monitor and, by default, waits for its verdict: a data-quality gate.

    The run id (XCom key ``run_id``) and a link to the monitor are pushed before the wait. ``ok``
    passes; ``alert`` follows ``on_alert`` (``"fail"`` default, ``"succeed"``, ``"skip"`` to skip
    downstream tasks); ``error`` and ``cancelled`` fail, with the run's ``error`` and ``warnings``
    in the log and the failure message; ``learning`` and ``skipped`` fail unless named in
    ``accept_states`` (e.g. ``("learning",)`` while a new anomaly monitor learns); a state Datafold
    adds later fails with its raw value. Returns the run id.

    Retries never pay twice for one intent: the run a try started is recorded in Airflow's task
    state store; a retry waits for it while it runs, returns it if it ended ``ok``, and starts a
    new run otherwise. ``reuse_recent_run`` (seconds or timedelta): a run of the monitor in
    progress, or one that ended ``ok`` and started no longer ago than this (Datafold gives no end
    time), is used instead of a new run; ``force_new_run=True`` never takes a run this task did not
    start (a retry still resumes its own). A run id just
    returned may answer 404 for a moment (a documented race): the wait reads that as "not visible
    yet" for a few polls. When the deferred task is marked failed or cleared, the run's data diff
    is cancelled (``cancel_on_kill=False`` to leave it running).

    :param monitor_id: The monitor to run (templated).
    :param wait_for_completion: Wait for the verdict (default) or return right after starting the run.
    :param on_alert: ``"fail"`` (default), ``"succeed"`` or ``"skip"`` when the run ends in alert.
    :param accept_states: ``learning`` and/or ``skipped``, to count as success.
    :param deferrable: Wait in the triggerer (default: Airflow's ``operators.default_deferrable``).
    :param poll_interval: Seconds between reads of the run.
    :param timeout: Seconds (or a timedelta) to wait in all.
    :param force_new_run: Never take a run this task did not start.
    :param reuse_recent_run: Seconds or a timedelta: use a run in progress, or one that ended ``ok``
        and started no longer ago, instead of starting one.
    :param cancel_on_kill: Cancel the run's data diff when a user stops the deferred task.
    :param datafold_conn_id: The Airflow connection to Datafold.
    """

    vendor = "datafold"
    link = DatafoldMonitorLink()
    operator_extra_links = (DatafoldMonitorLink(),)

    def __init__(self, *, monitor_id: int, wait_for_completion: bool = True, on_alert: str = "fail",
                 accept_states: Sequence[str] = (), deferrable: bool | None = None, poll_interval: float = 30.0,
                 timeout: float | timedelta = DEFAULT_TIMEOUT, force_new_run: bool = False,
                 reuse_recent_run: float | timedelta | None = None, cancel_on_kill: bool = True,
                 datafold_conn_id: str = "datafold_default", **kwargs: Any):
        super().__init__(monitor_id=monitor_id, conn_id=datafold_conn_id, wait_for_completion=wait_for_completion,
                         deferrable=deferrable, poll_interval=poll_interval, timeout=timeout, on_alert=on_alert,
                         force_new_run=force_new_run, reuse_recent_run=reuse_recent_run, **kwargs)
        self.cancel_on_kill = cancel_on_kill
        from airflow_provider_monitoring.hooks.datafold import run_outcomes

        run_outcomes(accept_states)  # only learning/skipped may be accepted: refused at parse time
        self.accept_states = tuple(accept_states)

    def make_hook(self):
        from airflow_provider_monitoring.hooks.datafold import DatafoldHook

        return DatafoldHook(datafold_conn_id=self.conn_id)

    def start_run(self, hook: Any, context: Any) -> int:
        run_id = hook.run_monitor(self.monitor_id)
        self.log.info("started Datafold run %s of monitor %s", run_id, self.monitor_id)
        return run_id

    def read_state(self, hook: Any, run_id: Any):
        return hook.get_monitor_run_state(self.monitor_id, run_id, self.accept_states)

    def recent_runs(self, hook: Any) -> list[RunSummary]:
        from airflow_provider_monitoring.hooks.datafold import PAGE_SIZE, run_outcomes

        outcomes = run_outcomes(self.accept_states)
        listed = itertools.islice(hook.list_monitor_runs(self.monitor_id), PAGE_SIZE)
        # A listed run's state may be null right after it was triggered: still running (§2.13).
        return [
            RunSummary(int(run["run_id"]), outcomes.get(run.get("state"), "failed"), run.get("state"),
                       run_time(run, "started_at"), None)
            for run in listed if run.get("run_id") is not None
        ]

    def read_evidence(self, hook: Any, event: dict):
        from airflow_provider_monitoring.results.datafold import read_evidence

        return read_evidence(hook, self.monitor_id, event["run"])

    def make_trigger(self, run_id: Any, deadline: float, not_found_until: float | None):
        from airflow_provider_monitoring.triggers.datafold import DatafoldMonitorRunTrigger

        return DatafoldMonitorRunTrigger(self.monitor_id, run_id, datafold_conn_id=self.conn_id,
                                         poll_interval=self.poll_interval, deadline=deadline,
                                         accept_states=self.accept_states, not_found_until=not_found_until,
                                         cancel_on_kill=self.cancel_on_kill)

    def run_id_from(self, event: dict) -> int:
        return int(event["run_id"])


class DatafoldRunResultsOperator(MonitoringLineageMixin, MonitoringOperator):
    """A run's detail and, when it has a ``diff_id``, its data diff and the diff's summary:
    returns ``{"run": {...}, "data_diff": {"diff": {...}, "summary": {...}} or None}``.

    :param monitor_id: The monitor (templated).
    :param run_id: The run (templated).
    :param datafold_conn_id: The Airflow connection to Datafold.
    """

    template_fields: Sequence[str] = ("monitor_id", "run_id")

    def __init__(self, *, monitor_id: int, run_id: int, datafold_conn_id: str = "datafold_default", **kwargs: Any):
        super().__init__(conn_id=datafold_conn_id, **kwargs)
        self.monitor_id, self.run_id = monitor_id, run_id

    def execute(self, context: Any) -> dict:
        from airflow_provider_monitoring.hooks.datafold import DatafoldHook

        from airflow_provider_monitoring._vendors import monitor_url
        from airflow_provider_monitoring.hooks.datafold import monitor_run_state
        from airflow_provider_monitoring.results.base import push_result, result_of_run
        from airflow_provider_monitoring.results.datafold import read_evidence

        hook = DatafoldHook(datafold_conn_id=self.conn_id)
        run = hook.get_monitor_run(self.monitor_id, self.run_id)
        diff_id = run.get("diff_id")
        diff = None if diff_id is None else hook.get_data_diff(diff_id)  # read once: returned, and evidence
        result = result_of_run(monitor_run_state(run), "datafold", self.monitor_id, self.run_id,
                               monitor_url(hook.settings.base_url, self.monitor_id),
                               lambda: read_evidence(hook, self.monitor_id, run, diff))
        if result is not None:
            push_result(self, context, result)
        if diff is None:
            return {"run": run, "data_diff": None}
        return {"run": run, "data_diff": {"diff": diff, "summary": hook.get_data_diff_summary(diff_id)}}
