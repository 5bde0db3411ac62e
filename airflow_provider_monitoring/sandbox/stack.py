"""A real Airflow on the offline sandbox, to explore in a browser: ``make airflow``.

    python -m airflow_provider_monitoring.sandbox.stack example_dags --home .airflow/stack

Starts the sandbox (in this process) and ``airflow standalone`` (scheduler, dag-processor,
triggerer, API server) in an Airflow home of its own, with the three default connections stored
in Airflow's database and pointing at the sandbox, connection tests enabled, and no login on
loopback. It prints the UI's address and runs until Ctrl-C (or ``stop``, from another shell),
then stops every process it started: SIGTERM to the whole process group, SIGKILL to whatever is
still there after a grace period (the scheduler's executor workers may ignore SIGTERM).

    python -m airflow_provider_monitoring.sandbox.stack stop --home .airflow/stack
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Iterator

from airflow_provider_monitoring.sandbox.client import DEFAULT_URL
from airflow_provider_monitoring.sandbox.core import VENDORS, SandboxConfig
from airflow_provider_monitoring.sandbox.server import Sandbox

READY_WITHIN = 120.0  # seconds for Airflow to serve its API after the start (about 20 on 2 cores)
GRACE = 10.0  # seconds between SIGTERM and SIGKILL when stopping
PID_FILE = "stack.pid"


def free_port(preferred: int) -> int:
    """``preferred`` when nothing listens there (on any address), else any free port."""
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("0.0.0.0", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError("no free port")


def airflow_env(home: Path, dags: Path, port: int) -> dict[str, str]:
    """The environment every Airflow process of the stack runs with: its own home, config and
    database (never the user's), the DAG folder, connection tests on, and every user an admin so
    there is no login to type, which is why everything listens on loopback only."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_")) and key != "AIRFLOW_CONFIG"}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW_CONFIG": str(home / "airflow.cfg"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port(0)),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port(0)),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # Unpaused: the examples have no schedule, they run when triggered, without a switch to find.
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://localhost:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{port}/execution/",
        # Waiting operators and sensors defer, as the examples are meant to be seen.
        "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "True",
        # New DAG files show within seconds.
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "PYTHONUNBUFFERED": "1",
        # standalone starts its components as `airflow ...` commands: this interpreter's first.
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]),
    })
    return env


def store_connections(sandbox: Sandbox, env: dict[str, str], home: Path) -> None:
    """The three default connections in Airflow's database (so they show in the UI and its Test
    button works), pointing at the sandbox. Port 0 (the Base URL's own port) rather than none:
    Airflow 3.3.2's Test button sends 0 for an empty port and refuses a stored NULL as another
    endpoint (fixed upstream in apache/airflow#73298)."""
    connections = {
        f"{vendor}_default": {"conn_type": vendor, "host": sandbox.vendor_url(vendor), "port": 0,
                              "password": sandbox.config.api_key}
        for vendor in VENDORS
    }
    path = home / "sandbox-connections.json"
    path.write_text(json.dumps(connections))
    airflow = [sys.executable, "-m", "airflow"]
    try:
        with open(home / "stack.log", "a") as log:
            for command in (["db", "migrate"], ["connections", "import", "--overwrite", str(path)]):
                done = subprocess.run(airflow + command, env=env, stdout=log, stderr=log)
                if done.returncode:
                    raise SystemExit(f"airflow {' '.join(command)} failed (exit {done.returncode}); "
                                     f"see {home / 'stack.log'}")
    finally:
        path.unlink(missing_ok=True)  # it holds the (sandbox) key; the database has it now


def check_connections(url: str) -> None:
    """`connections import` exits 0 even when an entry was not stored: ask the API."""
    for vendor in VENDORS:
        try:
            with urllib.request.urlopen(f"{url}/api/v2/connections/{vendor}_default", timeout=10):
                pass
        except urllib.error.HTTPError as exc:
            raise SystemExit(f"connection {vendor}_default was not stored (HTTP {exc.code})") from None


def wait_until_served(url: str, process: subprocess.Popen, stopping: Callable[[], bool],
                      within: float = READY_WITHIN) -> bool:
    """True once Airflow serves ``url``; False when asked to stop first."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if stopping():
            return False
        if process.poll() is not None:
            raise SystemExit(f"airflow standalone exited (code {process.returncode}) before serving {url}")
        try:
            with urllib.request.urlopen(f"{url}/api/v2/version", timeout=2) as answer:
                if answer.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise SystemExit(f"Airflow did not serve {url} within {within:.0f} s")


def stop_group(pgid: int, leader: subprocess.Popen | None = None, grace: float = GRACE) -> None:
    """SIGTERM to the process group, then SIGKILL to whatever outlives the grace period. The
    group's leader, when it is our child, is reaped as it exits (a zombie still counts as alive)."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if leader is not None:
                leader.poll()
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


@contextlib.contextmanager
def sandbox_on(config: SandboxConfig, preferred: int) -> Iterator[Sandbox]:
    """The sandbox, serving on ``preferred`` (where its commands look by default) when that port is
    free, else on any, until the block ends."""
    try:
        sandbox = Sandbox(config, port=preferred).start()
    except RuntimeError:
        sandbox = Sandbox(config, port=0).start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


def events_hint(sandbox: Sandbox) -> str:
    """A command that makes an event happen, to paste into another shell."""
    python = os.path.relpath(sys.executable) if sys.executable.startswith(os.getcwd() + os.sep) else sys.executable
    url = "" if sandbox.url == DEFAULT_URL else f" --url {sandbox.url}"
    return (f"{python} -m airflow_provider_monitoring.sandbox run diligent https://shop.example.com --alerts 2{url}"
            "  (more in docs/sandbox.md)")


def run(dags: Path, home: Path, port: int, run_seconds: float | None, sandbox_port: int) -> int:
    home.mkdir(parents=True, exist_ok=True)
    if running_runner(home) is not None:
        raise SystemExit(f"a stack is already running from {home}; stop it with `make airflow-stop`")
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    # Before anything is started, so a Ctrl-C at any point stops what was started.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    port = free_port(port)
    env = airflow_env(home, dags, port)
    config = SandboxConfig() if run_seconds is None else SandboxConfig(run_seconds=run_seconds)
    with sandbox_on(config, sandbox_port) as sandbox:
        store_connections(sandbox, env, home)
        if stopping:
            return 0
        with open(home / "stack.log", "a") as log:
            # A session of its own: the whole tree (scheduler, its executor workers, triggerer,
            # dag-processor, API server) is one process group, stopped together.
            airflow = subprocess.Popen([sys.executable, "-m", "airflow", "standalone"], env=env, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        (home / PID_FILE).write_text(f"{os.getpid()} {airflow.pid}\n")
        url = f"http://localhost:{port}"
        try:
            if not wait_until_served(url, airflow, lambda: stopping):
                return 0
            check_connections(url)
            print(f"Airflow UI: {url}  (no login needed; trigger any example DAG with its play button)", flush=True)
            print(f"Sandbox:    {sandbox.url}  (connections encrata_default, diligent_default, datafold_default)",
                  flush=True)
            print(f"Events:     {events_hint(sandbox)}", flush=True)
            print(f"Logs:       {home / 'stack.log'} and {home / 'logs'}", flush=True)
            print("Stop with Ctrl-C, or `make airflow-stop` from another shell.", flush=True)
            while not stopping and airflow.poll() is None:
                time.sleep(0.5)
        finally:
            print("stopping Airflow ...", flush=True)
            stop_group(airflow.pid, airflow)
            (home / PID_FILE).unlink(missing_ok=True)
    return 0


def running_runner(home: Path) -> tuple[int, int] | None:
    """(runner pid, Airflow's process group) of a stack still running from ``home``; a pid file
    whose runner is gone, or whose pid now belongs to another program, does not count."""
    pid_file = home / PID_FILE
    try:
        runner, airflow = (int(part) for part in pid_file.read_text().split())
        command = Path(f"/proc/{runner}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return (runner, airflow) if b"airflow_provider_monitoring.sandbox.stack" in command else None


def stop_running(home: Path) -> int:
    """Stop the stack started with ``home``: its runner first, then its Airflow process group."""
    pid_file = home / PID_FILE
    found = running_runner(home)
    if found is None:
        pid_file.unlink(missing_ok=True)
        print(f"no stack is running from {home}")
        return 0
    runner, airflow = found
    try:
        os.kill(runner, signal.SIGTERM)  # it stops Airflow itself and removes the pid file
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + GRACE + 10
    while pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    stop_group(airflow)  # whatever the runner could not stop
    pid_file.unlink(missing_ok=True)
    print("stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dag_folder", nargs="?", default="example_dags",
                        help="the DAGs to serve, or 'stop' to stop a running stack")
    parser.add_argument("--home", default=".airflow/stack", help="Airflow home of the stack's own")
    parser.add_argument("--port", type=int, default=8080, help="UI and API port (another free one if taken)")
    parser.add_argument("--run-seconds", type=float, help="how long a sandbox run stays in progress")
    parser.add_argument("--sandbox-port", type=int, default=8900,
                        help="the sandbox's port (another free one if taken), where its commands look by default")
    args = parser.parse_args(argv)
    home = Path(args.home).resolve()
    if args.dag_folder == "stop":
        return stop_running(home)
    return run(Path(args.dag_folder).resolve(), home, args.port, args.run_seconds, args.sandbox_port)


if __name__ == "__main__":
    sys.exit(main())
