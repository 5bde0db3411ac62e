"""What every vendor's run operator does: choose the run (resume, reuse or start), push its id and
link, wait, settle.

Run tracking is durable (docs/design.md, "Durable, never-twice runs"): the id of the run a task
instance started is written to Airflow's task state store (Airflow >= 3.3, the store behind
``ResumableJobMixin``) before the wait, so a retry resumes exactly that run instead of paying for
another or adopting someone else's.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar, Sequence

from airflow.sdk import BaseOperator, BaseOperatorLink, BaseXCom

from airflow_provider_monitoring._http.values import choice
from airflow_provider_monitoring._vendors import monitor_url
from airflow_provider_monitoring.lineage import MonitoringLineageMixin
from airflow_provider_monitoring._waiting import (
    ALERT, ON_ALERT, ON_ERROR, RUNNING, SUCCESS, RunState, default_deferrable, make_event, not_visible_until,
    settle, validate_event, wait_blocking,
)

__all__ = ["MonitorLink", "MonitoringOperator", "MonitoringRunOperator"]

DEFAULT_TIMEOUT = 7 * 24 * 3600.0
# The task state store key of the run a task instance started. Renaming it breaks the retries of
# tasks in flight (their run is stored under the old name).
RUN_KEY = "monitoring_run"
# Vendor timestamps are whole seconds at best: a run started in the same second counts as after.
TIMESTAMP_PRECISION = timedelta(seconds=1)
# Past this a record is kept for ever (Airflow refuses an expiry beyond the year 9999).
MAX_FINITE_RETENTION = timedelta(days=3650)
# What _read_recorded returns for a run the vendor no longer knows.
_GONE = object()


class MonitorLink(BaseOperatorLink):
    """A link to the monitor in the vendor's UI, pushed to XCom by the operator before it waits."""

    name = "Monitor"

    def get_link(self, operator: BaseOperator, *, ti_key: Any) -> str:
        return BaseXCom.get_value(ti_key=ti_key, key=self.xcom_key) or ""


@dataclass(frozen=True)
class RunSummary:
    """One run as a vendor's run listing shows it, reduced to what choosing a run needs."""

    run_id: Any
    outcome: str  # the shared vocabulary: running / success / alert / failed
    vendor_state: str | None
    started: datetime | None  # None: not started yet (queued), which counts as the newest
    ended: datetime | None  # None where the vendor gives no end time (Datafold) or it has not ended

    def age(self, now: datetime) -> timedelta | None:
        """Time since the run ended, or since it started where the vendor gives no end."""
        moment = self.ended or self.started
        return None if moment is None else now - moment

    def started_at_or_after(self, moment: datetime) -> bool:
        return self.started is None or self.started >= moment - TIMESTAMP_PRECISION


def templated(*values: Any) -> bool:
    """Whether any value, or anything inside it, still holds a Jinja template. Arguments are
    checked when the DAG is parsed unless templated, and always again once rendered."""
    return any("{{" in text or "{%" in text for text in map(repr, values))


class MonitoringOperator(BaseOperator):
    """Base of every operator of this provider. On Airflow >= 3.3 it fails without spending
    retries on errors a retry cannot fix (MonitoringRetryPolicy), unless ``retry_policy`` is given
    (``retry_policy=None`` turns it off).

    :param conn_id: The Airflow connection to the vendor; each operator takes it under the vendor's
        own keyword (``encrata_conn_id``, ``diligent_conn_id``, ``datafold_conn_id``) and keeps it
        as ``conn_id``.
    """

    def __init__(self, *, conn_id: str, **kwargs: Any):
        from airflow_provider_monitoring.policies import default_retry_policy

        super().__init__(**default_retry_policy(kwargs))
        self.conn_id = conn_id


class MonitoringRunOperator(MonitoringLineageMixin, MonitoringOperator):
    """Starts a run and, by default, waits for it (deferred, or polling in the worker); returns
    the run id. ``on_alert`` = ``"fail"`` / ``"succeed"`` / ``"skip"``; ``on_error`` = ``"fail"`` /
    ``"skip"`` for an API error during the wait (never a pass); ``timeout`` seconds in all.

    Which run: on a retry, the run this task instance started (read from the task state store)
    if it is still going (waited for) or succeeded (returned, nothing new paid); otherwise a new
    run. ``reuse_recent_run`` (seconds or timedelta) uses a run of the monitor that is in progress
    or succeeded no longer ago than that instead of starting one; ``force_new_run`` never takes a run
    this task did not start (a retry still resumes its own).

    :param monitor_id: The monitor to run (templated).
    :param conn_id: The Airflow connection (each vendor's operator takes ``<vendor>_conn_id``).
    :param wait_for_completion: Wait for the run to end (default) or return once it started.
    :param deferrable: Wait in the triggerer (default: Airflow's ``operators.default_deferrable``).
    :param poll_interval: Seconds between reads of the run.
    :param timeout: Seconds (or a timedelta) to wait in all.
    :param on_alert: ``"fail"`` (default), ``"succeed"`` or ``"skip"``.
    :param on_error: ``"fail"`` (default) or ``"skip"`` when the wait ends on an API error.
    :param reuse_recent_run: Seconds or a timedelta (see above); None (default) never reuses.
    :param force_new_run: Never take a run this task did not start.
    """

    vendor: ClassVar[str]
    link: ClassVar[MonitorLink]
    template_fields: Sequence[str] = ("monitor_id",)
    # The result this task pushed (XCom ``monitoring_result``), once the wait ended.
    monitoring_result: Any = None

    def __init__(self, *, monitor_id: Any, conn_id: str, wait_for_completion: bool = True,
                 deferrable: bool | None = None, poll_interval: float = 60.0,
                 timeout: float | timedelta = DEFAULT_TIMEOUT, on_alert: str = "fail", on_error: str = "fail",
                 reuse_recent_run: float | timedelta | None = None, force_new_run: bool = False,
                 **kwargs: Any):
        super().__init__(conn_id=conn_id, **kwargs)
        self.monitor_id = monitor_id
        self.wait_for_completion = wait_for_completion
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.poll_interval = float(poll_interval)
        self.timeout = timeout.total_seconds() if isinstance(timeout, timedelta) else float(timeout)
        self.on_alert = choice(on_alert, ON_ALERT, "on_alert")
        self.on_error = choice(on_error, ON_ERROR, "on_error")
        self.reuse_recent_run = _seconds_or_none(reuse_recent_run, "reuse_recent_run")
        self.force_new_run = force_new_run
        if force_new_run and self.reuse_recent_run is not None:
            raise ValueError("force_new_run=True and reuse_recent_run contradict each other; set one")

    # ---- what each vendor provides ----------------------------------------------------------

    def make_hook(self) -> Any:
        raise NotImplementedError

    def start_run(self, hook: Any, context: Any) -> Any:
        """Start a new (paid) run; its id."""
        raise NotImplementedError

    def read_state(self, hook: Any, run_id: Any) -> RunState:
        raise NotImplementedError

    def recent_runs(self, hook: Any) -> list[RunSummary]:
        """The monitor's latest runs: the first page of its run listing, in any order."""
        raise NotImplementedError

    def make_trigger(self, run_id: Any, deadline: float, not_found_until: float | None) -> Any:
        raise NotImplementedError

    def read_evidence(self, hook: Any, event: dict) -> Any:
        """What the vendor says about the ended run of ``event``: a ``results.base.Evidence``."""
        raise NotImplementedError

    def monitor_url(self, hook: Any) -> str:
        return monitor_url(hook.settings.base_url, self.monitor_id)

    # ---- the shared part --------------------------------------------------------------------

    def execute(self, context: Any) -> Any:
        ti = context["ti"]
        hook = self.make_hook()
        run_id, ended, started_at = self.choose_run(hook, context)
        ti.xcom_push(key="run_id", value=run_id)
        ti.xcom_push(key=self.link.xcom_key, value=self.monitor_url(hook))
        if ended is not None:
            # An earlier try's run that already ended the way this task accepts: no wait, no new run.
            message = f"{self.vendor} run {run_id} already ended {ended.vendor_state!r}"
            self.finish(make_event(ended.outcome, self.vendor, self.monitor_id, run_id, ended, message), context, hook)
            return run_id
        if not self.wait_for_completion:
            self.forget_run(context)
            return run_id
        deadline = time.time() + self.timeout
        not_found_until = None if started_at is None else not_visible_until(started_at, self.poll_interval)
        if self.deferrable:
            self.defer(trigger=self.make_trigger(run_id, deadline, not_found_until), method_name="execute_complete")
        event = wait_blocking(lambda: self.read_state(hook, run_id), vendor=self.vendor,
                              monitor_id=self.monitor_id, run_id=run_id, deadline=deadline,
                              poll_interval=self.poll_interval, not_found_until=not_found_until)
        self.finish(event, context, hook)
        return run_id

    def execute_complete(self, context: Any, event: Any = None) -> Any:
        self.finish(validate_event(event, self.vendor), context)
        return self.run_id_from(event)

    def finish(self, event: dict, context: Any, hook: Any = None) -> None:
        """Act on the wait's event, once its ``monitoring_result`` is pushed (a downstream
        ``all_done`` task reads it whatever happens here). A pass or a skip is this task's answer:
        its run is forgotten, so clearing the task later starts a new run; a failure keeps it for
        the retry to judge. A pass also puts the result in the outlet asset events."""
        from airflow.sdk.exceptions import AirflowSkipException

        from airflow_provider_monitoring.results.base import annotate_outlets, build_result, push_result

        self.log.info("%s", event["message"])
        hook = hook or self.make_hook()
        result = build_result(event, lambda: self.monitor_url(hook), lambda: self.read_evidence(hook, event))
        push_result(self, context, result)
        try:
            settle(event, self.on_alert, self.on_error)
        except AirflowSkipException:
            self.forget_run(context)
            raise
        annotate_outlets(self, context, result, lambda: hook.settings.base_url)
        self.forget_run(context)

    def run_id_from(self, event: dict) -> Any:
        """The run id as the vendor types it (events carry ids as text)."""
        return event["run_id"]

    # ---- which run --------------------------------------------------------------------------

    def choose_run(self, hook: Any, context: Any) -> tuple[Any, RunState | None, float | None]:
        """(run id, its state when it already ended acceptably, when we started it (epoch seconds)).

        In order: the run this task instance started on an earlier try, if it is still going or
        ended the way the task accepts; unless ``force_new_run``, a run of the monitor taken by
        ``reuse_recent_run`` or, without a task state store, by the retry fallback; else a new
        run, recorded in the task state store before anything else happens.
        """
        store = context.get("task_state_store")
        resumed = self._resume(hook, store) if store is not None else None
        if resumed is not None:
            return resumed
        if not self.force_new_run:
            taken = self._reuse(hook) or (self._resume_without_store(hook, context) if store is None else None)
            if taken is not None:
                self._record(store, hook, taken, None)
                return taken, None, None
        started_at = time.time()
        run_id = self.start_run(hook, context)
        self._record(store, hook, run_id, started_at)
        return run_id, None, started_at

    def _resume(self, hook: Any, store: Any) -> tuple[Any, RunState | None, float | None] | None:
        recorded = store.get(RUN_KEY)
        if not self._is_my_record(recorded, hook):
            return None
        run_id, started_at = recorded["run_id"], recorded.get("started_at")
        state = self._read_recorded(hook, run_id, started_at)
        if state is _GONE:
            self.log.warning("%s run %s, which an earlier try of this task started, is unknown to %s now; "
                             "starting a new run", self.vendor, run_id, self.vendor)
            return None
        if state is None or state.outcome == RUNNING:
            where = "not visible yet" if state is None else repr(state.vendor_state)
            self.log.info("resuming %s run %s, which an earlier try of this task started (%s)",
                          self.vendor, run_id, where)
            return run_id, None, started_at
        if self._accepts(state):
            self.log.info("%s run %s, which an earlier try of this task started, already ended %r; "
                          "using it without a new run", self.vendor, run_id, state.vendor_state)
            return run_id, state, started_at
        self.log.warning("%s run %s, which an earlier try of this task started, ended %r; starting a new run",
                         self.vendor, run_id, state.vendor_state)
        return None

    def _accepts(self, state: RunState) -> bool:
        """Whether an ended run is one this task would pass or skip on (so a retry keeps it)."""
        return state.outcome == SUCCESS or (state.outcome == ALERT and self.on_alert != "fail")

    def _read_recorded(self, hook: Any, run_id: Any, started_at: Any) -> RunState | None | object:
        """The recorded run's state; None when it is not visible yet (just started, see
        ``not_visible_until``), so the retry waits for it rather than paying again; _GONE when the
        vendor no longer knows it (deleted, or aged out of Encrata's listing)."""
        from airflow_provider_monitoring._http.errors import NotFoundError

        try:
            return self.read_state(hook, run_id)
        except NotFoundError:
            if isinstance(started_at, (int, float)) and time.time() < not_visible_until(started_at, self.poll_interval):
                return None
            return _GONE

    def _resume_without_store(self, hook: Any, context: Any) -> Any:
        """No task state store (Airflow < 3.3, or ``execute()`` called by hand): on a retry, the
        one run of the monitor that is in progress and started between the DAG run's start and
        this try's is waited for. Nothing proves it is this task's own, so it is taken only when
        it is the only candidate, and the log says so; a finished run is never taken."""
        ti = context.get("ti")
        began = getattr(context.get("dag_run"), "start_date", None)
        if getattr(ti, "try_number", 1) <= 1 or began is None:
            return None
        this_try = getattr(ti, "start_date", None)
        candidates = [
            run for run in self.recent_runs(hook)
            if run.outcome == RUNNING and run.started_at_or_after(began)
            and (this_try is None or run.started is None or run.started <= this_try)
        ]
        if len(candidates) != 1:
            if candidates:
                self.log.info("retry without a task state store: %d %s runs in progress could be this task's; "
                              "starting a new one", len(candidates), self.vendor)
            return None
        chosen = candidates[0]
        self.log.warning("retry %s without a task state store: waiting for %s run %s (%s), the one run in "
                         "progress since this DAG run began; nothing proves this task started it",
                         ti.try_number, self.vendor, chosen.run_id, chosen.vendor_state)
        return chosen.run_id

    def _reuse(self, hook: Any) -> Any:
        if self.reuse_recent_run is None or self.force_new_run:
            return None
        now = datetime.now(timezone.utc)
        max_age = timedelta(seconds=self.reuse_recent_run)
        candidates = [
            run for run in self.recent_runs(hook)
            if run.outcome == RUNNING or (run.outcome == SUCCESS and _not_older(run, now, max_age))
        ]
        chosen = max(candidates, key=_newest_first, default=None)
        if chosen is None:
            self.log.info("no %s run of monitor %s in progress or succeeded in the last %s; starting one",
                          self.vendor, self.monitor_id, max_age)
            return None
        why = "in progress" if chosen.outcome == RUNNING else f"succeeded {chosen.age(now)} ago"
        self.log.info("reusing %s run %s of monitor %s (%s, reuse_recent_run=%s) instead of paying for a new one",
                      self.vendor, chosen.run_id, self.monitor_id, why, max_age)
        return chosen.run_id

    def _record(self, store: Any, hook: Any, run_id: Any, started_at: float | None) -> None:
        """Write the run down before waiting for it, kept at least as long as the wait may last.
        A store that fails is logged, not raised: the run is paid for already, and failing here
        would make the retry pay again."""
        if store is None:
            return
        record = {"vendor": self.vendor, "conn_id": self.conn_id, "base_url": hook.settings.base_url,
                  "monitor_id": str(self.monitor_id), "run_id": run_id}
        if started_at is not None:
            record["started_at"] = started_at
        try:
            store.set(RUN_KEY, record, retention=self._retention())
        except Exception as exc:
            self.log.error("could not record %s run %s in the task state store (%s); a retry of this task "
                           "will not know it and may start another run", self.vendor, run_id, exc)

    def _retention(self) -> timedelta:
        """As long as the wait may last plus a week for retries; for ever when that is unbounded."""
        if not math.isfinite(self.timeout) or self.timeout > MAX_FINITE_RETENTION.total_seconds():
            from airflow.sdk.execution_time.context import NEVER_EXPIRE

            return NEVER_EXPIRE
        return timedelta(seconds=self.timeout) + timedelta(days=7)

    def _is_my_record(self, recorded: Any, hook: Any) -> bool:
        """A stored run of this operator's monitor, through the same connection and host (the
        monitor id may be templated, the connection repointed, between tries)."""
        return (isinstance(recorded, dict) and recorded.get("run_id") not in (None, "")
                and recorded.get("vendor") == self.vendor and recorded.get("conn_id") == self.conn_id
                and recorded.get("monitor_id") == str(self.monitor_id)
                and recorded.get("base_url") == hook.settings.base_url)

    def forget_run(self, context: Any) -> None:
        """The task ended with its run: a later clear of this task starts a new run."""
        store = context.get("task_state_store")
        if store is not None:
            store.delete(RUN_KEY)


def run_time(run: dict, key: str) -> datetime | None:
    """A timestamp of a listed run; absent or unreadable reads as unknown (None)."""
    from airflow_provider_monitoring._http.errors import MonitoringError
    from airflow_provider_monitoring._http.values import parse_time

    try:
        return parse_time(run[key]) if run.get(key) else None
    except (MonitoringError, ValueError):
        return None


def _newest_first(run: RunSummary) -> datetime:
    return run.started or datetime.max.replace(tzinfo=timezone.utc)


def _not_older(run: RunSummary, now: datetime, max_age: timedelta) -> bool:
    age = run.age(now)
    return age is not None and age <= max_age + TIMESTAMP_PRECISION


def _seconds_or_none(value: float | timedelta | None, name: str) -> float | None:
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
        raise ValueError(f"{name} must be a positive number of seconds or a timedelta, got {value!r}")
    return float(seconds)
