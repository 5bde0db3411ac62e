"""The example DAGs in a real Airflow (scheduler, dag-processor, triggerer, API server), started as
`make airflow` starts it, driven only through Airflow's REST API: what a user sees in the UI.

One stack serves every test of the module and is stopped in a finaliser, whatever happens; the
last test checks that no process of it is left.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import pytest

from airflow_provider_monitoring.sandbox.core import DEFAULT_API_KEY

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "example_dags"
# How each example ends, as its docstring says; the failure-path DAG fails on purpose.
EXPECTED = {
    "example_datafold": "success",
    "example_datafold_alert_fails": "failed",
    "example_diligent": "success",
    "example_encrata": "success",
    "example_monitoring_hooks": "success",
}
# The tasks that wait (deferrable operators and sensors): each must defer and run its trigger in
# the triggerer. Most start on a worker and defer from there; a sensor with start_from_trigger=True
# starts in the triggerer and meets a worker only when its event resumes it.
WORKER_DEFERRED = {
    ("example_datafold", "gate_row_count"), ("example_datafold", "gate_replica_diff"),
    ("example_datafold_alert_fails", "gate"), ("example_encrata", "trigger_run"),
}
STARTED_IN_TRIGGERER = {("example_diligent", "first_execution")}
WAITING_TASKS = WORKER_DEFERRED | STARTED_IN_TRIGGERER

# More DAGs, served next to the examples: start_from_trigger's edges (a wait that Airflow times out
# in the triggerer, and a template the triggerer of Airflow 3.3.2 cannot render, an xcom_pull
# without map_indexes, which starts on a worker instead), and waits that share their reads.
TIMEOUT = 10
SHARED_WAITS = 3  # sensors the triggerer starts together, on runs of one connection
START_FROM_TRIGGER_DAGS = textwrap.dedent(f'''
    from datetime import timedelta

    import pendulum
    from airflow.sdk import dag, task

    from airflow_provider_monitoring.operators.diligent import DiligentCreateMonitoringOperator
    from airflow_provider_monitoring.sensors.diligent import DiligentExecutionSensor
    from airflow_provider_monitoring.sensors.encrata import EncrataRunSensor


    @dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False)
    def start_from_trigger_timeout():
        create = DiligentCreateMonitoringOperator(task_id="create", website="https://never.example.com",
                                                  checks=["non_operational_website"])
        # No execution comes a day after the run's start: the wait can only time out.
        create >> DiligentExecutionSensor(
            task_id="wait", start_from_trigger=True, timeout={TIMEOUT}, poll_interval=1,
            monitoring_id="{{{{ ti.xcom_pull(task_ids='create', map_indexes=-1) }}}}",
            executed_after="{{{{ (dag_run.start_date + macros.timedelta(days=1)).isoformat() }}}}",
        )


    @dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False)
    def start_from_trigger_fallback():
        @task
        def start() -> dict:
            from airflow_provider_monitoring.hooks.encrata import EncrataHook

            hook = EncrataHook()
            monitor = hook.create_monitor("fallback", monitor_type="domain", targets=["example.com"])
            return {{"monitor_id": monitor["id"], "run_id": hook.trigger_run(monitor["id"])["run_id"]}}

        # It defers from a worker, so retries=1, as the examples, against Airflow 3.3.2's resume race.
        start() >> EncrataRunSensor(
            task_id="wait", start_from_trigger=True, deferrable=True, timeout=120, poll_interval=1,
            retries=1, retry_delay=timedelta(seconds=2),
            monitor_id="{{{{ ti.xcom_pull('start')['monitor_id'] }}}}",
            run_id="{{{{ ti.xcom_pull('start')['run_id'] }}}}",
        )


    @dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False)
    def shared_waits():
        @task
        def start() -> list:
            from airflow_provider_monitoring.hooks.encrata import EncrataHook

            hook = EncrataHook()
            monitors = [hook.create_monitor(f"shared {{index}}", monitor_type="domain", targets=["example.com"])
                        for index in range({SHARED_WAITS})]
            return [{{"monitor_id": m["id"], "run_id": hook.trigger_run(m["id"])["run_id"]}} for m in monitors]

        started = start()
        for index in range({SHARED_WAITS}):
            started >> EncrataRunSensor(
                task_id=f"wait_{{index}}", start_from_trigger=True, timeout=120, poll_interval=1,
                monitor_id=f"{{{{{{{{ ti.xcom_pull(task_ids='start', map_indexes=-1)[{{index}}]['monitor_id'] }}}}}}}}",
                run_id=f"{{{{{{{{ ti.xcom_pull(task_ids='start', map_indexes=-1)[{{index}}]['run_id'] }}}}}}}}",
            )


    start_from_trigger_timeout()
    start_from_trigger_fallback()
    shared_waits()
''')
EDGES = {"start_from_trigger_timeout": "failed", "start_from_trigger_fallback": "success", "shared_waits": "success"}
SKIP_PATH = ("example_datafold", "gate_replica_diff")  # on_alert="skip" on an alerting diff
LINKED_TASKS = {("example_datafold", "gate_row_count"), ("example_datafold", "gate_replica_diff"),
                ("example_datafold_alert_fails", "gate"), ("example_encrata", "trigger_run")}
UPSTREAM_RACE = ("a resumed task was failed by a late executor report of its deferral: the upstream "
                 "Airflow 3.3.2 race apache/airflow#72716 / #71580")
RACE_LINE = "but the task instance's state attribute is"  # the scheduler's words when it happens


class Stack:
    """`python -m airflow_provider_monitoring.sandbox.stack` in a temporary home."""

    def __init__(self, home: Path, dags: Path):
        self.home, self.dags = home, dags
        self.process = subprocess.Popen(
            [sys.executable, "-m", "airflow_provider_monitoring.sandbox.stack", str(dags),
             "--home", str(home), "--port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
        )
        self.url = self._wait_for_the_ui()
        self.api = f"{self.url}/api/v2"
        self.airflow_pgid = int((home / "stack.pid").read_text().split()[1])

    def _wait_for_the_ui(self, within: float = 180.0) -> str:
        deadline, seen = time.monotonic() + within, []
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line and self.process.poll() is not None:
                break
            seen.append(line)
            match = re.match(r"Airflow UI: (\S+)", line)
            if match:
                return match.group(1)
        raise AssertionError(f"the stack did not serve its UI:\n{''.join(seen)}\n{self.log()[-3000:]}")

    def log(self) -> str:
        path = self.home / "stack.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.api}{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{method} {path}: HTTP {exc.code} {exc.read()[:500]!r}") from None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # what Ctrl-C sends
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
        try:  # whatever the stack could not stop, so no test run leaves Airflow behind
            os.killpg(self.airflow_pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    dags = tmp_path_factory.mktemp("dags") / "dags"
    shutil.copytree(EXAMPLES, dags, ignore=shutil.ignore_patterns("__pycache__"))
    (dags / "start_from_trigger_dags.py").write_text(START_FROM_TRIGGER_DAGS)
    stack = Stack(tmp_path_factory.mktemp("airflow-stack"), dags)
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def runs(stack):
    """Every example DAG (and the start_from_trigger edges) triggered through the REST API and
    waited for (bounded); the monitor links seen while its task was deferred, and each waiting
    task instance as the API showed it when first seen deferred."""
    deadline = time.monotonic() + 120
    while {**EXPECTED, **EDGES}.keys() - {d["dag_id"] for d in stack.call("GET", "/dags")["dags"]}:
        assert time.monotonic() < deadline, f"the example DAGs were not all parsed:\n{stack.log()[-3000:]}"
        time.sleep(1)
    run_ids = {dag_id: stack.call("POST", f"/dags/{dag_id}/dagRuns", {"logical_date": None})["dag_run_id"]
               for dag_id in {**EXPECTED, **EDGES}}
    links: dict[tuple[str, str], dict] = {}
    deferred: dict[tuple[str, str], dict] = {}
    states: dict[str, str] = {}
    deadline = time.monotonic() + 300
    while len(states) < len(run_ids):
        assert time.monotonic() < deadline, f"runs still going after 300 s: {set(run_ids) - set(states)}"
        for dag_id, run_id in run_ids.items():
            if dag_id in states:
                continue
            for ti in stack.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]:
                key = (dag_id, ti["task_id"])
                if ti["state"] == "deferred":
                    deferred.setdefault(key, ti)
                if ti["state"] == "deferred" and key in LINKED_TASKS and key not in links:
                    links[key] = stack.call(
                        "GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{ti['task_id']}/links")["extra_links"]
            run = stack.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
            if run["state"] in ("success", "failed"):
                states[dag_id] = run["state"]
        time.sleep(0.5)
    instances = [
        (dag_id, ti)
        for dag_id, run_id in run_ids.items()
        for ti in stack.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
    ]
    tasks = {(dag_id, ti["task_id"]): ti["state"] for dag_id, ti in instances}
    tries = {(dag_id, ti["task_id"]): ti["try_number"] for dag_id, ti in instances}
    return {"run_ids": run_ids, "states": states, "tasks": tasks, "tries": tries, "links": links,
            "deferred": deferred}


def task_log_folder(stack, runs, dag_id: str, task_id: str) -> Path:
    return stack.home / "logs" / f"dag_id={dag_id}" / f"run_id={runs['run_ids'][dag_id]}" / f"task_id={task_id}"


def log_events(path: Path) -> list[dict]:
    """A task or trigger log's JSON lines."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def test_every_example_dag_ends_as_its_docs_say(stack, runs):
    raced = RACE_LINE in stack.log()
    if {dag_id: runs["states"][dag_id] for dag_id in EXPECTED} != EXPECTED and raced:
        pytest.fail(f"{UPSTREAM_RACE}, and the example's retry did not recover it: {runs['tasks']}")
    if raced:  # the examples' retries=1 resumed the recorded run: documented outcome, nothing paid twice
        retried = sorted(key for key, tries in runs["tries"].items() if tries > 1 and key in WAITING_TASKS)
        warnings.warn(f"{UPSTREAM_RACE}; recovered by a retry of {retried}", stacklevel=1)
    assert {dag_id: runs["states"][dag_id] for dag_id in EXPECTED} == EXPECTED, runs["tasks"]
    assert runs["tasks"][SKIP_PATH] == "skipped", runs["tasks"]
    assert runs["tasks"][("example_datafold", "publish_replica")] == "skipped"
    assert runs["tasks"][("example_datafold", "replica_results")] == "success"  # all_done reads the alert


def test_every_wait_deferred_and_ran_in_the_triggerer(stack, runs):
    for dag_id, task_id in sorted(WAITING_TASKS):
        folder = task_log_folder(stack, runs, dag_id, task_id)
        task_log = (folder / "attempt=1.log").read_text()
        assert ("Pausing task as DEFERRED" in task_log) is ((dag_id, task_id) in WORKER_DEFERRED), (dag_id, task_id)
        trigger_logs = list(folder.glob("attempt=1.log.trigger.*.log"))
        assert trigger_logs, f"no triggerer log for {dag_id}.{task_id}"
        assert "Trigger fired event" in trigger_logs[0].read_text(), (dag_id, task_id)


def test_a_start_from_trigger_sensor_waits_without_ever_taking_a_worker_slot(stack, runs):
    # While deferred, a task that deferred from a worker carries that worker's host and its queueing
    # time; one the scheduler started in the triggerer was never queued for a worker at all.
    for key in sorted(WORKER_DEFERRED):
        assert runs["deferred"][key]["hostname"] and runs["deferred"][key]["queued_when"], runs["deferred"][key]
    for key in sorted(STARTED_IN_TRIGGERER):
        seen = runs["deferred"][key]
        assert (seen["hostname"] or None, seen["pid"], seen["queued_when"]) == (None, None, None), seen
        assert f"Start from trigger enabled for task {key[1]}" in stack.log()
        # The worker ran it once, after the event: execute_complete settled it, no deferral from there.
        assert runs["tasks"][key] == "success" and runs["tries"][key] == 1, (runs["tasks"][key], runs["tries"][key])
        task_log = (task_log_folder(stack, runs, *key) / "attempt=1.log").read_text()
        assert "Pausing task as DEFERRED" not in task_log and "started on a worker" not in task_log


def test_a_start_from_trigger_sensor_waits_for_the_ids_its_templates_name(stack, runs):
    # The triggerer rendered the templated ids from upstream XComs: the execution the sensor returns
    # belongs to the monitoring its upstream task picked.
    run = f"/dags/example_diligent/dagRuns/{runs['run_ids']['example_diligent']}/taskInstances"
    picked = stack.call("GET", f"{run}/watched_monitoring/xcomEntries/return_value")["value"]
    execution = stack.call("GET", f"{run}/first_execution/xcomEntries/return_value")["value"]
    assert execution["monitoring_id"] == picked and execution["alert_count"] >= 1, execution


def test_a_start_from_trigger_wait_that_times_out_fails_with_its_own_message(stack, runs):
    key = ("start_from_trigger_timeout", "wait")
    assert runs["states"][key[0]] == EDGES[key[0]] and runs["tasks"][key] == "failed", runs["tasks"]
    assert not runs["deferred"][key]["hostname"], runs["deferred"][key]  # it did start in the triggerer
    folder = task_log_folder(stack, runs, *key)
    trigger_log = next(folder.glob("attempt=1.log.trigger.*.log")).read_text()
    assert "Trigger cancelled due to timeout" in trigger_log  # Airflow enforced the sensor's timeout
    failures = [event["error_detail"][0] for event in log_events(folder / "attempt=1.log")
                if event.get("event") == "Task failed with exception"]
    assert [failure["exc_type"] for failure in failures] == ["AirflowException"], failures
    assert f"no outcome within the sensor's timeout of {TIMEOUT} s; gave up waiting" in failures[0]["exc_value"]


def test_a_template_the_triggerer_cannot_render_starts_on_a_worker_instead(stack, runs):
    key = ("start_from_trigger_fallback", "wait")
    assert runs["states"][key[0]] == EDGES[key[0]] and runs["tasks"][key] == "success", runs["tasks"]
    task_log = (task_log_folder(stack, runs, *key) / "attempt=1.log").read_text()
    assert "start_from_trigger: this task started on a worker" in task_log and "map_indexes=-1" in task_log
    assert "Pausing task as DEFERRED" in task_log


def test_waits_in_the_triggerer_share_their_reads(stack, runs):
    # The scheduler starts the sensors together in the triggerer's one event loop: each wait's own
    # log says it was answered by the shared listing, never by a read of its own, and they shared it.
    assert runs["states"]["shared_waits"] == "success", runs["tasks"]
    shared_with = []
    for index in range(SHARED_WAITS):
        folder = task_log_folder(stack, runs, "shared_waits", f"wait_{index}")
        summaries = [event["event"] for event in log_events(next(folder.glob("attempt=1.log.trigger.*.log")))
                     if "shared read" in str(event.get("event"))]
        assert len(summaries) == 1 and "0 reads of its own" in summaries[0], summaries
        shared_with.append(int(re.search(r"with up to (\d+) other wait", summaries[0]).group(1)))
    assert max(shared_with) >= 1, shared_with  # at least two of them read the same listing together


EVENT_DAG = "example_events_diligent"


def sandbox_url(stack) -> str:
    """The sandbox the stack serves, from its stored Diligent connection (``<sandbox>/diligent``)."""
    return stack.call("GET", "/connections/diligent_default")["host"].rsplit("/diligent", 1)[0]


def open_alert_ids(url: str) -> set[str]:
    request = urllib.request.Request(f"{url}/diligent/monitoring-alerts?page_size=100&only_unacknowledged=true",
                                     headers={"X-API-KEY": DEFAULT_API_KEY})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return {alert["id"] for alert in json.loads(answer.read())["items"]}


def event_dag_runs_for(stack, known: set[str], alert_ids: list[str], within: float = 150.0) -> list[dict]:
    """The runs of the event DAG not in ``known`` once the alert events that started them hold every
    one of ``alert_ids`` and all have ended (each alert is an event of its own: Airflow may start a
    run for several, or one for each)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        new = [run for run in stack.call("GET", f"/dags/{EVENT_DAG}/dagRuns")["dag_runs"]
               if run["dag_run_id"] not in known]
        try:
            announced = {event["extra"]["payload"]["alert_id"]
                         for run in new
                         for event in stack.call(
                             "GET", f"/dags/{EVENT_DAG}/dagRuns/{run['dag_run_id']}/upstreamAssetEvents")["asset_events"]}
        except AssertionError:  # the API server answers 500 now and then while the scheduler writes (sqlite)
            announced = set()
        if set(alert_ids) <= announced and all(run["state"] in ("success", "failed") for run in new):
            return new
        time.sleep(1)
    raise AssertionError(f"no ended runs of {EVENT_DAG} for {alert_ids} within {within:.0f} s:\n{stack.log()[-3000:]}")


def test_vendor_alerts_start_the_event_dag_which_acknowledges_them_only_once_handled(stack, runs):
    from airflow_provider_monitoring.sandbox.client import control

    url = sandbox_url(stack)
    deadline = time.monotonic() + 120  # the watcher announces what happens from its first start on
    while "Diligent alert watcher on connection 'diligent_default': no cursor yet" not in stack.log():
        assert time.monotonic() < deadline, f"the Diligent watcher did not start:\n{stack.log()[-3000:]}"
        time.sleep(1)
    known = {run["dag_run_id"] for run in stack.call("GET", f"/dags/{EVENT_DAG}/dagRuns")["dag_runs"]}

    # Two alerts, each its own event; one after the other, as Airflow 3.3.2 may leave the second of
    # two events recorded in one moment to the next run (README, "Event-driven DAGs").
    for website in ("https://fixable-e2e.example.com", "https://fixable-too-e2e.example.com"):
        handled = control(url, "POST", "/diligent/runs", {"website": website, "alerts": 1})
        started = event_dag_runs_for(stack, known, handled["alert_ids"])
        assert {run["state"] for run in started} == {"success"}, started
        assert not set(handled["alert_ids"]) & open_alert_ids(url)  # acknowledged, after the handling
        known |= {run["dag_run_id"] for run in started}

    failing = control(url, "POST", "/diligent/runs", {"website": "https://unfixable-e2e.example.com", "alerts": 1})
    started = event_dag_runs_for(stack, known, failing["alert_ids"])
    assert {run["state"] for run in started} == {"failed"}, started
    assert set(failing["alert_ids"]) <= open_alert_ids(url)  # the failed handling left it open


def test_a_deferred_task_shows_its_monitor_link_while_it_waits(stack, runs):
    assert set(runs["links"]) == LINKED_TASKS, runs["links"]
    for (dag_id, task_id), links in runs["links"].items():
        vendor = "Encrata" if dag_id == "example_encrata" else "Datafold"
        url = links[f"{vendor} monitor"]
        assert re.fullmatch(rf"http://127\.0\.0\.1:\d+/{vendor.lower()}/monitors/[\w-]+", url), url
        with urllib.request.urlopen(url, timeout=10) as page:  # the sandbox serves the monitor's page
            assert page.status == 200 and "text/html" in page.headers["Content-Type"]


@pytest.mark.parametrize("vendor", ["encrata", "diligent", "datafold"])
def test_the_connection_test_endpoint_passes_for_the_default_connections(stack, vendor):
    stored = stack.call("GET", f"/connections/{vendor}_default")
    # The body the UI's Test button sends: the row as listed, the key masked, the port a number.
    answer = stack.call("POST", "/connections/test", {
        "connection_id": f"{vendor}_default", "conn_type": vendor, "host": stored["host"],
        "port": int(stored["port"] or 0), "password": "***",
    })
    assert answer["status"] is True, answer


MONITOR_ASSET_DAGS = textwrap.dedent('''
    import pendulum
    from airflow.sdk import dag, task

    from airflow_provider_monitoring.assets import datafold_monitor_asset
    from airflow_provider_monitoring.operators.datafold import DatafoldRunMonitorOperator

    ORDERS = datafold_monitor_asset({monitor}, host="{host}")


    @dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False)
    def monitor_asset_producer():
        DatafoldRunMonitorOperator(task_id="gate", monitor_id={monitor}, poll_interval=1, outlets=[ORDERS])


    @dag(schedule=[ORDERS], start_date=pendulum.datetime(2026, 1, 1), catchup=False)
    def monitor_asset_consumer():
        @task
        def read(triggering_asset_events=None):
            return [event.extra["monitoring_result"] for event in triggering_asset_events[ORDERS]]

        read()


    monitor_asset_producer()
    monitor_asset_consumer()
''')


def wait_for_dag(stack, dag_id: str, within: float = 120) -> None:
    deadline = time.monotonic() + within
    while dag_id not in {d["dag_id"] for d in stack.call("GET", "/dags")["dags"]}:
        assert time.monotonic() < deadline, f"{dag_id} was not parsed:\n{stack.log()[-3000:]}"
        time.sleep(1)


def ended_runs(stack, dag_id: str, run_type: str, within: float = 180) -> list[dict]:
    deadline = time.monotonic() + within
    while True:
        ended = [run for run in stack.call("GET", f"/dags/{dag_id}/dagRuns")["dag_runs"]
                 if run["run_type"] == run_type and run["state"] in ("success", "failed")]
        if ended:
            return ended
        assert time.monotonic() < deadline, f"no {run_type} run of {dag_id} ended:\n{stack.log()[-3000:]}"
        time.sleep(1)


def test_a_passing_gate_starts_the_dag_scheduled_on_its_monitors_asset_with_its_result(stack, runs):
    dag_id, run_id = "example_datafold", runs["run_ids"]["example_datafold"]
    gate = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/gate_row_count"
    # The result is readable where the UI shows XCom, without opening a log.
    result = stack.call("GET", f"{gate}/xcomEntries/monitoring_result")["value"]
    result = json.loads(result) if isinstance(result, str) else result
    assert (result["vendor"], result["outcome"]) == ("datafold", "success")
    (report,) = ended_runs(stack, "example_datafold_quality_report", "asset_triggered")
    assert report["state"] == "success", report
    seen = stack.call("GET", f"/dags/example_datafold_quality_report/dagRuns/{report['dag_run_id']}"
                      "/taskInstances/report/xcomEntries/return_value")["value"]
    seen = json.loads(seen) if isinstance(seen, str) else seen
    monitor = result["monitor_id"]
    assert [(s["run_id"], s["outcome"]) for s in seen] == [(result["run_id"], "success")]
    assert re.fullmatch(rf"datafold://127\.0\.0\.1:\d+/monitors/{monitor}", seen[0]["uri"]), seen


def test_a_dag_scheduled_on_a_datafold_monitor_asset_runs_after_its_gate_passed(stack, runs):
    # A monitor that exists (example_datafold's row count), named in the DAG file as users name theirs.
    run_id = runs["run_ids"]["example_datafold"]
    gated = stack.call("GET", f"/dags/example_datafold/dagRuns/{run_id}/taskInstances/gate_row_count"
                       "/xcomEntries/monitoring_result")["value"]
    gated = json.loads(gated) if isinstance(gated, str) else gated
    host = re.match(r"https?://([^/]+)/", gated["url"]).group(1)
    (stack.dags / "monitor_asset_dags.py").write_text(MONITOR_ASSET_DAGS.format(monitor=gated["monitor_id"], host=host))
    for dag_id in ("monitor_asset_producer", "monitor_asset_consumer"):
        wait_for_dag(stack, dag_id)
    produced = stack.call("POST", "/dags/monitor_asset_producer/dagRuns", {"logical_date": None})["dag_run_id"]
    (consumed,) = ended_runs(stack, "monitor_asset_consumer", "asset_triggered")
    assert consumed["state"] == "success", consumed
    read = stack.call("GET", f"/dags/monitor_asset_consumer/dagRuns/{consumed['dag_run_id']}"
                      "/taskInstances/read/xcomEntries/return_value")["value"]
    read = json.loads(read) if isinstance(read, str) else read
    pushed = stack.call("GET", f"/dags/monitor_asset_producer/dagRuns/{produced}/taskInstances/gate"
                        "/xcomEntries/monitoring_result")["value"]
    pushed = json.loads(pushed) if isinstance(pushed, str) else pushed
    assert read == [pushed] and pushed["outcome"] == "success" and pushed["monitor_id"] == gated["monitor_id"]


def test_no_log_holds_the_api_key(stack, runs):
    leaks = [str(path) for path in stack.home.rglob("*") if path.is_file() and path.suffix in (".log", "")
             and DEFAULT_API_KEY in path.read_text(errors="replace")]
    assert leaks == [] and DEFAULT_API_KEY not in stack.log()


def test_stopping_the_stack_leaves_no_process_behind(stack, runs):
    stack.process.send_signal(signal.SIGINT)
    assert stack.process.wait(60) == 0
    with pytest.raises(ProcessLookupError):
        os.killpg(stack.airflow_pgid, 0)
    assert not (stack.home / "stack.pid").exists()
