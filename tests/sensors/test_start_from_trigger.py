"""``start_from_trigger=True``: what each sensor declares for Airflow's scheduler, that the triggerer
can build and render its trigger from that (Airflow's own serialization and rendering code, the
trigger run against the sandbox), that nothing of it holds the API key, when the task starts on a
worker instead, and how a wait Airflow times out fails.

The e2e test (tests/test_e2e_airflow.py) shows the same in a real Airflow: scheduler, triggerer and
worker."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timedelta

import pendulum
import pytest
from airflow.sdk import DAG, task, task_group
from airflow.sdk.exceptions import AirflowException, AirflowSensorTimeout, AirflowSkipException, TaskDeferred

from airflow_provider_monitoring.sensors._start_from_trigger import triggerer_answers_xcom_sequences
from airflow_provider_monitoring.sensors.datafold import DatafoldMonitorRunSensor
from airflow_provider_monitoring.sensors.diligent import DiligentExecutionSensor
from airflow_provider_monitoring.sensors.encrata import EncrataRunSensor
from airflow_provider_monitoring.triggers.datafold import DatafoldMonitorRunTrigger
from airflow_provider_monitoring.triggers.diligent import DiligentExecutionTrigger
from airflow_provider_monitoring.triggers.encrata import EncrataRunTrigger
from tests.conftest import API_KEY
from tests.dag_runs import run_dags
from tests.standins import fire, task_context
from tests.vendor_runs import start_encrata_run

START = pendulum.datetime(2026, 1, 1)
# Each sensor, ids as a user may give them (templates and plain values), and its trigger.
SENSORS = [
    (EncrataRunSensor, {"monitor_id": "{{ dag_run.conf['monitor_id'] }}", "run_id": "r-1"}, EncrataRunTrigger),
    (DiligentExecutionSensor,
     {"monitoring_id": "{{ params.monitoring }}", "executed_after": "2026-01-02T00:00:00+00:00"},
     DiligentExecutionTrigger),
    (DatafoldMonitorRunSensor,
     {"monitor_id": 42, "run_id": "{{ dag_run.conf['run_id'] }}", "accept_states": ("learning",)},
     DatafoldMonitorRunTrigger),
]


def in_a_dag(build, dag_id: str = "waits") -> DAG:
    with DAG(dag_id, schedule=None, start_date=START) as dag:
        build()
    return dag


def as_the_scheduler_sees_it(dag: DAG, task_id: str):
    """The task as Airflow's scheduler reads it: from the serialized DAG."""
    from airflow.serialization.serialized_objects import DagSerialization

    return DagSerialization.from_dict(DagSerialization.to_dict(dag)).get_task(task_id)


def scheduler_starts_it_in_the_triggerer(dag: DAG, task_id: str) -> bool:
    """What the scheduler asks a task instance before queueing it for a worker (DagRun.schedule_tis
    -> TaskInstance.defer_task): whether there are start_trigger_args to start it with."""
    from airflow.models.taskinstance import TaskInstance

    ti = TaskInstance(task=as_the_scheduler_sees_it(dag, task_id), run_id="manual__1", dag_version_id=uuid.uuid4())
    return ti.start_trigger_args is not None


def trigger_as_the_triggerer_starts_it(dag: DAG, task_id: str, conf: dict | None = None,
                                       run_start: datetime = START):
    """Airflow's own path from the serialized task to a running trigger: the Trigger row's kwargs
    (encrypted and decoded), the trigger class built from them, a runtime task instance and its
    template context built from the serialized DAG and the DAG run, and the trigger's templated
    fields rendered with it (triggerer_job_runner: create_triggers, run_trigger)."""
    from airflow.executors.workloads.task import TaskInstanceDTO
    from airflow.jobs.triggerer_job_runner import TriggerRunner, import_string
    from airflow.models.trigger import Trigger
    from airflow.serialization.decoders import smart_decode_trigger_kwargs
    from airflow.serialization.serialized_objects import DagSerialization

    dag_data = DagSerialization.to_dict(dag)
    args = DagSerialization.from_dict(dag_data).get_task(task_id).start_trigger_args
    stored = Trigger._decrypt_kwargs(Trigger.encrypt_kwargs(args.trigger_kwargs))
    trigger = import_string(args.trigger_cls)(**{k: smart_decode_trigger_kwargs(v) for k, v in stored.items()})
    ti = TaskInstanceDTO(id=uuid.uuid4(), task_id=task_id, dag_id=dag.dag_id, run_id="manual__1", try_number=1,
                         map_index=-1, pool_slots=1, priority_weight=1, queue="default", dag_version_id=uuid.uuid4())
    dag_run = {"dag_id": dag.dag_id, "run_id": "manual__1", "logical_date": None, "data_interval_start": None,
               "data_interval_end": None, "run_after": run_start, "start_date": run_start, "end_date": None,
               "partition_key": None, "run_type": "manual", "state": "running", "conf": conf or {},
               "consumed_asset_events": []}
    runtime_ti = TriggerRunner.create_runtime_ti(ti, dag_data, dag_run)
    context = runtime_ti.get_template_context()
    trigger.task_instance = runtime_ti
    trigger.render_template_fields(context=context)
    return trigger


# ---- what a sensor declares ----------------------------------------------------------------


@pytest.mark.parametrize("sensor_class, ids, trigger_class", SENSORS)
def test_each_sensor_declares_the_trigger_it_defers_to_without_a_deadline(sensor_class, ids, trigger_class):
    sensor = sensor_class(task_id="wait", start_from_trigger=True, timeout=600, **ids)
    declared = sensor.start_trigger_args
    assert sensor.start_from_trigger is True
    assert declared.trigger_cls == f"{trigger_class.__module__}.{trigger_class.__name__}"
    assert declared.next_method == "execute_complete" and declared.timeout == timedelta(seconds=600)
    # The same trigger the worker path defers to, ids as given (templates rendered later), but no
    # deadline: when the task starts is not known at parse time, Airflow enforces the timeout.
    worker_path = sensor_class(task_id="wait", deferrable=True, timeout=600, **ids)
    with pytest.raises(TaskDeferred) as deferred:
        worker_path.execute(task_context())
    classpath, kwargs = deferred.value.trigger.serialize()
    assert classpath == declared.trigger_cls and deferred.value.method_name == declared.next_method
    assert declared.trigger_kwargs == {**kwargs, "deadline": None} and kwargs["deadline"] is not None


def test_without_the_option_the_scheduler_queues_the_sensor_for_a_worker():
    dag = in_a_dag(lambda: EncrataRunSensor(task_id="wait", monitor_id="m", run_id="r", deferrable=True))
    assert dag.get_task("wait").start_trigger_args is None
    assert not scheduler_starts_it_in_the_triggerer(dag, "wait")


def test_the_serialized_dag_names_the_connection_but_never_holds_its_key(connection, monitoring_sandbox):
    conn_ids = {vendor: connection(f"{vendor}_prod", vendor, monitoring_sandbox.vendor_url(vendor))
                for vendor in ("encrata", "diligent", "datafold")}

    def build():
        EncrataRunSensor(task_id="encrata", monitor_id="m", run_id="{{ run_id }}", encrata_conn_id=conn_ids["encrata"],
                         start_from_trigger=True)
        DiligentExecutionSensor(task_id="diligent", monitoring_id="m", diligent_conn_id=conn_ids["diligent"],
                                start_from_trigger=True)
        DatafoldMonitorRunSensor(task_id="datafold", monitor_id=1, run_id=2, datafold_conn_id=conn_ids["datafold"],
                                 start_from_trigger=True)

    from airflow.serialization.serialized_objects import DagSerialization

    dag = in_a_dag(build)
    serialized = json.dumps(DagSerialization.to_dict(dag))
    assert API_KEY not in serialized
    for vendor, conn_id in conn_ids.items():
        kwargs = dag.get_task(vendor).start_trigger_args.trigger_kwargs
        assert kwargs[f"{vendor}_conn_id"] == conn_id and API_KEY not in json.dumps(kwargs)


# ---- in the triggerer ----------------------------------------------------------------------


def test_the_triggerer_renders_the_ids_and_the_event_resumes_the_sensor(monitoring_sandbox):
    monitor_id, run_id = start_encrata_run("started in the triggerer")
    dag = in_a_dag(lambda: EncrataRunSensor(
        task_id="wait", start_from_trigger=True, poll_interval=0.1,
        monitor_id="{{ dag_run.conf['monitor_id'] }}", run_id="{{ dag_run.conf['run_id'] }}"))
    assert scheduler_starts_it_in_the_triggerer(dag, "wait")
    trigger = trigger_as_the_triggerer_starts_it(dag, "wait", conf={"monitor_id": monitor_id, "run_id": run_id})
    assert (trigger.monitor_id, trigger.run_id) == (monitor_id, run_id)
    event = fire(trigger)
    # The worker resumes the task with the event: execute_complete settles it.
    run = dag.get_task("wait").resume_execution("execute_complete", {"event": event}, task_context())
    assert run["id"] == run_id and run["status"] in ("success", "completed")


def test_a_diligent_wait_started_in_the_triggerer_counts_from_the_dag_runs_start():
    dag = in_a_dag(lambda: DiligentExecutionSensor(task_id="wait", monitoring_id="m-1", start_from_trigger=True))
    began = pendulum.datetime(2026, 3, 4, 5, 6, 7)
    trigger = trigger_as_the_triggerer_starts_it(dag, "wait", run_start=began)
    assert datetime.fromisoformat(trigger.executed_after) == began
    # The same moment the worker path takes.
    with pytest.raises(TaskDeferred) as deferred:
        DiligentExecutionSensor(task_id="wait", monitoring_id="m-1", deferrable=True).execute(
            task_context(dag_run_start=began))
    assert datetime.fromisoformat(deferred.value.trigger.executed_after) == began


# ---- when it starts on a worker instead -----------------------------------------------------


def test_an_xcomarg_id_starts_on_a_worker():
    def build():
        @task
        def pick() -> str:
            return "m-1"

        EncrataRunSensor(task_id="wait", monitor_id=pick(), run_id="r", start_from_trigger=True)

    dag = in_a_dag(build)
    assert not scheduler_starts_it_in_the_triggerer(dag, "wait")
    assert "monitor_id is PlainXComArg" in dag.get_task("wait").starts_on_a_worker_because


def test_mapped_sensors_start_on_a_worker():
    def build():
        EncrataRunSensor.partial(task_id="mapped", monitor_id="m", start_from_trigger=True).expand(run_id=["r1", "r2"])

        @task_group
        def each(run_id):
            EncrataRunSensor(task_id="wait", monitor_id="m", run_id="{{ run_id }}", start_from_trigger=True)

        each.expand(run_id=["r1", "r2"])

    dag = in_a_dag(build)
    assert not scheduler_starts_it_in_the_triggerer(dag, "mapped")
    assert not scheduler_starts_it_in_the_triggerer(dag, "each.wait")
    assert "mapped task group" in dag.get_task("each.wait").starts_on_a_worker_because


def test_a_pull_without_map_indexes_starts_in_the_triggerer_only_where_the_triggerer_answers_it():
    def build():
        EncrataRunSensor(task_id="bare", monitor_id="{{ ti.xcom_pull('start')['monitor_id'] }}", run_id="r",
                         start_from_trigger=True)
        EncrataRunSensor(task_id="one", monitor_id="{{ ti.xcom_pull('start', map_indexes=-1)['monitor_id'] }}",
                         run_id="r", start_from_trigger=True)

    dag = in_a_dag(build)
    assert scheduler_starts_it_in_the_triggerer(dag, "one")
    assert scheduler_starts_it_in_the_triggerer(dag, "bare") is triggerer_answers_xcom_sequences()
    if not triggerer_answers_xcom_sequences():  # Airflow 3.3.2: its triggerer would never answer the pull
        assert "add map_indexes=-1" in dag.get_task("bare").starts_on_a_worker_because


def test_before_airflow_3_3_the_sensor_waits_as_it_always_did(monkeypatch, capsys):
    import airflow

    monkeypatch.setattr(airflow, "__version__", "3.2.1")
    dag = in_a_dag(lambda: EncrataRunSensor(task_id="wait", monitor_id="m", run_id="r", start_from_trigger=True,
                                            deferrable=True, timeout=60))
    assert not scheduler_starts_it_in_the_triggerer(dag, "wait")
    before = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        dag.get_task("wait").execute(task_context())
    assert before + 60 <= deferred.value.trigger.deadline <= time.time() + 60  # its own deadline, as always
    assert "started on a worker, as Airflow 3.2.1 does not render templates in the triggerer" in capsys.readouterr().out


def test_dag_test_runs_a_start_from_trigger_sensor_on_a_worker(tmp_path):
    source = '''
import pendulum
from airflow.sdk import dag, task
from airflow_provider_monitoring.sensors.encrata import EncrataRunSensor


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False)
def started_from_trigger():
    @task
    def start() -> dict:
        from airflow_provider_monitoring.hooks.encrata import EncrataHook

        hook = EncrataHook()
        monitor = hook.create_monitor("dag.test", monitor_type="domain", targets=["example.com"])
        return {"monitor_id": monitor["id"], "run_id": hook.trigger_run(monitor["id"])["run_id"]}

    started = start()
    for task_id, deferrable in (("deferred", True), ("poking", False)):
        started >> EncrataRunSensor(
            task_id=task_id, start_from_trigger=True, deferrable=deferrable, poll_interval=0.5, timeout=60,
            monitor_id="{{ ti.xcom_pull('start', map_indexes=-1)['monitor_id'] }}",
            run_id="{{ ti.xcom_pull('start', map_indexes=-1)['run_id'] }}",
        )


started_from_trigger()
'''
    result = run_dags(source, tmp_path)
    log = result.logs["started_from_trigger"]
    assert result.states["started_from_trigger"] == "success", log[-3000:]
    # dag.test() queues every task for its in-process worker: both waits start there and wait as
    # `deferrable` says, one deferred (the trigger run in-process), one poking.
    assert log.count("start_from_trigger: this task started on a worker, as Airflow ran it there") == 2
    assert "waiting deferred" in log and "waiting by poking" in log
    assert log.count("Pausing task as DEFERRED") == 1 and "running trigger in line" in log


# ---- timeouts ------------------------------------------------------------------------------


def airflow_timeout() -> dict:
    """The next_kwargs Airflow resumes a task with when its trigger outlived its timeout."""
    from airflow.sdk.bases.operator import TriggerFailureReason

    return {"error": TriggerFailureReason.TRIGGER_TIMEOUT}


def test_a_wait_airflow_timed_out_fails_with_the_sensors_own_message():
    from airflow.sdk.bases.operator import TRIGGER_FAIL_REPR

    sensor = EncrataRunSensor(task_id="wait", monitor_id="m-1", run_id="r-1", start_from_trigger=True, timeout=600)
    with pytest.raises(AirflowException, match="Encrata run r-1 of monitor m-1: no outcome within the sensor's "
                                               "timeout of 600 s; gave up waiting") as failed:
        sensor.resume_execution(TRIGGER_FAIL_REPR, airflow_timeout(), task_context())
    assert not isinstance(failed.value, AirflowSensorTimeout)  # as a deadline event fails it: retries apply
    shorter = EncrataRunSensor(task_id="wait", monitor_id="m-1", run_id="r-1", start_from_trigger=True, timeout=600,
                               execution_timeout=timedelta(seconds=90))
    with pytest.raises(AirflowException, match="the task's execution_timeout of 90 s"):
        shorter.resume_execution(TRIGGER_FAIL_REPR, airflow_timeout(), task_context())
    soft = EncrataRunSensor(task_id="wait", monitor_id="m-1", run_id="r-1", start_from_trigger=True, soft_fail=True)
    with pytest.raises(AirflowSkipException):
        soft.resume_execution(TRIGGER_FAIL_REPR, airflow_timeout(), task_context())


def test_a_timeout_event_from_the_worker_path_and_airflows_timeout_read_alike():
    from airflow.sdk.bases.operator import TRIGGER_FAIL_REPR

    from airflow_provider_monitoring._waiting import timeout_event

    sensor = DatafoldMonitorRunSensor(task_id="wait", monitor_id=7, run_id=8, start_from_trigger=True)
    with pytest.raises(AirflowException) as from_airflow:
        sensor.resume_execution(TRIGGER_FAIL_REPR, airflow_timeout(), task_context())
    with pytest.raises(AirflowException) as from_the_trigger:
        sensor.execute_complete(task_context(), timeout_event("datafold", 7, 8, None, sensor.subject()))
    assert type(from_airflow.value) is type(from_the_trigger.value)
    assert str(from_airflow.value).startswith(sensor.subject())
    assert str(from_the_trigger.value).startswith(sensor.subject())


def test_without_the_option_airflows_timeout_is_left_to_airflow():
    from airflow.sdk.bases.operator import TRIGGER_FAIL_REPR

    sensor = EncrataRunSensor(task_id="wait", monitor_id="m-1", run_id="r-1")
    with pytest.raises(AirflowSensorTimeout):
        sensor.resume_execution(TRIGGER_FAIL_REPR, airflow_timeout(), task_context())
