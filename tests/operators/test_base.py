"""Retries never pay twice and never pass on someone else's run (both run operators, against the
sandbox): the run a try started is resumed from the task state store; a failed one is replaced;
``reuse_recent_run`` and ``force_new_run``; a run just started may not be visible yet."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowSkipException, TaskDeferred

from airflow_provider_monitoring.hooks.datafold import DatafoldHook
from airflow_provider_monitoring.hooks.encrata import EncrataHook
from airflow_provider_monitoring.operators.base import RUN_KEY
from airflow_provider_monitoring.operators.datafold import (
    DatafoldCreateMonitorOperator, DatafoldRunMonitorOperator,
)
from airflow_provider_monitoring.operators.encrata import EncrataTriggerRunOperator
from airflow_provider_monitoring.sandbox import OutcomeRule
from airflow_provider_monitoring.triggers.datafold import DatafoldMonitorRunTrigger
from tests.datafold_specs import MANUAL_METRIC_SPEC
from tests.standins import TaskStateStoreStandIn, fire, task_context
from tests.vendor_runs import RUN_POSTS

FAILURE = {"encrata": "failed", "datafold": "error"}


class WorkerDies(RuntimeError):
    """What a try that dies in the middle of its wait looks like to the next try."""


def dying(operator_class):
    """The public operator, with a wait that dies while ``dies`` is set (as a worker would)."""

    class Dying(operator_class):
        dies = False

        def read_state(self, hook, run_id):
            if self.dies:
                raise WorkerDies(f"worker died while waiting for run {run_id}")
            return super().read_state(hook, run_id)

    return Dying


def new_monitor(vendor: str, name: str, tags: list[str] | None = None):
    if vendor == "encrata":
        return EncrataHook().create_monitor(name, monitor_type="domain", targets=["example.com"])["id"]
    spec = {**MANUAL_METRIC_SPEC, "name": name, "tags": tags or []}
    return DatafoldCreateMonitorOperator(task_id="c", monitor_type="metric", spec=spec).execute(task_context())


def operator(vendor: str, monitor_id, *, cls=None, **kwargs):
    cls = cls or (EncrataTriggerRunOperator if vendor == "encrata" else DatafoldRunMonitorOperator)
    kwargs = {"deferrable": False, "poll_interval": 0.1, "timeout": 30, **kwargs}
    return cls(task_id="run", monitor_id=monitor_id, **kwargs)


def state_of(vendor: str, monitor_id, run_id) -> str:
    if vendor == "encrata":
        return EncrataHook().get_run(monitor_id, run_id)["status"]
    return DatafoldHook().get_monitor_run(monitor_id, run_id)["state"]


def ended(vendor: str, monitor_id, run_id, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = state_of(vendor, monitor_id, run_id)
        if state not in (None, "pending", "queued", "running", "created", "checking"):
            return state
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not end in {timeout} s")


def run_posts(sandbox, vendor: str) -> list:
    return sandbox.requests("POST", RUN_POSTS[vendor])


VENDORS = pytest.mark.parametrize("vendor", ["encrata", "datafold"])


@VENDORS
def test_a_retry_after_the_worker_died_resumes_the_same_run(monitoring_sandbox, vendor):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule(vendor, "slow*", seconds=1.0))
    monitor_id = new_monitor(vendor, "slow orders")
    store = TaskStateStoreStandIn()
    task = operator(vendor, monitor_id, cls=dying(EncrataTriggerRunOperator if vendor == "encrata"
                                                  else DatafoldRunMonitorOperator))
    task.dies = True
    first = task_context(1, store=store)
    with pytest.raises(WorkerDies):
        task.execute(first)
    started = first["ti"].pushed["run_id"]
    assert store.get(RUN_KEY)["run_id"] == started
    task.dies = False
    second = task_context(2, store=store)
    assert task.execute(second) == started
    assert second["ti"].pushed["run_id"] == started
    assert len(run_posts(monitoring_sandbox, vendor)) == 1
    # The task succeeded with its run: the record is gone, so clearing the task pays for a new run.
    assert store.get(RUN_KEY) is None
    assert task.execute(task_context(3, store=store)) != started
    assert len(run_posts(monitoring_sandbox, vendor)) == 2


@VENDORS
def test_a_retry_after_its_run_succeeded_returns_it_without_a_new_run(monitoring_sandbox, vendor):
    monitor_id = new_monitor(vendor, "orders")
    store = TaskStateStoreStandIn()
    task = operator(vendor, monitor_id, cls=dying(EncrataTriggerRunOperator if vendor == "encrata"
                                                  else DatafoldRunMonitorOperator))
    task.dies = True
    with pytest.raises(WorkerDies):
        task.execute(task_context(1, store=store))
    started = store.get(RUN_KEY)["run_id"]
    ended(vendor, monitor_id, started)
    task.dies = False
    assert task.execute(task_context(2, store=store)) == started
    assert len(run_posts(monitoring_sandbox, vendor)) == 1


@VENDORS
@pytest.mark.parametrize("with_store", [True, False], ids=["task-state-store", "no-store"])
def test_a_retry_after_its_own_run_failed_never_adopts_a_run_someone_else_started(
        monitoring_sandbox, capsys, vendor, with_store):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule(vendor, "*", FAILURE[vendor], seconds=0.2))
    monitor_id = new_monitor(vendor, "orders")
    began = datetime.now(timezone.utc) - timedelta(seconds=5)
    store = TaskStateStoreStandIn() if with_store else None
    task = operator(vendor, monitor_id)
    first = task_context(1, dag_run_start=began, store=store)
    with pytest.raises(AirflowException, match=FAILURE[vendor]):
        task.execute(first)
    own = first["ti"].pushed["run_id"]
    # Someone else's run of the same monitor (a schedule, another DAG run) succeeds meanwhile.
    monitoring_sandbox.config.rules.pop(0)
    if vendor == "encrata":
        foreign = EncrataHook().trigger_run(monitor_id)["run_id"]
    else:
        foreign = DatafoldHook().run_monitor(monitor_id)
    assert ended(vendor, monitor_id, foreign) in ("success", "ok")
    second = task_context(2, dag_run_start=began, store=store)
    retried = task.execute(second)
    log = capsys.readouterr().out
    assert str(retried) not in (str(own), str(foreign))
    assert len(run_posts(monitoring_sandbox, vendor)) == 3
    if with_store:
        assert f"run {own}, which an earlier try of this task started, ended" in log
        assert "starting a new run" in log


@VENDORS
def test_without_a_task_state_store_a_retry_waits_for_a_run_in_progress_since_the_dag_run_began(
        monitoring_sandbox, vendor):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule(vendor, "*", seconds=1.5))
    monitor_id = new_monitor(vendor, "orders")
    began = datetime.now(timezone.utc)
    task = operator(vendor, monitor_id, timeout=0.2)
    with pytest.raises(AirflowException, match="gave up waiting"):
        task.execute(task_context(1, dag_run_start=began))
    task.timeout = 30
    second = task_context(2, dag_run_start=began)
    assert str(task.execute(second)) == str(second["ti"].pushed["run_id"])
    assert len(run_posts(monitoring_sandbox, vendor)) == 1


@VENDORS
def test_reuse_recent_run_takes_a_recent_success_or_a_run_in_progress_and_says_so(
        monitoring_sandbox, capsys, vendor):
    monitor_id = new_monitor(vendor, "orders")
    first = operator(vendor, monitor_id).execute(task_context())
    reused = operator(vendor, monitor_id, reuse_recent_run=timedelta(minutes=10)).execute(task_context())
    assert reused == first
    assert f"reusing {vendor} run {first}" in capsys.readouterr().out
    assert len(run_posts(monitoring_sandbox, vendor)) == 1
    # A run still in progress is reused whatever its age.
    monitoring_sandbox.config.rules.insert(0, OutcomeRule(vendor, "*", seconds=1.0))
    in_progress = operator(vendor, monitor_id, wait_for_completion=False).execute(task_context())
    assert operator(vendor, monitor_id, reuse_recent_run=600).execute(task_context()) == in_progress
    assert len(run_posts(monitoring_sandbox, vendor)) == 2


@VENDORS
def test_reuse_recent_run_pays_for_a_new_run_when_the_last_success_is_too_old(monitoring_sandbox, vendor):
    monitor_id = new_monitor(vendor, "orders")
    first = operator(vendor, monitor_id).execute(task_context())
    time.sleep(2.5)  # older than the window below (timestamps are whole seconds)
    again = operator(vendor, monitor_id, reuse_recent_run=1).execute(task_context())
    assert again != first
    assert len(run_posts(monitoring_sandbox, vendor)) == 2


@VENDORS
def test_force_new_run_never_takes_a_run_this_task_did_not_start_but_resumes_its_own(monitoring_sandbox, vendor):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule(vendor, "*", seconds=1.0))
    monitor_id = new_monitor(vendor, "orders")
    began = datetime.now(timezone.utc) - timedelta(seconds=5)
    someone_elses = operator(vendor, monitor_id, wait_for_completion=False).execute(task_context())
    # A retry without a store would wait for that run in progress; force_new_run pays for its own.
    forced = operator(vendor, monitor_id, force_new_run=True, cls=dying(
        EncrataTriggerRunOperator if vendor == "encrata" else DatafoldRunMonitorOperator))
    forced.dies = True
    store = TaskStateStoreStandIn()
    with pytest.raises(WorkerDies):
        forced.execute(task_context(1, dag_run_start=began, store=store))
    own = store.get(RUN_KEY)["run_id"]
    assert own != someone_elses
    # Its own run, started by its earlier try, is still resumed: one intent, one payment.
    forced.dies = False
    assert forced.execute(task_context(2, dag_run_start=began, store=store)) == own
    assert len(run_posts(monitoring_sandbox, vendor)) == 2


@pytest.mark.parametrize("on_alert, outcome", [("succeed", None), ("skip", AirflowSkipException)])
def test_a_retry_keeps_an_alert_the_task_accepts_instead_of_paying_again(monitoring_sandbox, on_alert, outcome):
    vendor = "datafold"  # Encrata runs never end in alert
    monitoring_sandbox.config.rules.insert(0, OutcomeRule(vendor, "*", "alert", seconds=0.3))
    monitor_id = new_monitor(vendor, "orders")
    store = TaskStateStoreStandIn()
    task = operator(vendor, monitor_id, on_alert=on_alert, cls=dying(DatafoldRunMonitorOperator))
    task.dies = True
    with pytest.raises(WorkerDies):
        task.execute(task_context(1, store=store))
    started = store.get(RUN_KEY)["run_id"]
    assert ended(vendor, monitor_id, started) == "alert"
    task.dies = False
    if outcome is None:
        assert task.execute(task_context(2, store=store)) == started
    else:
        with pytest.raises(outcome):
            task.execute(task_context(2, store=store))
    assert len(run_posts(monitoring_sandbox, vendor)) == 1
    assert store.get(RUN_KEY) is None  # passed or skipped: a clear starts afresh


@VENDORS
def test_a_recorded_run_the_vendor_no_longer_knows_is_replaced_not_failed_on(monitoring_sandbox, capsys, vendor):
    monitor_id = new_monitor(vendor, "orders")
    store = TaskStateStoreStandIn()
    task = operator(vendor, monitor_id)
    hook = task.make_hook()
    gone = "00000000-0000-0000-0000-000000000000" if vendor == "encrata" else 999_999
    store.set(RUN_KEY, {"vendor": vendor, "conn_id": task.conn_id, "base_url": hook.settings.base_url,
                        "monitor_id": str(monitor_id), "run_id": gone, "started_at": time.time() - 3600})
    run_id = task.execute(task_context(2, store=store))
    assert run_id != gone and len(run_posts(monitoring_sandbox, vendor)) == 1
    assert f"run {gone}, which an earlier try of this task started, is unknown" in capsys.readouterr().out


def test_a_record_from_another_connection_or_host_is_not_resumed(monitoring_sandbox):
    monitor_id = new_monitor("datafold", "orders")
    store = TaskStateStoreStandIn()
    first = operator("datafold", monitor_id, wait_for_completion=False).execute(task_context(1, store=store))
    store.set(RUN_KEY, {**store.values.get(RUN_KEY, {}), "vendor": "datafold", "conn_id": "datafold_default",
                        "base_url": "https://app.datafold.com", "monitor_id": str(monitor_id), "run_id": first})
    assert operator("datafold", monitor_id).execute(task_context(2, store=store)) != first
    assert len(run_posts(monitoring_sandbox, "datafold")) == 2


class BrokenStore(TaskStateStoreStandIn):
    def set(self, key, value, *, retention=None):
        raise RuntimeError("the API server is away")


def test_a_store_that_cannot_record_the_run_does_not_fail_the_paid_run(monitoring_sandbox, capsys):
    monitor_id = new_monitor("encrata", "orders")
    run_id = operator("encrata", monitor_id, timeout=float("inf")).execute(task_context(1, store=BrokenStore()))
    assert state_of("encrata", monitor_id, run_id) == "success"
    assert "could not record encrata run" in capsys.readouterr().out


@pytest.mark.parametrize("timeout", [3600, float("inf")])
def test_the_record_is_kept_as_long_as_the_wait_may_last_and_a_week_more(monitoring_sandbox, timeout):
    from airflow.sdk.execution_time.context import NEVER_EXPIRE

    kept = timedelta(days=7, hours=1) if timeout == 3600 else NEVER_EXPIRE
    task = operator("encrata", new_monitor("encrata", "orders"), timeout=timeout, cls=dying(EncrataTriggerRunOperator))
    task.dies, store = True, TaskStateStoreStandIn()
    with pytest.raises(WorkerDies):
        task.execute(task_context(1, store=store))
    assert store.retention[RUN_KEY] == kept


def test_reuse_and_force_together_are_refused_when_the_dag_is_parsed():
    with pytest.raises(ValueError, match="contradict"):
        EncrataTriggerRunOperator(task_id="r", monitor_id="m", force_new_run=True, reuse_recent_run=60)
    with pytest.raises(ValueError, match="reuse_recent_run"):
        DatafoldRunMonitorOperator(task_id="r", monitor_id=1, reuse_recent_run=-5)


# ---- a run just started may not be visible yet (Datafold's documented race) -----------------


def test_a_datafold_run_not_visible_yet_is_waited_for_not_failed(monitoring_sandbox):
    # sandbox:late-run answers 404 for the run while it is "created" (its first tenth).
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("datafold", "*", seconds=3.0))
    monitor_id = new_monitor("datafold", "late orders", tags=["sandbox:late-run"])
    run_id = operator("datafold", monitor_id).execute(task_context())
    assert DatafoldHook().get_monitor_run(monitor_id, run_id)["state"] == "ok"
    assert monitoring_sandbox.requests("GET", f"/datafold/api/v1/monitors/{monitor_id}/runs/{run_id}")


def test_the_deferred_wait_also_treats_a_run_not_visible_yet_as_running(monitoring_sandbox):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("datafold", "*", seconds=3.0))
    monitor_id = new_monitor("datafold", "late orders", tags=["sandbox:late-run"])
    task = operator("datafold", monitor_id, deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        task.execute(task_context())
    trigger = deferred.value.trigger
    assert trigger.not_found_until > time.time()
    classpath, kwargs = trigger.serialize()
    event = fire(DatafoldMonitorRunTrigger(**kwargs))
    assert event["status"] == "success", event
    assert task.execute_complete(task_context(), event) == event["run"]["run_id"]


def test_a_run_that_never_becomes_visible_ends_the_wait_as_an_error_after_the_grace(monitoring_sandbox):
    monitor_id = new_monitor("datafold", "orders")
    trigger = DatafoldMonitorRunTrigger(monitor_id, 987654, poll_interval=0.1, deadline=time.time() + 30,
                                        not_found_until=time.time() + 0.5)
    event = fire(trigger)
    assert event["status"] == "error" and "HTTP 404" in event["message"]
    assert event["error"]["status"] == 404
    assert len(monitoring_sandbox.requests("GET", f"/datafold/api/v1/monitors/{monitor_id}/runs/987654")) > 1
