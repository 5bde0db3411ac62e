"""The example DAGs in a real Airflow (scheduler, dag-processor, triggerer, API server), started as
`make airflow` starts it, driven only through Airflow's REST API: what a user sees in the UI.

One stack serves every test of the module and is stopped in a finaliser, whatever happens; the
last test checks that no process of it is left.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
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
# the triggerer.
WAITING_TASKS = {
    ("example_datafold", "gate_row_count"), ("example_datafold", "gate_replica_diff"),
    ("example_datafold_alert_fails", "gate"), ("example_diligent", "first_execution"),
    ("example_encrata", "trigger_run"),
}
SKIP_PATH = ("example_datafold", "gate_replica_diff")  # on_alert="skip" on an alerting diff
LINKED_TASKS = {("example_datafold", "gate_row_count"), ("example_datafold", "gate_replica_diff"),
                ("example_datafold_alert_fails", "gate"), ("example_encrata", "trigger_run")}
UPSTREAM_RACE = ("a resumed task was failed by a late executor report of its deferral: the upstream "
                 "Airflow 3.3.2 race apache/airflow#72716 / #71580")
RACE_LINE = "but the task instance's state attribute is"  # the scheduler's words when it happens


class Stack:
    """`python -m airflow_provider_monitoring.sandbox.stack` in a temporary home."""

    def __init__(self, home: Path):
        self.home = home
        self.process = subprocess.Popen(
            [sys.executable, "-m", "airflow_provider_monitoring.sandbox.stack", str(EXAMPLES),
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
    stack = Stack(tmp_path_factory.mktemp("airflow-stack"))
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def runs(stack):
    """Every example DAG triggered through the REST API and waited for (bounded); the monitor
    links seen while its task was deferred."""
    deadline = time.monotonic() + 120
    while set(EXPECTED) - {d["dag_id"] for d in stack.call("GET", "/dags")["dags"]}:
        assert time.monotonic() < deadline, f"the example DAGs were not all parsed:\n{stack.log()[-3000:]}"
        time.sleep(1)
    run_ids = {dag_id: stack.call("POST", f"/dags/{dag_id}/dagRuns", {"logical_date": None})["dag_run_id"]
               for dag_id in EXPECTED}
    links: dict[tuple[str, str], dict] = {}
    states: dict[str, str] = {}
    deadline = time.monotonic() + 300
    while len(states) < len(run_ids):
        assert time.monotonic() < deadline, f"runs still going after 300 s: {set(run_ids) - set(states)}"
        for dag_id, run_id in run_ids.items():
            if dag_id in states:
                continue
            for ti in stack.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]:
                key = (dag_id, ti["task_id"])
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
    return {"run_ids": run_ids, "states": states, "tasks": tasks, "tries": tries, "links": links}


def test_every_example_dag_ends_as_its_docs_say(stack, runs):
    raced = RACE_LINE in stack.log()
    if runs["states"] != EXPECTED and raced:
        pytest.fail(f"{UPSTREAM_RACE}, and the example's retry did not recover it: {runs['tasks']}")
    if raced:  # the examples' retries=1 resumed the recorded run: documented outcome, nothing paid twice
        retried = sorted(key for key, tries in runs["tries"].items() if tries > 1 and key in WAITING_TASKS)
        warnings.warn(f"{UPSTREAM_RACE}; recovered by a retry of {retried}", stacklevel=1)
    assert runs["states"] == EXPECTED, runs["tasks"]
    assert runs["tasks"][SKIP_PATH] == "skipped", runs["tasks"]
    assert runs["tasks"][("example_datafold", "publish_replica")] == "skipped"
    assert runs["tasks"][("example_datafold", "replica_results")] == "success"  # all_done reads the alert


def test_every_wait_deferred_and_ran_in_the_triggerer(stack, runs):
    for dag_id, task_id in sorted(WAITING_TASKS):
        folder = stack.home / "logs" / f"dag_id={dag_id}" / f"run_id={runs['run_ids'][dag_id]}" / f"task_id={task_id}"
        task_log = (folder / "attempt=1.log").read_text()
        assert "Pausing task as DEFERRED" in task_log, (dag_id, task_id)
        trigger_logs = list(folder.glob("attempt=1.log.trigger.*.log"))
        assert trigger_logs, f"no triggerer log for {dag_id}.{task_id}"
        assert "Trigger fired event" in trigger_logs[0].read_text(), (dag_id, task_id)


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
