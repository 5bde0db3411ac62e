"""Retries of the run operators in whole DAGs under dag.test(), with Airflow's own task state
store: a try that dies after the run was started costs one run, not two; a run that failed is
replaced by a new one, never by someone else's; reuse_recent_run reuses."""

from __future__ import annotations

import textwrap

import pytest

from tests.dag_runs import run_dags
from tests.vendor_runs import RUN_POSTS

DAGS = textwrap.dedent('''
    from datetime import timedelta

    import pendulum
    from airflow.sdk import dag, task

    from airflow_provider_monitoring.hooks.datafold import DatafoldHook
    from airflow_provider_monitoring.hooks.encrata import EncrataHook
    from airflow_provider_monitoring.operators.datafold import DatafoldRunMonitorOperator
    from airflow_provider_monitoring.operators.encrata import EncrataTriggerRunOperator

    OPERATORS = {"encrata": EncrataTriggerRunOperator, "datafold": DatafoldRunMonitorOperator}


    def create_monitor(vendor, name):
        if vendor == "encrata":
            return EncrataHook().create_monitor(name, monitor_type="domain", targets=["example.com"])["id"]
        return DatafoldHook().create_monitor("metric", {
            "name": name, "schedule": {"type": "none"}, "connection_id": 11,
            "metric": {"type": "table", "table": "PROD.SALES.ORDERS", "metric": "row_count"},
            "alert": {"type": "automatic", "sensitivity": 50}})


    def rename_monitor(vendor, monitor_id, name):
        if vendor == "encrata":
            EncrataHook().update_monitor(monitor_id, name=name)
        else:
            DatafoldHook().update_monitor(monitor_id, {"name": name})


    def dies_in_its_first_wait(base):
        class DiesInItsFirstWait(base):
            """The worker dies on the first try, after the run was started, while it waits."""

            def execute(self, context):
                self.first_try = context["ti"].try_number == 1
                return super().execute(context)

            def read_state(self, hook, run_id):
                if self.first_try:
                    raise RuntimeError(f"simulated worker death while waiting for run {run_id}")
                return super().read_state(hook, run_id)

        return DiesInItsFirstWait


    def mends_its_monitor_on_retry(base):
        class MendsItsMonitorOnRetry(base):
            """On a retry, the monitor no longer matches the sandbox's failure rule."""

            def start_run(self, hook, context):
                if context["ti"].try_number > 1:
                    rename_monitor(self.vendor, self.monitor_id, "mended")
                return super().start_run(hook, context)

        return MendsItsMonitorOnRetry


    def build(vendor, scenario):
        @dag(dag_id=f"{scenario}_{vendor}", schedule=None, start_date=pendulum.datetime(2026, 1, 1),
             catchup=False, tags=["test"])
        def durable():
            name = "orders fail demo" if scenario == "failed_first" else "orders"

            @task
            def create():
                return create_monitor(vendor, name)

            monitor_id = "{{ ti.xcom_pull(task_ids='create') }}"
            retry = {"retries": 1, "retry_delay": timedelta(seconds=0), "poll_interval": 0.2, "timeout": 120}
            if scenario == "dies":
                run = dies_in_its_first_wait(OPERATORS[vendor])(
                    task_id="run", monitor_id=monitor_id, deferrable=False, **retry)
                create() >> run
            elif scenario == "failed_first":
                run = mends_its_monitor_on_retry(OPERATORS[vendor])(
                    task_id="run", monitor_id=monitor_id, deferrable=True, **retry)
                create() >> run
            else:
                first = OPERATORS[vendor](task_id="run", monitor_id=monitor_id, deferrable=True, **retry)
                again = OPERATORS[vendor](task_id="again", monitor_id=monitor_id, deferrable=True,
                                          reuse_recent_run=timedelta(minutes=10), **retry)
                create() >> first >> again

        return durable()


    def build_not_found(vendor):
        """No such monitor: with the provider's default retry policy, one try however many retries."""

        @dag(dag_id=f"not_found_{vendor}", schedule=None, start_date=pendulum.datetime(2026, 1, 1),
             catchup=False, tags=["test"])
        def not_found():
            OPERATORS[vendor](task_id="run", monitor_id="424242", deferrable=False, retries=3,
                              retry_delay=timedelta(seconds=0))

        return not_found()


    for vendor in OPERATORS:
        for scenario in ("dies", "failed_first", "reuse"):
            build(vendor, scenario)
        build_not_found(vendor)
''')

VENDORS = pytest.mark.parametrize("vendor", ["encrata", "datafold"])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return run_dags(DAGS, tmp_path_factory.mktemp("durable"))


def log_of_success(runs, dag_id: str) -> str:
    """The log of a DAG that must have succeeded (its tail tells why when it did not)."""
    log = runs.logs[dag_id]
    assert runs.states[dag_id] == "success", log[-3000:]
    return log


@VENDORS
def test_a_try_that_dies_after_starting_its_run_costs_one_run(runs, vendor):
    dag_id = f"dies_{vendor}"
    log = log_of_success(runs, dag_id)
    assert len(runs.posts(dag_id, RUN_POSTS[vendor])) == 1
    assert "simulated worker death" in log
    assert f"resuming {vendor} run" in log


@VENDORS
def test_a_run_that_failed_is_replaced_by_a_new_run_on_retry(runs, vendor):
    dag_id = f"failed_first_{vendor}"
    log = log_of_success(runs, dag_id)
    assert len(runs.posts(dag_id, RUN_POSTS[vendor])) == 2
    assert f"{vendor} run" in log and "which an earlier try of this task started, ended" in log
    assert "starting a new run" in log


@VENDORS
def test_reuse_recent_run_reuses_the_run_of_the_task_before(runs, vendor):
    dag_id = f"reuse_{vendor}"
    log = log_of_success(runs, dag_id)
    assert len(runs.posts(dag_id, RUN_POSTS[vendor])) == 1
    assert f"reusing {vendor} run" in log


@VENDORS
def test_a_404_fails_the_task_in_one_try_although_it_has_retries_left(runs, vendor):
    dag_id = f"not_found_{vendor}"
    assert runs.states[dag_id] == "failed"
    assert len(runs.posts(dag_id, RUN_POSTS[vendor])) == 1
    log = runs.logs[dag_id]
    assert "Retry policy decision" in log and "NotFoundError (HTTP 404)" in log
